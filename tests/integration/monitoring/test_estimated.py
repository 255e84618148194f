"""Estimated performance on real PostgreSQL (and Spark for the labels): stored the night a date is scored, its error once labels mature,
and the retrain reason and chart ``monitor_day`` draws from it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nightshift.config import load_params
from nightshift.monitoring.estimated import estimate_day, expected_metrics
from nightshift.monitoring.monitor import monitor_day
from nightshift.monitoring.realized import dates_to_measure, measure_realized
from nightshift.warehouse.estimated import EstimateRow, read_estimated, read_estimation_error, write_estimated
from nightshift.warehouse.performance import read_performance
from tests.integration.monitoring.test_monitor import DAY as MONITOR_DAY
from tests.integration.monitoring.test_monitor import MODEL, _landing_zone, registry  # noqa: F401  (fixture)
from tests.integration.monitoring.test_realized import MONITORED, SCORED, _publish, _scores, db, expected_labels, raw  # noqa: F401
from tests.pg_helpers import query
from tests.unit.monitoring._days import features, reference, scores, write_day

pytestmark = pytest.mark.integration


def test_a_scored_date_is_estimated_that_night_and_its_error_stored_when_its_labels_mature(db: str, raw: Path, spark) -> None:  # noqa: F811
    labels = expected_labels(raw, SCORED)
    served = _scores(labels, 0.3, seed=4)
    _publish(db, SCORED, served, "1")

    summary = estimate_day(db, raw, SCORED)
    assert summary["scored"] == len(served)
    rows = {(r.segment, r.metric): r for r in read_estimated(db, SCORED, SCORED)}
    expected = expected_metrics(served["churn_probability"].to_numpy())
    assert rows[("all", "roc_auc")].value == pytest.approx(expected["roc_auc"])
    assert rows[("all", "positive_rate")].value == pytest.approx(served["churn_probability"].mean())
    assert rows[("all", "roc_auc")].expected_positives == pytest.approx(served["churn_probability"].sum())
    # Segments from the day's snapshot: the plans split every served customer.
    assert sum(r.rows for (segment, metric), r in rows.items() if segment.startswith("plan=") and metric == "pr_auc") == len(served)
    assert query(db, "SELECT count(*) FROM estimation_error") == [(0,)]  # no label yet

    measure_realized(spark, db, raw, MONITORED, dates_to_measure(db, raw, MONITORED, 30), 30, 10)
    realized = {(r.segment, r.metric): r for r in read_performance(db, SCORED, SCORED)}
    errors = {(e.segment, e.metric): e for e in read_estimation_error(db, SCORED, SCORED)}
    assert set(errors) == {(s, m) for (s, m) in rows if (s, m if m != "positive_rate" else "brier") in realized}
    auc = errors[("all", "roc_auc")]
    assert auc.estimated == pytest.approx(rows[("all", "roc_auc")].value)
    assert auc.realized == pytest.approx(realized[("all", "roc_auc")].value)
    assert auc.error == pytest.approx(auc.estimated - auc.realized) and auc.rows == len(labels)
    rate = errors[("all", "positive_rate")]
    assert rate.realized == pytest.approx(labels["label"].mean())
    assert query(db, "SELECT DISTINCT label_snapshot FROM estimation_error") == [(SCORED + dt.timedelta(days=30),)]

    # The date rescored and estimated again: its error follows the new estimate, never a stale one.
    _publish(db, SCORED, _scores(labels, 0.0, seed=5), "1")
    estimate_day(db, raw, SCORED)
    again = {(e.segment, e.metric): e for e in read_estimation_error(db, SCORED, SCORED)}
    new = next(r for r in read_estimated(db, SCORED, SCORED) if (r.segment, r.metric) == ("all", "roc_auc"))
    assert again[("all", "roc_auc")].estimated == pytest.approx(new.value) != pytest.approx(auc.estimated)
    assert len(again) == len(errors)


def test_an_estimated_auc_under_the_floor_two_days_running_asks_for_a_retrain_and_the_report_charts_it(
    db: str,  # noqa: F811
    registry,  # noqa: F811
    tmp_path: Path,
) -> None:
    params = load_params()
    assert params["drift"]["consecutive_days"] == 2
    v1 = registry(reference(features(3000, seed=1)), "2026-05-29", champion=True)
    data = _landing_zone(tmp_path / "raw", dt.date(2026, 3, 1), 140)

    def estimate(day: dt.date, auc: float) -> None:
        write_estimated(db, day, [EstimateRow(day, MODEL, v1, "all", "roc_auc", auc, 600, 30.0)])

    def run_day(day: dt.date) -> dict:
        frame = features(600, seed=day.toordinal())
        f, s = write_day(tmp_path / day.isoformat(), frame, scores(frame))
        return monitor_day(day, db, MODEL, v1, params, data, f, s, tmp_path / "reports")

    yesterday = MONITOR_DAY - dt.timedelta(days=1)
    estimate(yesterday, 0.64)
    first = run_day(yesterday)
    assert first["decision"] == "no_drift" and not first["retrain"], first  # one day under the floor is not enough
    estimate(MONITOR_DAY, 0.66)
    second = run_day(MONITOR_DAY)
    assert second["decision"] == "retrain" and not second["drifted"], second
    assert f"estimated ROC AUC of version {v1}" in second["reason"] and f"{yesterday}: 0.6400, {MONITOR_DAY}: 0.6600" in second["reason"]
    report = Path(second["report"])
    assert (report.parent / "performance.png").stat().st_size > 0 and "performance.png" in report.read_text()
    # Estimates back over the floor: no reason left.
    next_day = MONITOR_DAY + dt.timedelta(days=1)
    estimate(next_day, 0.8)
    third = run_day(next_day)
    assert not third["retrain"] and "estimated ROC AUC" not in third["reason"], third
