"""What an Airflow task needs from its context and connections, kept out of the DAG files; the warehouse for the commands too."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from nightshift.config import LOCAL_DEFAULTS_VAR, MissingSettingError, execution_timeout, local_defaults_allowed

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "warehouse"
DATABASE_URL_VAR = "NIGHTSHIFT_DATABASE_URL"


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


def run_folder_name(context: dict[str, Any]) -> str:
    """A name for the folder this task attempt writes: the Airflow run id made safe for a path, and a random suffix.

    The same run id comes back (a cleared run, `airflow dags test` of one date twice), and an attempt
    must never write into a folder an earlier one published.
    """
    import re
    import secrets

    run_id = re.sub(r"[^A-Za-z0-9._-]+", "_", str(context.get("run_id") or "")).strip("._-")[:80]
    return f"{run_id or 'run'}-{secrets.token_hex(4)}"


def asset_event_extras(context: dict[str, Any], asset: Any) -> list[dict[str, Any]]:
    """The extras of the ``asset`` events that triggered this run, oldest first; [] for a run no such event triggered.

    An asset-triggered run has no logical date: what it works on comes from these, never from the clock.
    """
    events = context.get("triggering_asset_events")
    if not events:
        return []
    try:
        found = list(events[asset])
    except KeyError:
        return []
    return [dict(event.extra or {}) for event in sorted(found, key=lambda event: event.timestamp)]


def monitored_days(extras: list[dict[str, Any]], score_date: str | None) -> list[dict[str, Any]]:
    """The scoring days a drift_monitor run judges, oldest first, each as the churn_scores event described it.

    Several events can reach one run (scoring ran twice before the monitor did): every date is judged,
    and of two events for one date the newer wins (a rerun replaced the earlier scores). Without
    events, the trigger form's ``score_date``. Either way the version and folders judged are the ones
    scoring_runs recorded for the date (``nightshift.monitoring.scored_day``), which an event must agree with.
    """
    if extras:
        by_date: dict[str, dict[str, Any]] = {}
        for extra in extras:
            if not extra.get("score_date"):
                raise ValueError(f"a churn_scores event without a score_date in its extra: {extra}")
            by_date[str(extra["score_date"])] = extra
        return [by_date[d] for d in sorted(by_date)]
    if score_date:
        return [{"score_date": date.fromisoformat(score_date).isoformat()}]
    raise ValueError(
        "no churn_scores event triggered this run and no score_date was given: trigger drift_monitor with score_date "
        "set to a scored day (it never falls back to today)"
    )


def drift_trigger(context: dict[str, Any], asset: Any) -> dict[str, Any] | None:
    """The churn_drift event a train_model run answers, or None for a scheduled or plain manual run.

    From the newest triggering event of ``asset``, else from the trigger form's ``drift_event`` (an
    event's extra replayed by hand); ``source`` says which.
    """
    extras = asset_event_extras(context, asset)
    if extras:
        return {**extras[-1], "source": "asset_event"}
    replay = (context.get("params") or {}).get("drift_event")
    if replay:
        if not replay.get("score_date"):
            raise ValueError(f"drift_event needs a score_date: {replay}")
        return {**replay, "source": "replay"}
    return None


def training_date(context: dict[str, Any], trigger: dict[str, Any] | None) -> date:
    """The day train_model trains as of: a drift event's date, else the trigger form's `as_of`, else `run_date`."""
    chosen = (context.get("params") or {}).get("as_of")
    if trigger is not None:
        if chosen:
            raise ValueError(f"as_of={chosen} and a drift event (score_date {trigger['score_date']}): a drift event trains as of its day")
        return date.fromisoformat(str(trigger["score_date"]))
    return date.fromisoformat(chosen) if chosen else run_date(context)


def trigger_tags(context: dict[str, Any], trigger: dict[str, Any] | None) -> dict[str, str]:
    """MLflow run tags saying what started a training run, and for a drift-triggered one, the event."""
    import json

    if trigger is None:
        run = context.get("dag_run")
        return {"trigger": "schedule" if getattr(run, "run_type", None) == "scheduled" else "manual"}
    event = {k: v for k, v in trigger.items() if k != "source"}
    return {
        "trigger": "churn_drift",
        "trigger.source": str(trigger["source"]),
        "drift.score_date": str(trigger["score_date"]),
        "drift.reason": str(trigger.get("reason", ""))[:5000],
        "drift.columns": ",".join(trigger.get("drifted_columns") or []),
        "drift.event": json.dumps(event, sort_keys=True, default=str)[:5000],
    }


def default_args(dag_id: str, owner: str = "ml-platform") -> dict[str, Any]:
    """Task defaults every DAG shares; NIGHTSHIFT_RETRY_DELAY_SECONDS shortens retries in tests.

    Every task gets an ``execution_timeout`` (params.yaml ``airflow.execution_timeout_minutes``): a try
    that hangs fails and is retried instead of holding its worker slot forever. In Airflow 3 it bounds one
    run of the task's ``execute``, which for a sensor in reschedule mode is one poke; the sensor's own
    ``timeout`` bounds its wait as a whole.
    """
    return {
        "owner": owner,
        "retries": 1,
        "retry_delay": timedelta(seconds=int(os.environ.get("NIGHTSHIFT_RETRY_DELAY_SECONDS", "120"))),
        "execution_timeout": execution_timeout(dag_id),
    }


def in_airflow_dags_test() -> bool:
    """True in the process of ``airflow dags test``, which runs a DAG's tasks itself, without a scheduler.

    There a DAG's deadline alert cannot work, and in Airflow 3.3.2 it breaks the run: ``dags test`` builds
    its run's DAG from a fresh serialization, whose deadline alerts are not yet the database ids the run's
    end looks up, and the run that succeeded fails with ``'dict' object has no attribute 'hex'``. The DAG
    leaves its deadline out there; the scheduler, dag-processor and tasks parse it with its deadline.
    """
    import sys

    return os.path.basename(sys.argv[0]) == "airflow" and sys.argv[1:3] == ["dags", "test"]


@contextmanager
def final_on_bad_data() -> Iterator[None]:
    """Turn a failed quality gate (a day that can never land, stale data, a refused event) into a task failure without retries.

    Bad data stays bad on retry, a day that has not ended does not end sooner, a day before the first
    landed one does not land later, a stale landing zone does not fill up within a retry delay, and
    an event stays refused.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from nightshift.landing import DayCannotLandError
    from nightshift.monitoring.scored_day import RefusedEventError
    from nightshift.quality.freshness import StaleDataError
    from nightshift.quality.validation import DataQualityError

    try:
        yield
    except (DataQualityError, DayCannotLandError, StaleDataError, RefusedEventError) as error:
        raise AirflowFailException(str(error)) from error


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID, embedded: Callable[[], str] | None = None) -> str:
    """The scores warehouse as a libpq URL: the one way every task and every `nightshift` command finds it.

    The Airflow connection ``conn_id`` (AIRFLOW_CONN_WAREHOUSE or a secrets backend) or
    NIGHTSHIFT_DATABASE_URL. Both set must name one database (host, port, database name), else
    neither is used: a task and an operator's command would otherwise work on different
    warehouses. Neither set: ``embedded()`` when the caller can start a local server (only the
    local command line can) and local defaults are on, else an error naming every setting.
    """
    connection = _connection_url(conn_id)
    variable = os.environ.get(DATABASE_URL_VAR) or None
    if connection is not None and variable is not None:
        if _database(connection, f"the Airflow connection {conn_id!r}") != _database(variable, DATABASE_URL_VAR):
            raise ValueError(
                f"the scores warehouse is set twice, to different databases: the Airflow connection {conn_id!r} "
                f"(AIRFLOW_CONN_{conn_id.upper()} or a secrets backend) is {_shown(connection)} and {DATABASE_URL_VAR} is "
                f"{_shown(variable)}; unset one, or make both name the same database"
            )
        return connection  # the same database: the connection's URL carries its driver options
    if connection is not None:
        return connection
    if variable is not None:
        return variable
    if embedded is not None and local_defaults_allowed():
        return embedded()
    if local_defaults_allowed():
        why = f"only the nightshift commands start the embedded server, and only with {LOCAL_DEFAULTS_VAR} on"
    else:
        why = f"this deployment has no local default ({LOCAL_DEFAULTS_VAR}=off)"
    raise MissingSettingError(
        f"the scores warehouse is not set: define the Airflow connection {conn_id!r} (AIRFLOW_CONN_{conn_id.upper()} or "
        f"a secrets backend) or set {DATABASE_URL_VAR}; {why}"
    )


def _database(url: str, what: str) -> tuple[str, str, str]:
    """Which database a libpq URL or DSN names: host, port and database name, with libpq's defaults."""
    import psycopg2.extensions

    try:
        params = psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError as exc:
        raise ValueError(f"{what} is not a PostgreSQL URL or DSN: {_shown(url)}") from exc
    return (params.get("host", "").lower(), params.get("port") or "5432", params.get("dbname") or params.get("user", ""))


def _shown(url: str) -> str:
    """A URL for an error message: its password masked; a key=value DSN as the database it names."""
    from nightshift.warehouse.connection import redact_url

    if "://" in url:
        return redact_url(url)
    return "a key=value DSN (not shown: it may hold a password)"


def _connection_url(conn_id: str) -> str | None:
    """The connection as a libpq URL through the Postgres provider's hook, or None when it is not defined.

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
    except AirflowNotFoundException:
        return None
    driver_options = {name: str(value) for name, value in connection.extra_dejson.items() if name not in hook.ignored_extra_options}
    url = hook.sqlalchemy_url.set(drivername="postgresql").update_query_dict(driver_options)
    return url.render_as_string(hide_password=False)
