"""Batch scoring on Spark: the serving booster is broadcast once and every partition predicts its own rows.

No row is collected on the driver: features are read from Parquet, probabilities are computed where
the rows live (``mapInArrow`` with ``Booster.inplace_predict``) and written back to Parquet, from
which the warehouse publish streams them batch by batch. A Python worker holds one Arrow batch and
one float matrix of it at a time, and loads neither pandas nor scikit-learn: about 130 MiB each
instead of 260 MiB, which on ``local[2]`` is a quarter of the run's memory. The same job runs on ``local[2]`` and on a
cluster, provided executors can read the features and write the output (shared storage) and have
``nightshift`` and xgboost installed.

Each row also gets its reasons (``nightshift.score_reasons``): the same booster's tree contributions
(``pred_contribs``, exact or approximate as params.yaml ``scoring.reasons`` says) on the same float matrix, in
the same batch, reduced to the three features that pushed the probability up most. The worker then also holds
one DMatrix and one rows x (features + 1) float32 matrix of contributions per Arrow batch (a batch is
spark.sql.execution.arrow.maxRecordsPerBatch rows). With ``off`` the reason columns are NULL and no contribution
is computed.

The probability served is the model's calibrated one: the booster carries its calibration map
(nightshift.model.calibration), which the worker applies with numpy to the booster's margins; the reasons stay
the booster's own contributions, in log-odds before the map. A booster without a map (a version trained before
calibration) serves its raw probabilities; loading it says so in the log.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from pyspark import Broadcast
    from pyspark.sql import SparkSession

from nightshift.score_reasons import APPROX, EXACT, NO_REASON, OFF, REASON_COLUMNS, REASON_PAIRS, TOP_REASONS, reasons_mode, top_reasons

log = logging.getLogger(__name__)

# The challenger's columns of a pair pass carry this prefix (challenger_probability, challenger_reason_1, ...).
CHALLENGER = "challenger_"


def _reasons_schema(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name} string, {prefix}{contribution} double" for name, contribution in REASON_PAIRS)


SCORES_SCHEMA = f"customer_id long, churn_probability double, {_reasons_schema()}"

# The boosters last rebuilt in this Python worker (with their calibration maps), keyed by the model's content
# hash. Spark reuses workers across tasks, so a worker parses a model once per scoring job, not once per
# partition; two slots (champion and challenger in shadow), so a long-lived worker never accumulates old models.
_WORKER_BOOSTER: dict[str, tuple[Any, Any]] = {}
_WORKER_SLOTS = 2


def load_booster(model_uri: str, columns: Sequence[str]) -> bytes:
    """The model at ``model_uri`` as raw booster bytes, checked to take exactly ``columns`` in that order."""
    import mlflow.xgboost

    model = mlflow.xgboost.load_model(model_uri)
    # Logged through the scikit-learn API (train.py) it is an XGBClassifier; a plain Booster also works.
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    names = booster.feature_names
    if names is not None and list(names) != list(columns):
        # Predicting from a bare array matches columns by position, so a reordered input would score garbage.
        raise ValueError(f"model {model_uri} was trained on features {list(names)}, but scoring provides {list(columns)}")
    best = booster.attr("best_iteration")
    if best is not None:
        # Fit with early stopping: predict_proba stops at the best round, but inplace_predict on the
        # raw booster would use every tree, so keep only the trees the model actually serves with.
        booster = booster[: int(best) + 1]
    _log_calibration(model_uri, booster)
    return bytes(booster.save_raw("ubj"))


def _log_calibration(model_uri: str, booster: Any) -> None:
    """Say whether ``booster`` serves calibrated probabilities; a map that does not parse fails here, on the driver."""
    from nightshift.model.calibration import booster_calibration

    try:
        calibration = booster_calibration(booster)
    except ValueError as exc:
        raise ValueError(f"model {model_uri}: {exc}") from exc
    if calibration is None:
        log.warning(
            "model %s has no calibration map (trained before calibration): it serves its raw, uncalibrated probabilities", model_uri
        )
    else:
        log.info("model %s serves calibrated probabilities: %s", model_uri, calibration)


def _import_xgboost() -> Any:
    """xgboost, imported without scikit-learn in a process that has not loaded either yet.

    xgboost imports scikit-learn at import time for its estimator API, and with it pandas and much of
    scipy: about 100 MiB in every Python worker, for a worker that only predicts with a Booster. The
    block covers xgboost's import alone; scikit-learn stays importable afterwards.
    """
    import sys

    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        import xgboost

        return xgboost
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # "import sklearn" raises ImportError
    try:
        import xgboost
    finally:
        del sys.modules["sklearn"]
    return xgboost


def _worker_booster(key: str, raw: Broadcast, nthread: int) -> tuple[Any, Any]:
    """The booster of ``raw`` and its calibration map (None without one), parsed once per worker."""
    if key not in _WORKER_BOOSTER:
        from nightshift.model.calibration import booster_calibration

        xgb = _import_xgboost()
        booster = xgb.Booster(model_file=bytearray(raw.value))
        booster.set_param({"nthread": nthread})
        while len(_WORKER_BOOSTER) >= _WORKER_SLOTS:
            del _WORKER_BOOSTER[next(iter(_WORKER_BOOSTER))]  # the oldest: dicts keep insertion order
        _WORKER_BOOSTER[key] = (booster, booster_calibration(booster))
    return _WORKER_BOOSTER[key]


def _float_values(column: pa.Array) -> np.ndarray:
    """A numeric Arrow column as float64, nulls as NaN (which XGBoost reads as missing, as from a pandas frame).

    Read from the buffers: pyarrow's own null-filling conversions load pandas, which the worker otherwise never needs.
    """
    import numpy as np
    import pyarrow as pa

    values = column.cast(pa.float64())
    start, end = values.offset, values.offset + len(values)
    data = np.frombuffer(values.buffers()[1], dtype=np.float64, count=end)[start:]
    if values.null_count == 0:
        return data
    valid = np.unpackbits(np.frombuffer(values.buffers()[0], dtype=np.uint8), count=end, bitorder="little")[start:]
    return np.where(valid.astype(bool), data, np.nan)


def churn_probabilities(booster: Any, calibration: Any, matrix: np.ndarray) -> np.ndarray:
    """The served churn probability of each row of ``matrix`` (float64): calibrated when the model has a map.

    The one place a score comes from the model; the reasons stay the booster's own contributions.
    """
    import numpy as np

    if calibration is None:
        # binary:logistic: inplace_predict returns P(churn), as XGBClassifier.predict_proba()[:, 1] does.
        return np.ascontiguousarray(booster.inplace_predict(matrix), dtype=np.float64)
    # The map is on the log-odds: the margin, not a probability rounded to float32 near 0 and 1.
    return np.ascontiguousarray(calibration.apply(booster.inplace_predict(matrix, predict_type="margin")))


def _contribution_reasons(booster: Any, matrix: np.ndarray, nthread: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The top reasons of each row: the booster's tree contributions on the same matrix, by attribution ``mode``.

    ``exact`` is TreeSHAP, ``approx`` the per-path (Saabas) contributions; ``off`` gives every row no reason.
    inplace_predict has no contributions, so the matrix becomes one DMatrix (NaN missing, as inplace_predict
    reads it). load_booster checked the booster's feature names against the columns, hence no name check here.
    """
    import numpy as np

    if mode == OFF:
        return np.full((len(matrix), TOP_REASONS), NO_REASON, dtype=np.int32), np.full((len(matrix), TOP_REASONS), np.nan)
    xgb = _import_xgboost()
    dmatrix = xgb.DMatrix(matrix, nthread=nthread)
    contributions = booster.predict(dmatrix, pred_contribs=True, approx_contribs=mode == APPROX, validate_features=False)
    return top_reasons(contributions[:, :-1])  # the last column is the bias: the model's average log-odds


