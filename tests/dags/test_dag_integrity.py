"""DAG integrity and policy: the DAG folder imports cleanly, every DAG follows the house rules."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.dags

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))
EXPECTED = {"train_model", "nightly_scoring", "drift_monitor"}
HEAVY = ("pyspark", "xgboost", "mlflow", "great_expectations", "pandas", "sklearn", "psycopg2")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_expected_dags_present(dagbag) -> None:
    assert EXPECTED <= set(dagbag.dag_ids)


def test_every_dag_has_tags_owner_retries_and_docs(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and dag_id in dag.doc_md, f"{dag_id} has no doc_md naming it"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has the default owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_every_task_has_an_execution_timeout(dagbag) -> None:
    # A try that hangs (a lock, a stalled call) must fail and retry, not hold its worker slot forever.
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no execution_timeout"
            assert timedelta(0) < task.execution_timeout <= timedelta(hours=12), f"{dag_id}.{task.task_id}: {task.execution_timeout}"


def test_execution_timeouts_come_from_params_yaml_and_name_only_real_dags(dagbag) -> None:
    from nightshift.config import load_params

    minutes = load_params()["airflow"]["execution_timeout_minutes"]
    assert set(minutes) - {"default"} <= set(dagbag.dag_ids), "a key of airflow.execution_timeout_minutes names no DAG"
    for dag_id, dag in dagbag.dags.items():
        expected = timedelta(minutes=minutes.get(dag_id, minutes["default"]))
        assert {task.execution_timeout for task in dag.tasks} == {expected}, dag_id


def test_the_late_data_sensor_keeps_its_own_timeout_beyond_the_per_poke_execution_timeout(dagbag) -> None:
    # In reschedule mode each poke is one run of execute, which is what execution_timeout bounds;
    # the wait for a late day as a whole is the sensor's timeout (scoring.wait_for_data).
    from nightshift.config import wait_for_data

    sensor = dagbag.dags["nightly_scoring"].get_task("wait_for_day")
    assert sensor.mode == "reschedule"
    assert sensor.timeout == wait_for_data()[1]
    assert sensor.execution_timeout.total_seconds() < sensor.timeout


def test_dags_hand_each_other_assets(dagbag) -> None:
    outlets = {dag_id: {a.name for t in dag.tasks for a in t.outlets} for dag_id, dag in dagbag.dags.items()}
    assert "churn_model" in outlets["train_model"]
    assert "churn_scores" in outlets["nightly_scoring"]
    assert outlets["drift_monitor"] == {"churn_drift"}


def test_drift_monitor_runs_on_the_churn_scores_asset(dagbag) -> None:
    dag = dagbag.dags["drift_monitor"]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert [a.name for a in dag.timetable.asset_condition.objects] == ["churn_scores"]
    assert dag.max_active_runs == 1
    assert dag.params["score_date"] is None


def test_nightly_scoring_is_nightly_without_catchup(dagbag) -> None:
    dag = dagbag.dags["nightly_scoring"]
    assert dag.catchup is False
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression == "0 0 * * *"


def test_nightly_scoring_runs_days_side_by_side_and_cleans_run_folders_after_publishing(dagbag) -> None:
    from nightshift.config import load_params

    dag = dagbag.dags["nightly_scoring"]
    # A rerun or backfill of one day never waits for another day's sensor; the publish lock orders one day's runs.
    assert dag.max_active_runs == load_params()["scoring"]["max_active_runs"] > 1
    assert dag.get_task("clean_run_folders").upstream_task_ids == {"score"}


def test_train_model_runs_weekly_on_an_interval_timetable_or_on_churn_drift(dagbag) -> None:
    # A cron string would give a trigger timetable whose logical date is the run time: a day still landing.
    dag = dagbag.dags["train_model"]
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert type(dag.timetable.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.timetable.expression == "0 3 * * 0"
    assert [a.name for a in dag.timetable.asset_condition.objects] == ["churn_drift"]
    assert dag.catchup is False


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_a_run_for_any_day_creates_every_task_and_unpausing_schedules_only_the_latest_interval(dagbag, dag_id: str) -> None:
    """A run of 1997 (a team's old history) runs its tasks, and unpausing still creates one run, not decades of them."""
    from datetime import UTC, datetime, timedelta

    from airflow.serialization.serialized_objects import DagSerialization

    # What the scheduler holds: the serialized DAG.
    dag = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags[dag_id]))
    long_ago = datetime(1997, 1, 1, tzinfo=UTC)
    # Airflow creates a run's task instance only for a task whose start_date is not after the run's logical date.
    skipped = [t.task_id for t in dag.tasks if t.start_date is not None and t.start_date > long_ago]
    assert skipped == [], f"a run of {long_ago.date()} would create no task instance for {skipped}, and succeed"
    if dag.timetable.periodic:
        # The first scheduled run after unpausing (no run before it): the latest whole interval, ended by now.
        first = dag.next_dagrun_info(last_automated_run_info=None)
        now = datetime.now(UTC)
        period = timedelta(days=7 if dag_id == "train_model" else 1)
        assert first.data_interval.end <= now < first.data_interval.end + period
        assert first.data_interval.end - first.data_interval.start == period


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_nothing_heavy(dag_file: Path) -> None:
    # A fresh interpreter: this test process has long since imported the heavy libraries itself.
    code = (
        "import json, runpy, sys; "
        f"runpy.run_path({str(dag_file)!r}); "
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing {dag_file.name} imports {loaded}"


def test_heavy_import_check_can_fail(tmp_path: Path) -> None:
    # The check above is only worth something if it notices a heavy import.
    bad = tmp_path / "bad_dag.py"
    bad.write_text("import pandas\n")
    code = f"import json, runpy, sys; runpy.run_path({str(bad)!r}); print(json.dumps('pandas' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) is True


def test_nightly_scoring_carries_the_morning_deadline(dagbag) -> None:
    from airflow.sdk import AsyncCallback, DeadlineReference

    (alert,) = dagbag.dags["nightly_scoring"].deadline
    assert alert.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert alert.interval == timedelta(hours=30)  # params.yaml scoring.publish_by: 06:00 UTC the morning after
    assert alert.callback == AsyncCallback("nightshift.airflow.deadline.deadline_missed")
