"""Estimated performance from the probabilities alone: a hand computation, the generator's true chances, segments, the retrain reason."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from nightshift.local.generate import true_churn_probabilities
from nightshift.monitoring.estimated import estimate_reason, estimated_rows, expected_metrics
from nightshift.warehouse.estimated import EstimateRow

pytestmark = pytest.mark.unit

D = dt.date(2026, 6, 10)


def test_the_estimate_is_the_expected_confusion_counts_computed_by_hand() -> None:
    # Four rows, p = chance of churning. Sum of p = 1.6 expected positives, 2.4 expected negatives.
    # ROC AUC: every (positive i, negative j) pair weighted p_i (1 - p_j), counted when i ranks above j
    # (2.79 in all) and half when tied, a row with itself included (0.5 x 0.66 = 0.33): 3.12 / (1.6 x 2.4).
    # Average precision over the four thresholds, recall steps x precision:
    # 0.5 x 0.8 + 0.3125 x 0.65 + 0.125 x 0.5 + 0.0625 x 0.4 = 0.690625.
    got = expected_metrics([0.1, 0.8, 0.2, 0.5])
    assert got == pytest.approx({"roc_auc": 3.12 / 3.84, "pr_auc": 0.690625, "positive_rate": 0.4})
    # Tied scores rank nothing: the expected AUC of a constant score is 0.5.
    assert expected_metrics([0.3, 0.3, 0.3])["roc_auc"] == pytest.approx(0.5)


def test_certain_probabilities_give_the_realized_figures_and_no_auc_without_both_outcomes() -> None:
    labels = np.array([1, 0, 1, 0, 0])
    scores = labels.astype(float)
    assert expected_metrics(scores) == pytest.approx(
        {"roc_auc": roc_auc_score(labels, scores), "pr_auc": average_precision_score(labels, scores), "positive_rate": 0.4}
    )
    assert expected_metrics([0.0, 0.0]) == {"positive_rate": 0.0}


@pytest.mark.parametrize("bad", [[], [0.2, 1.2], [0.1, float("nan")], [[0.1, 0.2]]])
def test_bad_probabilities_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="probabilities"):
        expected_metrics(bad)


def test_on_the_generators_true_chances_the_estimate_matches_what_bernoulli_outcomes_realize() -> None:
    # The generator's own churn chances are perfectly calibrated: outcomes drawn from them realize,
    # on average, what the estimate says, and each draw stays within its sampling noise.
    p = true_churn_probabilities(20_000, seed=7, horizon_days=30)["probability"].to_numpy()
    estimate = expected_metrics(p)
    rng = np.random.default_rng(1)
    draws = [rng.random(len(p)) < p for _ in range(40)]
    aucs = np.array([roc_auc_score(y, p) for y in draws])
    aps = np.array([average_precision_score(y, p) for y in draws])
    rates = np.array([y.mean() for y in draws])
    assert 0.6 < estimate["roc_auc"] < 0.95, estimate
    assert abs(aucs.mean() - estimate["roc_auc"]) < 0.005, (aucs.mean(), estimate)
    assert np.abs(aucs - estimate["roc_auc"]).max() < 4 * aucs.std() + 0.005
    assert abs(aps.mean() - estimate["pr_auc"]) < 0.01, (aps.mean(), estimate)
    assert abs(rates.mean() - estimate["positive_rate"]) < 0.001
    # The same outcomes against probabilities that ignore who is who: the estimate falls to chance with them.
    flat = expected_metrics(np.full(len(p), p.mean()))
    assert flat["roc_auc"] == pytest.approx(0.5) and flat["positive_rate"] == pytest.approx(estimate["positive_rate"])


def test_rows_per_version_and_segment_count_the_served_customers() -> None:
    frame = pd.DataFrame(
        {
            "churn_probability": [0.1, 0.7, 0.4, 0.2, 0.9, 0.3],
            "model_version": ["1", "1", "1", "1", "2", "2"],
            "plan": ["basic", "basic", "premium", None, "basic", "basic"],
            "region": ["north", "south", "north", None, "east", "east"],
        }
    )
    rows = {(r.model_version, r.segment, r.metric): r for r in estimated_rows(D, "churn_xgb", frame)}
    everyone = rows[("1", "all", "roc_auc")]
    assert (everyone.rows, everyone.expected_positives) == (4, pytest.approx(1.4))
    assert everyone.value == pytest.approx(expected_metrics([0.1, 0.7, 0.4, 0.2])["roc_auc"])
    assert rows[("1", "plan=basic", "positive_rate")].value == pytest.approx(0.4)
    # A customer the snapshot does not know counts under every customer only; an empty segment has no row.
    assert sum(r.rows for (v, s, m), r in rows.items() if v == "1" and s.startswith("plan=") and m == "positive_rate") == 3
    assert ("1", "plan=standard", "positive_rate") not in rows
    assert rows[("2", "region=east", "pr_auc")].rows == 2
    assert {r.score_date for r in rows.values()} == {D} and {r.model_name for r in rows.values()} == {"churn_xgb"}


def _auc(day: dt.date, value: float, version: str = "1", segment: str = "all") -> EstimateRow:
    return EstimateRow(day, "churn_xgb", version, segment, "roc_auc", value, 1000, 40.0)


def test_an_estimated_auc_under_the_floor_on_persist_days_days_in_a_row_is_a_retrain_reason() -> None:
    floors = {"roc_auc": 0.7}
    yesterday = D - dt.timedelta(days=1)
    reason = estimate_reason([_auc(yesterday, 0.66), _auc(D, 0.64)], "1", floors, D, persist_days=2)
    assert reason is not None and "0.6600" in reason and "0.6400" in reason and "floor 0.7" in reason and "2 consecutive" in reason
    # One day under the floor is not enough; nor a run broken by a day above it or without an estimate.
    assert estimate_reason([_auc(yesterday, 0.71), _auc(D, 0.64)], "1", floors, D, persist_days=2) is None
    assert estimate_reason([_auc(D - dt.timedelta(days=2), 0.6), _auc(D, 0.64)], "1", floors, D, persist_days=2) is None
    assert estimate_reason([_auc(D, 0.64)], "1", floors, D, persist_days=1) is not None
    # Only the champion's, every customer's, and only with a floor.
    assert estimate_reason([_auc(yesterday, 0.6, "2"), _auc(D, 0.6, "2")], "1", floors, D, persist_days=2) is None
    assert estimate_reason([_auc(yesterday, 0.6, segment="plan=basic"), _auc(D, 0.6, segment="plan=basic")], "1", floors, D, 2) is None
    assert estimate_reason([_auc(yesterday, 0.6), _auc(D, 0.6)], "1", {}, D, persist_days=2) is None
    assert estimate_reason([_auc(yesterday, 0.6), _auc(D, 0.6)], None, floors, D, persist_days=2) is None


def test_the_charts_series_takes_every_customers_auc_of_the_version_that_served_most_each_day() -> None:
    from nightshift.monitoring.estimated import auc_series
    from nightshift.warehouse.rows import PerformanceRow

    rows = [
        EstimateRow(D, "m", "1", "all", "roc_auc", 0.80, 900, 40.0),
        EstimateRow(D, "m", "2", "all", "roc_auc", 0.70, 100, 5.0),  # a canary's few customers
        EstimateRow(D, "m", "1", "plan=basic", "roc_auc", 0.60, 300, 20.0),
        EstimateRow(D, "m", "1", "all", "pr_auc", 0.30, 900, 40.0),
    ]
    yesterday = D - dt.timedelta(days=1)
    assert auc_series(rows + [EstimateRow(yesterday, "m", "1", "all", "roc_auc", 0.75, 800, 40.0)]) == [(yesterday, 0.75), (D, 0.80)]
    assert auc_series([PerformanceRow(D, "m", "1", "all", "roc_auc", 0.71, 500, 30)]) == [(D, 0.71)]
