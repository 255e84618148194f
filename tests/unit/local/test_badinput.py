"""Each bad-input kind damages exactly its day, in exactly its way."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nightshift.local.badinput import BAD_KINDS, corrupt_day
from nightshift.local.generate import generate

pytestmark = pytest.mark.unit

START = date(2026, 1, 1)
DAY = date(2026, 1, 5)


@pytest.fixture()
def zone(tmp_path: Path) -> Path:
    generate(tmp_path / "raw", customers=60, days=6, start_date=START, seed=2)
    return tmp_path / "raw"


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))}


def _events(root: Path) -> pa.Table:
    return pq.read_table(root / "events" / f"event_date={DAY}")


def _customers(root: Path) -> pa.Table:
    return pq.read_table(root / "customers" / f"snapshot_date={DAY}")


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_only_the_named_day_changes(kind: str, zone: Path) -> None:
    before = _digest(zone)
    corrupt_day(zone, DAY, kind)
    after = _digest(zone)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed, f"{kind} changed nothing"
    assert all(f"={DAY.isoformat()}/" in k for k in changed), changed


def test_each_kind_makes_its_defect(zone: Path) -> None:
    rows = _events(zone).num_rows
    ids = set(_customers(zone).column("customer_id").to_pylist())

    # First, while the day's ids are still distinct: the kinds below overwrite some of them.
    corrupt_day(zone, DAY, "duplicate_event")
    event_ids = _events(zone).column("customer_id").to_pylist()
    assert len(event_ids) == rows + 2 and len(set(event_ids)) == rows
    rows = len(event_ids)
    corrupt_day(zone, DAY, "negative_minutes")
    assert min(_events(zone).column("minutes").to_pylist()) < 0
    corrupt_day(zone, DAY, "null_customer_id")
    assert _events(zone).column("customer_id").null_count > 0
    corrupt_day(zone, DAY, "unknown_customer")
    assert set(_events(zone).column("customer_id").drop_null().to_pylist()) - ids
    corrupt_day(zone, DAY, "wrong_type")
    assert _events(zone).schema.field("minutes").type == pa.string()
    corrupt_day(zone, DAY, "missing_column")
    assert "sessions" not in _events(zone).column_names
    corrupt_day(zone, DAY, "row_count_collapse")
    assert 0 < _events(zone).num_rows <= max(1, rows // 10)
    corrupt_day(zone, DAY, "empty_day")
    assert _events(zone).num_rows == 0
    corrupt_day(zone, DAY, "missing_day")
    assert not (zone / "events" / f"event_date={DAY}").exists()

    corrupt_day(zone, DAY, "duplicate_customer")
    customer_ids = _customers(zone).column("customer_id").to_pylist()
    assert len(customer_ids) > len(set(customer_ids))
    corrupt_day(zone, DAY, "unknown_plan")
    assert "platinum" in _customers(zone).column("plan").to_pylist()


def test_unknown_kind_is_refused(zone: Path) -> None:
    with pytest.raises(ValueError, match="unknown bad-input kind 'typo'"):
        corrupt_day(zone, DAY, "typo")


def test_missing_partition_is_named(zone: Path) -> None:
    with pytest.raises(FileNotFoundError, match="event_date=2030-01-01"):
        corrupt_day(zone, date(2030, 1, 1), "negative_minutes")
