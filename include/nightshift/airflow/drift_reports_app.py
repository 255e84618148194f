"""The drift reports (one page per scored date) as a web app for the Airflow API server.

Behind the same login and permission as the data docs: the reports show the day's feature
distributions, which the task logs of drift_monitor show too.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from nightshift.airflow.data_docs_app import NO_API_DOCS, require_task_log_reader


def report_index(root: Path) -> str:
    """Every date with a finished report, newest first."""
    # Listed when asked, not written by the monitor: a report folder removed by hand just drops out,
    # and a folder whose index.html is not written yet (a report in progress) is not listed.
    days = sorted((p.name.split("=", 1)[1] for p in root.glob("score_date=*") if (p / "index.html").exists()), reverse=True)
    items = "".join(f'<li><a href="score_date={html.escape(d)}/index.html">{html.escape(d)}</a></li>' for d in days)
    return f"<!doctype html><title>Drift reports</title><h1>Drift reports</h1><ul>{items or '<li>none yet</li>'}</ul>"


def drift_reports_app(root: Path) -> FastAPI:
    app = FastAPI(title="nightshift drift reports", dependencies=[Depends(require_task_log_reader)], **NO_API_DOCS)
    # check_dir=False: the folder appears with the first drift_monitor run, after the server starts.
    files = StaticFiles(directory=str(root), html=True, check_dir=False)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return report_index(root)

    # A route, not app.mount(): a mount would skip the app's login dependency (see data_docs_app).
    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def page(request: Request) -> Response:
        return await files.get_response(files.get_path(request.scope), request.scope)

    return app
