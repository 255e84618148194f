"""The plugins folder loads through Airflow's plugin manager: its links and the data docs app work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.dags

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def _in_airflow(code: str, **env: str) -> str:
    full_env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS), **env}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_plugin_manager_loads_the_links() -> None:
    code = (
        "import json; from airflow import plugins_manager as pm; "
        "from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse; "
        "views, _ = pm._get_ui_plugins(); "
        "print(json.dumps([ExternalViewResponse(**v).model_dump() for v in views]))"
    )
    views = json.loads(_in_airflow(code, NIGHTSHIFT_MLFLOW_UI_URL="http://mlflow.test:5000"))
    assert [(v["name"], v["href"]) for v in views] == [
        ("Data docs", "/data-docs/index.html"),
        ("Drift reports", "/drift-reports/"),
        ("MLflow", "http://mlflow.test:5000"),
    ]


def test_data_docs_are_served_under_their_prefix(tmp_path: Path) -> None:
    site = tmp_path / "great_expectations" / "uncommitted" / "data_docs" / "local_site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html>nightshift validations</html>")
    (tmp_path / "params.yaml").write_text("{}\n")
    code = (
        "from airflow import plugins_manager as pm; from fastapi import FastAPI; "
        "from fastapi.testclient import TestClient; "
        "apps, _ = pm.get_fastapi_plugins(); root = FastAPI(); "
        "[root.mount(a['url_prefix'], a['app']) for a in apps]; c = TestClient(root); "
        "r = c.get('/data-docs/index.html'); missing = c.get('/data-docs/nope.html'); "
        "print(r.status_code, missing.status_code, r.text)"
    )
    assert _in_airflow(code, NIGHTSHIFT_HOME=str(tmp_path)) == "200 404 <html>nightshift validations</html>"


def test_drift_reports_are_listed_and_served_under_their_prefix(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for day in ("2026-07-13", "2026-07-14"):
        (reports / f"score_date={day}").mkdir(parents=True)
        (reports / f"score_date={day}" / "index.html").write_text(f"<html>drift {day}</html>")
    (reports / "score_date=2026-07-15").mkdir()  # a report still being written: not listed
    code = (
        "from airflow import plugins_manager as pm; from fastapi import FastAPI; "
        "from fastapi.testclient import TestClient; "
        "apps, _ = pm.get_fastapi_plugins(); root = FastAPI(); "
        "[root.mount(a['url_prefix'], a['app']) for a in apps]; c = TestClient(root); "
        "index = c.get('/drift-reports/').text; page = c.get('/drift-reports/score_date=2026-07-14/index.html'); "
        "print(index.index('2026-07-14') < index.index('2026-07-13'), '2026-07-15' in index, page.status_code, page.text)"
    )
    out = _in_airflow(code, NIGHTSHIFT_DRIFT_REPORTS_DIR=str(reports))
    assert out == "True False 200 <html>drift 2026-07-14</html>"
