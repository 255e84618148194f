"""Realized performance on tiny frames: which dates have closed label windows, per-segment metrics, the retrain reason."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from nightshift.monitoring.performance import calibration_reason, matured_dates, performance_reason, realized_rows, segment_metrics
from nightshift.warehouse.rows import PerformanceRow

pytestmark = pytest.mark.unit

D = dt.date(2026, 6, 1)


def _days(first: dt.date, n: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(n)]


def test_a_date_matures_when_a_snapshot_a_horizon_later_has_landed_by_the_monitored_day() -> None:
    snapshots = _days(D, 60)  # the landing zone already holds later days: they must not count
    assert matured_dates([D, D + dt.timedelta(days=5)], snapshots, D + dt.timedelta(days=30), 30) == {D: D + dt.timedelta(days=30)}
    assert matured_dates([D], snapshots, D + dt.timedelta(days=29), 30) == {}
    # The snapshot of d + 30 never landed: the next one stands in, as for training labels.
    gap = [s for s in snapshots if s != D + dt.timedelta(days=30)]
    assert matured_dates([D], gap, D + dt.timedelta(days=31), 30) == {D: D + dt.timedelta(days=31)}
    assert matured_dates([D], gap, D + dt.timedelta(days=30), 30) == {}


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    plan = np.array(["basic", "standard", "premium"])[rng.integers(0, 3, n)]
    region = np.array(["north", "south", "east", "west"])[rng.integers(0, 4, n)]
    label = (rng.uniform(size=n) < 0.2).astype(int)
    label[region == "west"] = 0  # a segment with one outcome only
    p = np.clip(0.3 * label + rng.uniform(0, 0.7, n), 0, 1)
    return pd.DataFrame({"label": label, "churn_probability": p, "plan": plan, "region": region, "model_version": "4"})


def test_segment_metrics_match_sklearn_and_give_no_auc_to_a_one_outcome_segment() -> None:
    frame = _frame()
    got = {(s, m): (v, n, pos) for s, m, v, n, pos in segment_metrics(frame, 10)}
    assert got[("all", "roc_auc")][0] == pytest.approx(roc_auc_score(frame["label"], frame["churn_probability"]))
    basic = frame[frame["plan"] == "basic"]
    assert got[("plan=basic", "pr_auc")][0] == pytest.approx(average_precision_score(basic["label"], basic["churn_probability"]))
    assert got[("plan=basic", "brier")][1:] == (len(basic), int(basic["label"].sum()))
    west = frame[frame["region"] == "west"]
    assert got[("region=west", "brier")][0] == pytest.approx(float(np.mean(west["churn_probability"] ** 2)))
    assert ("region=west", "roc_auc") not in got and ("region=west", "pr_auc") not in got
    plans = {f"plan={p}" for p in ("basic", "standard", "premium")}
    assert {s for s, _ in got} == {"all", *plans, *(f"region={r}" for r in ("north", "south", "east", "west"))}


def test_rows_are_kept_apart_per_serving_version() -> None:
    frame = _frame()
    frame.loc[frame.index[:150], "model_version"] = "5"
    rows = realized_rows(D, "churn_xgb", frame, 10)
    alls = {r.model_version: r.rows for r in rows if r.segment == "all" and r.metric == "brier"}
    assert alls == {"4": 250, "5": 150}


def _auc(day: dt.date, value: float, version: str = "1") -> PerformanceRow:
    return PerformanceRow(day, "churn_xgb", version, "all", "roc_auc", value, 900, 60)


def test_the_champions_newest_realized_auc_below_the_floor_is_a_reason() -> None:
    floors = {"roc_auc": 0.7}
    reason = performance_reason([_auc(D, 0.9), _auc(D + dt.timedelta(days=1), 0.62)], "1", floors)
    newest = D + dt.timedelta(days=1)
    assert reason == f"realized ROC AUC 0.6200 of version 1 on {newest} (900 labelled customers) is below the gate floor 0.7"
    # Recovered on the newest date, another version's figure, no floor, nothing measured: no reason.
    assert performance_reason([_auc(D, 0.62), _auc(D + dt.timedelta(days=1), 0.8)], "1", floors) is None
    assert performance_reason([_auc(D, 0.5, version="1")], "2", floors) is None
    assert performance_reason([_auc(D, 0.5)], "1", {}) is None
    assert performance_reason([], "1", floors) is None


def _ece(day: dt.date, value: float, version: str = "1", segment: str = "all") -> PerformanceRow:
    return PerformanceRow(day, "churn_xgb", version, segment, "expected_calibration_error", value, 4_812, 203)


def test_the_champions_newest_realized_ece_above_the_ceiling_is_a_reason() -> None:
    ceilings = {"expected_calibration_error": 0.05}
    newest = D + dt.timedelta(days=1)
    reason = calibration_reason([_ece(D, 0.01), _ece(newest, 0.0712), _auc(newest, 0.9)], "1", ceilings)
    assert reason == (
        f"realized expected calibration error 0.0712 of version 1 on {newest} (4812 labelled customers) is above the gate ceiling 0.05"
    )
    # Calibrated again on the newest date, at the ceiling, another version's or a segment's figure, no ceiling, nothing: no reason.
    assert calibration_reason([_ece(D, 0.09), _ece(newest, 0.02)], "1", ceilings) is None
    assert calibration_reason([_ece(newest, 0.05)], "1", ceilings) is None
    assert calibration_reason([_ece(newest, 0.09, version="2")], "1", ceilings) is None
    assert calibration_reason([_ece(newest, 0.09, segment="plan=basic")], "1", ceilings) is None
    assert calibration_reason([_ece(newest, 0.09)], "1", {}) is None
    assert calibration_reason([], "1", ceilings) is None


def test_the_table_puts_a_dates_metrics_side_by_side_and_leaves_undefined_ones_blank() -> None:
    from nightshift.monitoring.performance import performance_table

    rows = realized_rows(D, "churn_xgb", _frame(), 10)
    lines = performance_table(rows).splitlines()
    assert lines[0].split() == ["score_date", "version", "segment", "rows", "churned", "roc_auc", "pr_auc", "brier", "ece"]
    west = next(line for line in lines if "region=west" in line).split()
    assert west[:3] == [D.isoformat(), "4", "region=west"] and len(west) == 7  # rows, churned, brier, ece: no AUCs
    assert len(lines) == 2 + 8
