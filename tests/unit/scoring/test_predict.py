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
# The reasons are the booster's own contributions, in log-odds before any map.
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


@pytest.mark.parametrize("model", ["uncalibrated", "calibrated"])
def test_a_scoring_worker_predicts_from_arrow_without_loading_pandas_or_scikit_learn(model: str) -> None:
    trained = subprocess.run([sys.executable, "-c", _TRAIN, model], capture_output=True, check=True, timeout=120)
    worker = subprocess.run([sys.executable, "-c", _WORKER], input=trained.stdout, capture_output=True, timeout=120)
    assert worker.returncode == 0, worker.stderr.decode()
    columns, types, probabilities, reasons, contributions, loaded, sklearn = worker.stdout.decode().splitlines()
    assert (
        columns == "['churn_probability', 'reason_1', 'reason_1_contribution', 'reason_2', 'reason_2_contribution', "
        "'reason_3', 'reason_3_contribution'] [7, 8, 9] 2"
    )
    assert types == "[DataType(int64), DataType(double)" + ", DataType(string), DataType(double)" * 3 + "]"
    expected_probabilities, expected_contributions = trained.stderr.decode().splitlines()
    # Nulls arrive as missing values: the same probabilities the booster gives a NaN row (through its map, if it has one).
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


class _Broadcast:
    """What the worker reads of Spark's broadcast: its value."""

    def __init__(self, value: bytes) -> None:
        self.value = value


def _tiny_model_and_batch():
    """A small booster on three features, deep enough that the per-path and the SHAP attributions differ, and a batch of its rows."""
    import numpy as np
    import pyarrow as pa
    import xgboost as xgb

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3))
    x[::7, 0] = np.nan
    y = ((x[:, 1] > 0) & (np.nan_to_num(x[:, 0]) + x[:, 2] > 0)).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1}, xgb.DMatrix(x, label=y), num_boost_round=8)
    rows = x[:50]
    batch = pa.RecordBatch.from_arrays(
        [pa.array(np.arange(50), pa.int64()), *(pa.array(rows[:, j], from_pandas=True) for j in range(3))],
        names=["customer_id", "a", "b", "c"],
    )
    return booster, rows, batch


def _scored(reasons: str):
    from nightshift.scoring.predict import _predict_partition

    booster, rows, batch = _tiny_model_and_batch()
    raw = bytes(booster.save_raw("ubj"))
    out = list(_predict_partition(iter([batch]), f"test-{reasons}", _Broadcast(raw), ["a", "b", "c"], 1, reasons))
    return booster, rows, out[0]


def test_approx_reasons_are_the_boosters_own_per_path_contributions_of_the_same_rows() -> None:
    import numpy as np
    import xgboost as xgb

    from nightshift.score_reasons import top_reasons

    booster, rows, scored = _scored("approx")
    approx = booster.predict(xgb.DMatrix(rows), pred_contribs=True, approx_contribs=True)[:, :-1]
    exact = booster.predict(xgb.DMatrix(rows), pred_contribs=True)[:, :-1]
    assert not np.allclose(approx, exact), "the model gives both attributions alike: the check would prove nothing"
    codes, values = top_reasons(approx)
    names = np.array(["a", "b", "c"])
    for k in range(3):
        expected = [None if c < 0 else str(names[c]) for c in codes[:, k]]
        assert scored.column(f"reason_{k + 1}").to_pylist() == expected
        stored = np.array([np.nan if v is None else v for v in scored.column(f"reason_{k + 1}_contribution").to_pylist()])
        np.testing.assert_array_equal(stored, values[:, k])
    assert scored.column("reason_1").null_count < len(rows), "no row has a reason: the check would prove nothing"
    # The probability path is the same whatever the attribution.
    np.testing.assert_array_equal(scored.column("churn_probability").to_numpy(), booster.inplace_predict(rows).astype(np.float64))


def test_reasons_off_leaves_every_reason_column_null_and_the_probabilities_as_they_are() -> None:
    import numpy as np

    from nightshift.score_reasons import REASON_COLUMNS

    booster, rows, scored = _scored("off")
    assert scored.schema.names == ["customer_id", "churn_probability", *REASON_COLUMNS]
    assert all(scored.column(c).null_count == len(rows) for c in REASON_COLUMNS)
    np.testing.assert_array_equal(scored.column("churn_probability").to_numpy(), booster.inplace_predict(rows).astype(np.float64))


def test_an_unknown_reasons_mode_is_refused_naming_the_key_and_the_allowed_values() -> None:
    from nightshift.scoring.predict import score_features

    with pytest.raises(ValueError, match=r"params.yaml scoring.reasons must be one of exact, approx, off; got 'shap'"):
        score_features(None, None, b"", [], None, reasons="shap")  # type: ignore[arg-type]  # refused before Spark is touched
