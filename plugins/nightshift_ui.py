"""What the Airflow UI offers beyond Airflow: the GX data docs, the drift reports and a link to the MLflow UI.

The data docs (HTML of every validation run, written by the quality gates) are served by
the api-server itself under /data-docs and linked from Browse; a failed validation's task
log names the same page. The drift reports (one page per scored date, written by drift_monitor)
are served under /drift-reports, newest date first, and linked from Browse too.
"""

from __future__ import annotations

import os

from airflow.plugins_manager import AirflowPlugin


def _data_docs_app():
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from nightshift.quality.validation import data_docs_index

    app = FastAPI(title="nightshift data docs")
    # check_dir=False: the folder appears with the first validation, after the server starts.
    app.mount("/", StaticFiles(directory=str(data_docs_index().parent), html=True, check_dir=False), name="data-docs")
    return app


def _drift_reports_app():
    import html

    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    from nightshift.config import drift_reports_dir

    root = drift_reports_dir()
    app = FastAPI(title="nightshift drift reports")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        # Listed when asked, not written by the monitor: a report folder removed by hand just drops out.
        days = sorted((p.name.split("=", 1)[1] for p in root.glob("score_date=*") if (p / "index.html").exists()), reverse=True)
        items = "".join(f'<li><a href="score_date={html.escape(d)}/index.html">{html.escape(d)}</a></li>' for d in days)
        return f"<!doctype html><title>Drift reports</title><h1>Drift reports</h1><ul>{items or '<li>none yet</li>'}</ul>"

    # check_dir=False: the folder appears with the first drift_monitor run, after the server starts.
    app.mount("/", StaticFiles(directory=str(root), html=True, check_dir=False), name="drift-reports")
    return app


class NightshiftUI(AirflowPlugin):
    name = "nightshift_ui"
    fastapi_apps = [
        {"app": _data_docs_app(), "url_prefix": "/data-docs", "name": "GX data docs"},
        {"app": _drift_reports_app(), "url_prefix": "/drift-reports", "name": "Drift reports"},
    ]
    # Airflow lists only views that have a route.
    external_views = [
        {
            "name": "Data docs",
            "href": "/data-docs/index.html",
            "url_route": "data-docs",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Drift reports",
            "href": "/drift-reports/",
            "url_route": "drift-reports",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "MLflow",
            "href": os.environ.get("NIGHTSHIFT_MLFLOW_UI_URL", "http://localhost:5000"),
            "url_route": "mlflow",
            "destination": "nav",
            "category": "browse",
        },
    ]
