"""The data freshness guard (nightshift.quality.freshness): newest landed day, as-of, max staleness -> ok or an error."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from nightshift.contract import customers_partition, events_partition
from nightshift.quality.freshness import StaleDataError, check_freshness, max_staleness_days, newest_landed_day, require_fresh

pytestmark = pytest.mark.unit

AS_OF = date(2026, 10, 31)


def _land(root: Path, day: date, *, events: bool = True, customers: bool = True) -> None:
    for wanted, folder in ((events, events_partition(root, day)), (customers, customers_partition(root, day))):
        if wanted:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "part-0.parquet").write_bytes(b"PAR1")


def test_a_landing_zone_within_the_allowed_gap_passes_and_says_what_it_found() -> None:
    fresh = check_freshness(date(2026, 10, 28), AS_OF, 3)
    assert (fresh.newest_landed_day, fresh.as_of, fresh.gap_days) == (date(2026, 10, 28), AS_OF, 3)
    assert check_freshness(AS_OF, AS_OF, 0).gap_days == 0
    assert fresh.tags() == {
        "guard": "data_freshness",
        "guard.newest_landed_day": "2026-10-28",
        "guard.as_of": "2026-10-31",
        "guard.gap_days": "3",
        "guard.max_staleness_days": "3",
    }


def test_a_landing_zone_months_behind_the_training_day_is_refused_naming_both_days_and_the_gap() -> None:
    with pytest.raises(StaleDataError) as caught:
        check_freshness(date(2026, 6, 30), AS_OF, 3)
    message = str(caught.value)
    assert message.startswith("data freshness guard: the newest landed day 2026-06-30 is 123 days before 2026-10-31")
    assert "train.max_staleness_days allows 3" in message
    assert caught.value.freshness.gap_days == 123
    # One day past the limit is enough.
    with pytest.raises(StaleDataError, match="is 4 days before 2026-10-31"):
        check_freshness(date(2026, 10, 27), AS_OF, 3)


def test_nothing_landed_by_the_training_day_is_refused() -> None:
    with pytest.raises(StaleDataError, match="no day on or before 2026-10-31 .* holds both events and a customers snapshot"):
        check_freshness(None, AS_OF, 3)


@pytest.mark.parametrize("value", [None, -1, 2.5, "3", True])
def test_max_staleness_days_must_be_a_whole_number_of_days(value) -> None:
    with pytest.raises(ValueError, match=r"train.max_staleness_days must be a whole number of days >= 0"):
        max_staleness_days({"train": {"max_staleness_days": value}})
    assert max_staleness_days({"train": {"max_staleness_days": 0}}) == 0


def test_the_newest_landed_day_needs_both_tables_a_data_file_and_no_later_than_the_training_day(tmp_path: Path) -> None:
    _land(tmp_path, date(2026, 6, 28))
    _land(tmp_path, date(2026, 6, 29), customers=False)  # events only
    _land(tmp_path, date(2026, 6, 30), events=False)  # snapshot only
    being_written = events_partition(tmp_path, date(2026, 7, 1))
    (being_written / "_temporary").mkdir(parents=True)
    _land(tmp_path, date(2026, 7, 1), events=False)
    _land(tmp_path, date(2026, 11, 5))  # after the training day: not what it trains on
    assert newest_landed_day(tmp_path, AS_OF) == date(2026, 6, 28)
    assert newest_landed_day(tmp_path, date(2026, 6, 27)) is None
    assert newest_landed_day(tmp_path / "nothing", AS_OF) is None


def test_a_refusal_on_a_landing_zone_also_says_what_it_holds(tmp_path: Path) -> None:
    _land(tmp_path, date(2026, 6, 28))
    with pytest.raises(StaleDataError) as caught:
        require_fresh(tmp_path, AS_OF, 3)
    assert "the newest landed day 2026-06-28 is 125 days before 2026-10-31" in str(caught.value)
    assert f"{tmp_path} holds events for 2026-06-28" in str(caught.value)
    assert require_fresh(tmp_path, date(2026, 6, 30), 3).gap_days == 2
