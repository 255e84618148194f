"""Data freshness: a training run refuses a landing zone whose newest day is too old for the day it trains as of.

A weekly run unpaused after months of a broken feed would otherwise train on whatever was last
landed and register it as this week's model. The newest landed day is the newest day on or before
the training day holding both an events partition and a customers snapshot (folder listings only,
no file is opened); more than `train.max_staleness_days` between it and the training day refuses
the run, naming both days and the gap. Not the drift policy's label freshness (drift section of
params.yaml), which asks whether labels newer than the champion's training set exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from nightshift.contract import CUSTOMERS, CUSTOMERS_PARTITION, EVENTS, EVENTS_PARTITION
from nightshift.landing import describe_landing_zone, landed_days, missing_partitions

GUARD = "data_freshness"


class StaleDataError(ValueError):
    """The newest landed day is older than a training run allows: bad data, not worth a retry."""

    def __init__(self, message: str, freshness: Freshness) -> None:
        super().__init__(message)
        self.freshness = freshness


@dataclass(frozen=True)
class Freshness:
    """The data freshness guard's inputs and what it found; `newest_landed_day` None when nothing landed."""

    newest_landed_day: date | None
    as_of: date
    max_staleness_days: int

    @property
    def gap_days(self) -> int | None:
        return None if self.newest_landed_day is None else (self.as_of - self.newest_landed_day).days

    def tags(self) -> dict[str, str]:
        """What an MLflow run records of the guard."""
        return {
            "guard": GUARD,
            "guard.newest_landed_day": "none" if self.newest_landed_day is None else self.newest_landed_day.isoformat(),
            "guard.as_of": self.as_of.isoformat(),
            "guard.gap_days": "" if self.gap_days is None else str(self.gap_days),
            "guard.max_staleness_days": str(self.max_staleness_days),
        }

    def as_dict(self) -> dict[str, Any]:
        return {"guard": GUARD, **{k.removeprefix("guard."): v for k, v in self.tags().items() if k != "guard"}}


def max_staleness_days(params: dict[str, Any]) -> int:
    """`train.max_staleness_days` of params.yaml, a whole number of days >= 0."""
    value = params.get("train", {}).get("max_staleness_days")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"params.yaml train.max_staleness_days must be a whole number of days >= 0, got {value!r}")
    return value


def check_freshness(newest_landed_day: date | None, as_of: date, max_days: int) -> Freshness:
    """The guard itself: returns what it found, or raises StaleDataError naming both days and the gap."""
    found = Freshness(newest_landed_day, as_of, max_days)
    if newest_landed_day is None:
        raise StaleDataError(
            f"data freshness guard: no day on or before {as_of.isoformat()} (the day this run trains as of) holds both "
            "events and a customers snapshot, so there is nothing fresh to train on",
            found,
        )
    gap = found.gap_days
    if gap is not None and gap > max_days:
        raise StaleDataError(
            f"data freshness guard: the newest landed day {newest_landed_day.isoformat()} is {gap} days before "
            f"{as_of.isoformat()}, the day this run trains as of; train.max_staleness_days allows {max_days}. "
            "Land the missing days, or train as of a landed day (trigger form: as_of)",
            found,
        )
    return found


def newest_landed_day(root: Path, on_or_before: date) -> date | None:
    """The newest day up to `on_or_before` whose events and customers partitions both hold a data file, or None.

    A partition still being written (only a writer's temporary files) has not landed, as for nightly_scoring.
    """
    both = set(landed_days(root, EVENTS, EVENTS_PARTITION)) & set(landed_days(root, CUSTOMERS, CUSTOMERS_PARTITION))
    for day in sorted((d for d in both if d <= on_or_before), reverse=True):
        if not missing_partitions(root, day):
            return day
    return None


def require_fresh(root: Path, as_of: date, max_days: int) -> Freshness:
    """The guard on the landing zone `root`; the error also says what the landing zone holds."""
    try:
        return check_freshness(newest_landed_day(root, as_of), as_of, max_days)
    except StaleDataError as stale:
        raise StaleDataError(f"{stale}. {describe_landing_zone(root)}", stale.freshness) from None
