"""The morning deadline's callback: a nightly_scoring run past ``scoring.publish_by`` is a recorded, logged miss.

Airflow's scheduler checks deadline alerts (``DeadlineAlert`` on the DAG) and, for a run not succeeded by its
deadline (still waiting for a late day, slow, or failed), queues this callback; the triggerer runs it. It records
the miss in the warehouse's ``deadline_misses``, logs it at ERROR and, when ``scoring.publish_by`` names one,
calls a team's Airflow notifier and POSTs it to a webhook connection. Neither is required.

Only the standard library at the top: the DAG file names this module, and Airflow imports it when the DAG is parsed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

log = logging.getLogger(__name__)

# A task in one of these states is done; any other (running, waiting, failed, not yet run) is what the deadline found.
_DONE = {"success", "skipped"}


async def deadline_missed(context: dict[str, Any]) -> dict[str, Any]:
    """The ``AsyncCallback`` the triggerer awaits with the scheduler's context (the run and its deadline)."""
    import asyncio

    # Database, files and HTTP are blocking: off the triggerer's event loop.
    return await asyncio.to_thread(handle_miss, context)


def _when(value: Any) -> dt.datetime:
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def miss_of(context: dict[str, Any], states: dict[str, str | None], missing: str) -> Any:
    """The :class:`DeadlineMiss` the callback's ``context`` and the run's task ``states`` describe."""
    from nightshift.warehouse.deadlines import DeadlineMiss

    run = context["dag_run"]
    chosen = (run.get("conf") or {}).get("score_date")
    # The scored day: the trigger form's score_date, else the logical date (a scheduled run's day).
    day = dt.date.fromisoformat(chosen) if chosen else _when(run["logical_date"]).date()
    unfinished = tuple(f"{task}: {state or 'not started'}" for task, state in sorted(states.items()) if state not in _DONE)
    return DeadlineMiss(
        day, run["dag_id"], run["dag_run_id"], _when(context["deadline"]["deadline_time"]), str(run.get("state")), unfinished, missing
    )


def _task_states(dag_id: str, run_id: str) -> dict[str, str | None]:
    """The run's task states, asked of Airflow through the triggerer's own channel (no metadata-database access)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    return dict(RuntimeTaskInstance.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id) or {})


def _landing(day: dt.date) -> str:
    from nightshift.config import data_dir
    from nightshift.landing import missing_partitions

    missing = missing_partitions(data_dir(), day)
    return f"not landed: {', '.join(map(str, missing))}" if missing else f"{day} had landed"


def handle_miss(context: dict[str, Any]) -> dict[str, Any]:
    """Record, log and announce one miss; a failing notifier or webhook fails the callback after the miss is stored."""
    import dataclasses

    from nightshift.airflow.context import warehouse_url
    from nightshift.config import load_params
    from nightshift.warehouse.deadlines import record_miss

    run = context["dag_run"]
    miss = miss_of(context, _task_states(run["dag_id"], run["dag_run_id"]), "")
    miss = dataclasses.replace(miss, missing=_landing(miss.score_date))
    recorded = record_miss(warehouse_url(), miss)
    log.error("DEADLINE MISSED: %s", miss.describe())
    settings = load_params()["scoring"]["publish_by"]
    payload = {**{k: str(v) for k, v in miss.__dict__.items()}, "unfinished": list(miss.unfinished), "description": miss.describe()}
    if settings.get("notifier"):
        _notify(settings["notifier"], settings.get("notifier_kwargs") or {}, context, payload)
    if settings.get("webhook_conn_id"):
        _post(settings["webhook_conn_id"], payload)
    return {"recorded": recorded, "score_date": str(miss.score_date)}


def _notify(path: str, kwargs: dict[str, Any], context: dict[str, Any], payload: dict[str, Any]) -> None:
    """Call the Airflow notifier class at ``path``; its templated arguments see ``miss`` (e.g. ``{{ miss.description }}``)."""
    from airflow.sdk._shared.module_loading import import_string
    from airflow.sdk.bases.notifier import BaseNotifier

    notifier_class = import_string(path)
    if not (isinstance(notifier_class, type) and issubclass(notifier_class, BaseNotifier)):
        raise TypeError(f"scoring.publish_by.notifier: {path} is not an Airflow notifier class (a BaseNotifier)")
    notifier_class(**kwargs)({**context, "miss": payload})


def _post(conn_id: str, payload: dict[str, Any]) -> None:
    """POST the miss as JSON to the URL in the connection's host (with its port and path when given apart)."""
    import httpx
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    url = conn.host if "://" in (conn.host or "") else conn.get_uri()
    if not url:
        raise ValueError(f"scoring.publish_by.webhook_conn_id: the connection {conn_id!r} has no host (the webhook URL)")
    response = httpx.post(url, json=payload, timeout=30)
    response.raise_for_status()
