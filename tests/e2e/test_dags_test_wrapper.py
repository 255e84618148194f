"""`nightshift airflow dags test` with real Airflow: a run that Airflow marks successful without running a task fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nightshift.local.airflow_env import airflow_env, migrate

pytestmark = pytest.mark.e2e

# A DAG with a start_date: Airflow creates no task instance for a run of a day before it.
DAG = """
import pendulum
from airflow.sdk import dag, task


@dag(dag_id="dated", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def dated():
    @task
    def hello() -> int:
        return 1

    hello()


dated()
"""


def test_the_wrapper_fails_a_run_in_which_no_task_ran(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "dated.py").write_text(DAG)
    base = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
        "NIGHTSHIFT_DATABASE_URL": pg_url,
    }
    env = airflow_env(pg_url, base=base)
    migrate(env)

    def wrapper(day: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "nightshift.cli", "airflow", "dags", "test", "dated", day]
        return subprocess.run(cmd, env=env, capture_output=True, text=True)

    before = wrapper("1997-06-01")
    assert "state=success" in before.stdout  # what Airflow itself says of that run
    assert before.returncode == 1, before.stdout[-2000:]
    assert "airflow dags test exited 0, but its run did not succeed: state=success, but no task ran in run manual__" in before.stderr
    assert "Traceback" not in before.stderr

    after = wrapper("2026-06-01")
    assert after.returncode == 0, after.stdout[-2000:] + after.stderr[-2000:]
