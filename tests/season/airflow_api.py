"""A season's Airflow: `nightshift airflow standalone` (api-server, scheduler, dag-processor, triggerer) and its REST API v2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT_S = 600
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
TERMINAL = {"success", "failed"}
CALL_ATTEMPTS = 5


class SeasonError(AssertionError):
    """An invariant of the season does not hold, or Airflow did not do what a night needs."""


@dataclass
class Airflow:
    proc: subprocess.Popen[bytes]
    url: str
    home: Path
    log: Path
    token: str = ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        response = self._send(method, path, body)
        if response.status_code == 401 and self.token:
            self.login()
            return self.call(method, path, body, ok)
        if response.status_code not in ok:
            raise SeasonError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def _send(self, method: str, path: str, body: Any) -> httpx.Response:
        """One request, tried again when the api-server is too busy to answer (two cores, four components, Spark)."""
        for attempt in range(1, CALL_ATTEMPTS + 1):
            try:
                with httpx.Client(base_url=self.url, timeout=120) as client:
                    return client.request(method, path, json=body, headers={"Authorization": f"Bearer {self.token}"})
            except httpx.TransportError:
                if attempt == CALL_ATTEMPTS:
                    raise
                time.sleep(5 * attempt)
        raise AssertionError("not reached")

    def login(self) -> None:
        """A JWT for the admin user standalone generated, from the simple auth manager's login endpoint."""
        passwords = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        with httpx.Client(base_url=self.url, timeout=60) as client:
            response = client.post("/auth/token", json={"username": "admin", "password": passwords["admin"]})
        if response.status_code != 201:
            raise SeasonError(f"login failed: {response.status_code} {response.text}")
        self.token = response.json()["access_token"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


def start_airflow(env: dict[str, str], port: int, log: Path) -> Airflow:
    """Start the four components and wait until every one is healthy and the DAGs are listed."""
    env = {
        **env,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # Task supervisors reach the api-server's execution API here (its default names port 8080).
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "nightshift"), "airflow", "standalone"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    airflow = Airflow(proc=proc, url=f"http://127.0.0.1:{port}", home=Path(env["AIRFLOW_HOME"]), log=log)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SeasonError(f"standalone exited with {proc.returncode}:\n{airflow.tail()}")
        if _healthy(airflow) and _listed(airflow):
            return airflow
        time.sleep(3)
    airflow.stop()
    raise SeasonError(f"Airflow not ready after {READY_TIMEOUT_S} s:\n{airflow.tail()}")


def _healthy(airflow: Airflow) -> bool:
    try:
        with httpx.Client(base_url=airflow.url, timeout=10) as client:
            health = client.get("/api/v2/monitor/health").json()
    except (httpx.TransportError, json.JSONDecodeError):
        return False
    return all((health.get(c) or {}).get("status") == "healthy" for c in COMPONENTS)


def _listed(airflow: Airflow) -> bool:
    if not airflow.token:
        try:
            airflow.login()
        except (FileNotFoundError, SeasonError, httpx.TransportError):
            return False
    dags = {d["dag_id"] for d in airflow.call("GET", "/api/v2/dags")["dags"]}
    return {"train_model", "nightly_scoring", "drift_monitor"} <= dags


def unpause(airflow: Airflow, dag_id: str) -> None:
    airflow.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})


def trigger(airflow: Airflow, dag_id: str, run_id: str, conf: dict[str, Any], logical_date: str | None = None) -> str:
    """A manual run as the UI's Trigger form makes it: a run id, a logical date (or none) and the form's Params."""
    body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf}
    # 409: a first try that timed out on a busy api-server had already created it.
    airflow.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body, ok=(200, 201, 409))
    return run_id


def runs(airflow: Airflow, dag_id: str) -> list[dict[str, Any]]:
    found = airflow.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=1000&order_by=run_after")
    return list(found["dag_runs"])


def run(airflow: Airflow, dag_id: str, run_id: str) -> dict[str, Any]:
    return airflow.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")


def wait_for_run(airflow: Airflow, dag_id: str, run_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = run(airflow, dag_id, run_id)
        if found["state"] in TERMINAL:
            return found
        time.sleep(3)
    raise SeasonError(f"{dag_id} run {run_id} not finished after {timeout_s:.0f} s: {run(airflow, dag_id, run_id)['state']}")


def task_states(airflow: Airflow, dag_id: str, run_id: str) -> dict[str, str]:
    tis = airflow.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in tis}


def try_numbers(airflow: Airflow, dag_id: str, run_id: str) -> dict[str, int]:
    tis = airflow.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return {ti["task_id"]: int(ti["try_number"]) for ti in tis}


def failure_log(airflow: Airflow, dag_id: str, run_id: str) -> str:
    """The log of the first failed task of a run: what the person on call reads."""
    tis = airflow.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    for ti in tis:
        if ti["state"] == "failed":
            path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}?full_content=true"
            content = airflow.call("GET", path).get("content", "")
            return f"{ti['task_id']}: {json.dumps(content)[-20000:]}"
    return ""
