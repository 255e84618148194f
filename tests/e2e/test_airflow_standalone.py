"""The README's Airflow UI command as a user runs it: `.venv/bin/nightshift airflow standalone`, venv not activated.

Every component comes up healthy, the DAGs are listed, the data docs refuse an anonymous
request and serve a logged-in one, the plugin apps answer no anonymous FastAPI explorer, and
Ctrl-C stops the whole process tree.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from tests.pg_helpers import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
# Generous: four Airflow processes start on a machine that may have two busy cores.
READY_TIMEOUT_S = 600
# Bound on a clean stop: components finish their loops and exit on their own, nothing is killed.
STOP_TIMEOUT_S = 120
DOCS_PAGE = "<html>nightshift validations</html>"


@dataclass
class Standalone:
    proc: subprocess.Popen[bytes]
    url: str
    airflow_home: Path
    log: Path
    # Every process seen under the command, so none can outlive it unnoticed.
    family: set[psutil.Process] = field(default_factory=set)

    def note_family(self) -> None:
        try:
            self.family.update(psutil.Process(self.proc.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            pass

    def output(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-80:])


def _path_without_airflow() -> str:
    """The caller's PATH minus the venv and any folder holding an `airflow`: only the command may find one."""
    venv_bin = Path(sys.executable).parent
    kept = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and Path(p) != venv_bin]
    kept = [p for p in kept if not (Path(p) / "airflow").exists()]
    return os.pathsep.join(kept)


def _status(process: psutil.Process) -> str | None:
    try:
        return process.status()
    except psutil.NoSuchProcess:
        return None


def _stop_leftovers(run: Standalone) -> None:
    """Whatever is still running after the test, stopped: the process group, then anything seen under it."""
    if run.proc.poll() is None:
        run.note_family()
        try:
            os.killpg(run.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        run.proc.wait(timeout=STOP_TIMEOUT_S)
    for child in run.family:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture
def standalone(tmp_path: Path, pg_url: str) -> Iterator[Standalone]:
    # A project home of its own, so the data docs the server reads are this test's page.
    home = tmp_path / "home"
    site = home / "great_expectations" / "uncommitted" / "data_docs" / "local_site"
    site.mkdir(parents=True)
    (site / "index.html").write_text(DOCS_PAGE)
    port = free_port()
    env = {
        **os.environ,
        "PATH": _path_without_airflow(),
        "NIGHTSHIFT_HOME": str(home),
        "NIGHTSHIFT_PARAMS": str(ROOT / "params.yaml"),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "raw"),
        "NIGHTSHIFT_WORK_DIR": str(tmp_path / "work"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        # The session's PostgreSQL: `nightshift airflow` starts no server of its own.
        "NIGHTSHIFT_DATABASE_URL": pg_url,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
    }
    env.pop("VIRTUAL_ENV", None)
    assert shutil.which("airflow", path=env["PATH"]) is None
    log = tmp_path / "standalone.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "nightshift"), "airflow", "standalone"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, as a terminal gives it, for Ctrl-C
        )
    run = Standalone(proc=proc, url=f"http://127.0.0.1:{port}", airflow_home=tmp_path / "airflow", log=log)
    try:
        yield run
    finally:
        _stop_leftovers(run)


def _wait_until_healthy(run: Standalone, client: httpx.Client) -> dict[str, object]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    health: dict[str, object] = {}
    while time.monotonic() < deadline:
        assert run.proc.poll() is None, f"standalone exited with {run.proc.returncode}:\n{run.output()}"
        run.note_family()
        try:
            health = client.get("/api/v2/monitor/health").json()
        except (httpx.TransportError, json.JSONDecodeError):
            health = {}
        if all((health.get(c) or {}).get("status") == "healthy" for c in COMPONENTS):
            return health
        time.sleep(2)
    pytest.fail(f"not healthy after {READY_TIMEOUT_S} s: {health}\n{run.output()}")


def _login(run: Standalone, client: httpx.Client) -> str:
    """A JWT for the admin user standalone generated, from the simple auth manager's login endpoint."""
    passwords = json.loads((run.airflow_home / "simple_auth_manager_passwords.json.generated").read_text())
    response = client.post("/auth/token", json={"username": "admin", "password": passwords["admin"]})
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def _wait_for_dags(run: Standalone, client: httpx.Client, token: str) -> set[str]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    dag_ids: set[str] = set()
    while time.monotonic() < deadline:
        run.note_family()
        response = client.get("/api/v2/dags", headers={"Authorization": f"Bearer {token}"})
        dag_ids = {d["dag_id"] for d in response.json()["dags"]}
        if {"train_model", "nightly_scoring"} <= dag_ids:
            return dag_ids
        time.sleep(2)
    pytest.fail(f"DAGs not listed after {READY_TIMEOUT_S} s: {dag_ids}\n{run.output()}")


def test_readme_ui_command_serves_the_ui_and_stops_cleanly(standalone: Standalone) -> None:
    run = standalone
    started = time.monotonic()
    with httpx.Client(base_url=run.url, timeout=30) as client:
        _wait_until_healthy(run, client)
        ready_s = time.monotonic() - started

        anonymous = client.get("/data-docs/index.html")
        assert anonymous.status_code == 401, anonymous.text
        assert DOCS_PAGE not in anonymous.text
        # FastAPI's API explorers and schema would skip the login: the plugin's apps have none.
        explorers = {r: client.get(r).status_code for r in ("/data-docs/docs", "/drift-reports/docs", "/drift-reports/openapi.json")}
        assert set(explorers.values()) <= {401, 404}, explorers

        token = _login(run, client)
        # The UI's way: the session cookie a browser sends with a page request.
        with httpx.Client(base_url=run.url, timeout=30, cookies={"_token": token}) as browser:
            assert browser.get("/data-docs/").text == DOCS_PAGE
        # A script's way: the bearer token from POST /auth/token.
        by_bearer = client.get("/data-docs/index.html", headers={"Authorization": f"Bearer {token}"})
        assert (by_bearer.status_code, by_bearer.text) == (200, DOCS_PAGE)

        dag_ids = _wait_for_dags(run, client, token)
        assert {"train_model", "nightly_scoring"} <= dag_ids

    run.note_family()
    assert len(run.family) >= 4, f"expected the four components under standalone, saw {run.family}"
    stopping = time.monotonic()
    os.killpg(run.proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
    code = run.proc.wait(timeout=STOP_TIMEOUT_S)
    _, alive = psutil.wait_procs(list(run.family), timeout=STOP_TIMEOUT_S)
    stop_s = time.monotonic() - stopping
    # An exited process nobody reaped (a container without an init) is gone, not running.
    running = [p for p in alive if _status(p) not in (None, psutil.STATUS_ZOMBIE)]
    assert running == [], f"left running after standalone exited: {running}"
    assert code == 0, run.output()
    print(f"standalone healthy after {ready_s:.0f} s, stopped in {stop_s:.1f} s, {len(run.family)} processes")