def _string_array(values: Sequence[str]) -> pa.Array:
    """An Arrow string array from its buffers: pa.array() on a list loads pandas, which the worker otherwise never needs."""
    import numpy as np
    import pyarrow as pa

    encoded = [v.encode() for v in values]
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.int32)
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def _reason_arrays(codes: np.ndarray, values: np.ndarray, names: pa.Array) -> list[pa.Array]:
    """reason_k (the feature's name) and reason_k_contribution per reason, NULL where a row has fewer reasons."""
    import numpy as np
    import pyarrow as pa

    arrays = []
    for k in range(codes.shape[1]):
        present = codes[:, k] >= 0
        validity = pa.py_buffer(np.packbits(present, bitorder="little").tobytes())
        indices = np.ascontiguousarray(np.where(present, codes[:, k], 0), dtype=np.int32)
        arrays.append(names.take(pa.Array.from_buffers(pa.int32(), len(present), [validity, pa.py_buffer(indices)])))
        contributions = np.ascontiguousarray(values[:, k])
        arrays.append(pa.Array.from_buffers(pa.float64(), len(present), [validity, pa.py_buffer(contributions)]))
    return arrays


def _model_outputs(model: tuple[Any, Any], matrix: np.ndarray, names: pa.Array, nthread: int, mode: str) -> list[pa.Array]:
    """churn_probability, then its reason columns (``names``: the model's columns), for one batch's matrix.

    ``model``: the booster and its calibration map (None without one), as ``_worker_booster`` gives them.
    """
    import pyarrow as pa

    booster, calibration = model
    probabilities = churn_probabilities(booster, calibration, matrix)
    # From the buffer, not pa.array(): converting a numpy array that way loads pandas.
    outputs = [pa.Array.from_buffers(pa.float64(), len(probabilities), [None, pa.py_buffer(probabilities)])]
    return outputs + _reason_arrays(*_contribution_reasons(booster, matrix, nthread, mode), names)


