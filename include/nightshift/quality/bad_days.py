"""Raw days that failed validation: a build refuses to read one until it is fixed or accepted.

The raw gate checks one day, but the features of a day read 90 days of events and a training
set reads months. A failed day stays in the landing zone (quarantine is a copy), so without
this it would flow into every later window. `data_quality_runs` already holds every raw
validation, keyed on the partition's day (`raw_events` for the events partition, `raw_customers`
for the customers snapshot); the newest row of each (day, suite) decides:

- failed, and no acceptance covers it: unresolved. A build whose window reads that partition
  refuses with `UnresolvedBadDaysError`, a `DataQualityError`, so the task fails without retries;
- passed: the partition was fixed and validated again, resolved;
- accepted (`accept_day`: a `data_quality_acceptances` row with a reason): resolved, until a
  later validation of the day fails again, which is a new failure nobody accepted.

A day with no validation on record (history landed before the gate ran) is not refused: there is
no verdict to go on. Only raw suites count: a failed `features` or `training_set` validation is
about a derived output, not about a partition other windows read.

The same table records days that never landed, accepted as days of no activity
(`accept_missing_day`, read by nightshift.quality.missing_days): such a row names the tables the
day lacked in `missing_partitions` and covers no validation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from nightshift.contract import CUSTOMERS, EVENTS, customers_partition, events_partition
from nightshift.landing import first_landed_day, unlanded_days
from nightshift.quality.audit import LOCK_NAMESPACE as QUALITY_LOCK_NAMESPACE
from nightshift.quality.audit import QUALITY, QUALITY_TABLE
from nightshift.quality.validation import CUSTOMERS_SUITE, EVENTS_SUITE, FILE_CHECKS, DataQualityError
from nightshift.warehouse.connection import connect
from nightshift.warehouse.ddl import Table, ensure_tables

log = logging.getLogger(__name__)

ACCEPTANCE_TABLE = "data_quality_acceptances"
ACCEPTANCES = Table(
    ACCEPTANCE_TABLE,
    (
        "id               bigserial   PRIMARY KEY",
        "logical_date     date        NOT NULL",
        # The newest data_quality_runs id the acceptance covers: a later failure is not accepted.
        "accepted_through bigint      NOT NULL",
        "reason           text        NOT NULL",
        "accepted_by      text        NOT NULL",
        "accepted_at      timestamptz NOT NULL DEFAULT now()",
        # A day that never landed accepted as no activity: the tables it lacked (events, customers);
        # accepted_through is then 0. Appended: added to warehouses created before it.
        "missing_partitions text[]",
    ),
    indexes=((f"{ACCEPTANCE_TABLE}_date", f"{ACCEPTANCE_TABLE} (logical_date)"),),
)

# The tables each day was accepted as missing for (acceptances of failed validations have none).
_ACCEPTED_MISSING = f"""
SELECT logical_date, array_agg(DISTINCT missing ORDER BY missing)
FROM {ACCEPTANCE_TABLE}, unnest(missing_partitions) AS missing
WHERE logical_date = ANY(%s::date[])
GROUP BY logical_date
"""

# The newest raw validation of each (day, suite) in the window, kept when it failed and no
# acceptance covers it. One query for the whole window, whatever its length.
_UNRESOLVED = f"""
WITH latest AS (
    SELECT DISTINCT ON (logical_date, suite) id, logical_date, suite, success, failed_expectations, quarantine_path
    FROM {QUALITY_TABLE}
    WHERE (suite = %(events)s AND logical_date BETWEEN %(events_from)s AND %(events_to)s)
       OR (suite = %(customers)s AND logical_date = ANY(%(snapshots)s::date[]))
    ORDER BY logical_date, suite, id DESC
)
SELECT id, logical_date, suite, failed_expectations, quarantine_path
FROM latest
WHERE NOT success
  AND NOT EXISTS (
      SELECT 1 FROM {ACCEPTANCE_TABLE} a
      WHERE a.logical_date = latest.logical_date AND a.accepted_through >= latest.id AND a.missing_partitions IS NULL
  )
