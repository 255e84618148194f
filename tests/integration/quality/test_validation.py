"""The raw data quality gate against the checked-in GX file context, on a tiny landing zone."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nightshift.quality.validation import DataQualityError, gx_context_dir, validate_raw_day
from tests.contract import CUSTOMERS_FILE_SCHEMA, EVENTS_FILE_SCHEMA

pytestmark = pytest.mark.integration

DAY = datetime.date(2026, 3, 1)


def _customers() -> list[dict[str, Any]]:
    # Arbitrary ids, as user data has; one customer already churned.
    return [
        {
            "customer_id": 100_123,
            "signup_date": datetime.date(2025, 5, 1),
            "plan": "basic",
            "region": "north",
            "monthly_fee": 9.99,
            "churn_date": None,
        },
        {
            "customer_id": 100_456,
            "signup_date": datetime.date(2025, 8, 9),
            "plan": "standard",
            "region": "south",
            "monthly_fee": 19.99,
            "churn_date": None,
        },
        {
            "customer_id": 100_789,
            "signup_date": datetime.date(2026, 2, 1),
            "plan": "premium",
            "region": "east",
            "monthly_fee": 34.99,
            "churn_date": datetime.date(2026, 2, 20),
        },
        {
            "customer_id": 101_000,
            "signup_date": datetime.date(2024, 1, 15),
            "plan": "basic",
            "region": "west",
            "monthly_fee": 9.99,
            "churn_date": None,
        },
    ]


def _events() -> list[dict[str, Any]]:
    return [
        {"customer_id": 100_123, "sessions": 3, "minutes": 41.5, "support_tickets": 0, "failed_payments": 0},
        {"customer_id": 100_456, "sessions": 1, "minutes": 5.0, "support_tickets": 1, "failed_payments": 0},
        {"customer_id": 101_000, "sessions": 0, "minutes": 0.0, "support_tickets": 0, "failed_payments": 1},
    ]


def _write(folder: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-00000.parquet")


LandingZone = Callable[..., Path]


@pytest.fixture
def landing_zone(tmp_path: Path) -> LandingZone:
    """Write one day of the raw contract under tmp_path, with optional row edits."""

    def build(
        events: list[dict[str, Any]] | None = None,
        customers: list[dict[str, Any]] | None = None,
    ) -> Path:
        root = tmp_path / "raw"
        _write(root / "events" / f"event_date={DAY.isoformat()}", _events() if events is None else events, EVENTS_FILE_SCHEMA)
        _write(
            root / "customers" / f"snapshot_date={DAY.isoformat()}", _customers() if customers is None else customers, CUSTOMERS_FILE_SCHEMA
        )
        return root

    return build


def _tracked_gx_files() -> dict[str, str]:
    context_dir = gx_context_dir()
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--others", "--cached", "--exclude-standard", "."],
            cwd=context_dir,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    return {name: hashlib.sha256((context_dir / name).read_bytes()).hexdigest() for name in listed if name}


@pytest.fixture(scope="module", autouse=True)
def gx_files_unchanged() -> Iterator[None]:
    """Every run in this module must leave the committed (non-ignored) context files as they were."""
    before = _tracked_gx_files()
    assert "great_expectations.yml" in before and "expectations/raw_events.json" in before
    yield
    assert _tracked_gx_files() == before


def _fail(root: Path) -> str:
    with pytest.raises(DataQualityError) as caught:
        validate_raw_day(DAY, root)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_clean_day_passes(landing_zone: LandingZone) -> None:
    summary = validate_raw_day(DAY, landing_zone())

    assert summary["day"] == "2026-03-01"
    assert summary["rows"] == {"events": 3, "customers": 4}
    assert set(summary["suites"]) == {"raw_events", "raw_customers"}
    for stats in summary["suites"].values():
        assert stats["success"] is True
        assert stats["failed"] == 0
        assert stats["evaluated"] > 0
    # Counts come from the checked-in suites: 5 columns x (exists, type, not null), 4 ranges, 1 referential,
    # 1 one-row-per-customer.
    assert summary["suites"]["raw_events"]["evaluated"] == 22


def test_logical_datetime_is_read_as_its_day(landing_zone: LandingZone) -> None:
    # Airflow passes datetimes; the partition folder must still be the plain date.
    logical = datetime.datetime(2026, 3, 1, 0, 0, tzinfo=datetime.UTC)

    assert validate_raw_day(logical, landing_zone())["day"] == "2026-03-01"


def test_negative_minutes_fails(landing_zone: LandingZone) -> None:
    events = _events()
    events[1]["minutes"] = -7.25

    message = _fail(landing_zone(events=events))

    assert "raw_events" in message
    assert "expect_column_values_to_be_between(column=minutes)" in message
    assert "-7.25" in message
    assert "raw_customers" not in message  # only failing suites are listed


def test_null_customer_id_fails(landing_zone: LandingZone) -> None:
    events = _events()
    events[0]["customer_id"] = None

    message = _fail(landing_zone(events=events))

    assert "raw_events" in message
    assert "expect_column_values_to_not_be_null(column=customer_id)" in message
    # Nullable integer dtypes keep the column int64, so the null is the only complaint.
    assert "expect_column_values_to_be_of_type" not in message


def test_unknown_plan_fails(landing_zone: LandingZone) -> None:
    customers = _customers()
    customers[2]["plan"] = "platinum"

    message = _fail(landing_zone(customers=customers))

    assert "raw_customers" in message
    assert "expect_column_values_to_be_in_set(column=plan)" in message
    assert "platinum" in message


def test_duplicate_customer_in_snapshot_fails(landing_zone: LandingZone) -> None:
    customers = _customers()
    customers.append(dict(customers[0], plan="premium"))

    message = _fail(landing_zone(customers=customers))

    assert "raw_customers" in message
    assert "expect_column_values_to_be_unique(column=customer_id)" in message
    assert "100123" in message


def test_two_rows_of_one_customer_in_a_day_fail_in_words(landing_zone: LandingZone) -> None:
    # Windows count a row as an active day: one row per customer per day, and the day is the folder.
    events = _events()
    events.append(dict(events[1], sessions=4, minutes=9.0))

    with pytest.raises(DataQualityError) as caught:
        validate_raw_day(DAY, landing_zone(events=events))

    message = str(caught.value)
    assert "raw_events: 1 of 22 expectations failed" in message
    assert (
        "one row per customer per day: each customer_id must appear once in the day's events "
        "[expect_column_values_to_be_unique(column=customer_id)]: 2 rows break it, e.g. [100456, 100456]"
    ) in message
    assert "raw_customers" not in message


def test_event_of_unknown_customer_fails(landing_zone: LandingZone) -> None:
    events = _events()
    events.append({"customer_id": 999_999, "sessions": 2, "minutes": 12.0, "support_tickets": 0, "failed_payments": 0})

    with pytest.raises(DataQualityError) as caught:
        validate_raw_day(DAY, landing_zone(events=events))

    message = str(caught.value)
    assert "raw_events" in message
    # In words, naming the customers, not the (id, lookup) pairs GX compared.
    assert "events for customers not in the day's customers snapshot (customer_id unknown)" in message
    assert "1 rows break it, e.g. [999999]" in message
    assert "(999999, -1)" not in message
    assert caught.value.failures == [
        {
            "suite": "raw_events",
            "expectation": "expect_column_pair_values_to_be_equal",
            "column": "customer_id",
            "rule": "events for customers not in the day's customers snapshot (customer_id unknown)",
            "unexpected_count": 1,
            "examples": [999_999],
            "observed": None,
            "bounds": None,
            "error": None,
        }
    ]


def test_missing_day_fails_naming_the_path(landing_zone: LandingZone) -> None:
    root = landing_zone()
    other_day = DAY + datetime.timedelta(days=1)

    with pytest.raises(DataQualityError) as caught:
        validate_raw_day(other_day, root)

    message = str(caught.value)
    assert str(root / "events" / "event_date=2026-03-02") in message
    assert str(root / "customers" / "snapshot_date=2026-03-02") in message


def test_empty_partition_fails_naming_the_path(landing_zone: LandingZone) -> None:
    root = landing_zone(events=[])

    message = _fail(root)

    assert f"empty partition {root / 'events' / 'event_date=2026-03-01'}" in message


def test_import_does_not_load_heavy_modules() -> None:
    # A fresh interpreter: this test process has already imported GX and pandas.
    code = (
        "import sys, nightshift.quality.validation; "
        "heavy = [m for m in ('great_expectations', 'pandas', 'pyarrow') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
