"""Deliberately bad landing-zone days, one kind at a time, to reproduce each quality failure.

`corrupt_day` rewrites one day's events partition or customers snapshot of an existing
landing zone in place; every other day stays as it was.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nightshift.contract import customers_partition, events_partition


def _rewrite(folder: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(f"no partition to corrupt at {folder}")
    table = change(pq.read_table(folder))
    shutil.rmtree(folder)
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-0.parquet")


def _set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), pa.field(name, values.type), values)


def _first_rows(table: pa.Table, name: str, value, count: int = 3) -> pa.Table:
    column = table.column(name).to_pylist()
    for i in range(min(count, len(column))):
        column[i] = value
    field = table.schema.field(name)
    return _set_column(table, name, pa.array(column, type=field.type))


def negative_minutes(root: Path, day: date) -> None:
    _rewrite(events_partition(root, day), lambda t: _first_rows(t, "minutes", -12.5))


def null_customer_id(root: Path, day: date) -> None:
    _rewrite(events_partition(root, day), lambda t: _first_rows(t, "customer_id", None))


def unknown_customer(root: Path, day: date) -> None:
    _rewrite(events_partition(root, day), lambda t: _first_rows(t, "customer_id", 9_999_999_999))


def missing_column(root: Path, day: date) -> None:
    _rewrite(events_partition(root, day), lambda t: t.drop_columns(["sessions"]))


def wrong_type(root: Path, day: date) -> None:
    # minutes as text, as a CSV export gone wrong would land it.
    _rewrite(events_partition(root, day), lambda t: _set_column(t, "minutes", pc.cast(t.column("minutes"), pa.string())))


def missing_day(root: Path, day: date) -> None:
    folder = events_partition(root, day)
    if not folder.is_dir():
        raise FileNotFoundError(f"no partition to remove at {folder}")
    shutil.rmtree(folder)


def empty_day(root: Path, day: date) -> None:
    _rewrite(events_partition(root, day), lambda t: t.slice(0, 0))


def duplicate_customer(root: Path, day: date) -> None:
    _rewrite(customers_partition(root, day), lambda t: pa.concat_tables([t, t.slice(0, 2)]))


def duplicate_event(root: Path, day: date) -> None:
    # A feed replayed in part: two customers have two rows for the day, and each would count twice in every window.
    _rewrite(events_partition(root, day), lambda t: pa.concat_tables([t, t.slice(0, 2)]))


def unknown_plan(root: Path, day: date) -> None:
    _rewrite(customers_partition(root, day), lambda t: _first_rows(t, "plan", "platinum", count=2))


def row_count_collapse(root: Path, day: date) -> None:
    # A feed that lands a tenth of the day: still valid rows, far too few of them.
    _rewrite(events_partition(root, day), lambda t: t.slice(0, max(1, t.num_rows // 10)))


BAD_KINDS: dict[str, Callable[[Path, date], None]] = {
    "negative_minutes": negative_minutes,
    "null_customer_id": null_customer_id,
    "unknown_customer": unknown_customer,
    "missing_column": missing_column,
    "wrong_type": wrong_type,
    "missing_day": missing_day,
    "empty_day": empty_day,
    "duplicate_customer": duplicate_customer,
    "duplicate_event": duplicate_event,
    "unknown_plan": unknown_plan,
    "row_count_collapse": row_count_collapse,
}


def corrupt_day(root: Path, day: date, kind: str) -> None:
    """Make `day` of the landing zone at `root` bad in the way `kind` names."""
    if kind not in BAD_KINDS:
        raise ValueError(f"unknown bad-input kind {kind!r}; choose from {', '.join(BAD_KINDS)}")
    BAD_KINDS[kind](root, day)
