"""The morning page's rows and the deadline miss's description, from tiny in-memory facts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nightshift.airflow.deadline import miss_of
from nightshift.monitoring.status import (
    AirflowRun,
    Approval,
    Facts,
    recent_days,
    render_html,
    render_text,
    status_rows,
)
from nightshift.warehouse.deadlines import DeadlineMiss

pytestmark = pytest.mark.unit

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


def _land(root: Path, day: dt.date, tables: tuple[str, ...] = ("events", "customers")) -> None:
    for table, part in (("events", "event_date"), ("customers", "snapshot_date")):
        if table in tables:
            folder = root / table / f"{part}={day.isoformat()}"
            folder.mkdir(parents=True)
            (folder / "part-0.parquet").write_bytes(b"x")


def test_a_day_that_missed_its_deadline_and_one_that_served_read_apart(tmp_path: Path) -> None:
    _land(tmp_path, D1)
    _land(tmp_path, D2, ("customers",))
    served = {"model": "churn_xgb v3", "run_id": "abc", "rows": 1234, "finished_at": None, "data_version": "md5:1"}
    miss = DeadlineMiss(
        D2, "nightly_scoring", "late", dt.datetime(2026, 3, 3, 6, tzinfo=dt.UTC), "running", ("wait_for_day: up_for_reschedule",), ""
    )
    facts = Facts(validation={D1: "passed"}, served={D1: served}, shadow={D1: {**served, "model": "churn_xgb v4"}}, misses=[miss])
    facts.drift, facts.auc = {D1: ("no_retrain", "r.html")}, {D1: 0.81234}
    approvals = [Approval("train_model", "r1", "approve_promotion", "Promote v4?", D1)]
    rows = status_rows(
        [D1, D2], tmp_path, facts, [AirflowRun("nightly_scoring", "scheduled__1", D1, "success")], approvals, "http://ml:5000/"
    )

    assert [r.day for r in rows] == [D2, D1]
    late, good = rows
    assert (late.landed, late.served, late.rows, late.validation) == ("NO: events", "-", None, "-")
    assert late.deadline == "MISSED 03-03 06:00 UTC (wait_for_day: up_for_reschedule)"
    assert (good.landed, good.served, good.shadow, good.data_version, good.drift, good.deadline) == (
        "yes", "churn_xgb v3", "churn_xgb v4", "md5:1", "no_retrain", "met"
    )  # fmt: skip
    assert good.approvals == ("train_model.approve_promotion: Promote v4?",)
    assert good.links == {
        "data docs": "/data-docs/index.html",
        "DAG run": "/dags/nightly_scoring/runs/scheduled__1",
        "drift report": "/drift-reports/score_date=2026-03-01/index.html",
        "MLflow run": "http://ml:5000/#/runs/abc",
    }
    text = render_text(rows, approvals)
    assert "0.812" in text and "1,234" in text and "nightshift model rollback" in text and "open approvals: 1" in text
    page = render_html(rows, approvals)
    assert page.count("<tr class=") == 2 and 'class="bad"' in page and "/drift-reports/score_date=2026-03-01/index.html" in page


def test_recent_days_end_yesterday_on_live_data_and_at_the_newest_day_on_history(tmp_path: Path) -> None:
    _land(tmp_path, D2)
    assert recent_days(tmp_path, None, D2 + dt.timedelta(days=2), 3) == [D2 - dt.timedelta(days=1), D2, D2 + dt.timedelta(days=1)]
    assert recent_days(tmp_path, None, D2 + dt.timedelta(days=100), 2) == [D1, D2]
    with pytest.raises(ValueError, match="at least one day"):
        recent_days(tmp_path, None, D2, 0)


def test_a_miss_names_the_scored_day_and_what_was_not_done() -> None:
    context = {
        "dag_run": {"dag_id": "nightly_scoring", "dag_run_id": "m1", "logical_date": "2026-12-05T06:00:00Z", "state": "running",
                    "conf": {"score_date": "2026-03-02"}},
        "deadline": {"deadline_time": "2026-12-06T12:00:00+00:00"},
    }  # fmt: skip
    states = {"wait_for_day": "up_for_reschedule", "validate_raw": None, "score": None, "clean_run_folders": "skipped"}
    miss = miss_of(context, states, "not landed")
    assert miss.score_date == D2 and miss.deadline_at == dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    assert miss.unfinished == ("score: not started", "validate_raw: not started", "wait_for_day: up_for_reschedule")
    assert "missed its deadline for 2026-03-02" in miss.describe()
    # Without a score_date, the day is the logical date's (a scheduled run's day).
    context["dag_run"]["conf"] = {}
    assert miss_of(context, {}, "").score_date == dt.date(2026, 12, 5)
