"""One day's drift measured from Parquet against a reference: quiet days, drifted inputs, unseen plans, tiny days."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nightshift.monitoring.drift import MEAN_SHIFT, NULL_CHANGE, PSI, SCORE, DriftSettings, NotEnoughRowsError, measure_day
from tests.unit.monitoring._days import features, reference, scores, write_day

pytestmark = pytest.mark.unit

SETTINGS = DriftSettings(min_rows=50)


def _metric(drift, column, metric):
    return next(m for m in drift.metrics if m.column == column and m.metric == metric)


def test_a_day_like_the_reference_drifts_nowhere(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(2000, seed=2)
    drift = measure_day(*write_day(tmp_path, day, scores(day)), ref, SETTINGS)
    assert drift.rows == 2000
    assert drift.drifted_inputs == [] and not drift.score_drifted
    assert max(m.value for m in drift.metrics if m.metric == PSI) < 0.05
    # Every input and the score has its three metrics; the one-hot flags have theirs and their groups a PSI.
    assert {m.column for m in drift.metrics if m.metric == PSI} >= {"monthly_fee", "plan", "region", SCORE}
    assert not any(m.column.startswith("plan_") and m.metric == PSI for m in drift.metrics)
    assert _metric(drift, "plan_basic", MEAN_SHIFT).value is not None


def test_a_price_rise_drifts_monthly_fee_and_only_it(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(2000, seed=2, fee_factor=1.1)
    drift = measure_day(*write_day(tmp_path, day, scores(day)), ref, SETTINGS)
    assert drift.drifted_inputs == ["monthly_fee"]
    fee = _metric(drift, "monthly_fee", PSI)
    assert fee.value > 1.0 and fee.threshold == pytest.approx(0.1)
    assert drift.severe_inputs(1.0) == ["monthly_fee"]
    assert _metric(drift, "monthly_fee", MEAN_SHIFT).value > 0.1


def test_a_shifted_score_drifts_the_score(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(2000, seed=2)
    drift = measure_day(*write_day(tmp_path, day, scores(day, shift=1.0)), ref, SETTINGS)
    assert drift.score_drifted
    assert drift.psi_of(SCORE) >= 0.2
    assert sum(drift.score_counts) == 2000


def test_a_plan_the_reference_never_saw_drifts_plan(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(2000, seed=2, plan="enterprise")  # no plan flag set: a plan outside the one-hot columns
    drift = measure_day(*write_day(tmp_path, day, scores(day)), ref, SETTINGS)
    assert "plan" in drift.drifted_inputs
    assert drift.psi_of("plan") > 5
    assert "region" not in drift.drifted_inputs


def test_nulls_move_the_null_bin_and_the_null_change(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(2000, seed=2)
    day["tenure_days"] = day["tenure_days"].where(np.arange(2000) % 2 == 0)  # half the rows lose it
    drift = measure_day(*write_day(tmp_path, day, scores(day)), ref, SETTINGS)
    change = _metric(drift, "tenure_days", NULL_CHANGE)
    assert change.value == pytest.approx(0.5) and change.drifted
    assert "tenure_days" in drift.drifted_inputs


def test_a_constant_reference_column_that_moves_is_infinitely_shifted(tmp_path: Path) -> None:
    base = features(5000, seed=1)
    base["tickets_7d"] = 0.0
    day = features(2000, seed=2)
    day["tickets_7d"] = 1.0
    drift = measure_day(*write_day(tmp_path, day, scores(day)), reference(base), SETTINGS)
    assert _metric(drift, "tickets_7d", MEAN_SHIFT).value == math.inf
    assert math.isfinite(_metric(drift, "tickets_7d", PSI).value)


def test_an_empty_day_is_not_enough_rows_not_a_silent_zero(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(0)
    with pytest.raises(NotEnoughRowsError, match="0 rows scored, fewer than drift.min_rows=50") as caught:
        measure_day(*write_day(tmp_path, day, scores(day)), ref, SETTINGS)
    assert caught.value.rows == 0


def test_a_tiny_day_is_not_enough_rows(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(12, seed=2)
    with pytest.raises(NotEnoughRowsError, match="12 rows"):
        measure_day(*write_day(tmp_path, day, scores(day)), ref, SETTINGS)


def test_a_small_day_above_the_minimum_gets_noise_aware_thresholds(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(80, seed=2)
    drift = measure_day(*write_day(tmp_path, day, scores(day)), ref, DriftSettings(min_rows=50))
    thresholds = [m.threshold for m in drift.metrics if m.metric == PSI and m.column not in ("plan", "region")]
    # 80 rows against 5,000 on deciles: noise alone reaches about 0.45, well above the conventional 0.25.
    assert min(thresholds) > 0.4
    assert drift.drifted_inputs == []


def test_missing_parquet_names_the_path(tmp_path: Path) -> None:
    ref = reference(features(500, seed=1))
    with pytest.raises(FileNotFoundError, match="has the day been scored"):
        measure_day(tmp_path / "nope", tmp_path / "nope2", ref, SETTINGS)


def test_features_and_scores_of_different_days_are_refused(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(300, seed=2)
    with pytest.raises(ValueError, match="differ"):
        measure_day(*write_day(tmp_path, day, scores(day.head(200))), ref, SETTINGS)


def test_batches_give_the_same_result_as_one_read(tmp_path: Path) -> None:
    ref = reference(features(5000, seed=1))
    day = features(3000, seed=2, fee_factor=1.05)
    paths = write_day(tmp_path, day, scores(day))
    whole = measure_day(*paths, ref, SETTINGS)
    pieces = measure_day(*paths, ref, SETTINGS, batch_rows=257)
    assert [(m.column, m.metric) for m in whole.metrics] == [(m.column, m.metric) for m in pieces.metrics]
    assert [m.value for m in whole.metrics] == pytest.approx([m.value for m in pieces.metrics], rel=1e-9)
