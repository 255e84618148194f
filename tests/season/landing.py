"""The season's landing zone: the generator's days staged aside, landed one night at a time."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

PARTITIONS = (("events", "event_date"), ("customers", "snapshot_date"))


def partition(root: Path, table: str, key: str, day: date) -> Path:
    return root / table / f"{key}={day.isoformat()}"


def land(stage: Path, raw: Path, day: date) -> None:
    """Copy one day's events and customers partitions from the staged data into the landing zone."""
    for table, key in PARTITIONS:
        target = partition(raw, table, key, day)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Land into a hidden folder, then rename: a reader never sees half a partition.
        tmp = target.parent / f".{target.name}.landing"
        shutil.copytree(partition(stage, table, key, day), tmp)
        tmp.rename(target)


def land_history(stage: Path, raw: Path, days: list[date]) -> None:
    for day in days:
        land(stage, raw, day)


def active_customers(raw: Path, day: date) -> int:
    """Customers active on `day` by its landed snapshot (signed up, not churned): who scoring must cover."""
    snapshot = ds.dataset(partition(raw, "customers", "snapshot_date", day), format="parquet").to_table(
        columns=["signup_date", "churn_date"]
    )
    signed_up = pc.less_equal(snapshot["signup_date"], pa.scalar(day, type=snapshot["signup_date"].type))
    active = pc.and_(signed_up, pc.is_null(snapshot["churn_date"]))
    return int(pc.sum(pc.cast(active, "int64")).as_py() or 0)
