"""drift_monitor runs for real: a scored day judged against the version that scored it, and the realized
performance of a day whose 30-day label window closed, on real Spark, PostgreSQL and MLflow.

The full loop (two weeks of clean days, a drift, the retrain it asks for) is tests/e2e/test_drift_loop.py,
in the slow tier.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta

import pytest

from nightshift.local.airflow_env import dag_test
from nightshift.warehouse.drift import ensure_drift_schema
from nightshift.warehouse.readers import count_scores
from nightshift.warehouse.schema import ensure_schema
from tests.pg_helpers import query

pytestmark = pytest.mark.e2e


def test_a_scored_day_is_judged_and_a_matured_day_is_measured(trained, pg_url: str) -> None:
    stack = trained
    env, day, logs = stack["env"], stack["day"], stack["root"] / "logs"
    matured = day - timedelta(days=30)
    ensure_schema(pg_url)
    for scored in (matured, day):
        if count_scores(pg_url, scored) == 0:  # another e2e test may have scored it already
            dag_test("nightly_scoring", scored, env, logs / f"nightly_scoring_{scored}.log")

    dag_test("drift_monitor", day, env, logs / "drift_monitor.log", conf={"score_date": day.isoformat()})

    (run,) = query(pg_url, "SELECT model_version, decision, reason, rows FROM drift_runs WHERE score_date = %s", (day,))
    assert run[0] == "1" and run[3] == count_scores(pg_url, day)
    # One clean landing zone, the version trained on it: no reason to retrain, and the reason says why.
    assert run[1] == "no_drift", run
    psi = dict(query(pg_url, "SELECT column_name, value FROM drift_metrics WHERE score_date = %s AND metric = 'psi'", (day,)))
    assert {"score", "monthly_fee", "plan", "region"} <= set(psi)

    auc = query(
        pg_url,
        "SELECT model_version, value, rows, label_snapshot FROM model_performance"
        " WHERE score_date = %s AND segment = 'all' AND metric = 'roc_auc'",
        (matured,),
    )
    assert len(auc) == 1 and auc[0][0] == "1" and auc[0][3] == day, auc
    assert 0.5 < auc[0][1] <= 1.0 and auc[0][2] > 0
    segments = {s for (s,) in query(pg_url, "SELECT DISTINCT segment FROM model_performance WHERE score_date = %s", (matured,))}
    assert {"plan=basic", "plan=standard", "plan=premium", "region=north"} <= segments
    # The judged day's performance estimated from its scores alone, per segment, the night it was judged.
    estimated = dict(query(pg_url, "SELECT metric, value FROM estimated_performance WHERE score_date = %s AND segment = 'all'", (day,)))
    assert set(estimated) == {"roc_auc", "pr_auc", "positive_rate"} and 0.5 < estimated["roc_auc"] <= 1.0, estimated
    assert query(pg_url, "SELECT count(DISTINCT segment) FROM estimated_performance WHERE score_date = %s", (day,)) == [(8,)]

    # The policy said no: request_retrain was skipped and raised no churn_drift event.
    with sqlite3.connect(stack["root"] / "airflow" / "airflow.db") as conn:
        states = dict(conn.execute("SELECT task_id, state FROM task_instance WHERE dag_id = 'drift_monitor'").fetchall())
        drift_events = "SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = 'churn_drift'"
        events = conn.execute(drift_events).fetchone()
    assert states == {
        "matured_labels": "success",
        "realized_performance": "success",
        "monitor": "success",
        "request_retrain": "skipped",
        "rollout_decision": "success",  # no challenger: nothing to decide, nothing moved
        "approve_rollout": "skipped",  # nothing proposed (and rollout.approval is off): nobody is asked
        "apply_rollout": "skipped",
    }
    assert events == (0,)


def test_a_replayed_event_that_did_not_score_the_day_is_refused_before_any_work(trained, pg_url: str) -> None:
    stack = trained
    env, day, logs = stack["env"], stack["day"], stack["root"] / "logs"
    # Run alone, nothing has created the tables yet.
    ensure_schema(pg_url)
    ensure_drift_schema(pg_url)
    if count_scores(pg_url, day) == 0:
        dag_test("nightly_scoring", day, env, logs / f"nightly_scoring_{day}.log")
    ((run, version),) = query(
        pg_url,
        "SELECT id, model_version FROM scoring_runs WHERE score_date = %s AND status = 'succeeded' AND role = 'served'"
        " ORDER BY finished_at DESC LIMIT 1",
        (day,),
    )
    elsewhere = stack["root"] / "work" / "scores" / f"score_date={(day - timedelta(days=1)).isoformat()}"
    event = {"score_date": day.isoformat(), "model_name": "churn_xgb", "model_version": "9", "scores_path": str(elsewhere)}
    judged = query(pg_url, "SELECT computed_at FROM drift_runs WHERE score_date = %s", (day,))

    log = logs / "drift_monitor_refused.log"
    with pytest.raises(RuntimeError, match="failed"):
        dag_test("drift_monitor", day, env, log, conf={"scores_event": event})
    said = log.read_text()
    assert f"refusing the churn_scores event for {day}: model_version '9', but {day} was published by scoring run {run}" in said
    assert f"with model_version '{version}'" in said
    assert f"scores_path {elsewhere} is not a run folder of {day}" in said
    # Refused by the first task, without a retry, and nothing of the day's judgment was touched.
    assert re.findall(r"\[DAG TEST\] starting task_id=(\w+)", said) == ["matured_labels"]
    assert query(pg_url, "SELECT computed_at FROM drift_runs WHERE score_date = %s", (day,)) == judged
