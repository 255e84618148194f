"""Human approval of promotion on the real api-server and scheduler (`nightshift airflow standalone`).

With `rollout.approval: required`, train_model's passing version waits in approve_promotion, holding no
worker slot. The request is answered through the REST API as the UI's buttons answer it (PATCH
hitlDetails): once Reject, once nobody (rollout.approval_timeout passes), once Approve, each a fresh
version proposed as first champion, and the registry is read after each.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

from nightshift.config import load_params
from nightshift.local.airflow_env import airflow_env
from nightshift.local.generate import generate
from tests.e2e.conftest import isolated_env
from tests.pg_helpers import create_database, free_port
from tests.season import airflow_api as api

pytestmark = pytest.mark.e2e

CUSTOMERS, DAYS, START = 400, 120, date(2026, 3, 1)
NAME = "churn_xgb"
MLFLOW_UI = "http://mlflow.example:5000"
REPORT_DAY = "2026-06-27"
RUN_TIMEOUT_S = 900


@dataclass
class Approvals:
    airflow: api.Airflow
    env: dict[str, str]
    params: Path
    day: date

    def set_timeout(self, timeout: str) -> None:
        """rollout.approval_timeout of the running deployment: read when a request is made, no restart."""
        params = yaml.safe_load(self.params.read_text())
        params["rollout"]["approval_timeout"] = timeout
        self.params.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def approvals(tmp_path_factory, pg_url: str) -> Iterator[Approvals]:
    root = tmp_path_factory.mktemp("approval")
    data = generate(root / "raw", customers=CUSTOMERS, days=DAYS, start_date=START, seed=11)
    params = load_params()
    params["rollout"]["approval"] = "required"
    params["rollout"]["approval_timeout"] = "10m"
    params_path = root / "approval-params.yaml"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    # The newest drift report the approver is pointed to (drift_monitor writes one page per scored date).
    report = root / "work" / "drift_reports" / f"score_date={REPORT_DAY}"
    report.mkdir(parents=True)
    (report / "index.html").write_text("<html>drift</html>")
    warehouse = create_database(pg_url, "approval_warehouse")
    meta = create_database(pg_url, "approval_airflow")
    extra = {
        "NIGHTSHIFT_DATABASE_URL": warehouse,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta.replace("postgresql://", "postgresql+psycopg2://", 1),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "NIGHTSHIFT_PARAMS": str(params_path),
        "NIGHTSHIFT_MLFLOW_UI_URL": MLFLOW_UI,
    }
    env = airflow_env(warehouse, base=isolated_env(root, **extra), home=Path(__file__).resolve().parents[2])
    airflow = api.start_airflow(env, free_port(), root / "standalone.log")
    try:
        yield Approvals(airflow, env, params_path, data.end_date)
    finally:
        airflow.stop()


def _registry(env: dict[str, str], monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    from nightshift.model.registry import registry_client

    return registry_client()


def _aliases(client) -> dict[str, str]:
    return {alias: str(v) for alias, v in client.get_registered_model(NAME).aliases.items()}


def _train_until_asked(a: Approvals, run_id: str) -> dict:
    """Trigger train_model and wait until approve_promotion awaits input; its request as the UI reads it."""
    # No logical date (each run its own), the day to train as of from the trigger form.
    api.trigger(a.airflow, "train_model", run_id, {"as_of": a.day.isoformat()})
    api.unpause(a.airflow, "train_model")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        states = api.task_states(a.airflow, "train_model", run_id)
        if states.get("approve_promotion") == "awaiting_input":
            return a.airflow.call("GET", _hitl_path(run_id))
        if api.run(a.airflow, "train_model", run_id)["state"] in api.TERMINAL:
            pytest.fail(f"{run_id} finished without asking: {states}\n{api.failure_log(a.airflow, 'train_model', run_id)[-4000:]}")
        time.sleep(3)
    pytest.fail(f"{run_id}: approve_promotion never awaited input: {api.task_states(a.airflow, 'train_model', run_id)}")


def _hitl_path(run_id: str) -> str:
    return f"/api/v2/dags/train_model/dagRuns/{run_id}/taskInstances/approve_promotion/-1/hitlDetails"


# A person reads the form before answering. Airflow 3.3 loses an answer that arrives before the scheduler has
# processed the executor event of the worker that parked the task (seconds on a busy host: it takes that late
# event for a finished task that was re-queued by the answer, and retries it, asking again).
READ_SECONDS = 20


def _answer(a: Approvals, run_id: str, option: str, comment: str) -> dict:
    """What the UI's Approve / Reject button sends."""
    time.sleep(READ_SECONDS)
    return a.airflow.call("PATCH", _hitl_path(run_id), {"chosen_options": [option], "params_input": {"comment": comment}})


def _finished(a: Approvals, run_id: str) -> dict[str, str]:
    finished = api.wait_for_run(a.airflow, "train_model", run_id, RUN_TIMEOUT_S)
    assert finished["state"] == "success", api.failure_log(a.airflow, "train_model", run_id)[-4000:]
    return api.task_states(a.airflow, "train_model", run_id)


