"""What a Spark Python worker loads to score: the partition function on tiny Arrow batches, in a fresh interpreter."""

from __future__ import annotations

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
print(out[0].schema.types, out[0].column("customer_id").to_pylist(), len(out[1]))
print(np.round(out[0].column("churn_probability").to_numpy(), 6).tolist())
print(loaded)
import sklearn  # still importable once xgboost is in
print("sklearn ok")
"""

_TRAIN = r"""
import json, pickle, sys
import numpy as np
import pyarrow as pa
import xgboost as xgb
x = np.array([[0.0, 1], [5.0, 0], [np.nan, 1], [2.0, 0]] * 10)
y = np.array([0, 1, 1, 0] * 10)
booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=3)
rows = np.array([[0.0, 1], [5.0, 0], [np.nan, 1]])
if sys.argv[1] == "calibrated":
    # A map in the booster: the worker must serve sigmoid(0.5 * margin - 1), written out here by hand.
    fields = {"method": "platt", "slope": 0.5, "intercept": -1.0, "rows": 40, "positives": 20, "fitted_on": "by hand"}
    booster.set_attr(calibration=json.dumps(fields))
    margin = booster.inplace_predict(rows, predict_type="margin").astype(np.float64)
    expected = 1 / (1 + np.exp(-(0.5 * margin - 1.0)))
else:
    expected = booster.inplace_predict(rows)
sys.stderr.write(str(np.round(expected.astype(np.float64), 6).tolist()))
batch = pa.RecordBatch.from_arrays(
    [pa.array([7, 8, 9], pa.int32()), pa.array([0.0, 5.0, None]), pa.array([1, 0, 1], pa.int64())],
    names=["customer_id", "a", "b"],
)
sink = pa.BufferOutputStream()
with pa.ipc.new_stream(sink, batch.schema) as writer:
    writer.write_batch(batch)
sys.stdout.buffer.write(pickle.dumps((bytes(booster.save_raw("ubj")), sink.getvalue().to_pybytes())))
"""


@pytest.mark.parametrize("model", ["uncalibrated", "calibrated"])
def test_a_scoring_worker_predicts_from_arrow_without_loading_pandas_or_scikit_learn(model: str) -> None:
    trained = subprocess.run([sys.executable, "-c", _TRAIN, model], capture_output=True, check=True, timeout=120)
    worker = subprocess.run([sys.executable, "-c", _WORKER], input=trained.stdout, capture_output=True, timeout=120)
    assert worker.returncode == 0, worker.stderr.decode()
    types, probabilities, loaded, sklearn = worker.stdout.decode().splitlines()
    assert types == "[DataType(int64), DataType(double)] [7, 8, 9] 2"
    # Nulls arrive as missing values: the same probabilities the booster gives a NaN row (through its map, if it has one).
    assert probabilities == trained.stderr.decode()
    assert loaded == "[]"
    assert sklearn == "sklearn ok"
