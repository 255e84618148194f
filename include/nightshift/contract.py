"""The raw data contract in one place: the landing zone's tables, columns, types, vocabularies and paths.

Parquet, Hive-partitioned by date under the data root: the date lives in the folder name
(`events/event_date=YYYY-MM-DD/`, `customers/snapshot_date=YYYY-MM-DD/`), not in the files.
The generator writes this, the quality suites check it and the feature jobs read it; each
takes its names from here. Nothing heavy is imported at module level (DAG files reach it).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

EVENTS = "events"
CUSTOMERS = "customers"
EVENTS_PARTITION = "event_date"
CUSTOMERS_PARTITION = "snapshot_date"

PLANS: tuple[str, ...] = ("basic", "standard", "premium")
REGIONS: tuple[str, ...] = ("north", "south", "east", "west")

# Columns inside the files (the partition column comes from the folder), as Arrow type names.
EVENTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_id", "int64"),
    ("sessions", "int32"),
    ("minutes", "float64"),
    ("support_tickets", "int32"),
    ("failed_payments", "int32"),
)
CUSTOMERS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_id", "int64"),
    ("signup_date", "date32"),
    ("plan", "string"),
    ("region", "string"),
    ("monthly_fee", "float64"),
    ("churn_date", "date32"),
)


def events_partition(root: Path, day: date) -> Path:
    """The folder of `day`'s events under the landing zone `root`."""
    return Path(root) / EVENTS / f"{EVENTS_PARTITION}={day.isoformat()}"


def customers_partition(root: Path, day: date) -> Path:
    """The folder of `day`'s customers snapshot under the landing zone `root`."""
    return Path(root) / CUSTOMERS / f"{CUSTOMERS_PARTITION}={day.isoformat()}"


def _arrow_schema(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in columns])


def events_file_schema() -> pa.Schema:
    """The Arrow schema of an events Parquet file."""
    return _arrow_schema(EVENTS_COLUMNS)


def customers_file_schema() -> pa.Schema:
    """The Arrow schema of a customers snapshot Parquet file."""
    return _arrow_schema(CUSTOMERS_COLUMNS)
