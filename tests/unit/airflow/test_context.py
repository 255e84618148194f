"""The day a task works on (nightshift.airflow.context.run_date): always a day that has ended."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pendulum
import pytest

from nightshift.airflow.context import run_date, scored_day, training_date

pytestmark = pytest.mark.unit


def _context(run_type: str, logical: pendulum.DateTime | None, start: pendulum.DateTime, end: pendulum.DateTime) -> dict:
    run = SimpleNamespace(run_type=run_type, run_after=end)
    return {"dag_run": run, "logical_date": logical, "data_interval_start": start, "data_interval_end": end}


def test_a_scheduled_weekly_run_trains_as_of_the_last_whole_day_of_its_week() -> None:
    # The week ending Sunday 2026-06-28 03:00: its logical date is the Sunday before; Saturday is the last whole day.
    start, end = pendulum.datetime(2026, 6, 21, 3, tz="UTC"), pendulum.datetime(2026, 6, 28, 3, tz="UTC")
    assert run_date(_context("scheduled", start, start, end)) == date(2026, 6, 27)


def test_a_scheduled_nightly_run_scores_the_day_that_ended() -> None:
    start, end = pendulum.datetime(2026, 6, 28, tz="UTC"), pendulum.datetime(2026, 6, 29, tz="UTC")
    assert run_date(_context("scheduled", start, start, end)) == date(2026, 6, 28)


def test_a_manual_run_takes_the_logical_date_it_was_given() -> None:
    start, end = pendulum.datetime(2026, 6, 21, 3, tz="UTC"), pendulum.datetime(2026, 6, 28, 3, tz="UTC")
    chosen = pendulum.datetime(2026, 6, 29, tz="UTC")
    assert run_date(_context("manual", chosen, start, end)) == date(2026, 6, 29)
    assert type(run_date(_context("manual", chosen, start, end))) is date  # not pendulum's Date: Spark refuses it


def test_the_score_date_of_the_trigger_form_wins_over_the_runs_day() -> None:
    start, end = pendulum.datetime(2026, 11, 23, tz="UTC"), pendulum.datetime(2026, 11, 24, tz="UTC")
    context = _context("manual", end, start, end)
    assert scored_day(context) == date(2026, 11, 24)
    assert scored_day({**context, "params": {"score_date": None}}) == date(2026, 11, 24)
    assert scored_day({**context, "params": {"score_date": "2026-06-29"}}) == date(2026, 6, 29)


def test_a_day_before_the_landed_range_fails_the_task_without_retries(tmp_path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from nightshift.airflow.context import final_on_bad_data
    from nightshift.landing import day_has_landed

    for folder in ("events/event_date=2026-06-28", "customers/snapshot_date=2026-06-28"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "part-0.parquet").write_bytes(b"PAR1")
    with pytest.raises(AirflowFailException, match="2026-01-01 is before the first landed day"), final_on_bad_data():
        day_has_landed(tmp_path, date(2026, 1, 1), date(2026, 7, 1))


def test_train_model_trains_as_of_the_trigger_forms_day_unless_a_drift_event_names_one() -> None:
    # A run for a day years before the DAG existed: its form's as_of wins over the logical date.
    start, end = pendulum.datetime(1997, 6, 8, 3, tz="UTC"), pendulum.datetime(1997, 6, 15, 3, tz="UTC")
    context = _context("manual", end, start, end)
    assert training_date(context, None) == date(1997, 6, 15)
    assert training_date({**context, "params": {"as_of": None}}, None) == date(1997, 6, 15)
    assert training_date({**context, "params": {"as_of": "1997-05-30"}}, None) == date(1997, 5, 30)
    drift = {"score_date": "1997-05-20", "source": "replay"}
    assert training_date(context, drift) == date(1997, 5, 20)
    with pytest.raises(ValueError, match="as_of=1997-05-30 and a drift event .*1997-05-20.*: a drift event trains as of its day"):
        training_date({**context, "params": {"as_of": "1997-05-30"}}, drift)


def test_a_run_folder_name_is_the_run_id_made_safe_for_a_path_and_never_the_same_twice() -> None:
    from nightshift.airflow.context import run_folder_name

    context = {"run_id": "manual__2026-07-14T00:00:00+00:00"}
    names = {run_folder_name(context) for _ in range(20)}
    assert len(names) == 20  # the same run id again (a cleared run, `dags test` twice) never reuses a folder
    assert all(re.fullmatch(r"manual__2026-07-14T00_00_00_00_00-[0-9a-f]{8}", n) for n in names), names
    assert re.fullmatch(r"backfill__2026-01-01_x_\.\._y-[0-9a-f]{8}", run_folder_name({"run_id": "backfill__2026-01-01/x/../y"}))
    assert re.fullmatch(r"run-[0-9a-f]{8}", run_folder_name({"run_id": "/.."}))
