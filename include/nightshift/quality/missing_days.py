"""Days a window reads that never landed: refused, unless someone accepted them as days of no activity.

A feature job reads the day partitions of its window that have landed. Left at that, a lost
events day would count as a day nobody did anything, shifting every 7-, 30- and 90-day feature
of the months of nights whose windows hold it, and nothing would say so. So before it builds, a
job lists what its window needs (folder listings only, as the sensor does) and refuses with
`MissingDaysError`, a `DataQualityError` (a bad-data failure, no retry), naming the days.

What counts as missing, between the start of history and the newest day a build reads:
- an events partition of a day a feature window reads that holds no data file;
- a customers snapshot the build reads that holds no data file. Scoring D reads the snapshot
  of D only (its absence is waited for by the sensor, and refused as a missing file: with no
  snapshot there is nobody to score). A training set reads a snapshot for every day from its
  first snapshot date to the newest snapshot its labels come from (labels and purged customers'
  churn dates read the days between): a hole there would drop a training date or move a label.

The start of history is the first day the landing zone holds (events or snapshot): days before
it are no history, not missing, and read as no activity as they always were (the first dates of
a training set have windows reaching before the data starts; tenure comes from signup_date).

`nightshift quality accept DATE --missing` (`accept_missing_day`) records a day as accepted in
`data_quality_acceptances`, for the tables it lacked then. An accepted events day counts as no
activity; an accepted snapshot is one no training date falls on and whose labels the next snapshot
gives, as `label_snapshots` already reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from nightshift.contract import CUSTOMERS, EVENTS
from nightshift.landing import compact_days, first_landed_day, unlanded_days
from nightshift.quality.bad_days import RawWindow, accepted_missing
from nightshift.quality.validation import DataQualityError

log = logging.getLogger(__name__)

# Commands to paste, one per day, before "and N more".
_MAX_COMMANDS = 5
_LABELS = {EVENTS: "events", CUSTOMERS: "customers snapshots"}


@dataclass(frozen=True)
class MissingDay:
    """A day the window reads whose partitions of `tables` (events, customers) hold no data file."""

    day: date
    tables: tuple[str, ...]


class MissingDaysError(DataQualityError):
    """A build's window reads days that have not landed and nobody accepted as days of no activity."""

    def __init__(self, message: str, missing: Sequence[MissingDay]) -> None:
        super().__init__(message)
        self.missing: list[MissingDay] = list(missing)


def unlanded(root: Path, window: RawWindow) -> list[MissingDay]:
    """The days of `window` from the start of history on whose events or snapshot has not landed, oldest first."""
    start = first_landed_day(root)
    if start is None:
        return []
    first = max(start, window.events_from)
    events = unlanded_days(root, EVENTS, [first + timedelta(days=i) for i in range((window.events_to - first).days + 1)])
    snapshots = unlanded_days(root, CUSTOMERS, [d for d in window.snapshots if d >= start])
    days = sorted({*events, *snapshots})
    return [MissingDay(d, tuple(t for t, got in ((EVENTS, events), (CUSTOMERS, snapshots)) if d in got)) for d in days]


def _not_accepted(url: str | None, missing: list[MissingDay]) -> list[MissingDay]:
    """`missing` less what was accepted; without a warehouse nothing can have been."""
    if not missing or url is None:
        return missing
    accepted = accepted_missing(url, [m.day for m in missing])
    left = [MissingDay(m.day, tuple(t for t in m.tables if t not in accepted.get(m.day, set()))) for m in missing]
    read_as_none = [m.day for m in missing if m.day in accepted]
    if read_as_none:
        log.warning("reading %s as accepted missing days (no activity)", compact_days(read_as_none))
    return [m for m in left if m.tables]


def refusal_message(what: str, root: Path, window: RawWindow, missing: Sequence[MissingDay]) -> str:
    """Why `what` does not run, the days by table, and the two ways out."""
    start = first_landed_day(root) or window.events_from
    # The window as far as history goes: what was looked for.
    looked = RawWindow(max(start, window.events_from), window.events_to, tuple(d for d in window.snapshots if d >= start))
    lines = [f"refusing to {what}: its window reads days that have not landed, and nobody accepted them as days of no activity"]
    for table, label in _LABELS.items():
        days = [m.day for m in missing if table in m.tables]
        if days:
            lines.append(f"  - {label}: {compact_days(days)}")
    lines += [
        f"  window read: {looked.describe()}; history starts {start.isoformat()} in {root}",
        "a day that has not landed is not read as a day without activity. For each day, land its partitions and run again,",
        "or accept it as a day of no activity:",
    ]
    days = [m.day for m in missing]
    lines += [f'  nightshift quality accept {d.isoformat()} --missing --reason "..."' for d in days[:_MAX_COMMANDS]]
    if len(days) > _MAX_COMMANDS:
        lines.append(f"  ... and {len(days) - _MAX_COMMANDS} more days, one command each")
    return "\n".join(lines)


def require_landed(root: Path, window: RawWindow, url: str | None, what: str) -> None:
    """Raise MissingDaysError naming every day `window` reads that has not landed and is not accepted.

    The warehouse (`url`) is asked only when a day is missing; with no warehouse none is accepted.
    """
    missing = _not_accepted(url, unlanded(root, window))
    if missing:
        raise MissingDaysError(refusal_message(what, root, window, missing), missing)
    log.info("every day of %s has landed or is accepted as missing", window.describe())
