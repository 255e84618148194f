"""train_model's guards with real `airflow dags test` runs: a stale landing zone is refused before any work,
and a run as of a day decades before the DAGs were written trains as of that day."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from nightshift.local.airflow_env import airflow_env, dag_run_finished, dag_test, task_states
from tests.e2e.conftest import isolated_env
from tests.pg_helpers import create_database

pytestmark = pytest.mark.e2e

MODEL = "churn_xgb"
TASKS = [
    "apply_promotion",
    "approve_promotion",
    "build_training_set",
    "check_data_freshness",
    "publish_champion",
    "train",
    "version_training_set",
]


def _client(env: dict[str, str]):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])


@pytest.mark.slow  # the season tier runs this on the real scheduler each CI run (tests/season); `make test-slow` runs it here
def test_a_landing_zone_weeks_stale_fails_at_the_freshness_guard_and_registers_nothing(stack, tmp_path: Path) -> None:
    # A store of its own: what the refused run leaves in MLflow is all there is.
    store = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "NIGHTSHIFT_MLFLOW_ARTIFACTS": str(tmp_path / "art")}
    env = {**stack["env"], **store}
    newest, as_of = stack["day"], stack["day"] + timedelta(days=30)
    log_file = tmp_path / "stale.log"
    with pytest.raises(RuntimeError, match="failed"):
        dag_test("train_model", as_of, env, log_file)
    log = log_file.read_text()
    assert f"data freshness guard: the newest landed day {newest.isoformat()} is 30 days before {as_of.isoformat()}" in log
    assert "up_for_retry" not in log.lower()
    finished = dag_run_finished(log)
    assert finished["state"] == "failed"
    # Nothing after the guard ran: no Spark session, no training set, no training.
    states = task_states("train_model", finished["run_id"], env)
    assert states == {"check_data_freshness": "failed", **{task: "upstream_failed" for task in TASKS if task != "check_data_freshness"}}

    client = _client(env)
    assert client.search_registered_models() == []
    (run,) = client.search_runs([client.get_experiment_by_name(MODEL).experiment_id])
    assert run.info.status == "FAILED"
    tags = run.data.tags
    assert tags["guard"] == "data_freshness"
    assert (tags["guard.newest_landed_day"], tags["guard.as_of"]) == (newest.isoformat(), as_of.isoformat())
    assert (tags["guard.gap_days"], tags["trigger"], tags["airflow.dag_run_id"]) == ("30", "manual", finished["run_id"])


def test_a_run_of_1997_runs_its_tasks_and_trains_as_of_the_day_its_form_names(stack, tmp_path: Path, pg_url: str) -> None:
    raw = tmp_path / "raw"
    generated = subprocess.run(
        [sys.executable, "-m", "nightshift.cli", "generate", "--out", str(raw), "--customers", "300", "--days", "150"]
        + ["--start-date", "1997-01-01", "--seed", "11"],
        capture_output=True,
        text=True,
    )
    assert generated.returncode == 0, generated.stderr
    last_day = date(1997, 5, 30)  # 150 days from 1997-01-01
    # Its own landing zone, MLflow store, DVC repository and warehouse; the session's Airflow metadata database.
    base = isolated_env(tmp_path)
    warehouse = create_database(pg_url, f"e2e_1997_{uuid.uuid4().hex[:12]}")
    env = {**airflow_env(warehouse, base=base), "AIRFLOW_HOME": stack["env"]["AIRFLOW_HOME"]}
    # The logical date alone is 16 days past the data: only the form's as_of makes it a fresh training.
    log_file = tmp_path / "1997.log"
    dag_test("train_model", date(1997, 6, 15), env, log_file, conf={"as_of": last_day.isoformat()})
    finished = dag_run_finished(log_file.read_text())
    states = task_states("train_model", finished["run_id"], env)
    assert sorted(states) == TASKS and set(states.values()) <= {"success", "skipped"}, states

    client = _client(env)
    (version,) = client.search_model_versions(f"name = '{MODEL}'")
    run = client.get_run(version.run_id)
    # Each run builds its own training set: <work>/training_set/as_of=D/run=<run id>-<hex>.
    assert Path(run.data.tags["training_set"]).parent.name == f"as_of={last_day.isoformat()}"
    # e.g. "1997-01-01..1997-03-05 (10 dates)"; every label known by the day it trains as of: the newest
    # evaluation date's 30-day window ends by then.
    first = re.match(r"(\d{4}-\d\d-\d\d)\.\.", run.data.params["train_dates"]).group(1)
    newest = re.search(r"\.\.(\d{4}-\d\d-\d\d)", run.data.params["eval_dates"]).group(1)
    assert first.startswith("1997-") and date.fromisoformat(newest) + timedelta(days=30) <= last_day