ORDER BY logical_date, suite
"""


@dataclass(frozen=True)
class RawWindow:
    """The raw partitions a build reads: events of events_from..events_to and these customers snapshots."""

    events_from: date
    events_to: date
    snapshots: tuple[date, ...]

    def describe(self) -> str:
        days = sorted(self.snapshots)
        # A training set reads a snapshot a day for months: name the span, not every day.
        snapshots = (
            ", ".join(d.isoformat() for d in days)
            if len(days) <= 5
            else f"{days[0].isoformat()}..{days[-1].isoformat()} ({len(days)} days)"
        )
        plural = "s" if len(days) > 1 else ""
        return f"events {self.events_from.isoformat()}..{self.events_to.isoformat()}, customers snapshot{plural} {snapshots}"


@dataclass(frozen=True)
class BadDay:
    """One unresolved failed validation: the day, the suite, what failed, where the copy went."""

    day: date
    suite: str
    run_id: int
    failed: tuple[str, ...]
    quarantine_path: str | None

    def describe(self) -> str:
        where = f" (quarantined copy: {self.quarantine_path})" if self.quarantine_path else ""
        return f"{self.day.isoformat()} {self.suite}: {'; '.join(self.failed) or 'failed'}{where}"


class UnresolvedBadDaysError(DataQualityError):
    """A build's window reads raw days whose failed validation is neither fixed nor accepted."""

    def __init__(self, message: str, bad_days: Sequence[BadDay]) -> None:
        super().__init__(message)
        self.bad_days: list[BadDay] = list(bad_days)


def _what_failed(entry: dict[str, Any]) -> str:
    if entry.get("expectation") in FILE_CHECKS:  # found on the files: `observed` names the partition or file
        return f"{entry.get('expectation')}: {entry.get('observed')}"
    column = entry.get("column")
    return f"{entry.get('expectation')}(column={column})" if column else str(entry.get("expectation"))


def _unresolved(cur: Any, window: RawWindow) -> list[BadDay]:
    cur.execute(
        _UNRESOLVED,
        {
            "events": EVENTS_SUITE,
            "customers": CUSTOMERS_SUITE,
            "events_from": window.events_from,
            "events_to": window.events_to,
            "snapshots": [d.isoformat() for d in window.snapshots],
        },
    )
    bad = []
    for run_id, day, suite, failed, quarantine_path in cur.fetchall():
        entries = failed if isinstance(failed, list) else json.loads(failed or "[]")
        bad.append(BadDay(day, suite, int(run_id), tuple(_what_failed(e) for e in entries), quarantine_path))
    return bad


def _create_tables(cur: Any) -> list[str]:
    # Catalog first: a complete schema runs no DDL, so an idle reader of these tables cannot stall a run.
    return ensure_tables(cur, (QUALITY, ACCEPTANCES), QUALITY_LOCK_NAMESPACE)


def ensure_quality_schema(url: str) -> list[str]:
    """Create what is missing of data_quality_runs and data_quality_acceptances; return what was done."""
    with connect(url) as conn, conn.cursor() as cur:
        return _create_tables(cur)


def unresolved_bad_days(url: str, window: RawWindow) -> list[BadDay]:
    """Raw days of `window` whose newest validation failed and is not accepted, oldest first."""
    with connect(url) as conn, conn.cursor() as cur:
        _create_tables(cur)
        return _unresolved(cur, window)


def refusal_message(what: str, window: RawWindow, bad_days: Sequence[BadDay]) -> str:
    """Why `what` does not run, and the two ways to resolve each day."""
    days = sorted({b.day for b in bad_days})
    lines = [
        f"refusing to {what}: it reads raw data that failed validation and is not resolved",
        *(f"  - {b.describe()}" for b in bad_days),
        f"  window read: {window.describe()}",
        "resolve each day, then run again:",
    ]
    for day in days:
        d = day.isoformat()
        lines += [
            f"  {d}: fix its partitions and validate again (`nightshift quality validate {d}`, or re-run nightly_scoring "
            f"for {d}): a passing validation resolves it;",
            f'  {" " * len(d)}  or accept it as it is: `nightshift quality accept {d} --reason "..."`',
        ]
    return "\n".join(lines)


def require_resolved(url: str, window: RawWindow, what: str) -> None:
    """Raise UnresolvedBadDaysError naming every unresolved failed day `window` reads."""
    bad = unresolved_bad_days(url, window)
    if bad:
        raise UnresolvedBadDaysError(refusal_message(what, window, bad), bad)
    log.info("no unresolved failed raw day in %s", window.describe())


