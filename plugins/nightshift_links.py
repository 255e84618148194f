"""Links from the Airflow UI to the rest of the stack: the MLflow UI, where runs and the champion live."""

from __future__ import annotations

import os

from airflow.plugins_manager import AirflowPlugin


class NightshiftLinks(AirflowPlugin):
    name = "nightshift_links"
    external_views = [
        {
            "name": "MLflow",
            # Airflow lists only views that have a route.
            "url_route": "mlflow",
            "href": os.environ.get("NIGHTSHIFT_MLFLOW_UI_URL", "http://localhost:5000"),
            "destination": "nav",
            "category": "browse",
        }
    ]
