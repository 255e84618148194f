"""A day a window reads that never landed refuses the job, until it is accepted as a day of no activity.

Real Spark on a small generated landing zone (200 customers x 60 days), a copy per case with one
partition removed, and a warehouse database of its own for the acceptances. Every window here also
reaches before the zone's first day (60 days of history, 90-day windows): those days are no history,
not missing, so only the removed day is ever named.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from nightshift.contract import customers_partition
from nightshift.features.jobs import scoring_features, training_set
from nightshift.local.badinput import empty_day, missing_day
from nightshift.local.generate import generate
from nightshift.quality.validation import DataQualityError
from tests.pg_helpers import create_database

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]
START = date(2026, 3, 1)
# Horizon, every, window: the training dates are START+1, +8, +15, +22 and +29 (the newest labelled by the end).
TRAINING = (30, 7, 140)


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("landing_missing") / "raw", customers=200, days=60, start_date=START, seed=6)


@pytest.fixture
def db(pg_url: str) -> str:
    return create_database(pg_url, f"jobs_missing_{uuid.uuid4().hex[:12]}")


def _copy(landing, root: Path, change, day: date) -> Path:
    """A copy of the landing zone with `change` applied to `day` (its events partition removed, or emptied)."""
    shutil.copytree(landing.data_dir, root)
    change(root, day)
    return root


def _rows(path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values(["as_of_date", "customer_id"]).reset_index(drop=True)


def test_scoring_features_refuse_a_day_that_has_not_landed_until_it_is_accepted_as_no_activity(spark, landing, db, tmp_path) -> None:
    day = landing.end_date
    gap = day - timedelta(days=10)
    holed = _copy(landing, tmp_path / "holed", missing_day, gap)

    with pytest.raises(DataQualityError) as caught:
        scoring_features(spark, holed, day, tmp_path / "refused", WINDOWS, quality_url=db)
    message = str(caught.value)
    assert message.startswith(f"refusing to build features for {day.isoformat()}: its window reads days that have not landed")
    assert f"  - events: {gap.isoformat()}\n" in message
    assert f"history starts {START.isoformat()}" in message
    assert f'nightshift quality accept {gap.isoformat()} --missing --reason "..."' in message
    assert [(m.day, m.tables) for m in caught.value.missing] == [(gap, ("events",))]
    assert not (tmp_path / "refused").exists()

    from nightshift.quality.bad_days import accept_missing_day

    accept_missing_day(db, holed, gap, "collector outage, the app was down all day", "alice")
    accepted = scoring_features(spark, holed, day, tmp_path / "accepted", WINDOWS, quality_url=db)

    # Accepted, the day reads exactly as a day that landed with no events at all.
    quiet = _copy(landing, tmp_path / "quiet", empty_day, gap)
    no_activity = scoring_features(spark, quiet, day, tmp_path / "no_activity", WINDOWS, quality_url=db)
    pd.testing.assert_frame_equal(_rows(accepted["path"]), _rows(no_activity["path"]))
    # And not as the day really was: its events did count before it went missing.
    full = scoring_features(spark, landing.data_dir, day, tmp_path / "full", WINDOWS)
    assert accepted["rows"] == full["rows"]
    assert _rows(accepted["path"])["sessions_30d"].sum() < _rows(full["path"])["sessions_30d"].sum()


def test_many_missing_days_are_named_as_ranges(spark, landing, db, tmp_path) -> None:
    day = landing.end_date
    holed = tmp_path / "holed"
    shutil.copytree(landing.data_dir, holed)
    outage = [day - timedelta(days=back) for back in (20, 19, 18, 17, 16)]
    for gap in [*outage, day - timedelta(days=9)]:
        missing_day(holed, gap)

    with pytest.raises(DataQualityError) as caught:
        scoring_features(spark, holed, day, tmp_path / "refused", WINDOWS, quality_url=db)
    ranges = f"{outage[0].isoformat()}..{outage[-1].isoformat()} (5 days), {(day - timedelta(days=9)).isoformat()}"
    assert f"  - events: {ranges}\n" in str(caught.value)
    assert len(caught.value.missing) == 6


def test_training_set_refuses_a_missing_events_day_its_windows_read_until_accepted(spark, landing, db, tmp_path) -> None:
    as_of = landing.end_date
    gap = START + timedelta(days=20)  # in the windows of the dates START+22 and START+29
    holed = _copy(landing, tmp_path / "holed", missing_day, gap)

    with pytest.raises(DataQualityError) as caught:
        training_set(spark, holed, as_of, tmp_path / "refused", WINDOWS, *TRAINING, quality_url=db)
    assert str(caught.value).startswith(f"refusing to build the training set as of {as_of.isoformat()}: its window reads days")
    assert [(m.day, m.tables) for m in caught.value.missing] == [(gap, ("events",))]
    assert not (tmp_path / "refused").exists()

    from nightshift.quality.bad_days import accept_missing_day

    accept_missing_day(db, holed, gap, "collector outage", "alice")
    accepted = training_set(spark, holed, as_of, tmp_path / "accepted", WINDOWS, *TRAINING, quality_url=db)
    quiet = _copy(landing, tmp_path / "quiet", empty_day, gap)
    no_activity = training_set(spark, quiet, as_of, tmp_path / "no_activity", WINDOWS, *TRAINING, quality_url=db)
    assert accepted["dates"] == no_activity["dates"] == [(START + timedelta(days=d)).isoformat() for d in (1, 8, 15, 22, 29)]
    pd.testing.assert_frame_equal(_rows(accepted["path"]), _rows(no_activity["path"]))


def test_a_missing_events_day_no_feature_window_reads_does_not_refuse_the_training_set(spark, landing, db, tmp_path) -> None:
    # After the newest training date (START+29): only labels read that far, and they read snapshots.
    holed = _copy(landing, tmp_path / "holed", missing_day, landing.end_date - timedelta(days=10))
    built = training_set(spark, holed, landing.end_date, tmp_path / "built", WINDOWS, *TRAINING, quality_url=db)
    assert built["dates"][-1] == (START + timedelta(days=29)).isoformat()


def test_training_set_refuses_a_missing_snapshot_its_labels_read_and_one_that_drops_a_training_date(spark, landing, db, tmp_path) -> None:
    as_of = landing.end_date
    label_day = START + timedelta(days=45)  # the label snapshot of START+15, read for purged customers too
    grid_day = START + timedelta(days=8)  # a training date: without its snapshot, a week of rows would vanish
    holed = tmp_path / "holed"
    shutil.copytree(landing.data_dir, holed)
    for day in (label_day, grid_day):
        shutil.rmtree(customers_partition(holed, day))

    with pytest.raises(DataQualityError) as caught:
        training_set(spark, holed, as_of, tmp_path / "refused", WINDOWS, *TRAINING, quality_url=db)
    assert [(m.day, m.tables) for m in caught.value.missing] == [(grid_day, ("customers",)), (label_day, ("customers",))]
    assert "  - customers snapshots: " in str(caught.value)
    assert not (tmp_path / "refused").exists()

    # Accepted, a missing snapshot is what the labels already allow for: its date is left out and a
    # label due on that day is read from the next snapshot.
    from nightshift.quality.bad_days import accept_missing_day

    for day in (label_day, grid_day):
        accept_missing_day(db, holed, day, "snapshot export failed, not recoverable", "alice")
    built = training_set(spark, holed, as_of, tmp_path / "accepted", WINDOWS, *TRAINING, quality_url=db)
    assert built["dates"] == [(START + timedelta(days=d)).isoformat() for d in (1, 15, 22, 29)]
