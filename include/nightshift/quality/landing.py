"""Has a day landed? The partitions a scoring run waits for, and what the landing zone holds instead.

Lateness is not bad data: a day whose partitions are not there yet is waited for (the
`wait_for_day` sensor of nightly_scoring), and only what has landed is validated. A day that
has not ended yet, or one older than the first landed day, will never land, so a run for it
fails at once, naming the landed range. Listing folder names only: no Parquet is opened, so a
poke stays cheap.
"""

from __future__ import annotations

import logging
from datetime import date
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
    events = landed_days(root, EVENTS, EVENTS_PARTITION)
    snapshots = landed_days(root, CUSTOMERS, CUSTOMERS_PARTITION)
    both = sorted(set(events) & set(snapshots))
    newest = f"; newest day with both: {both[-1].isoformat()}" if both else ""
    return f"{root} holds events for {_span(events)} and customers snapshots for {_span(snapshots)}{newest}"


def _ends(days: list[date]) -> str:
    if not days:
        return "none"
    plural = "s" if len(days) > 1 else ""
    return f"{days[0].isoformat()}..{days[-1].isoformat()} ({len(days)} day{plural})"


def landed_range(root: Path) -> str:
    """The first..last landed day of events and of customers snapshots, for a day that cannot be waited for."""
    events = landed_days(root, EVENTS, EVENTS_PARTITION)
    snapshots = landed_days(root, CUSTOMERS, CUSTOMERS_PARTITION)
    both = sorted(set(events) & set(snapshots))
    newest = f"; newest day with both: {both[-1].isoformat()}" if both else ""
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


def day_has_landed(root: Path, day: date, today: date) -> bool:
    """True once both of `day`'s partitions hold a data file; raises DayCannotLandError for a day that never will.

    `today` is the wall-clock date (UTC) of the check: waiting for a day that has not ended, or
    for one before the first landed day, only makes sense as a mistake, such as a manual trigger
    with no score date or a score_date typed wrong. Before anything has landed at all (a first
    deployment), every ended day is waited for.
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
    if missing:
        log.info("waiting for %s: no data yet in %s; %s", day.isoformat(), ", ".join(map(str, missing)), describe_landing_zone(root))
        return False
    return True
