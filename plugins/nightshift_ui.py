"""What the Airflow UI offers beyond Airflow: the GX data docs, the drift reports and a link to the MLflow UI.

The data docs (HTML of every validation run, written by the quality gates) are served by
the api-server itself under /data-docs, to logged-in users allowed to read task logs, and
linked from Browse; a failed validation's task log names the same page. The drift reports (one
page per scored date, written by drift_monitor) are served under /drift-reports, newest date
first, behind the same login, and linked from Browse too. The morning page (Browse > Nightshift status, under
/nightshift-status) shows each recent day's landing, validation, scoring, drift, realized AUC, deadline and
open approvals, linking to the day's DAG run, data docs, drift report and MLflow run.
"""

from __future__ import annotations

import os

from airflow.plugins_manager import AirflowPlugin


def _data_docs_app():
    from nightshift.airflow.data_docs_app import data_docs_app
    from nightshift.quality.validation import data_docs_index

    return data_docs_app(data_docs_index().parent)


def _drift_reports_app():
    from nightshift.airflow.drift_reports_app import drift_reports_app
    from nightshift.config import drift_reports_dir

    return drift_reports_app(drift_reports_dir())


def _status_app():
    from nightshift.airflow.status_app import status_app

    return status_app()


class NightshiftUI(AirflowPlugin):
    name = "nightshift_ui"
    fastapi_apps = [
        {"app": _data_docs_app(), "url_prefix": "/data-docs", "name": "GX data docs"},
        {"app": _drift_reports_app(), "url_prefix": "/drift-reports", "name": "Drift reports"},
        {"app": _status_app(), "url_prefix": "/nightshift-status", "name": "Nightshift status"},
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
            "name": "Nightshift status",
            "href": "/nightshift-status/",
            "url_route": "nightshift-status",
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
