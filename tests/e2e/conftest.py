"""One tiny landing zone, one Airflow home, one MLflow store for every end-to-end test."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from nightshift.config import load_params
from nightshift.local.airflow_env import airflow_env, dag_test, migrate
from nightshift.local.generate import generate

CUSTOMERS, DAYS, START = 400, 120, date(2026, 3, 1)


def params_file(path, poke_seconds: float, timeout_hours: float):
    """params.yaml with a short wait for late data: a missing day fails in seconds, not hours."""
    params = load_params()
    params["scoring"]["wait_for_data"] = {"poke_interval_seconds": poke_seconds, "timeout_hours": timeout_hours}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a DAG run whose landing zone, work folders, MLflow store and DVC repository all live under `root`.

    train_model keeps each training set in a DVC cache and remote: a repository of the test's own,
    so no test writes into the checkout's `.dvc/` cache or `.dvc-storage/`.
    """
    dvc_repo = root / "dvc"
    dvc_repo.mkdir()
    for args in (["init", "--no-scm"], ["remote", "add", "-d", "local", str(root / "dvc-remote")]):
        subprocess.run([sys.executable, "-m", "dvc", *args], cwd=dvc_repo, check=True, capture_output=True)
    return {
        **os.environ,
        "NIGHTSHIFT_DATA_DIR": str(root / "raw"),
        "NIGHTSHIFT_WORK_DIR": str(root / "work"),
        "NIGHTSHIFT_QUARANTINE_DIR": str(root / "quarantine"),
        "NIGHTSHIFT_DVC_REPO": str(dvc_repo),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "NIGHTSHIFT_MLFLOW_ARTIFACTS": str(root / "mlartifacts"),
        "AIRFLOW_HOME": str(root / "airflow"),
        "NIGHTSHIFT_RETRY_DELAY_SECONDS": "1",
        # A missing day is waited for 6 s, polled every second.
        "NIGHTSHIFT_PARAMS": str(params_file(root / "params.yaml", 1, 6 / 3600)),
        **extra,
    }


@pytest.fixture(scope="session")
def stack(tmp_path_factory, pg_url: str):
    root = tmp_path_factory.mktemp("e2e")
    data = generate(root / "raw", customers=CUSTOMERS, days=DAYS, start_date=START, seed=11)
    base = isolated_env(root)
    env = airflow_env(pg_url, base=base)
    migrate(env)
    return {"root": root, "env": env, "day": data.end_date, "data": data}


@pytest.fixture(scope="session")
def trained(stack):
    """train_model has run once on the clean landing zone: a champion exists."""
    dag_test("train_model", stack["day"], stack["env"], stack["root"] / "logs" / "train_model.log")
    return stack
