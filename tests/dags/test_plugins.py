"""The plugins folder loads through Airflow's plugin manager and its views are valid UI entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.dags

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def test_plugin_manager_loads_the_mlflow_link() -> None:
    code = (
        "import json; from airflow import plugins_manager as pm; "
        "from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse; "
        "views, _ = pm._get_ui_plugins(); "
        "print(json.dumps([ExternalViewResponse(**v).model_dump() for v in views]))"
    )
    env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS), "NIGHTSHIFT_MLFLOW_UI_URL": "http://mlflow.test:5000"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    views = json.loads(out.stdout.strip().splitlines()[-1])
    assert [(v["name"], v["href"]) for v in views] == [("MLflow", "http://mlflow.test:5000")]
