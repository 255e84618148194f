"""What the Airflow UI offers beyond Airflow: the GX data docs and a link to the MLflow UI.

The data docs (HTML of every validation run, written by the quality gates) are served by
the api-server itself under /data-docs, to logged-in users allowed to read task logs, and
linked from Browse; a failed validation's task log names the same page.
"""

from __future__ import annotations

import os

from airflow.plugins_manager import AirflowPlugin


def _data_docs_app():
    from nightshift.airflow.data_docs_app import data_docs_app
    from nightshift.quality.validation import data_docs_index

    return data_docs_app(data_docs_index().parent)


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
