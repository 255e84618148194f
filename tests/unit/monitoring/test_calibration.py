"""Realized calibration on tiny frames: the bins of a date, and a month added up from them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from nightshift.model.evaluation import calibration_metrics
from nightshift.monitoring.calibration import calibration_rows, monthly_calibration, quantile_bins, width_bins
from nightshift.warehouse.rows import QUANTILE, WIDTH

pytestmark = pytest.mark.unit

D = dt.date(2026, 6, 29)


def _frame(p: list[float], y: list[int], version: str = "3") -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": np.arange(len(p)) + 100, "churn_probability": p, "label": y, "model_version": version, "model_name": "churn_xgb"}
    )


def test_bins_by_hand() -> None:
    assert width_bins([0.0, 0.05, 0.1, 0.55, 0.999, 1.0], 10).tolist() == [0, 0, 1, 5, 9, 9]
    # Quantile bins: equal counts by rank, whatever the values.
    assert quantile_bins([0.9, 0.1, 0.5, 0.3], 2).tolist() == [1, 0, 1, 0]
    assert quantile_bins([0.4, 0.1, 0.3, 0.2, 0.5], 5).tolist() == [3, 0, 2, 1, 4]


def test_a_months_ece_is_the_pooled_rows_ece_by_hand() -> None:
    # Two dates, 4 bins. Day 1: p 0.1, 0.1 (one churns), 0.6 (churns). Day 2 (next day): p 0.1 (no), 0.9 (churns).
    day1 = _frame([0.1, 0.1, 0.6], [1, 0, 1])
    day2 = _frame([0.1, 0.9], [0, 1])
    rows = calibration_rows(D, "churn_xgb", day1, 4) + calibration_rows(D + dt.timedelta(days=1), "churn_xgb", day2, 4)
    (june,) = monthly_calibration(rows)
    # Bin 0: three rows scored 0.1, one churned: |0.3 - 1| = 0.7. Bin 2: |0.6 - 1| = 0.4. Bin 3: |0.9 - 1| = 0.1. Over 5 rows.
    assert june.ece == pytest.approx((0.7 + 0.4 + 0.1) / 5)
    pooled = pd.concat([day1, day2])
    assert june.ece == pytest.approx(calibration_metrics(pooled["label"], pooled["churn_probability"], 4)["expected_calibration_error"])
    assert (june.month, june.model_version, june.dates, june.rows, june.positives) == (dt.date(2026, 6, 1), "3", 2, 5, 3)
    assert june.mean_score == pytest.approx(1.8 / 5) and june.realized_rate == pytest.approx(0.6)


def test_a_months_deciles_pool_each_days_own_deciles() -> None:
    # Two bins per day: day 1's low half is {0.1, 0.2}, day 2's low half is {0.5, 0.6}.
    day1 = _frame([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 0])
    day2 = _frame([0.5, 0.6, 0.7, 0.8], [0, 1, 1, 1])
    rows = calibration_rows(D, "churn_xgb", day1, 2) + calibration_rows(D + dt.timedelta(days=1), "churn_xgb", day2, 2)
    low, high = monthly_calibration(rows)[0].deciles
    assert (low.rows, low.mean_score, low.realized_rate) == (4, pytest.approx(0.35), pytest.approx(0.25))
    assert (high.rows, high.mean_score, high.realized_rate) == (4, pytest.approx(0.55), pytest.approx(0.75))


def test_rows_are_kept_apart_per_version_and_months_per_calendar_month() -> None:
    frame = pd.concat([_frame([0.1, 0.2, 0.8], [0, 0, 1], "3"), _frame([0.3, 0.7], [1, 0], "4")])
    frame["customer_id"] = np.arange(len(frame))
    rows = calibration_rows(D, "churn_xgb", frame, 10)
    assert {(r.model_version, r.binning) for r in rows} == {("3", WIDTH), ("3", QUANTILE), ("4", WIDTH), ("4", QUANTILE)}
    # Only bins holding customers are stored; each binning accounts for every customer once.
    assert sum(r.rows for r in rows if r.model_version == "3" and r.binning == WIDTH) == 3
    assert sum(r.rows for r in rows if r.model_version == "4" and r.binning == QUANTILE) == 2
    july = calibration_rows(D + dt.timedelta(days=2), "churn_xgb", _frame([0.5], [1]), 10)
    months = monthly_calibration(rows + july)
    assert [(m.month, m.model_version, m.rows) for m in months] == [
        (dt.date(2026, 6, 1), "3", 3),
        (dt.date(2026, 6, 1), "4", 2),
        (dt.date(2026, 7, 1), "3", 1),
    ]
    assert months[2].ece == pytest.approx(0.5)


def test_no_bins_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one bin"):
        calibration_rows(D, "churn_xgb", _frame([0.1], [0]), 0)
