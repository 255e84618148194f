"""Tiny hand-built landing-zone frames with the raw data contract's exact types (nightshift.contract)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

EVENTS_DDL = "customer_id long, event_date date, sessions int, minutes double, support_tickets int, failed_payments int"
CUSTOMERS_DDL = "snapshot_date date, customer_id long, signup_date date, plan string, region string, monthly_fee double, churn_date date"


def day(base: date, offset: int) -> date:
    return base + timedelta(days=offset)


def event(
    customer_id: int,
    event_date: date,
    sessions: int = 1,
    minutes: float = 1.0,
    tickets: int = 0,
    failed: int = 0,
) -> tuple[Any, ...]:
    return (customer_id, event_date, sessions, minutes, tickets, failed)


def customer(
    snapshot_date: date,
    customer_id: int,
    signup_date: date,
    plan: str = "basic",
    region: str = "north",
    monthly_fee: float = 9.99,
    churn_date: date | None = None,
) -> tuple[Any, ...]:
    return (snapshot_date, customer_id, signup_date, plan, region, monthly_fee, churn_date)


def events_frame(spark, rows: Iterable[tuple[Any, ...]]):
    return spark.createDataFrame(list(rows), EVENTS_DDL)


def customers_frame(spark, rows: Iterable[tuple[Any, ...]]):
    return spark.createDataFrame(list(rows), CUSTOMERS_DDL)


def by_key(frame) -> dict[tuple[date, int], dict[str, Any]]:
    """Collected rows keyed on (as_of_date, customer_id); fails on duplicate keys."""
    out: dict[tuple[date, int], dict[str, Any]] = {}
    for row in frame.collect():
        key = (row["as_of_date"], row["customer_id"])
        assert key not in out, f"duplicate row for {key}"
        out[key] = row.asDict()
    return out
