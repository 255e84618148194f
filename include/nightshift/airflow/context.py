"""What an Airflow task needs from its context and connections, kept out of the DAG files."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "warehouse"


def run_date(context: dict[str, Any]) -> date:
    """The run's date: its logical date, or when it was due for runs triggered without one."""
    logical = context.get("logical_date")
    if logical is None:
        logical = context["dag_run"].run_after
    # A plain date: pendulum's Date subclass is refused by Spark's schema verifier.
    return date(logical.year, logical.month, logical.day)


def default_args(owner: str = "ml-platform") -> dict[str, Any]:
    """Task defaults every DAG shares; NIGHTSHIFT_RETRY_DELAY_SECONDS shortens retries in tests."""
    return {
        "owner": owner,
        "retries": 1,
        "retry_delay": timedelta(seconds=int(os.environ.get("NIGHTSHIFT_RETRY_DELAY_SECONDS", "120"))),
    }


@contextmanager
def final_on_bad_data() -> Iterator[None]:
    """Turn a failed quality gate into a task failure without retries: bad data stays bad on retry."""
    from airflow.sdk.exceptions import AirflowFailException

    from nightshift.quality.validation import DataQualityError

    try:
        yield
    except DataQualityError as error:
        raise AirflowFailException(str(error)) from error


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The warehouse's URL from its Airflow connection; a missing connection fails the task.

    No fallback: a misnamed connection or a secrets backend that is down must not publish
    scores somewhere else. Local mode defines the connection in the environment.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id).get_uri()
    except AirflowNotFoundException as exc:
        raise AirflowNotFoundException(
            f"Airflow connection {conn_id!r} (the scores warehouse) is not defined: create it in the UI or a "
            f"secrets backend, or set AIRFLOW_CONN_{conn_id.upper()}"
        ) from exc