def _predict_partition(
    batches: Iterator[pa.RecordBatch], key: str, raw: Broadcast, columns: list[str], nthread: int, reasons: str = EXACT
) -> Iterator[pa.RecordBatch]:
    import numpy as np
    import pyarrow as pa

    model = _worker_booster(key, raw, nthread)
    names = _string_array(columns)
    out_names = ["customer_id", "churn_probability", *REASON_COLUMNS]
    for batch in batches:
        # The model's columns in its order as one float matrix, straight from the Arrow buffers.
        matrix = np.column_stack([_float_values(batch.column(c)) for c in columns])
        outputs = _model_outputs(model, matrix, names, nthread, reasons)
        yield pa.RecordBatch.from_arrays([batch.column("customer_id").cast(pa.int64()), *outputs], names=out_names)


def score_features(
    spark: SparkSession, features_path: Path, booster_raw: bytes, columns: Sequence[str], out_dir: Path, reasons: str = EXACT
) -> Path:
    """Score every row of the features at ``features_path``; write customer_id, churn_probability and the reasons to ``out_dir``.

    ``out_dir`` is replaced: nightly_scoring gives each run a folder of its own (``nightshift.scoring.run_folders``).
    ``reasons`` is the attribution (``nightshift.score_reasons``); ``off`` writes the reason columns NULL.
    """
    reasons = reasons_mode(reasons)
    features = spark.read.parquet(str(features_path))
    missing = [c for c in ["customer_id", *columns] if c not in features.columns]
    if missing:
        raise ValueError(f"features at {features_path} lack model inputs {missing}")
    key = hashlib.sha256(booster_raw).hexdigest()
    nthread = int(spark.conf.get("spark.task.cpus", "1"))  # one task per core: threads beyond it only contend
    raw = spark.sparkContext.broadcast(booster_raw)
    try:
        scores = features.select("customer_id", *columns).mapInArrow(
            partial(_predict_partition, key=key, raw=raw, columns=list(columns), nthread=nthread, reasons=reasons), SCORES_SCHEMA
        )
        scores.write.mode("overwrite").parquet(str(out_dir))
    finally:
        raw.destroy()
    log.info("scored %s with model %s (reasons: %s) -> %s", features_path, key[:12], reasons, out_dir)
    return out_dir


