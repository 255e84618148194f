"""What a Spark Python worker loads to score: the partition function on tiny Arrow batches, in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# A fresh interpreter, as a Spark Python worker is: train a tiny booster in a child that may load
# anything, then score Arrow batches through the partition function the worker runs.
_WORKER = r"""
import sys, pickle
import numpy as np
import pyarrow as pa

booster_raw, stream = pickle.loads(sys.stdin.buffer.read())

class Broadcast:  # what the worker reads of Spark's broadcast: its value
    value = booster_raw

from nightshift.scoring.predict import _predict_partition

batch = pa.ipc.open_stream(stream).read_next_batch()  # as Spark hands it over: an Arrow IPC stream
out = list(_predict_partition(iter([batch, batch.slice(1)]), "k", Broadcast(), ["a", "b"], 1))
loaded = sorted(m for m in ("pandas", "sklearn") if m in sys.modules)  # before printing, which may load pandas
print(out[0].schema.names[1:], out[0].column("customer_id").to_pylist(), len(out[1]))
print(out[0].schema.types)
print(np.round(out[0].column("churn_probability").to_numpy(), 6).tolist())
print([out[0].column(f"reason_{k}").to_pylist() for k in (1, 2, 3)])
print([[None if v is None else round(v, 6) for v in out[0].column(f"reason_{k}_contribution").to_pylist()] for k in (1, 2, 3)])
print(loaded)
import sklearn  # still importable once xgboost is in
print("sklearn ok")
"""

_TRAIN = r"""
import pickle, sys
import numpy as np
import pyarrow as pa
import xgboost as xgb
x = np.array([[0.0, 1], [5.0, 0], [np.nan, 1], [2.0, 0]] * 10)
y = np.array([0, 1, 1, 0] * 10)
booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=3)
rows = np.array([[0.0, 1], [5.0, 0], [np.nan, 1]])
expected = booster.inplace_predict(rows)
contributions = booster.predict(xgb.DMatrix(rows), pred_contribs=True)
sys.stderr.write(str(np.round(expected.astype(np.float64), 6).tolist()) + "\n" + repr(contributions.tolist()))
batch = pa.RecordBatch.from_arrays(
    [pa.array([7, 8, 9], pa.int32()), pa.array([0.0, 5.0, None]), pa.array([1, 0, 1], pa.int64())],
    names=["customer_id", "a", "b"],
)
sink = pa.BufferOutputStream()
with pa.ipc.new_stream(sink, batch.schema) as writer:
    writer.write_batch(batch)
sys.stdout.buffer.write(pickle.dumps((bytes(booster.save_raw("ubj")), sink.getvalue().to_pybytes())))
"""


def test_a_scoring_worker_predicts_from_arrow_without_loading_pandas_or_scikit_learn() -> None:
    trained = subprocess.run([sys.executable, "-c", _TRAIN], capture_output=True, check=True, timeout=120)
    worker = subprocess.run([sys.executable, "-c", _WORKER], input=trained.stdout, capture_output=True, timeout=120)
    assert worker.returncode == 0, worker.stderr.decode()
    columns, types, probabilities, reasons, contributions, loaded, sklearn = worker.stdout.decode().splitlines()
    assert (
        columns == "['churn_probability', 'reason_1', 'reason_1_contribution', 'reason_2', 'reason_2_contribution', "
        "'reason_3', 'reason_3_contribution'] [7, 8, 9] 2"
    )
    assert types == "[DataType(int64), DataType(double)" + ", DataType(string), DataType(double)" * 3 + "]"
    expected_probabilities, expected_contributions = trained.stderr.decode().splitlines()
    # Nulls arrive as missing values: the same probabilities the booster gives a NaN row.
    assert probabilities == expected_probabilities
    # The reasons are the booster's own contributions of each row, largest positive first; the bias is no reason.
    expected_reasons: list[list[str | None]] = [[], [], []]
    expected_values: list[list[float | None]] = [[], [], []]
    for row in ast.literal_eval(expected_contributions):
        up = sorted(((v, name) for v, name in zip(row[:-1], ["a", "b"], strict=True) if v > 0), key=lambda p: -p[0])
        for k in range(3):
            expected_reasons[k].append(up[k][1] if k < len(up) else None)
            expected_values[k].append(round(up[k][0], 6) if k < len(up) else None)
    assert ast.literal_eval(reasons) == expected_reasons
    assert ast.literal_eval(contributions) == expected_values
    assert any(expected_reasons[0]), "the tiny model gives no row a reason: the check would prove nothing"
    assert loaded == "[]"
    assert sklearn == "sklearn ok"
