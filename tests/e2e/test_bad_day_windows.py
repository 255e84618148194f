"""A quarantined day, or one that never landed, stays out of later windows until it is accepted.

Real `airflow dags test` runs on a copy of the landing zone with one bad (or one missing) day, into a
warehouse database of its own (failed and accepted days are keyed on dates, and other modules fail
other days).
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


@pytest.fixture(scope="module")
def gap_zone(trained, pg_url: str):
    root = trained["root"]
    data = root / "raw_missing_window"
    shutil.copytree(root / "raw", data)
    # Ten days back, as a lost day of the events feed: inside every 30- and 90-day window of the day scored.
    gap = trained["day"] - timedelta(days=10)
    corrupt_day(data, gap, "missing_day")
    url = create_database(pg_url, "e2e_missing_window")
    env = {**trained["env"], "NIGHTSHIFT_DATA_DIR": str(data), "AIRFLOW_CONN_WAREHOUSE": url}
    return {"root": root, "env": env, "url": url, "gap": gap}


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
    assert f"accepted {bad.isoformat()}" in _accept(zone, bad, "--reason", "replayed rows, checked")

    dag_test("nightly_scoring", next_day, env, logs / "bad_window_d1_accepted.log")
    assert _scores(zone["url"], next_day) > 0


@pytest.mark.slow  # the season tier runs this on the real scheduler each CI run (tests/season); `make test-slow` runs it here
def test_a_day_that_never_landed_refuses_the_features_of_a_window_holding_it_until_accepted(trained, gap_zone) -> None:
    gap, env, logs = gap_zone["gap"], gap_zone["env"], gap_zone["root"] / "logs"
    day = trained["day"] - timedelta(days=1)

    with pytest.raises(RuntimeError, match="failed"):
        dag_test("nightly_scoring", day, env, logs / "missing_window.log")
    log = (logs / "missing_window.log").read_text()
    # The sensor waits for the scored day only, and says which day of its window is missing.
    assert f"the 90-day feature window of {day.isoformat()} lacks events for {gap.isoformat()}" in log
    assert f"refusing to build features for {day.isoformat()}: its window reads days that have not landed" in log
    assert f"  - events: {gap.isoformat()}" in log
    assert f'nightshift quality accept {gap.isoformat()} --missing --reason "..."' in log
    # A bad-data failure: build_features ran once (no retry) and score never started.
    assert started_tasks(log) == ["wait_for_day", "validate_raw", "build_features"]
    assert _scores(gap_zone["url"], day) == 0

    assert f"accepted {gap.isoformat()} as a day of no activity" in _accept(gap_zone, gap, "--missing", "--reason", "collector outage")
    dag_test("nightly_scoring", day, env, logs / "missing_window_accepted.log")
    assert _scores(gap_zone["url"], day) > 0


def _accept(zone: dict, day, *args: str) -> str:
    """`nightshift quality accept DAY ...` as an operator runs it, against the zone's warehouse; its output."""
    cli = [sys.executable, "-m", "nightshift.cli", "quality", "accept", day.isoformat(), *args]
    env = {**os.environ, **zone["env"], "NIGHTSHIFT_DATABASE_URL": zone["url"]}
    accepted = subprocess.run(cli, env=env, capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr
    return accepted.stdout
