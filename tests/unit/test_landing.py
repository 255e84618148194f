"""Has a day landed (nightshift.landing): folder listings only, and messages that say what exists."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from pathlib import Path

import pytest

from nightshift.contract import customers_partition, events_partition
from nightshift.landing import (
    DayBeforeLandingError,
    DayNotEndedError,
    day_has_landed,
    describe_landing_zone,
    landed_days,
    missing_partitions,
)

pytestmark = pytest.mark.unit

TODAY = date(2026, 7, 1)


def _land(root: Path, day: date, *, events: bool = True, customers: bool = True) -> None:
    for wanted, folder in ((events, events_partition(root, day)), (customers, customers_partition(root, day))):
        if wanted:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "part-0.parquet").write_bytes(b"PAR1")


def test_a_day_has_landed_once_both_partitions_hold_a_data_file(tmp_path: Path) -> None:
    day = date(2026, 6, 29)
    assert not day_has_landed(tmp_path, day, TODAY)
    _land(tmp_path, day, customers=False)
    assert missing_partitions(tmp_path, day) == [customers_partition(tmp_path, day)]
    assert not day_has_landed(tmp_path, day, TODAY)
    _land(tmp_path, day)
    assert day_has_landed(tmp_path, day, TODAY)


def test_a_partition_being_written_is_not_landed(tmp_path: Path) -> None:
    # A writer's temporary folder and marker files are there before any data file is.
    day = date(2026, 6, 29)
    _land(tmp_path, day, events=False)
    folder = events_partition(tmp_path, day)
    (folder / "_temporary").mkdir(parents=True)
    (folder / "_temporary" / "part-0.parquet").write_bytes(b"PAR1")
    (folder / ".part-0.parquet.crc").write_bytes(b"")
    assert missing_partitions(tmp_path, day) == [folder]


def test_a_day_that_has_not_ended_fails_at_once_saying_what_has_landed(tmp_path: Path) -> None:
    for day in (date(2026, 6, 28), date(2026, 6, 29)):
        _land(tmp_path, day)
    with pytest.raises(DayNotEndedError) as caught:
        day_has_landed(tmp_path, TODAY, TODAY)
    message = str(caught.value)
    assert "2026-07-01 has not ended yet" in message
    assert f"landed range in {tmp_path}: events 2026-06-28..2026-06-29 (2 days), customers snapshots 2026-06-28..2026-06-29" in message
    assert "newest day with both: 2026-06-29" in message
    assert "score_date" in message
    # A day after today, as a score_date typed a year ahead, is refused the same way.
    with pytest.raises(DayNotEndedError, match=r"2027-06-29 has not ended yet .* landed range in .*: events 2026-06-28\.\.2026-06-29"):
        day_has_landed(tmp_path, date(2027, 6, 29), TODAY)


def test_a_day_before_the_first_landed_day_fails_at_once_naming_the_landed_range(tmp_path: Path) -> None:
    # Customers snapshots start a day later than events: a day before either's first day never lands whole.
    _land(tmp_path, date(2026, 6, 27), customers=False)
    for day in (date(2026, 6, 28), date(2026, 6, 29)):
        _land(tmp_path, day)
    for asked in (date(2025, 6, 28), date(2026, 6, 27)):
        with pytest.raises(DayBeforeLandingError) as caught:
            day_has_landed(tmp_path, asked, TODAY)
        message = str(caught.value)
        assert message.startswith(f"{asked.isoformat()} is before the first landed day (2026-06-28)")
        assert (
            f"landed range in {tmp_path}: events 2026-06-27..2026-06-29 (3 days), customers snapshots 2026-06-28..2026-06-29 (2 days)"
        ) in message
    # From the first day with both on, a day is waited for as usual (one after the last landed day is late).
    assert day_has_landed(tmp_path, date(2026, 6, 28), TODAY)
    assert not day_has_landed(tmp_path, date(2026, 6, 30), TODAY)


def test_an_empty_landing_zone_is_waited_for(tmp_path: Path) -> None:
    # Nothing has landed yet (a first deployment): there is no range to be before.
    assert not day_has_landed(tmp_path, date(2026, 6, 1), TODAY)


def test_landed_days_reads_folder_names_and_skips_what_is_not_a_day(tmp_path: Path) -> None:
    _land(tmp_path, date(2026, 6, 2))
    _land(tmp_path, date(2026, 6, 1), customers=False)
    (tmp_path / "events" / "event_date=__HIVE_DEFAULT_PARTITION__").mkdir()
    assert landed_days(tmp_path, "events", "event_date") == [date(2026, 6, 1), date(2026, 6, 2)]
    assert describe_landing_zone(tmp_path).endswith("customers snapshots for 2026-06-02; newest day with both: 2026-06-02")
    assert "events for none" in describe_landing_zone(tmp_path / "elsewhere")


def test_the_sensor_names_the_days_of_the_feature_window_that_have_not_landed(tmp_path: Path, caplog) -> None:
    day = date(2026, 6, 30)
    for offset in range(30):  # 2026-06-01..2026-06-30: the 90-day window reaches before the first day
        _land(tmp_path, date(2026, 6, 1 + offset))
    for gap in (10, 11, 12, 20):
        shutil.rmtree(events_partition(tmp_path, date(2026, 6, gap)))
    shutil.rmtree(customers_partition(tmp_path, day))
    caplog.set_level(logging.INFO, logger="nightshift.landing")

    assert not day_has_landed(tmp_path, day, TODAY, window_days=90)
    gaps = "2026-06-10..2026-06-12 (3 days), 2026-06-20"
    assert f"waiting for 2026-06-30: no data yet in {customers_partition(tmp_path, day)}" in caplog.text
    assert f"the 90-day feature window of 2026-06-30 also lacks events for {gaps} (not waited for:" in caplog.text
    # Days before the first landed day are no history, not missing: never named.
    assert "2026-05-31" not in caplog.text

    caplog.clear()
    _land(tmp_path, day)
    assert day_has_landed(tmp_path, day, TODAY, window_days=90)
    assert f"2026-06-30 has landed, but the 90-day feature window of 2026-06-30 lacks events for {gaps}" in caplog.text