def accept_day(url: str, day: date, reason: str, accepted_by: str) -> list[BadDay]:
    """Accept `day`'s unresolved failed validations as they are; returns what was accepted.

    The day's data stays as it landed and windows that read it build again. The acceptance
    covers the failures on record now: a later failed validation of the day needs its own.
    """
    if not reason.strip():
        raise ValueError("an acceptance needs a reason (why the day's data is good enough as it is)")
    with connect(url) as conn, conn.cursor() as cur:
        _create_tables(cur)
        bad = _unresolved(cur, RawWindow(day, day, (day,)))
        if not bad:
            raise LookupError(f"{day.isoformat()} has no unresolved failed raw validation: nothing to accept")
        cur.execute(
            f"INSERT INTO {ACCEPTANCE_TABLE} (logical_date, accepted_through, reason, accepted_by) VALUES (%s, %s, %s, %s)",
            (day, max(b.run_id for b in bad), reason.strip(), accepted_by),
        )
    log.warning("accepted %s by %s: %s", day.isoformat(), accepted_by, reason)
    return bad


def _accepted_missing(cur: Any, days: Sequence[date]) -> dict[date, set[str]]:
    cur.execute(_ACCEPTED_MISSING, ([d.isoformat() for d in days],))
    return {day: set(tables) for day, tables in cur.fetchall()}


def accepted_missing(url: str, days: Sequence[date]) -> dict[date, set[str]]:
    """For each of `days` accepted as missing, the tables (events, customers) whose absence was accepted."""
    with connect(url) as conn, conn.cursor() as cur:
        _create_tables(cur)
        return _accepted_missing(cur, days)


def accepted_gaps(url: str, day: date, window_days: int) -> list[date]:
    """The days of the ``window_days`` ending on ``day`` that were accepted as missing (read as no activity), oldest first."""
    return sorted(accepted_missing(url, [day - timedelta(days=i) for i in range(window_days)]))


def _missing_tables(root: Path, day: date) -> tuple[str, ...]:
    """The tables whose partition of `day` has not landed; refuses a day before the start of history."""
    start = first_landed_day(root)
    if start is None:
        raise LookupError(f"{root} holds no events and no customers snapshot: nothing to accept as missing")
    if day < start:
        raise LookupError(
            f"{day.isoformat()} is before the first day of the landing zone ({start.isoformat()}): windows read days "
            "before history as no history, never as missing days; nothing to accept"
        )
    missing = [t for t in (EVENTS, CUSTOMERS) if unlanded_days(root, t, [day])]
    if not missing:
        raise LookupError(
            f"{day.isoformat()} has landed ({events_partition(root, day)} and {customers_partition(root, day)} hold data): "
            f"nothing to accept as missing. A failed validation of it is accepted without --missing: "
            f'`nightshift quality accept {day.isoformat()} --reason "..."`'
        )
    return tuple(missing)


def accept_missing_day(url: str, root: Path, day: date, reason: str, accepted_by: str) -> tuple[str, ...]:
    """Accept that `day` never landed: windows read it as a day of no activity. Returns the tables accepted as missing.

    Refused for a day that has landed (nothing is missing) or lies before the landing zone's first day
    (no history, which windows never count as missing). The acceptance covers the tables missing now:
    one that goes missing later (a snapshot deleted since) needs its own.
    """
    if not reason.strip():
        raise ValueError("an acceptance needs a reason (why the day can count as no activity)")
    missing = _missing_tables(root, day)
    with connect(url) as conn, conn.cursor() as cur:
        _create_tables(cur)
        already = _accepted_missing(cur, [day]).get(day, set())
        new = tuple(t for t in missing if t not in already)
        if not new:
            raise LookupError(f"{day.isoformat()} is already accepted as missing ({', '.join(missing)}): nothing more to accept")
        cur.execute(
            f"INSERT INTO {ACCEPTANCE_TABLE} (logical_date, accepted_through, reason, accepted_by, missing_partitions)"
            " VALUES (%s, 0, %s, %s, %s)",
            (day, reason.strip(), accepted_by, list(new)),
        )
    log.warning("accepted %s as missing (%s) by %s: %s", day.isoformat(), ", ".join(new), accepted_by, reason)
    return new
