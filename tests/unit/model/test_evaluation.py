"""Evaluation metrics, reference distributions and lineage fingerprints of nightshift's model."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from nightshift.model.evaluation import (
    calibration_metrics,
    distribution,
    evaluate,
    evaluation_metrics,
    reference_distributions,
    segment_roc_auc,
    training_reference,
)

pytestmark = pytest.mark.unit


def test_ece_is_zero_when_each_bin_predicts_its_churn_rate() -> None:
    # Four rows scored 0.25, one of which churns; four scored 0.75, three of which churn.
    labels = [1, 0, 0, 0, 1, 1, 1, 0]
    probabilities = [0.25] * 4 + [0.75] * 4
    metrics = calibration_metrics(labels, probabilities, bins=10)
    assert metrics["expected_calibration_error"] == pytest.approx(0.0)
    assert metrics["brier"] == pytest.approx(np.mean((np.array(probabilities) - np.array(labels)) ** 2))


def test_ece_by_hand() -> None:
    # Bin 0 (p=0.05): 2 rows, 1 churns -> gap 0.45; bin 9 (p=0.95 and 1.0): 2 rows, both churn -> gap 0.025.
    labels = [0, 1, 1, 1]
    probabilities = [0.05, 0.05, 0.95, 1.0]
    ece = calibration_metrics(labels, probabilities, bins=10)["expected_calibration_error"]
    assert ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.025)


@pytest.mark.parametrize(("labels", "probabilities", "bins"), [([], [], 10), ([0, 1], [0.5], 10), ([0, 1], [0.1, 0.9], 0)])
def test_calibration_refuses_bad_input(labels, probabilities, bins) -> None:
    with pytest.raises(ValueError):
        calibration_metrics(labels, probabilities, bins)


def _segment_frame() -> pd.DataFrame:
    plans = ["basic"] * 4 + ["premium"] * 4
    return pd.DataFrame(
        {
            "plan_basic": [int(p == "basic") for p in plans],
            "plan_standard": [0] * 8,
            "plan_premium": [int(p == "premium") for p in plans],
            "region_north": [1] * 8,
        }
    )


def test_segment_auc_per_plan_and_region_leaves_out_single_label_segments() -> None:
    frame = _segment_frame()
    labels = [0, 0, 1, 1, 0, 1, 0, 1]
    # Perfect within basic, reversed within premium.
    probabilities = [0.1, 0.2, 0.8, 0.9, 0.9, 0.1, 0.8, 0.2]
    out = segment_roc_auc(frame, labels, probabilities)
    assert out["roc_auc_plan_basic"] == 1.0
    assert out["roc_auc_plan_premium"] == 0.0
    assert "roc_auc_plan_standard" not in out, "no rows: no AUC, not a made-up one"
    assert 0.0 < out["roc_auc_region_north"] < 1.0
    assert not any(k.startswith("roc_auc_region_south") for k in out), "column absent: segment skipped"


def test_evaluation_metrics_hold_every_metric_the_run_logs() -> None:
    frame = _segment_frame()
    metrics = evaluation_metrics(frame, [0, 0, 1, 1, 0, 1, 0, 1], [0.1, 0.2, 0.8, 0.9, 0.3, 0.7, 0.4, 0.6])
    assert {"roc_auc", "pr_auc", "log_loss", "brier", "expected_calibration_error", "roc_auc_plan_basic"} <= set(metrics)
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())


def test_distribution_bins_cover_every_row() -> None:
    values = np.arange(1000, dtype=float)
    ref = distribution(values, quantiles=10)
    assert len(ref["cuts"]) == 9 and ref["cuts"] == sorted(ref["cuts"])
    assert len(ref["fractions"]) == 10
    assert sum(ref["fractions"]) == pytest.approx(1.0)
    assert all(f == pytest.approx(0.1, abs=0.002) for f in ref["fractions"])
    assert (ref["min"], ref["max"], ref["null_fraction"]) == (0.0, 999.0, 0.0)


def test_distribution_of_a_flag_and_of_missing_values() -> None:
    flag = distribution([0, 0, 0, 1, 1, np.nan], quantiles=10)
    assert flag["null_fraction"] == pytest.approx(1 / 6)
    # Duplicate cut points collapse: a 0/1 column has at most two distinct cuts.
    assert len(flag["cuts"]) <= 2 and sum(flag["fractions"]) == pytest.approx(1.0)
    empty = distribution([np.nan, np.nan])
    assert empty["null_fraction"] == 1.0 and empty["fractions"] == []


def test_reference_distributions_cover_features_and_score() -> None:
    frame = pd.DataFrame({"a": np.linspace(0, 1, 50), "b": np.arange(50) % 2})
    ref = reference_distributions(frame, ["a", "b"], np.linspace(0.01, 0.5, 50))
    assert set(ref["features"]) == {"a", "b"}
    assert ref["rows"] == 50 and ref["score"]["max"] == pytest.approx(0.5)


def test_the_training_reference_is_the_newest_evaluation_date_alone() -> None:
    # Three weekly dates of an ageing base: tenure grows by a week per date. A pooled reference spans
    # all three, and any one day looks drifted against it; the newest date alone is a normal day.
    dates = [date(2026, 4, 4), date(2026, 4, 11), date(2026, 4, 18)]
    frame = pd.DataFrame(
        {
            "as_of_date": [d for d in dates for _ in range(40)],
            "tenure_days": [100.0 + 7 * i + j for i in range(3) for j in range(40)],
        }
    )
    frame["score"] = [0.1] * 80 + [0.3] * 40
    shuffled = frame.sample(frac=1.0, random_state=3)  # the dates' rows interleaved, as a split may leave them
    ref = training_reference(shuffled, ["tenure_days"], shuffled["score"].to_numpy())
    assert ref["rows"] == 40 and ref["features"]["tenure_days"]["rows"] == 40
    assert ref["features"]["tenure_days"]["min"] == 114.0 and ref["features"]["tenure_days"]["max"] == 153.0
    # The scores of the same rows, not of the older dates.
    assert ref["score"]["mean"] == pytest.approx(0.3)
    assert ref["window"] == "2026-04-18..2026-04-18 (1 dates)"
    assert ref["quantiles"] == 10


def test_evaluate_perfect_ranking() -> None:
    metrics = evaluate([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.8, 0.3, 0.9, 0.7])
    assert metrics["roc_auc"] == 1.0
    assert metrics["pr_auc"] == pytest.approx(1.0)
    assert 0.0 < metrics["log_loss"] < math.log(2)


def test_evaluate_reversed_ranking() -> None:
    metrics = evaluate([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])
    assert metrics["roc_auc"] == 0.0
    assert metrics["log_loss"] > math.log(2)


def test_evaluate_constant_scores() -> None:
    labels = [0, 1, 0, 1, 0, 0, 1, 0]
    metrics = evaluate(labels, [0.5] * len(labels))
    assert metrics["roc_auc"] == pytest.approx(0.5)
    assert metrics["pr_auc"] == pytest.approx(sum(labels) / len(labels))
    assert metrics["log_loss"] == pytest.approx(math.log(2))
    assert set(metrics) == {"roc_auc", "pr_auc", "log_loss"}
    assert all(isinstance(v, float) for v in metrics.values())
