"""Time in nightly_scoring: a late day is waited for, a day that has not ended is refused at once, any landed day can be chosen."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import date, timedelta

import pytest

from nightshift.contract import events_partition
from nightshift.local.airflow_env import dag_run_state, dag_test, dag_test_command
from nightshift.warehouse.readers import read_scores
from tests.e2e.conftest import params_file

pytestmark = pytest.mark.e2e


def _started_tasks(log: str) -> list[str]:
    return re.findall(r"\[DAG TEST\] starting task_id=(\w+)", log)


@pytest.mark.slow  # the season tier runs this on the real scheduler each CI run (tests/season); `make test-slow` runs it here
def test_a_day_that_lands_after_the_run_started_is_waited_for_and_scored(trained, tmp_path, pg_url: str) -> None:
    stack = trained
    day = stack["day"] - timedelta(days=3)
    zone = tmp_path / "raw"
    shutil.copytree(stack["root"] / "raw", zone)
    partition = events_partition(zone, day)
    held = tmp_path / "not_yet_landed"
    partition.rename(held)
    env = {
        **stack["env"],
        "NIGHTSHIFT_DATA_DIR": str(zone),
        "NIGHTSHIFT_PARAMS": str(params_file(tmp_path / "params.yaml", 1, 600 / 3600)),
    }
    log_file = tmp_path / "late.log"
    with log_file.open("w") as out:
        proc = subprocess.Popen(dag_test_command("nightly_scoring", day), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # Land the day only once the run has looked for it and found nothing.
        deadline = time.monotonic() + 300
        while f"waiting for {day.isoformat()}" not in log_file.read_text():
            assert proc.poll() is None, f"the run ended before the day landed:\n{log_file.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the sensor never reported waiting for the day"
            time.sleep(1)
        os.rename(held, partition)  # atomic, as a landing job's final move is
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    log = log_file.read_text()
    assert dag_run_state(log) == "success", log[-3000:]
    assert _started_tasks(log)[0] == "wait_for_day"
    assert "up_for_reschedule" in log.lower(), "the sensor was never rescheduled: the day was there from the start"
    assert len(read_scores(pg_url, day)) > 0


def test_a_run_for_a_day_that_has_not_ended_fails_at_once_and_score_date_picks_a_landed_day(trained, tmp_path, pg_url: str) -> None:
    # What a user gets from the UI's Trigger button with no date: the run's day is today.
    stack = trained
    today = date.today()
    log_file = tmp_path / "today.log"
    with pytest.raises(RuntimeError, match="failed"):
        dag_test("nightly_scoring", today, stack["env"], log_file)
    log = log_file.read_text()
    assert f"{today.isoformat()} has not ended yet" in log
    assert f"newest day with both: {stack['day'].isoformat()}" in log
    assert _started_tasks(log) == ["wait_for_day"]

    chosen = stack["day"] - timedelta(days=5)
    assert len(read_scores(pg_url, chosen)) == 0
    dag_test("nightly_scoring", today, stack["env"], tmp_path / "chosen.log", conf={"score_date": chosen.isoformat()})
    assert len(read_scores(pg_url, chosen)) > 0
    assert len(read_scores(pg_url, today)) == 0
