"""The loop from scores back to a new champion, with real DAG runs: nightly_scoring over consecutive days,
drift_monitor on each day's churn_scores event, and train_model on the churn_drift event it raises.

`airflow dags test` runs one DAG and never starts the DAGs its Assets schedule; a scheduler, an
api-server and a dag-processor on this 2-core machine would cost more than the runs themselves. So
each downstream run is started here by hand, with exactly what the upstream run's Asset event carries,
read back from Airflow's own metadata database (``asset_event``): drift_monitor gets the
``churn_scores`` extra as its ``scores_event`` Param, train_model the ``churn_drift`` extra as its
``drift_event`` Param. Both go through the same code path an asset-triggered run takes
(``monitored_days``, ``drift_trigger``), and the test checks that Airflow itself queued each
downstream DAG for a scheduler (``asset_dag_run_queue``).

The landing zone drifts from DRIFT_FROM on (the generator's --drift-from: fees rise 10 %, usage
grows over the following weeks); the 14 days before it are clean.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from datetime import date, timedelta

import pytest

from nightshift.local.airflow_env import airflow_env, dag_run_state, dag_test, dag_test_command, migrate
from nightshift.local.generate import generate
from tests.e2e.conftest import isolated_env
from tests.pg_helpers import create_database, query

# About 17 minutes on 2 cores: the slow tier (`make test-slow`), not part of `make test`.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

START, DAYS, CUSTOMERS = date(2026, 3, 1), 140, 400
TRAINED_AS_OF = date(2026, 6, 28)
DRIFT_FROM = date(2026, 7, 13)
CLEAN_DAYS = 14
# What scoring a day and validating its raw data costs is not what this test is about: the GX gates of
# nightly_scoring are marked successful (their own tests run them), the features and scores are real.
SKIP_GATES = "^(wait_for_day|validate_raw)$"


@pytest.fixture(scope="module")
def loop(tmp_path_factory, pg_url: str):
    root = tmp_path_factory.mktemp("drift-loop")
    generate(root / "raw", customers=CUSTOMERS, days=DAYS, start_date=START, seed=11, drift_from=DRIFT_FROM)
    # A database of its own: drift history and scores by date must not meet the other e2e tests' dates.
    name = f"drift_loop_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_url, name)
    base = isolated_env(
        root,
        # Unpaused DAGs, as in a running deployment: Airflow queues a run of an Asset's consumers only if they are.
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
    )
    env = airflow_env(url, base=base)
    migrate(env)
    return {"root": root, "env": env, "url": url, "airflow_db": root / "airflow" / "airflow.db"}


def _score(loop: dict, day: date) -> None:
    log = loop["root"] / "logs" / f"nightly_scoring_{day}.log"
    cmd = [*dag_test_command("nightly_scoring", day), "--mark-success-pattern", SKIP_GATES]
    proc = subprocess.run(cmd, env=loop["env"], capture_output=True, text=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    assert dag_run_state(proc.stdout + proc.stderr) == "success", f"nightly_scoring for {day} failed, see {log}"


def _airflow(loop: dict, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(loop["airflow_db"]) as conn:
        return conn.execute(sql, params).fetchall()


def _events(loop: dict, asset: str, source_dag: str) -> list[dict]:
    rows = _airflow(
        loop,
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = ? AND e.source_dag_id = ? ORDER BY e.id",
        (asset, source_dag),
    )
    return [json.loads(extra) if isinstance(extra, str) else extra for (extra,) in rows]


def _queued(loop: dict, asset: str) -> set[str]:
    rows = _airflow(loop, "SELECT q.target_dag_id FROM asset_dag_run_queue q JOIN asset a ON a.id = q.asset_id WHERE a.name = ?", (asset,))
    return {dag_id for (dag_id,) in rows}


def _drift_run(url: str, day: date) -> dict:
    rows = query(url, "SELECT decision, reason, drifted, drifted_columns, model_version FROM drift_runs WHERE score_date = %s", (day,))
    assert rows, f"no drift_runs row for {day}"
    decision, reason, drifted, columns, version = rows[0]
    return {"decision": decision, "reason": reason, "drifted": drifted, "columns": list(columns), "version": version}


def _mlflow(loop: dict, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", loop["env"]["MLFLOW_TRACKING_URI"])
    from nightshift.model.registry import registry_client

    return registry_client()


def test_drift_is_detected_retrains_once_and_the_new_version_is_judged_on_post_drift_days(loop: dict, monkeypatch) -> None:
    env, url, logs = loop["env"], loop["url"], loop["root"] / "logs"
    dag_test("train_model", TRAINED_AS_OF, env, logs / "train_model.log")

    days = [TRAINED_AS_OF + timedelta(days=i) for i in range(1, CLEAN_DAYS + 3)]
    assert days[CLEAN_DAYS] == DRIFT_FROM
    decisions: dict[date, dict] = {}
    retrain_day = None
    for day in days:
        _score(loop, day)
        scored = _events(loop, "churn_scores", "nightly_scoring")[-1]
        # The event names the day, the version that scored it and the rows it published.
        assert scored["score_date"] == day.isoformat() and scored["model_version"] == "1"
        assert scored["rows"] == query(url, "SELECT count(*) FROM churn_scores WHERE score_date = %s", (day,))[0][0]
        assert "drift_monitor" in _queued(loop, "churn_scores")

        dag_test("drift_monitor", day, env, logs / f"drift_monitor_{day}.log", conf={"scores_event": scored})
        decisions[day] = _drift_run(url, day)
        assert decisions[day]["version"] == "1"
        if decisions[day]["decision"] == "retrain":
            retrain_day = day
            break
        # Nothing downstream fires when the policy says no: no churn_drift event, train_model not queued.
        assert _events(loop, "churn_drift", "drift_monitor") == [], day
        assert "train_model" not in _queued(loop, "churn_drift")

    clean = {d: v for d, v in decisions.items() if d < DRIFT_FROM}
    assert len(clean) == CLEAN_DAYS
    assert {d: v["decision"] for d, v in clean.items() if v["decision"] != "no_drift"} == {}, "false alarms on clean days"
    assert retrain_day is not None, {d.isoformat(): (v["decision"], v["reason"]) for d, v in decisions.items()}
    assert (retrain_day - DRIFT_FROM).days <= 2
    assert "monthly_fee" in decisions[retrain_day]["columns"]
    assert "consecutive days" in decisions[retrain_day]["reason"] and "labels up to" in decisions[retrain_day]["reason"]

    summary = {d.isoformat(): (v["decision"], v["columns"][:4]) for d, v in decisions.items() if d >= DRIFT_FROM - timedelta(days=1)}
    print(f"\nretrain asked on {retrain_day}, {(retrain_day - DRIFT_FROM).days} day(s) after {DRIFT_FROM}: {summary}")
    (drift_event,) = _events(loop, "churn_drift", "drift_monitor")
    assert drift_event["score_date"] == retrain_day.isoformat() and "monthly_fee" in drift_event["drifted_columns"]
    assert drift_event["reason"] == decisions[retrain_day]["reason"]
    assert "train_model" in _queued(loop, "churn_drift")

    # The retrain the event asks for: as of the event's day, tagged with it, through the same gate.
    dag_test("train_model", retrain_day, env, logs / "train_model_drift.log", conf={"drift_event": drift_event})
    client = _mlflow(loop, monkeypatch)
    version = max(client.search_model_versions("name = 'churn_xgb'"), key=lambda v: int(v.version))
    assert str(version.version) == "2"
    print(f"version 2 gate: {version.tags.get('gate.outcome')} ({version.tags.get('gate.reason')})")
    tags = client.get_run(version.run_id).data.tags
    assert tags["trigger"] == "churn_drift" and tags["drift.score_date"] == retrain_day.isoformat()
    assert json.loads(tags["drift.event"])["reason"] == drift_event["reason"]
    assert version.tags["gate.outcome"] in {"promoted", "rejected"}, version.tags
    params = client.get_run(version.run_id).data.params
    assert params["data.date_max"] == (retrain_day - timedelta(days=30)).isoformat()

    # The day after: scored by whichever version the gate left as champion, and judged against that version's reference.
    champion = str(client.get_model_version_by_alias("churn_xgb", "champion").version)
    after = retrain_day + timedelta(days=1)
    _score(loop, after)
    scored = _events(loop, "churn_scores", "nightly_scoring")[-1]
    assert scored["model_version"] == champion
    dag_test("drift_monitor", after, env, logs / f"drift_monitor_{after}.log", conf={"scores_event": scored})
    judged = _drift_run(url, after)
    assert judged["version"] == champion
    # A retrain was asked for yesterday: whatever today shows, the cooldown keeps it from asking again.
    assert judged["decision"] in {"no_drift", "drift_not_persistent", "drift_cooldown"}, judged
    assert len(_events(loop, "churn_drift", "drift_monitor")) == 1
    print(f"{after}: scored by version {champion}, judged against it: {judged['decision']} ({judged['reason']})")
