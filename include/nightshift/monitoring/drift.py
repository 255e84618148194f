"""One scoring day's drift against the reference distributions of the model version that scored it.

The day is read from what scoring already wrote: the features Parquet the model read and the scores
Parquet it produced. Nothing is scored again, and nothing is collected as Python objects: Arrow
record batches are read one at a time and each column is reduced to bin counts, a null count and a
sum with numpy, so memory holds one batch whatever the size of the day.

For every model input and for the score:
- ``psi``: PSI on the reference's own quantile bins plus a null bin (see `psi`); for the one-hot
  plan and region flags, PSI over categories (column ``plan``, ``region``) with a bucket for a
  category the reference never saw (a row with no flag set);
- ``null_fraction_change``: the day's null share minus the reference's;
- ``mean_shift_sd``: the day's mean minus the reference mean, in reference standard deviations.

Only PSI decides whether a column drifted for the retrain policy; the other two are flagged against
their own thresholds for the report and the table, as they explain a PSI more than they add to it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nightshift.contract import PLANS, REGIONS
from nightshift.monitoring.psi import (
    UNSEEN,
    bin_counts,
    categorical_psi,
    column_threshold,
    psi,
    reference_shares_with_nulls,
    shares,
)

log = logging.getLogger(__name__)

SCORE = "score"
PSI, NULL_CHANGE, MEAN_SHIFT = "psi", "null_fraction_change", "mean_shift_sd"
# Rows per Arrow batch: ~15 MB for 30 float columns. Memory grows with the batch, not the day
# (bench/drift_speed.py: a 1M-row day grows the process by about 0.2 GiB; the day in pandas takes 0.58).
BATCH_ROWS = 65_536


class NotEnoughRowsError(ValueError):
    """The day has too few rows for its drift to mean anything."""

    def __init__(self, rows: int, min_rows: int) -> None:
        super().__init__(f"{rows} rows scored, fewer than drift.min_rows={min_rows}: too few for PSI to tell drift from noise")
        self.rows = rows


@dataclass(frozen=True)
class DriftSettings:
    """params.yaml ``drift``: thresholds of the measurement (the policy's numbers are in `policy.DriftPolicy`)."""

    min_rows: int = 200
    psi_threshold: float = 0.1
    score_psi_threshold: float = 0.2
    severe_psi: float = 1.0
    noise_quantile: float = 0.999
    empty_bin_floor: float = 1e-4
    null_fraction_change: float = 0.05
    mean_shift_sd: float = 0.5

    @classmethod
    def from_params(cls, drift: Mapping[str, Any]) -> DriftSettings:
        p = drift["psi"]
        settings = cls(
            min_rows=int(drift["min_rows"]),
            psi_threshold=float(p["threshold"]),
            score_psi_threshold=float(p["score_threshold"]),
            severe_psi=float(p["severe_threshold"]),
            noise_quantile=float(p["noise_quantile"]),
            empty_bin_floor=float(p["empty_bin_floor"]),
            null_fraction_change=float(drift["null_fraction_change"]),
            mean_shift_sd=float(drift["mean_shift_sd"]),
        )
        if settings.min_rows < 1 or not 0 < settings.noise_quantile < 1 or settings.empty_bin_floor <= 0:
            raise ValueError(f"drift settings out of range: {settings} (min_rows >= 1, 0 < noise_quantile < 1, empty_bin_floor > 0)")
        return settings


@dataclass(frozen=True)
class Metric:
    column: str
    metric: str
    value: float | None
    threshold: float | None
    drifted: bool


@dataclass(frozen=True)
class DayDrift:
    """What one day measured: its rows, every metric, and the score's bin counts for the report."""

    rows: int
    metrics: list[Metric] = field(default_factory=list)
    score_counts: list[int] = field(default_factory=list)

    def psi_of(self, column: str) -> float | None:
        return next((m.value for m in self.metrics if m.column == column and m.metric == PSI), None)

    @property
    def drifted_inputs(self) -> list[str]:
        """Inputs whose PSI reached their threshold, largest PSI first."""
        drifted = [m for m in self.metrics if m.metric == PSI and m.drifted and m.column != SCORE]
        return [m.column for m in sorted(drifted, key=lambda m: -(m.value or 0.0))]

    def severe_inputs(self, severe_psi: float) -> list[str]:
        """Inputs whose PSI reached ``severe_psi``: a distribution mostly moved out of its reference bins."""
        return [c for c in self.drifted_inputs if (self.psi_of(c) or 0.0) >= severe_psi]

    @property
    def score_drifted(self) -> bool:
        return any(m.drifted for m in self.metrics if m.column == SCORE and m.metric == PSI)


def one_hot_groups(columns: Sequence[str]) -> dict[str, dict[str, str]]:
    """The categorical inputs behind one-hot flags: {"plan": {"basic": "plan_basic", ...}, "region": {...}}."""
    groups: dict[str, dict[str, str]] = {}
    for kind, values in (("plan", PLANS), ("region", REGIONS)):
        flags = {v: f"{kind}_{v}" for v in values if f"{kind}_{v}" in columns}
        if flags:
            groups[kind] = flags
    return groups


class _Numeric:
    """Bin counts on the reference cuts, nulls, rows and sum of one column, over batches."""

    def __init__(self, cuts: Sequence[float], binned: bool = True) -> None:
        # One-hot flags are not binned: their PSI is over categories (see `one_hot_groups`).
        self.binned = binned
        self.cuts = np.asarray(cuts, dtype="float64")
        self.counts = np.zeros(len(self.cuts) + 1, dtype="int64")
        self.nulls = 0
        self.rows = 0
        self.total = 0.0

    def add(self, values: np.ndarray) -> None:
        n_missing = int(np.count_nonzero(np.isnan(values)))
        if self.binned:
            self.counts += bin_counts(values, self.cuts)
        self.nulls += n_missing
        self.rows += int(values.size)
        self.total += float(np.nansum(values) if n_missing else values.sum())

    @property
    def present(self) -> int:
        return self.rows - self.nulls

    @property
    def null_fraction(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def mean(self) -> float | None:
        return self.total / self.present if self.present else None


def _float_batches(path: Path, columns: Sequence[str], batch_rows: int) -> Iterator[dict[str, np.ndarray]]:
    """Each Arrow batch of ``columns`` at ``path`` as float64 numpy arrays, nulls as NaN (no Python objects)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    if not path.exists():
        raise FileNotFoundError(f"no Parquet at {path}: has the day been scored?")
    # Spark's _SUCCESS and .crc files are skipped: the dataset ignores names starting with "_" or ".".
    dataset = ds.dataset(str(path), format="parquet")
    missing = [c for c in columns if c not in dataset.schema.names]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    # Little read-ahead: the default (16 batches, 4 files) would hold a good part of a 1M-row day at once.
    for batch in dataset.to_batches(columns=list(columns), batch_size=batch_rows, batch_readahead=1, fragment_readahead=1):
        arrays = {}
        for c in columns:
            column = batch.column(c)
            # A double column without nulls is handed over without a copy; anything else is cast, nulls as NaN.
            if column.type != pa.float64() or column.null_count:
                column = pc.cast(column, pa.float64())
            arrays[c] = column.to_numpy(zero_copy_only=False)
        yield arrays


def _mean_shift(day_mean: float | None, reference: Mapping[str, Any]) -> float | None:
    if day_mean is None or "mean" not in reference:
        return None
    delta = day_mean - float(reference["mean"])
    std = float(reference["std"])
    if std > 0:
        return delta / std
    # A constant reference column: any move at all is infinitely many standard deviations.
    return 0.0 if delta == 0 else math.copysign(math.inf, delta)


def _numeric_metrics(
    column: str, acc: _Numeric, reference: Mapping[str, Any], settings: DriftSettings, base_threshold: float, with_psi: bool = True
) -> list[Metric]:
    out: list[Metric] = []
    ref_null = float(reference.get("null_fraction", 0.0))
    if with_psi:
        expected = reference_shares_with_nulls(reference.get("fractions", []), ref_null)
        actual = shares(np.append(acc.counts, acc.nulls))
        value = psi(expected, actual, settings.empty_bin_floor, expected_rows=int(reference["rows"]), actual_rows=acc.rows)
        threshold = column_threshold(
            base_threshold, expected, acc.rows, int(reference["rows"]), settings.noise_quantile, settings.empty_bin_floor
        )
        out.append(Metric(column, PSI, value, threshold, value >= threshold))
    change = acc.null_fraction - ref_null
    out.append(Metric(column, NULL_CHANGE, change, settings.null_fraction_change, abs(change) >= settings.null_fraction_change))
    shift = _mean_shift(acc.mean, reference)
    out.append(Metric(column, MEAN_SHIFT, shift, settings.mean_shift_sd, shift is not None and abs(shift) >= settings.mean_shift_sd))
    return out


def measure_day(
    features_path: Path,
    scores_path: Path,
    reference: Mapping[str, Any],
    settings: DriftSettings,
    batch_rows: int = BATCH_ROWS,
) -> DayDrift:
    """Drift of one day's features and scores against ``reference`` (``reference/distributions.json`` of the scoring version).

    Raises `NotEnoughRowsError` when the day has fewer than ``settings.min_rows`` rows: PSI of a
    handful of rows is noise, and a silent 0 would read as "no drift".
    """
    ref_features: Mapping[str, Any] = reference["features"]
    columns = list(ref_features)
    groups = one_hot_groups(columns)
    flags = {flag for group in groups.values() for flag in group.values()}
    numeric = {c: _Numeric(ref_features[c].get("cuts", []), binned=c not in flags) for c in columns}
    categories: dict[str, dict[str, int]] = {kind: dict.fromkeys([*flags_of, UNSEEN], 0) for kind, flags_of in groups.items()}
    for batch in _float_batches(features_path, columns, batch_rows):
        for c in columns:
            numeric[c].add(batch[c])
        for kind, flags_of in groups.items():
            stacked = np.column_stack([batch[flag] == 1 for flag in flags_of.values()])
            counts = categories[kind]
            for value, n in zip(flags_of, stacked.sum(axis=0), strict=True):
                counts[value] += int(n)
            counts[UNSEEN] += int((stacked.sum(axis=1) == 0).sum())

    score = _Numeric(reference["score"].get("cuts", []))
    for batch in _float_batches(scores_path, ["churn_probability"], batch_rows):
        score.add(batch["churn_probability"])

    rows = numeric[columns[0]].rows if columns else score.rows
    if score.rows != rows:
        raise ValueError(f"the day's features ({rows} rows at {features_path}) and scores ({score.rows} rows at {scores_path}) differ")
    if rows < settings.min_rows:
        raise NotEnoughRowsError(rows, settings.min_rows)

    metrics: list[Metric] = []
    for c in columns:
        metrics += _numeric_metrics(c, numeric[c], ref_features[c], settings, settings.psi_threshold, with_psi=c not in flags)
    for kind, flags_of in groups.items():
        expected = {value: float(ref_features[flag].get("mean", 0.0)) for value, flag in flags_of.items()}
        reference_rows = int(ref_features[next(iter(flags_of.values()))]["rows"])
        value = categorical_psi(expected, categories[kind], settings.empty_bin_floor, reference_rows)
        shares_seen = list(expected.values())
        threshold = column_threshold(
            settings.psi_threshold,
            [*shares_seen, max(0.0, 1.0 - sum(shares_seen))],
            rows,
            reference_rows,
            settings.noise_quantile,
            settings.empty_bin_floor,
        )
        metrics.append(Metric(kind, PSI, value, threshold, value >= threshold))
    metrics += _numeric_metrics(SCORE, score, reference["score"], settings, settings.score_psi_threshold)
    log.info("measured drift of %d rows over %d inputs and the score", rows, len(columns))
    return DayDrift(rows=rows, metrics=metrics, score_counts=[int(n) for n in score.counts])
