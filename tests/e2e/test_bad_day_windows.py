"""A quarantined day stays out of later windows: the next day's features refuse it until it is accepted.

Real `airflow dags test` runs on a copy of the landing zone with one bad day, into a warehouse
database of its own (failed days are keyed on dates, and other modules fail other days).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest

from nightshift.local.airflow_env import dag_test
from nightshift.local.badinput import corrupt_day
from tests.pg_helpers import create_database, query

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def zone(trained, pg_url: str):
    root = trained["root"]
    data = root / "raw_bad_window"
    shutil.copytree(root / "raw", data)
    # Not the day other modules score; the day after it is clean.
    bad = trained["day"] - timedelta(days=3)
    corrupt_day(data, bad, "duplicate_event")
    url = create_database(pg_url, "e2e_bad_window")
    env = {**trained["env"], "NIGHTSHIFT_DATA_DIR": str(data), "AIRFLOW_CONN_WAREHOUSE": url}
    return {"root": root, "env": env, "url": url, "bad": bad}


def started_tasks(log: str) -> list[str]:
    """Task ids `airflow dags test` started, in order (a retry would start one again)."""
    return re.findall(r"\[DAG TEST\] starting task_id=(\w+)", log)


def _scores(url: str, day) -> int:
    if not query(url, "SELECT to_regclass('churn_scores') IS NOT NULL")[0][0]:
        return 0
    return int(query(url, "SELECT count(*) FROM churn_scores WHERE score_date = %s", (day,))[0][0])


def test_bad_day_refuses_the_next_days_features_until_accepted(zone) -> None:
    bad, env, logs = zone["bad"], zone["env"], zone["root"] / "logs"
    next_day = bad + timedelta(days=1)

    # Day D: stopped and quarantined at validation.
    with pytest.raises(RuntimeError, match="failed"):
        dag_test("nightly_scoring", bad, env, logs / "bad_window_d.log")
    log = (logs / "bad_window_d.log").read_text()
    assert "one row per customer per day" in log
    assert started_tasks(log) == ["wait_for_day", "validate_raw"]

    # Day D+1: its own raw data passes, but its 90-day window holds D.
    with pytest.raises(RuntimeError, match="failed"):
        dag_test("nightly_scoring", next_day, env, logs / "bad_window_d1.log")
    log = (logs / "bad_window_d1.log").read_text()
    assert f"refusing to build features for {next_day.isoformat()}" in log
    assert f"{bad.isoformat()} raw_events: expect_column_values_to_be_unique(column=customer_id)" in log
    assert f'nightshift quality accept {bad.isoformat()} --reason "..."' in log
    # A bad-data failure: build_features ran once (no retry) and score never started.
    assert started_tasks(log) == ["wait_for_day", "validate_raw", "build_features"]
    assert _scores(zone["url"], next_day) == 0

    # Accepting D (the CLI, as an operator would) lets D+1 build and publish.
    cli = [sys.executable, "-m", "nightshift.local.cli", "quality", "accept", bad.isoformat(), "--reason", "replayed rows, checked"]
    accepted = subprocess.run(cli, env={**os.environ, **env, "NIGHTSHIFT_DATABASE_URL": zone["url"]}, capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr
    assert f"accepted {bad.isoformat()}" in accepted.stdout

    dag_test("nightly_scoring", next_day, env, logs / "bad_window_d1_accepted.log")
    assert _scores(zone["url"], next_day) > 0
