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
        ("Nightshift status", "/nightshift-status/"),
        ("MLflow", "http://mlflow.test:5000"),
    ]


# The API server's side of a request, in one process: the plugin manager's apps mounted the way
# the API server mounts them, Airflow's auth manager (simple by default, or AIRFLOW__CORE__AUTH_MANAGER)
# and the metadata table it checks token revocation in.
CLIENT = """
import json
from airflow import plugins_manager as pm, settings
from airflow.api_fastapi.app import create_auth_manager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow.models.revoked_token import RevokedToken
from fastapi import FastAPI
from fastapi.testclient import TestClient

RevokedToken.__table__.create(settings.engine, checkfirst=True)
token = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username="ana", role="VIEWER"))
apps, _ = pm.get_fastapi_plugins()
root = FastAPI()
[root.mount(a["url_prefix"], a["app"]) for a in apps]
c = TestClient(root)
bearer = {"Authorization": "Bearer " + token}
"""
SERVE = (
    CLIENT
    + """
seen = {
    "anonymous": c.get("/data-docs/index.html").status_code,
    "anonymous_missing": c.get("/data-docs/nope.html").status_code,
    "forged": c.get("/data-docs/index.html", headers={"Authorization": "Bearer " + token[:-4] + "AAAA"}).status_code,
    "cookie": c.get("/data-docs/index.html", cookies={"_token": token}).text,
    "bearer_folder": c.get("/data-docs/", headers=bearer).text,
    "bearer_missing": c.get("/data-docs/nope.html", headers=bearer).status_code,
    "bearer_outside": c.get("/data-docs/..%2Fsecret.html", headers=bearer).status_code,
}
print(json.dumps(seen))
"""
)

# An auth manager that lets nobody read task logs (everything else as the simple one).
NO_TASK_LOGS = """
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager


class NoTaskLogs(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None):
        return access_entity is not DagAccessEntity.TASK_LOGS
"""


@pytest.fixture
def docs_home(tmp_path: Path) -> Path:
    """A project home whose data docs hold one page, and a secret file next to the docs folder."""
    site = tmp_path / "great_expectations" / "uncommitted" / "data_docs" / "local_site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html>nightshift validations</html>")
    (site.parent / "secret.html").write_text("not a data docs page")
    (tmp_path / "params.yaml").write_text("{}\n")
    return tmp_path


def _serve(home: Path, **env: str) -> dict[str, object]:
    return json.loads(
        _in_airflow(
            SERVE,
            NIGHTSHIFT_HOME=str(home),
            AIRFLOW_HOME=str(home / "airflow"),
            AIRFLOW__API_AUTH__JWT_SECRET="test-only-secret",
            **env,
        )
    )


def test_data_docs_need_an_airflow_login(docs_home: Path) -> None:
    assert _serve(docs_home) == {
        "anonymous": 401,
        "anonymous_missing": 401,
        "forged": 403,
        "cookie": "<html>nightshift validations</html>",
        "bearer_folder": "<html>nightshift validations</html>",
        "bearer_missing": 404,
        "bearer_outside": 404,
    }


def test_data_docs_refuse_a_user_who_may_not_read_task_logs(docs_home: Path, tmp_path: Path) -> None:
    (tmp_path / "no_task_logs.py").write_text(NO_TASK_LOGS)
    seen = _serve(docs_home, PYTHONPATH=str(tmp_path), AIRFLOW__CORE__AUTH_MANAGER="no_task_logs.NoTaskLogs")
    assert (seen["anonymous"], seen["cookie"], seen["bearer_missing"]) == (401, '{"detail":"Forbidden"}', 403)


DRIFT = (
    CLIENT
    + """
index = c.get("/drift-reports/", headers=bearer).text
print(json.dumps({
    "anonymous_index": c.get("/drift-reports/").status_code,
    "anonymous_page": c.get("/drift-reports/score_date=2026-07-14/index.html").status_code,
    "newest_first": index.index("2026-07-14") < index.index("2026-07-13"),
    "unfinished_listed": "2026-07-15" in index,
    "page": c.get("/drift-reports/score_date=2026-07-14/index.html", headers=bearer).text,
}))
"""
)


# FastAPI's own pages (the API's schema and two explorers of it) are routes of each app outside its
# dependencies: they must not exist, or they answer anyone.
DOCS_ROUTES = (
    CLIENT
    + """
prefixes = ("/data-docs", "/drift-reports", "/nightshift-status")
routes = [p + r for p in prefixes for r in ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")] + ["/nightshift-status/"]
print(json.dumps({route: c.get(route).status_code for route in routes}))
"""
)


def test_fastapis_docs_and_schema_routes_refuse_an_anonymous_request(docs_home: Path) -> None:
    seen = json.loads(
        _in_airflow(
            DOCS_ROUTES,
            NIGHTSHIFT_HOME=str(docs_home),
            AIRFLOW_HOME=str(docs_home / "airflow"),
            AIRFLOW__API_AUTH__JWT_SECRET="test-only-secret",
        )
    )
    assert len(seen) == 13 and all(code in (401, 404) for code in seen.values()), seen
    # The status page itself needs the login too.
    assert seen["/nightshift-status/"] == 401


def test_drift_reports_are_listed_newest_first_and_served_behind_the_login(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for day in ("2026-07-13", "2026-07-14"):
        (reports / f"score_date={day}").mkdir(parents=True)
        (reports / f"score_date={day}" / "index.html").write_text(f"<html>drift {day}</html>")
    (reports / "score_date=2026-07-15").mkdir()  # a report still being written: not listed
    (tmp_path / "params.yaml").write_text("{}\n")
    seen = json.loads(
        _in_airflow(
            DRIFT,
            NIGHTSHIFT_HOME=str(tmp_path),
            NIGHTSHIFT_DRIFT_REPORTS_DIR=str(reports),
            AIRFLOW_HOME=str(tmp_path / "airflow"),
            AIRFLOW__API_AUTH__JWT_SECRET="test-only-secret",
        )
    )
    assert seen == {
        "anonymous_index": 401,
        "anonymous_page": 401,
        "newest_first": True,
        "unfinished_listed": False,
        "page": "<html>drift 2026-07-14</html>",
    }
