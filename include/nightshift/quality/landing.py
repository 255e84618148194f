"""Has a day landed? The partitions a scoring run waits for, and what the landing zone holds instead.

Lateness is not bad data: a day whose partitions are not there yet is waited for (the
`wait_for_day` sensor of nightly_scoring), and only what has landed is validated. A day that
has not ended yet cannot have landed, so a run for it fails at once, saying what exists.
Listing folder names only: no Parquet is opened, so a poke stays cheap.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from nightshift.contract import CUSTOMERS, CUSTOMERS_PARTITION, EVENTS, EVENTS_PARTITION, customers_partition, events_partition

log = logging.getLogger(__name__)


class DayNotEndedError(ValueError):
    """The day asked for has not ended, so its data cannot have landed."""


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


def _has_data_file(folder: Path) -> bool:
    # A writer's temporary and marker files (Spark's _temporary, _SUCCESS, .crc) are not data.
    return folder.is_dir() and any(f.is_file() and not f.name.startswith(("_", ".")) for f in folder.iterdir())


def missing_partitions(root: Path, day: date) -> list[Path]:
    """The partitions of `day` (events, customers snapshot) that hold no data file yet."""
    return [p for p in (events_partition(root, day), customers_partition(root, day)) if not _has_data_file(p)]


def day_has_landed(root: Path, day: date, today: date) -> bool:
    """True once both of `day`'s partitions hold a data file; raises DayNotEndedError for a day not over yet.

    `today` is the wall-clock date (UTC) of the check: waiting for a day that has not ended only
    makes sense as a mistake, such as a manual trigger with no score date.
    """
    if day >= today:
        raise DayNotEndedError(
            f"{day.isoformat()} has not ended yet (today is {today.isoformat()} UTC), so none of its data can have landed; "
            f"{describe_landing_zone(root)}. To score a landed day, trigger with score_date set to it."
        )
    missing = missing_partitions(root, day)
    if missing:
        log.info("waiting for %s: no data yet in %s; %s", day.isoformat(), ", ".join(map(str, missing)), describe_landing_zone(root))
        return False
    return True
