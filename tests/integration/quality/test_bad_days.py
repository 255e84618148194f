"""Failed raw days refuse the windows that read them until a passing validation or an acceptance resolves them.

Each test has its own warehouse database: failed days are keyed on dates only.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date, timedelta

import pytest

from nightshift.config import load_params
from nightshift.features.jobs import scoring_window, training_window
from nightshift.local.badinput import corrupt_day
from nightshift.local.generate import generate
from nightshift.quality.audit import record_quality_runs
from nightshift.quality.bad_days import UnresolvedBadDaysError, accept_day, require_resolved, unresolved_bad_days
from nightshift.quality.gate import gate_raw_day
from nightshift.quality.validation import DataQualityError
from tests.pg_helpers import create_database, query

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]
DAY = date(2026, 5, 10)  # the day whose features are built: its window is 2026-02-10..2026-05-10
PASSED = {"success": True, "evaluated": 22, "failed": 0}
FAILED = {"success": False, "evaluated": 22, "failed": 1}
MINUTES_FAILURE = {
    "suite": "raw_events",
    "expectation": "expect_column_values_to_be_between",
    "column": "minutes",
    "unexpected_count": 3,
    "examples": [-12.5],
}


@pytest.fixture
def db(pg_url: str) -> str:
    return create_database(pg_url, f"bad_days_{uuid.uuid4().hex[:12]}")


def _fail_events(url: str, day: date) -> None:
    record_quality_runs(
        url, day, {"raw_events": FAILED, "raw_customers": PASSED}, [MINUTES_FAILURE], message="data quality failed", quarantine_path=None
    )


def _pass(url: str, day: date) -> None:
    record_quality_runs(url, day, {"raw_events": PASSED, "raw_customers": PASSED})


def _refusal(url: str, day: date = DAY) -> UnresolvedBadDaysError:
    with pytest.raises(UnresolvedBadDaysError) as caught:
        require_resolved(url, scoring_window(day, WINDOWS), f"build features for {day}")
    # A bad-data failure: final_on_bad_data turns it into a failure without retries.
    assert isinstance(caught.value, DataQualityError)
    return caught.value


def test_failed_day_inside_the_window_refuses_naming_the_day_and_the_way_out(db: str) -> None:
    bad = DAY - timedelta(days=1)
    _fail_events(db, bad)

    error = _refusal(db)

    message = str(error)
    assert message.startswith("refusing to build features for 2026-05-10: it reads raw data that failed validation")
    assert "2026-05-09 raw_events: expect_column_values_to_be_between(column=minutes)" in message
    assert "nightshift quality validate 2026-05-09" in message
    assert 'nightshift quality accept 2026-05-09 --reason "..."' in message
    assert [(b.day, b.suite) for b in error.bad_days] == [(bad, "raw_events")]


def test_window_edges_are_the_longest_feature_window(db: str) -> None:
    # Features of DAY read events of DAY-89..DAY (the 90-day window): the oldest of them refuses,
    # the day before it and any later day do not.
    oldest, before, after = DAY - timedelta(days=89), DAY - timedelta(days=90), DAY + timedelta(days=1)
    for day in (before, after):
        _fail_events(db, day)
    require_resolved(db, scoring_window(DAY, WINDOWS), "build features")

    _fail_events(db, oldest)
    assert [b.day for b in _refusal(db).bad_days] == [oldest]


def test_a_failed_snapshot_counts_only_where_it_is_read(db: str) -> None:
    bad = DAY - timedelta(days=3)
    record_quality_runs(db, bad, {"raw_events": PASSED, "raw_customers": FAILED}, [], message="duplicate customer_id")

    # Scoring DAY reads DAY's snapshot only; scoring the bad day, or training on it, reads that snapshot.
    require_resolved(db, scoring_window(DAY, WINDOWS), "build features")
    assert [(b.day, b.suite) for b in _refusal(db, bad).bad_days] == [(bad, "raw_customers")]
    training = training_window([bad - timedelta(days=7), bad], [DAY], WINDOWS)
    with pytest.raises(UnresolvedBadDaysError, match="2026-05-07 raw_customers"):
        require_resolved(db, training, "build the training set")


def test_training_window_covers_every_date_and_the_label_snapshots() -> None:
    dates = [date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 15)]
    labels = [date(2026, 3, 31), date(2026, 4, 7), date(2026, 4, 14)]
    window = training_window(dates, labels, WINDOWS)
    assert (window.events_from, window.events_to) == (date(2026, 3, 1) - timedelta(days=89), date(2026, 3, 15))
    assert window.snapshots == (*dates, *labels)
    assert "customers snapshots 2026-03-01..2026-04-14 (6 days)" in window.describe()


def test_a_later_passing_validation_resolves_and_a_later_failure_refuses_again(db: str) -> None:
    bad = DAY - timedelta(days=5)
    _fail_events(db, bad)
    _pass(db, bad)
    require_resolved(db, scoring_window(DAY, WINDOWS), "build features")

    _fail_events(db, bad)
    assert [b.day for b in _refusal(db).bad_days] == [bad]


def test_an_acceptance_resolves_the_failures_on_record_only(db: str) -> None:
    bad = DAY - timedelta(days=2)
    _fail_events(db, bad)

    accepted = accept_day(db, bad, "known replay upstream, minutes clipped downstream", "alice")

    assert [(b.day, b.suite) for b in accepted] == [(bad, "raw_events")]
    require_resolved(db, scoring_window(DAY, WINDOWS), "build features")
    [(reason, by)] = query(db, "SELECT reason, accepted_by FROM data_quality_acceptances WHERE logical_date = %s", (bad,))
    assert (reason, by) == ("known replay upstream, minutes clipped downstream", "alice")
    # A new failure of the same day after the acceptance is not covered by it.
    _fail_events(db, bad)
    assert [b.day for b in _refusal(db).bad_days] == [bad]


def test_accept_refuses_without_a_reason_or_a_failure(db: str) -> None:
    _fail_events(db, DAY)
    with pytest.raises(ValueError, match="needs a reason"):
        accept_day(db, DAY, "  ", "alice")
    with pytest.raises(LookupError, match="2026-05-11 has no unresolved failed raw validation"):
        accept_day(db, DAY + timedelta(days=1), "typo in the date", "alice")
    assert unresolved_bad_days(db, scoring_window(DAY, WINDOWS))  # still refused: nothing was accepted


def test_an_empty_warehouse_refuses_nothing(db: str) -> None:
    # Days never validated (history from before the gate ran) carry no verdict to refuse on.
    assert unresolved_bad_days(db, scoring_window(DAY, WINDOWS)) == []


def test_real_gate_duplicate_events_refuse_the_next_day_until_the_fixed_day_validates(db: str, tmp_path) -> None:
    zone = generate(tmp_path / "raw", customers=80, days=12, start_date=date(2026, 3, 1), seed=4)
    band = load_params()["quality"]["row_count"]
    bad = zone.end_date - timedelta(days=1)
    partition = zone.data_dir / "events" / f"event_date={bad.isoformat()}"
    shutil.copytree(partition, tmp_path / "clean_partition")
    corrupt_day(zone.data_dir, bad, "duplicate_event")

    with pytest.raises(DataQualityError) as caught:
        gate_raw_day(bad, zone.data_dir, db, tmp_path / "quarantine", band)
    assert "one row per customer per day" in str(caught.value)
    with pytest.raises(UnresolvedBadDaysError, match="raw_events: expect_column_values_to_be_unique\\(column=customer_id\\)"):
        require_resolved(db, scoring_window(zone.end_date, WINDOWS), "build features")

    # The fix: the partition lands again, clean, and the same gate validates it.
    shutil.rmtree(partition)
    shutil.copytree(tmp_path / "clean_partition", partition)
    gate_raw_day(bad, zone.data_dir, db, tmp_path / "quarantine", band)
    require_resolved(db, scoring_window(zone.end_date, WINDOWS), "build features")
