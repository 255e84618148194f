"""The morning page in the Airflow UI (Browse > Nightshift status), and what it reads of Airflow itself.

Behind the same login and permission as the data docs and drift reports: it names failed validations and
links to their pages. The rows come from :mod:`nightshift.monitoring.status`; this module adds the day's
nightly_scoring run and the approvals nobody has answered, read from Airflow's metadata database (the
api-server's own session; ``nightshift status`` uses the same readers in Airflow's environment).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse

from nightshift.airflow.data_docs_app import NO_API_DOCS, require_task_log_reader
from nightshift.monitoring.status import AirflowRun, Approval

SCORING_DAG = "nightly_scoring"
# Task instance states after which nobody can answer an approval any more.
_FINISHED = ("success", "failed", "skipped", "upstream_failed", "removed")
RUNS_LOOKED_AT = 500


def _run_day(conf: dict[str, Any] | None, logical_date: dt.datetime | None) -> dt.date | None:
    """The day a run works on: its trigger form's score_date (or as_of), else its logical date."""
    chosen = (conf or {}).get("score_date") or (conf or {}).get("as_of")
    if chosen:
        return dt.date.fromisoformat(str(chosen))
    return logical_date.date() if logical_date is not None else None


def scoring_runs_by_day() -> list[AirflowRun]:
    """nightly_scoring's newest runs, oldest first, each with the day it scored."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        found = session.execute(
            select(DagRun.run_id, DagRun.conf, DagRun.logical_date, DagRun.state)
            .where(DagRun.dag_id == SCORING_DAG)
            .order_by(DagRun.run_after.desc())
            .limit(RUNS_LOOKED_AT)
        ).all()
    runs = [AirflowRun(SCORING_DAG, run_id, day, str(state)) for run_id, conf, logical, state in found if (day := _run_day(conf, logical))]
    return runs[::-1]


def open_approvals() -> list[Approval]:
    """Human-in-the-loop tasks (Airflow's HITL operators) waiting for an answer, oldest first."""
    from airflow.models.dagrun import DagRun
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        found = session.execute(
            select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, HITLDetail.subject, DagRun.conf, DagRun.logical_date)
            .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
            .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
            .where(HITLDetail.responded_at.is_(None), TaskInstance.state.not_in(_FINISHED))
            .order_by(HITLDetail.created_at)
        ).all()
    return [
        Approval(dag_id, run_id, task_id, subject, _run_day(conf, logical)) for dag_id, run_id, task_id, subject, conf, logical in found
    ]


def status_page(days: int) -> str:
    """The page's HTML for the ``days`` most recent days."""
    from nightshift.airflow.context import warehouse_url
    from nightshift.config import data_dir, mlflow_ui_url
    from nightshift.monitoring.status import newest_recorded_day, read_facts, recent_days, render_html, status_rows

    url, root = warehouse_url(), data_dir()
    shown = recent_days(root, newest_recorded_day(url), dt.datetime.now(dt.UTC).date(), days)
    approvals = open_approvals()
    rows = status_rows(shown, root, read_facts(url, shown), scoring_runs_by_day(), approvals, mlflow_ui_url())
    return render_html(rows, approvals)


def status_app() -> FastAPI:
    app = FastAPI(title="nightshift status", dependencies=[Depends(require_task_log_reader)], **NO_API_DOCS)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(days: int = Query(14, ge=1, le=366)) -> str:
        # A plain def: FastAPI runs it in a worker thread, so the database reads never block the server's loop.
        return status_page(days)

    return app
