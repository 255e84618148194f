"""Both DAGs run for real with `airflow dags test` on a tiny landing zone, into real PostgreSQL."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from nightshift.airflow_env import airflow_env, dag_test, migrate
from nightshift.generate import generate
from nightshift.warehouse import read_scores

pytestmark = pytest.mark.e2e

CUSTOMERS, DAYS, START = 400, 120, date(2026, 3, 1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_url: str):
    root = tmp_path_factory.mktemp("e2e")
    data = generate(root / "raw", customers=CUSTOMERS, days=DAYS, start_date=START, seed=11)
    base = {
        **os.environ,
        "NIGHTSHIFT_DATA_DIR": str(root / "raw"),
        "NIGHTSHIFT_WORK_DIR": str(root / "work"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "NIGHTSHIFT_MLFLOW_ARTIFACTS": str(root / "mlartifacts"),
        "AIRFLOW_HOME": str(root / "airflow"),
        "NIGHTSHIFT_RETRY_DELAY_SECONDS": "1",
    }
    env = airflow_env(pg_url, base=base)
    migrate(env)
    return {"root": root, "env": env, "day": data.end_date, "data": data}


def _active_on(data_dir: Path, day: date) -> set[int]:
    snap = pd.read_parquet(data_dir / "customers" / f"snapshot_date={day.isoformat()}")
    churn = pd.to_datetime(snap["churn_date"])
    active = (pd.to_datetime(snap["signup_date"]) <= pd.Timestamp(day)) & (churn.isna() | (churn > pd.Timestamp(day)))
    return set(snap.loc[active, "customer_id"].astype(int))


def test_train_then_score_lands_every_active_customer(stack, pg_url: str, monkeypatch) -> None:
    day, env = stack["day"], stack["env"]
    dag_test("train_model", day, env, stack["root"] / "train_model.log")
    dag_test("nightly_scoring", day, env, stack["root"] / "nightly_scoring.log")

    scores = read_scores(pg_url, day)
    assert set(scores["customer_id"].astype(int)) == _active_on(stack["root"] / "raw", day)
    assert scores["churn_probability"].between(0, 1).all()
    assert set(scores["model_name"]) == {"churn_xgb"}
    assert set(scores["model_version"]) == {"1"}

    # The registry really holds a champion, and it is the version the rows carry.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    from nightshift.registry import serving_model

    champion = serving_model("churn_xgb")
    assert champion.version == "1"
    assert set(scores["run_id"]) == {champion.run_id}


def test_rerun_of_a_date_replaces_its_rows(stack, pg_url: str) -> None:
    day, env = stack["day"], stack["env"]
    before = read_scores(pg_url, day)
    assert len(before) > 0, "runs after test_train_then_score_lands_every_active_customer"
    dag_test("nightly_scoring", day, env, stack["root"] / "nightly_scoring_rerun.log")
    after = read_scores(pg_url, day)
    assert len(after) == len(before)
    merged = before.merge(after, on="customer_id", suffixes=("_before", "_after"))
    assert len(merged) == len(before)
    assert (merged["churn_probability_before"] == merged["churn_probability_after"]).all()
