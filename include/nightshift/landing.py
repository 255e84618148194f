"""Has a day landed? The partitions a scoring run waits for, and what the landing zone holds instead.

Lateness is not bad data: a day whose partitions are not there yet is waited for (the
`wait_for_day` sensor of nightly_scoring), and only what has landed is validated. A day that
has not ended yet, or one older than the first landed day, will never land, so a run for it
fails at once, naming the landed range. Listing folder names only: no Parquet is opened, so a
poke stays cheap.

It sits beside the contract whose partition layout it reads, below every sub-package that asks it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

from nightshift.contract import CUSTOMERS, CUSTOMERS_PARTITION, EVENTS, EVENTS_PARTITION, customers_partition, events_partition

log = logging.getLogger(__name__)


class DayCannotLandError(ValueError):
    """The day asked for will never land, so waiting for it is a mistake (a bad-data failure, no retry)."""


class DayNotEndedError(DayCannotLandError):
    """The day asked for has not ended, so its data cannot have landed."""


class DayBeforeLandingError(DayCannotLandError):
    """The day asked for is older than the first landed day: a landing zone grows forward."""


def landed_days(root: Path, table: str, partition: str) -> list[date]:
    """The days with a partition folder of `table` under the landing zone `root`, oldest first."""
    folder = Path(root) / table
    prefix = f"{partition}="
    if not folder.is_dir():
        return []
    days = []
    for child in folder.iterdir():
        if child.is_dir() and child.name.startswith(prefix):
            try:
                days.append(date.fromisoformat(child.name.removeprefix(prefix)))
            except ValueError:
                continue  # not a day folder; the contract's readers ignore it too
    return sorted(days)


def _span(days: list[date]) -> str:
    if not days:
        return "none"
    if len(days) == 1:
        return days[0].isoformat()
    return f"{days[0].isoformat()} to {days[-1].isoformat()} ({len(days)} days)"


def describe_landing_zone(root: Path) -> str:
    """What the landing zone holds, in one line: the span of event days and of snapshots."""
    events, snapshots, newest = _holdings(root)
    return f"{root} holds events for {_span(events)} and customers snapshots for {_span(snapshots)}{newest}"


def _holdings(root: Path) -> tuple[list[date], list[date], str]:
    """The landed event days, snapshot days, and the newest day holding both (as a clause to append)."""
    events = landed_days(root, EVENTS, EVENTS_PARTITION)
    snapshots = landed_days(root, CUSTOMERS, CUSTOMERS_PARTITION)
    both = sorted(set(events) & set(snapshots))
    return events, snapshots, f"; newest day with both: {both[-1].isoformat()}" if both else ""


def _ends(days: list[date]) -> str:
    if not days:
        return "none"
    plural = "s" if len(days) > 1 else ""
    return f"{days[0].isoformat()}..{days[-1].isoformat()} ({len(days)} day{plural})"


def landed_range(root: Path) -> str:
    """The first..last landed day of events and of customers snapshots, for a day that cannot be waited for."""
    events, snapshots, newest = _holdings(root)
    return f"landed range in {root}: events {_ends(events)}, customers snapshots {_ends(snapshots)}{newest}"


def _first_landed_day(root: Path) -> date | None:
    """The first day both tables can hold: the later of their first days (None while either holds nothing)."""
    firsts = [days[0] for days in (landed_days(root, EVENTS, EVENTS_PARTITION), landed_days(root, CUSTOMERS, CUSTOMERS_PARTITION)) if days]
    return max(firsts) if firsts else None


def _has_data_file(folder: Path) -> bool:
    # A writer's temporary and marker files (Spark's _temporary, _SUCCESS, .crc) are not data.
    return folder.is_dir() and any(f.is_file() and not f.name.startswith(("_", ".")) for f in folder.iterdir())


def missing_partitions(root: Path, day: date) -> list[Path]:
    """The partitions of `day` (events, customers snapshot) that hold no data file yet."""
    return [p for p in (events_partition(root, day), customers_partition(root, day)) if not _has_data_file(p)]


def day_has_landed(root: Path, day: date, today: date, window_days: int = 1) -> bool:
    """True once both of `day`'s partitions hold a data file; raises DayCannotLandError for a day that never will.

    `today` is the wall-clock date (UTC) of the check: waiting for a day that has not ended, or
    for one before the first landed day, only makes sense as a mistake, such as a manual trigger
    with no score date or a score_date typed wrong. Before anything has landed at all (a first
    deployment), every ended day is waited for. Only `day` is waited for, but what is logged also
    names the earlier days of its `window_days`-day feature window that have not landed: the
    feature job refuses them, and waiting would not bring them.
    """
    if day >= today:
        raise DayNotEndedError(
            f"{day.isoformat()} has not ended yet (today is {today.isoformat()} UTC), so none of its data can have landed; "
            f"{landed_range(root)}. To score a landed day, trigger with score_date set to it."
        )
    first = _first_landed_day(root)
    if first is not None and day < first:
        raise DayBeforeLandingError(
            f"{day.isoformat()} is before the first landed day ({first.isoformat()}), so its data will never land; "
            f"{landed_range(root)}. To score a landed day, trigger with score_date set to one in that range."
        )
    missing = missing_partitions(root, day)
    gaps = unlanded_days(root, EVENTS, window_days_before(root, day, window_days))
    window = f"the {window_days}-day feature window of {day.isoformat()}"
    if missing:
        also = f"; {window} also lacks events for {compact_days(gaps)} (not waited for: {_REFUSED})" if gaps else ""
        where = ", ".join(map(str, missing))
        log.info("waiting for %s: no data yet in %s%s; %s", day.isoformat(), where, also, describe_landing_zone(root))
        return False
    if gaps:
        log.warning("%s has landed, but %s lacks events for %s: %s", day.isoformat(), window, compact_days(gaps), _REFUSED)
    return True


_REFUSED = "the feature job refuses a day that has not landed unless accepted, `nightshift quality accept DATE --missing --reason ...`"
_PARTITIONS = {EVENTS: events_partition, CUSTOMERS: customers_partition}


def first_landed_day(root: Path) -> date | None:
    """The start of history: the oldest day with an events partition or a customers snapshot, None for an empty zone.

    A window reaching back before it reads days the landing zone never had: no history, not missing days.
    """
    firsts = [days[0] for days in (landed_days(root, EVENTS, EVENTS_PARTITION), landed_days(root, CUSTOMERS, CUSTOMERS_PARTITION)) if days]
    return min(firsts, default=None)


def window_days_before(root: Path, day: date, window_days: int) -> list[date]:
    """The days of `day`'s `window_days`-day window before `day`, from the start of history on."""
    start = first_landed_day(root)
    if start is None:
        return []
    first = max(start, day - timedelta(days=window_days - 1))
    return [first + timedelta(days=i) for i in range((day - first).days)]


def unlanded_days(root: Path, table: str, days: Iterable[date]) -> list[date]:
    """The days of `days` whose `table` partition (events or customers) holds no data file, oldest first."""
    return sorted(d for d in set(days) if not _has_data_file(_PARTITIONS[table](root, d)))


def compact_days(days: Sequence[date]) -> str:
    """Days in few words: a run of consecutive days as one range, `2026-05-01..2026-05-05 (5 days), 2026-05-09`."""
    runs: list[list[date]] = []
    for d in sorted(set(days)):
        if runs and d - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(r[0].isoformat() if len(r) == 1 else f"{r[0].isoformat()}..{r[-1].isoformat()} ({len(r)} days)" for r in runs)
