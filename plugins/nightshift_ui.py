"""What the Airflow UI offers beyond Airflow: the GX data docs and a link to the MLflow UI.

The data docs (HTML of every validation run, written by the quality gates) are served by
the api-server itself under /data-docs and linked from Browse; a failed validation's task
log names the same page.
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


class NightshiftUI(AirflowPlugin):
    name = "nightshift_ui"
    fastapi_apps = [{"app": _data_docs_app(), "url_prefix": "/data-docs", "name": "GX data docs"}]
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
            "name": "MLflow",
            "href": os.environ.get("NIGHTSHIFT_MLFLOW_UI_URL", "http://localhost:5000"),
            "url_route": "mlflow",
            "destination": "nav",
            "category": "browse",
        },
    ]
