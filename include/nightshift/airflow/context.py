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
    """The day a run works on: always a day that has ended.

    A scheduled run (interval timetable) takes the last whole day of its data interval: the
    interval [D, D+1) of nightly_scoring gives D, the week ending Sunday 03:00 of train_model
    gives the Saturday. A manual run takes the logical date its trigger chose, or the day it
    was due when it has none.
    """
    run = context.get("dag_run")
    end = context.get("data_interval_end")
    if run is not None and getattr(run, "run_type", None) == "scheduled" and end is not None:
        return date(end.year, end.month, end.day) - timedelta(days=1)
    logical = context.get("logical_date")
    if logical is None:
        logical = run.run_after
    # A plain date: pendulum's Date subclass is refused by Spark's schema verifier.
    return date(logical.year, logical.month, logical.day)


def scored_day(context: dict[str, Any]) -> date:
    """The day nightly_scoring scores: the trigger form's `score_date` when set, else the run's day."""
    chosen = (context.get("params") or {}).get("score_date")
    return date.fromisoformat(chosen) if chosen else run_date(context)


def default_args(owner: str = "ml-platform") -> dict[str, Any]:
    """Task defaults every DAG shares; NIGHTSHIFT_RETRY_DELAY_SECONDS shortens retries in tests."""
    return {
        "owner": owner,
        "retries": 1,
        "retry_delay": timedelta(seconds=int(os.environ.get("NIGHTSHIFT_RETRY_DELAY_SECONDS", "120"))),
    }


@contextmanager
def final_on_bad_data() -> Iterator[None]:
    """Turn a failed quality gate (or a day that cannot have landed) into a task failure without retries.

    Bad data stays bad on retry, and a day that has not ended does not end sooner.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from nightshift.quality.landing import DayNotEndedError
    from nightshift.quality.validation import DataQualityError

    try:
        yield
    except (DataQualityError, DayNotEndedError) as error:
        raise AirflowFailException(str(error)) from error


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The warehouse as a libpq URL, from its Airflow connection through the Postgres provider's hook.

    No fallback: a misnamed connection or a secrets backend that is down must not publish
    scores somewhere else, so a missing connection fails the task naming it. Local mode
    defines the connection in the environment.

    The hook's own ``get_uri()`` keeps only ``sqlalchemy_query`` and drops the driver options
    in the extra (``sslmode``, ``sslrootcert``, ``connect_timeout``, ``options``...), which would
    quietly turn ``sslmode=verify-full`` into an unverified connection: every extra the hook
    itself passes to the driver goes into the URL's query string.
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    hook = PostgresHook(postgres_conn_id=conn_id)
    try:
        connection = hook.connection
    except AirflowNotFoundException as exc:
        raise AirflowNotFoundException(
            f"Airflow connection {conn_id!r} (the scores warehouse) is not defined: create it in the UI or a "
            f"secrets backend, or set AIRFLOW_CONN_{conn_id.upper()}"
        ) from exc
    driver_options = {name: str(value) for name, value in connection.extra_dejson.items() if name not in hook.ignored_extra_options}
    url = hook.sqlalchemy_url.set(drivername="postgresql").update_query_dict(driver_options)
    return url.render_as_string(hide_password=False)