def _version(client, run_id: str) -> str:
    """The version train_model's run registered (found through its MLflow run's Airflow run tag)."""
    from nightshift.model.registry import registered_for_run

    found = registered_for_run(client, NAME, run_id)
    assert found is not None, f"{run_id} registered no version"
    return str(found.version)


def test_reject_leaves_the_registry_and_records_who_and_why(approvals: Approvals, monkeypatch) -> None:
    a = approvals
    client = _registry(a.env, monkeypatch)
    asked = _train_until_asked(a, "approval__reject")
    version = _version(client, "approval__reject")
    # The gate passed the version (the first champion); the form shows the evidence with both links.
    assert asked["subject"] == f"Make {NAME} version {version} champion?"
    run_id = client.get_model_version(NAME, version).run_id
    experiment_id = client.get_run(run_id).info.experiment_id
    assert f"{MLFLOW_UI}/#/experiments/{experiment_id}/runs/{run_id}" in asked["body"]
    assert f"/drift-reports/score_date={REPORT_DAY}/index.html" in asked["body"]
    assert "roc_auc" in asked["body"] and "first_champion" in asked["body"]
    assert asked["options"] == ["Approve", "Reject"] and asked["response_received"] is False
    # Proposed, not applied: challenger, no champion, no verdict tagged while it waits.
    assert _aliases(client) == {"challenger": version} and "gate.outcome" not in client.get_model_version(NAME, version).tags
    # The morning table lists the request while it waits (the status page reads the same rows).
    assert f"train_model approval__reject approve_promotion: {asked['subject']}" in _status(a)
    answered = _answer(a, "approval__reject", "Reject", "calibration looks off")
    assert answered["responded_by"]["name"] == "admin"
    states = _finished(a, "approval__reject")
    assert (states["approve_promotion"], states["apply_promotion"], states["publish_champion"]) == ("success", "success", "skipped")
    assert "champion" not in _aliases(client)
    tags = client.get_model_version(NAME, version).tags
    assert tags["approval.outcome"] == "rejected" and tags["approval.responder"] == "admin"
    assert tags["approval.comment"] == "calibration looks off"
    assert tags["approval.responded_at"].startswith(answered["responded_at"][:19])
    assert tags["gate.outcome"] == "not_approved" and "rejected by admin" in tags["gate.reason"]
    # Champion did not change: no churn_model event, nothing downstream reacts.
    assert _model_events(a, "approval__reject") == 0


def _status(a: Approvals) -> str:
    """What `nightshift status` prints against the running deployment."""
    import subprocess
    import sys

    cmd = [str(Path(sys.executable).parent / "nightshift"), "status", "--days", "3"]
    out = subprocess.run(cmd, env=a.env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _model_events(a: Approvals, run_id: str) -> int:
    """churn_model events the run raised (its build_training_set raises churn_training_set ones too)."""
    events = a.airflow.call("GET", f"/api/v2/assets/events?source_dag_id=train_model&source_run_id={run_id}")["asset_events"]
    return sum(1 for e in events if e["name"] == "churn_model")


@pytest.mark.slow
def test_no_answer_within_the_timeout_reads_as_reject(approvals: Approvals, monkeypatch) -> None:
    a = approvals
    client = _registry(a.env, monkeypatch)
    a.set_timeout("20s")
    try:
        _train_until_asked(a, "approval__timeout")
        states = _finished(a, "approval__timeout")
    finally:
        a.set_timeout("10m")
    assert (states["approve_promotion"], states["apply_promotion"], states["publish_champion"]) == ("success", "success", "skipped")
    assert "champion" not in _aliases(client)
    hitl = a.airflow.call("GET", _hitl_path("approval__timeout"))
    assert hitl["chosen_options"] == ["Reject"] and hitl["responded_by_user"] is None
    tags = client.get_model_version(NAME, _version(client, "approval__timeout")).tags
    assert tags["approval.outcome"] == "timed_out" and tags["approval.responder"] == ""
    assert tags["gate.outcome"] == "not_approved" and "no answer" in tags["gate.reason"]


@pytest.mark.slow
def test_approve_makes_the_version_champion_and_publishes_it(approvals: Approvals, monkeypatch) -> None:
    a = approvals
    client = _registry(a.env, monkeypatch)
    _train_until_asked(a, "approval__approve")
    _answer(a, "approval__approve", "Approve", "looks good")
    states = _finished(a, "approval__approve")
    # The compare-and-set moved champion, and publish_champion raised the churn_model Asset.
    assert (states["approve_promotion"], states["apply_promotion"], states["publish_champion"]) == ("success", "success", "success")
    version = _version(client, "approval__approve")
    assert _aliases(client)["champion"] == version
    tags = client.get_model_version(NAME, version).tags
    assert tags["approval.outcome"] == "approved" and tags["approval.responder"] == "admin" and tags["approval.comment"] == "looks good"
    assert tags["gate.outcome"] == "first_champion" and tags["champion.reason"] == "gate: first_champion"
    assert _model_events(a, "approval__approve") == 1