PAIR_SCHEMA = (
    f"customer_id long, churn_probability double, {_reasons_schema()}, "
    f"{CHALLENGER}probability double, {_reasons_schema(CHALLENGER)}, canary boolean"
)
PAIR_COLUMNS = [
    "customer_id",
    "churn_probability",
    *REASON_COLUMNS,
    f"{CHALLENGER}probability",
    *(CHALLENGER + c for c in REASON_COLUMNS),
    "canary",
]


def check_booster_inputs(booster_raw: bytes, columns: Sequence[str], what: str) -> None:
    """ValueError unless the booster is a binary classifier taking as many inputs as ``columns``.

    A nameless booster is checked by count; another objective (multi-class, regression) would return
    something other than one churn probability per row, which the pass would publish as if it were.
    """
    import json

    xgb = _import_xgboost()
    booster = xgb.Booster(model_file=bytearray(booster_raw))
    if booster.num_features() != len(columns):
        raise ValueError(f"{what} takes {booster.num_features()} features, but scoring provides {len(columns)}: {list(columns)}")
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    if objective != "binary:logistic":
        raise ValueError(f"{what} has objective {objective!r}: only binary:logistic gives a churn probability per row")


def _predict_pair_partition(
    batches: Iterator[pa.RecordBatch],
    keys: tuple[str, str],
    raws: tuple[Broadcast, Broadcast],
    columns: list[str],
    nthread: int,
    canary: Any,
    reasons: str = EXACT,
) -> Iterator[pa.RecordBatch]:
    import numpy as np
    import pyarrow as pa

    from nightshift.scoring.rollout import in_canary

    champion = _worker_booster(keys[0], raws[0], nthread)
    challenger = _worker_booster(keys[1], raws[1], nthread)
    names = _string_array(columns)
    for batch in batches:
        # One matrix, two models: the features are read and converted once.
        matrix = np.column_stack([_float_values(batch.column(c)) for c in columns])
        arrays = [array for model in (champion, challenger) for array in _model_outputs(model, matrix, names, nthread, reasons)]
        ids = batch.column("customer_id").cast(pa.int64())
        mask = in_canary(np.frombuffer(ids.buffers()[1], dtype=np.int64, count=ids.offset + len(ids))[ids.offset :], canary)
        bits = np.packbits(mask, bitorder="little")
        flags = pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits.tobytes())])
        yield pa.RecordBatch.from_arrays([ids, *arrays, flags], names=PAIR_COLUMNS)


def score_features_pair(
    spark: SparkSession,
    features_path: Path,
    champion_raw: bytes,
    challenger_raw: bytes,
    columns: Sequence[str],
    out_dir: Path,
    canary: Any,
    reasons: str = EXACT,
) -> Path:
    """Champion and challenger on every row in one pass (both boosters broadcast once, the features read once).

    Writes customer_id, churn_probability and reason columns (the champion's), challenger_probability and
    challenger_reason_... columns, and canary (the challenger serves this customer, ``nightshift.scoring.rollout``)
    as Parquet to ``out_dir``, replacing it. ``reasons`` is both models' attribution, as in ``score_features``.
    """
    reasons = reasons_mode(reasons)
    features = spark.read.parquet(str(features_path))
    missing = [c for c in ["customer_id", *columns] if c not in features.columns]
    if missing:
        raise ValueError(f"features at {features_path} lack model inputs {missing}")
    keys = (hashlib.sha256(champion_raw).hexdigest(), hashlib.sha256(challenger_raw).hexdigest())
    nthread = int(spark.conf.get("spark.task.cpus", "1"))
    raws = (spark.sparkContext.broadcast(champion_raw), spark.sparkContext.broadcast(challenger_raw))
    try:
        scores = features.select("customer_id", *columns).mapInArrow(
            partial(_predict_pair_partition, keys=keys, raws=raws, columns=list(columns), nthread=nthread, canary=canary, reasons=reasons),
            PAIR_SCHEMA,
        )
        scores.write.mode("overwrite").parquet(str(out_dir))
    finally:
        for raw in raws:
            raw.destroy()
    log.info(
        "scored %s with champion %s and challenger %s (reasons: %s) -> %s", features_path, keys[0][:12], keys[1][:12], reasons, out_dir
    )
    return out_dir
