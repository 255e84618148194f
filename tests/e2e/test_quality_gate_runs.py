"""Each kind of bad input stops `nightly_scoring` at validation, explains itself, and publishes nothing.

One landing zone copy holds every bad day (one kind per day, spaced so no bad day sits in
another's row-count window); each case is a real `airflow dags test` run, into a warehouse
database of its own: the failed days it records would otherwise refuse the clean landing zone's
windows (failed days are keyed on dates). The clean day that passes every gate is
tests/e2e/test_dag_runs.py's.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta

import psycopg2
import pytest

from nightshift.local.airflow_env import dag_test
from nightshift.local.badinput import corrupt_day
from tests.pg_helpers import create_database

pytestmark = pytest.mark.e2e

# kind -> what the failing task's log must say (suite, expectation, column, example value)
EXPECTED = {
    "negative_minutes": ["raw_events:", "expect_column_values_to_be_between(column=minutes)", "-12.5"],
    "null_customer_id": ["raw_events:", "expect_column_values_to_not_be_null(column=customer_id)"],
    "unknown_customer": [
        "raw_events:",
        "events for customers not in the day's customers snapshot",
        "e.g. [9999999999, 9999999999, 9999999999]",
    ],
    "missing_column": ["raw_events:", "expect_column_to_exist(column=sessions)"],
    "wrong_type": ["raw_events:", "/part-0.parquet: column minutes has type string, the contract's is float64"],
    "empty_day": ["not ready", "empty partition", "(0 rows)"],
    "duplicate_customer": ["raw_customers:", "expect_column_values_to_be_unique(column=customer_id)"],
    "duplicate_event": ["raw_events:", "one row per customer per day", "expect_column_values_to_be_unique(column=customer_id)"],
    "unknown_plan": ["raw_customers:", "expect_column_values_to_be_in_set(column=plan)", "platinum"],
    "row_count_collapse": ["raw_events:", "expect_table_row_count_to_be_between"],
}
# Not bad content but lateness: the day never lands, and the run waits for it (briefly, in tests).
LATE = "missing_day"
SPACING_DAYS = 8


@pytest.fixture(scope="module")
def bad_zone(stack, pg_url: str):
    root = stack["root"]
    bad_root = root / "raw_bad"
    shutil.copytree(root / "raw", bad_root)
    days = {}
    for i, kind in enumerate([*EXPECTED, LATE]):
        day = stack["day"] - timedelta(days=SPACING_DAYS * (i + 1))
        corrupt_day(bad_root, day, kind)
        days[kind] = day
    url = create_database(pg_url, "e2e_bad_inputs")
    env = {**stack["env"], "NIGHTSHIFT_DATA_DIR": str(bad_root), "AIRFLOW_CONN_WAREHOUSE": url}
    return {"env": env, "days": days, "root": root, "url": url}


def started_tasks(log: str) -> list[str]:
    """Task ids `airflow dags test` started, in order."""
    return re.findall(r"\[DAG TEST\] starting task_id=(\w+)", log)


def _scalar(url: str, sql: str, *args) -> object:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def _scores(url: str, where: str = "TRUE", *args) -> int:
    if not _scalar(url, "SELECT to_regclass('churn_scores') IS NOT NULL"):
        return 0
    return int(_scalar(url, f"SELECT count(*) FROM churn_scores WHERE {where}", *args))


# Each kind's rule is tested on its own in tests/integration/quality; through the DAG, `make test` runs a GX rule,
# a file the contract refuses and an empty day, and the slow tier every kind.
DEFAULT_TIER = ("negative_minutes", "wrong_type", "empty_day")


@pytest.mark.parametrize("kind", [k if k in DEFAULT_TIER else pytest.param(k, marks=pytest.mark.slow) for k in EXPECTED])
def test_bad_day_fails_at_validation_and_publishes_nothing(kind: str, bad_zone) -> None:
    day, url = bad_zone["days"][kind], bad_zone["url"]
    log_file = bad_zone["root"] / "logs" / f"bad_{kind}.log"
    before = _scores(url)

    with pytest.raises(RuntimeError, match="failed"):
        dag_test("nightly_scoring", day, bad_zone["env"], log_file)

    log = log_file.read_text()
    for needle in EXPECTED[kind]:
        assert needle in log, f"{kind}: the task log does not say {needle!r}"
    assert "task_id=validate_raw" in log and "new_state=failed" in log
    # Validation failed first: the Spark and scoring tasks never started. An exact list, so a change
    # in the log format (no task found at all) fails here instead of passing vacuously.
    assert started_tasks(log) == ["wait_for_day", "validate_raw"]

    assert _scores(url) == before
    assert _scores(url, "score_date = %s", day) == 0

    quarantined = bad_zone["root"] / "quarantine" / "raw" / day.isoformat()
    result = json.loads((quarantined / "validation_result.json").read_text())
    assert result["failures"], f"{kind}: the quarantined validation result lists no failure"
    # The day's partitions that exist (the snapshot at least) are copied beside the result.
    assert list(quarantined.glob("*/*/*.parquet")), f"{kind}: no data copied to quarantine"

    failed_suites = _scalar(
        url,
        "SELECT count(*) FROM data_quality_runs WHERE logical_date = %s AND NOT success AND quarantine_path = %s",
        day,
        str(quarantined),
    )
    assert failed_suites >= 1


@pytest.mark.slow  # the season tier runs this on the real scheduler each CI run (tests/season); `make test-slow` runs it here
def test_a_day_that_never_lands_times_out_waiting_and_quarantines_nothing(bad_zone) -> None:
    day = bad_zone["days"][LATE]
    log_file = bad_zone["root"] / "logs" / "bad_missing_day.log"
    with pytest.raises(RuntimeError, match="failed"):
        dag_test("nightly_scoring", day, bad_zone["env"], log_file)

    log = log_file.read_text()
    assert f"waiting for {day.isoformat()}: no data yet in" in log and f"events/event_date={day.isoformat()}" in log
    assert "AirflowSensorTimeout" in log
    # Looked more than once (rescheduled between looks), and nothing after the sensor started.
    assert set(started_tasks(log)) == {"wait_for_day"} and len(started_tasks(log)) >= 2
    assert _scores(bad_zone["url"], "score_date = %s", day) == 0
    assert not (bad_zone["root"] / "quarantine" / "raw" / day.isoformat()).exists()
