"""Champion against challenger: the paired bootstrap interval and the per-segment comparison."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from nightshift.monitoring.comparison import Bootstrap, compare_day, comparison_table, paired_auc_difference

pytestmark = pytest.mark.unit

BOOT = Bootstrap(resamples=200, seed=3, confidence=0.95)


def two_models(n: int, seed: int = 0, noise: tuple[float, float] = (1.5, 0.8)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.2
    signal = y * 1.0
    # Rounded, so scores tie the way boosters' leaf sums do.
    champion = np.round(1 / (1 + np.exp(-(signal + rng.normal(0, noise[0], n)))), 2)
    challenger = np.round(1 / (1 + np.exp(-(signal + rng.normal(0, noise[1], n)))), 2)
    return y.astype(int), champion, challenger


def test_the_bootstrap_is_the_naive_resample_and_sort_bootstrap_exactly() -> None:
    y, a, b = two_models(800)
    diff, low, high = paired_auc_difference(y, a, b, BOOT)
    assert diff == pytest.approx(roc_auc_score(y, b) - roc_auc_score(y, a), abs=1e-12)
    # The same draws, made explicit: resample the rows, sort, score with scikit-learn.
    rng = np.random.default_rng(BOOT.seed)
    naive = []
    for _ in range(BOOT.resamples):
        counts = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y))
        idx = np.repeat(np.arange(len(y)), counts)
        naive.append(roc_auc_score(y[idx], b[idx]) - roc_auc_score(y[idx], a[idx]))
    assert (low, high) == pytest.approx(tuple(np.quantile(naive, [0.025, 0.975])), abs=1e-12)


def test_identical_models_have_a_zero_difference_and_a_zero_interval() -> None:
    y, a, _ = two_models(500)
    assert paired_auc_difference(y, a, a.copy(), BOOT) == (0.0, 0.0, 0.0)


def test_a_clearly_better_challenger_has_an_interval_above_zero_and_a_worse_one_below() -> None:
    y, a, b = two_models(4000)
    diff, low, high = paired_auc_difference(y, a, b, BOOT)
    assert 0 < low < diff < high
    back = paired_auc_difference(y, b, a, BOOT)
    assert back[2] < 0


def test_the_interval_is_seeded_and_clusters_resample_whole_customers() -> None:
    y, a, b = two_models(1000)
    assert paired_auc_difference(y, a, b, BOOT) == paired_auc_difference(y, a, b, BOOT)
    # The same 1000 rows seen on 3 days: resampling rows would treat them as 3000 independent ones.
    y3, a3, b3 = np.tile(y, 3), np.tile(a, 3), np.tile(b, 3)
    _, lo_rows, hi_rows = paired_auc_difference(y3, a3, b3, BOOT)
    _, lo_cust, hi_cust = paired_auc_difference(y3, a3, b3, BOOT, clusters=np.tile(np.arange(1000), 3))
    assert hi_cust - lo_cust > 1.4 * (hi_rows - lo_rows)


def test_one_outcome_only_is_refused() -> None:
    with pytest.raises(ValueError, match="needs both outcomes"):
        paired_auc_difference(np.zeros(10), np.random.rand(10), np.random.rand(10), BOOT)


def test_compare_day_fills_every_segment_with_both_models_metrics() -> None:
    y, a, b = two_models(3000, seed=5)
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "label": y,
            "champion": a,
            "challenger": b,
            "plan": rng.choice(["basic", "standard", "premium"], len(y)),
            "region": rng.choice(["north", "south", "east", "west"], len(y)),
        }
    )
    rows = compare_day(date(2026, 5, 1), "m", "1", "2", frame, 10, BOOT)
    assert [r.segment for r in rows][:2] == ["all", "plan=basic"] and len(rows) == 8
    everyone = rows[0]
    assert everyone.rows == 3000 and everyone.positives == int(y.sum())
    assert everyone.champion["roc_auc"] == pytest.approx(roc_auc_score(y, a))
    assert everyone.challenger["roc_auc"] == pytest.approx(roc_auc_score(y, b))
    assert set(everyone.champion) == {"roc_auc", "pr_auc", "brier", "expected_calibration_error"}
    assert everyone.auc_diff == pytest.approx(roc_auc_score(y, b) - roc_auc_score(y, a))
    assert "plan=basic" in comparison_table(rows)
