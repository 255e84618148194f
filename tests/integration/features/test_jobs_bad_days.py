"""The Spark jobs, given the warehouse, refuse a window holding an unresolved failed raw day before building anything."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from nightshift.features.jobs import scoring_features, training_set
from nightshift.local.generate import generate
from nightshift.quality.audit import record_quality_runs
from nightshift.quality.bad_days import UnresolvedBadDaysError
from tests.pg_helpers import create_database

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]
FAILED = {"raw_events": {"success": False, "evaluated": 22, "failed": 1}}
FAILURE = [{"suite": "raw_events", "expectation": "expect_column_values_to_be_unique", "column": "customer_id"}]


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing_bad_days")
    return generate(root / "raw", customers=300, days=100, start_date=date(2026, 2, 1), seed=3)


@pytest.fixture
def db(pg_url: str) -> str:
    return create_database(pg_url, f"jobs_bad_days_{uuid.uuid4().hex[:12]}")


def test_scoring_features_refuse_a_failed_day_in_the_window_and_write_nothing(spark, landing, db, tmp_path) -> None:
    day = landing.end_date
    record_quality_runs(db, day - timedelta(days=40), FAILED, FAILURE, message="duplicate events")

    with pytest.raises(UnresolvedBadDaysError, match=f"refusing to build features for {day.isoformat()}"):
        scoring_features(spark, landing.data_dir, day, tmp_path / "features", WINDOWS, quality_url=db)
    assert not (tmp_path / "features").exists()


def test_training_set_refuses_a_failed_day_it_reads_and_builds_past_one_it_does_not(spark, landing, db, tmp_path) -> None:
    as_of = landing.end_date
    args = (spark, landing.data_dir, as_of)
    rest = (WINDOWS, 30, 7, 120)
    newest_labelled = as_of - timedelta(days=30)  # the newest date whose 30-day label is known by as_of

    # After the newest labelled date and before as_of: no feature window reads its events.
    record_quality_runs(db, newest_labelled + timedelta(days=1), FAILED, FAILURE, message="duplicate events")
    built = training_set(*args, tmp_path / "ok", *rest, quality_url=db)
    assert built["dates"][-1] == newest_labelled.isoformat()

    inside = date.fromisoformat(built["dates"][0]) - timedelta(days=10)
    record_quality_runs(db, inside, FAILED, FAILURE, message="duplicate events")
    with pytest.raises(UnresolvedBadDaysError) as caught:
        training_set(*args, tmp_path / "refused", *rest, quality_url=db)
    assert [b.day for b in caught.value.bad_days] == [inside]
    assert f"refusing to build the training set as of {as_of.isoformat()}" in str(caught.value)
    assert not (tmp_path / "refused").exists()


def test_training_set_refuses_a_failed_snapshot_its_labels_are_read_from(spark, landing, db, tmp_path) -> None:
    # The date a week before the newest labelled one reads its label from the snapshot of d + 30 = as_of - 7:
    # no feature date, not the newest snapshot, yet the labels of that week come from it.
    as_of = landing.end_date
    label_day = as_of - timedelta(days=7)
    failed_snapshot = {"raw_customers": {"success": False, "evaluated": 12, "failed": 1}}
    record_quality_runs(db, label_day, failed_snapshot, FAILURE, message="duplicate customer_id")
    with pytest.raises(UnresolvedBadDaysError) as caught:
        training_set(spark, landing.data_dir, as_of, tmp_path / "refused", WINDOWS, 30, 7, 120, quality_url=db)
    assert [(b.day, b.suite) for b in caught.value.bad_days] == [(label_day, "raw_customers")]
