"""The terminal table of `nightshift drift show`: the decision with its reason, columns by PSI, flags."""

from __future__ import annotations

import math
from datetime import date

import pytest

from nightshift.monitoring.report import drift_table
from nightshift.warehouse.drift import DriftRun, MetricRow

pytestmark = pytest.mark.unit


def test_the_table_leads_with_the_decision_and_sorts_columns_by_psi() -> None:
    run = DriftRun(
        date(2026, 7, 14), "churn_xgb", "3", 412, ["monthly_fee"], 0.042, True, "drift_not_persistent", "1 of 2 days", "/r/index.html"
    )
    metrics = [
        MetricRow("tenure_days", "psi", 0.05, 0.25, False),
        MetricRow("monthly_fee", "psi", 2.5, 0.25, True),
        MetricRow("monthly_fee", "mean_shift_sd", math.inf, 0.5, True),
        MetricRow("monthly_fee", "null_fraction_change", 0.0, 0.05, False),
        MetricRow("score", "psi", 0.042, 0.2, False),
        MetricRow("plan_basic", "mean_shift_sd", None, 0.5, False),
    ]
    lines = drift_table(run, metrics).splitlines()
    assert lines[0] == "drift on 2026-07-14: churn_xgb version 3, 412 rows, score PSI 0.042"
    assert lines[1] == "decision  drift_not_persistent: 1 of 2 days"
    assert lines[3].split()[:2] == ["column", "psi"]
    body = [line.split()[0] for line in lines[4:8]]
    assert body == ["score", "monthly_fee", "tenure_days", "plan_basic"]
    fee = lines[5]
    assert "2.500" in fee and "inf" in fee and fee.endswith("psi,mean")
    assert lines[-1].startswith("report    /r/index.html")


def test_a_day_without_metrics_still_shows_its_decision() -> None:
    run = DriftRun(date(2026, 7, 14), "churn_xgb", "3", 12, [], None, False, "not_enough_rows", "12 rows scored", None)
    assert (
        drift_table(run, []) == "drift on 2026-07-14: churn_xgb version 3, 12 rows, score PSI -\ndecision  not_enough_rows: 12 rows scored"
    )
