"""Scoring on real Spark with a model from a real MLflow registry, published into real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nightshift.feature_list import feature_columns
from nightshift.model.registry import ServingModel, serving_model
from nightshift.scoring.predict import load_booster
from nightshift.scoring.score import score_day
from nightshift.warehouse.connection import WarehouseUnavailableError
from nightshift.warehouse.readers import read_scores
from nightshift.warehouse.schema import ensure_schema, partition_name
from tests.integration.scoring._models import (
    assert_same_reasons,
    churn_label,
    expected_reasons,
    mlflow_store,
    stored_reasons,
    synthetic_features,
)
from tests.pg_helpers import free_port, query

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]
COLUMNS = feature_columns(WINDOWS)
MODEL = "churn_xgb_scoring_test"
DAY = dt.date(2026, 4, 30)
CUSTOMERS = 3_000


def features_frame(ids: np.ndarray, seed: int) -> pd.DataFrame:
    frame = synthetic_features(ids, seed, COLUMNS)
    frame.insert(0, "as_of_date", DAY)
    return frame


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServingModel]]:
    """A throwaway MLflow store with two versions of a small churn model; version 1 is champion."""
    import mlflow
    import xgboost as xgb
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    with mlflow_store(root, MODEL):
        train = features_frame(np.arange(2_000), seed=1)
        label = churn_label(train)
        versions = {}
        for early_stopping in (None, 3):
            # Version 2 stops early: predict_proba then uses fewer trees than the booster holds.
            model = xgb.XGBClassifier(n_estimators=60, max_depth=3, nthread=1, early_stopping_rounds=early_stopping)
            fit, held_out = slice(500, None), slice(None, 500)
            model.fit(
                train[COLUMNS].iloc[fit], label.iloc[fit], eval_set=[(train[COLUMNS].iloc[held_out], label.iloc[held_out])], verbose=False
            )
            assert early_stopping is None or model.best_iteration + 1 < model.get_booster().num_boosted_rounds()
            with mlflow.start_run():
                info = mlflow.xgboost.log_model(model, name="model", registered_model_name=MODEL)
            versions[str(info.registered_model_version)] = info
        MlflowClient().set_registered_model_alias(MODEL, "champion", "1")
        yield {v: ServingModel(MODEL, v, info.run_id, f"models:/{MODEL}/{v}") for v, info in versions.items()}


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A day's features as three Parquet files (so Spark scores several partitions), ids in no order."""
    path = tmp_path_factory.mktemp("features") / "score_date=2026-04-30"
    path.mkdir()
    ids = np.random.default_rng(3).permutation(np.arange(1, CUSTOMERS + 1))
    frame = features_frame(ids, seed=4)
    third = CUSTOMERS // 3
    for i in range(3):
        frame.iloc[i * third : (i + 1) * third if i < 2 else None].to_parquet(path / f"part-{i}.parquet", index=False)
    return path, frame


@pytest.fixture
def url(pg_url: str) -> str:
    ensure_schema(pg_url)
    query(pg_url, f"DROP TABLE IF EXISTS {partition_name(DAY)}")
    query(pg_url, "DELETE FROM scoring_runs WHERE score_date = %s", (DAY,))
    return pg_url


def run(spark, features_path: Path, url: str, out: Path) -> dict[str, Any]:
    return score_day(spark, features_path, DAY, url, MODEL, WINDOWS, out)


def model_probabilities(model: ServingModel, frame: pd.DataFrame) -> np.ndarray:
    """What the registered model predicts on the driver, in customer_id order."""
    import mlflow.xgboost

    ordered = frame.sort_values("customer_id")
    return mlflow.xgboost.load_model(model.uri).predict_proba(ordered[COLUMNS])[:, 1].astype("float64")


def test_three_reruns_leave_one_set_of_the_models_own_predictions(spark, registry, features, url, tmp_path) -> None:
    path, frame = features
    results = [run(spark, path, url, tmp_path / "scores") for _ in range(3)]

    stored = read_scores(url, DAY)
    assert len(stored) == CUSTOMERS
    assert stored["customer_id"].is_unique
    assert set(stored["customer_id"]) == set(frame["customer_id"])
    assert [r["rows"] for r in results] == [CUSTOMERS] * 3
    assert [r["replaced"] for r in results] == [0, CUSTOMERS, CUSTOMERS]
    # Spark's per-partition predictions are exactly what the registered model predicts on the driver.
    expected = model_probabilities(registry["1"], frame)
    np.testing.assert_array_equal(stored["churn_probability"].to_numpy(), expected)
    assert results[-1]["mean_probability"] == pytest.approx(expected.mean())
    # Scored where the rows live: one output file per input partition, never one collected frame.
    assert len(list(Path(results[-1]["scores_path"]).glob("part-*.parquet"))) > 1

    runs = query(
        url,
        "SELECT status, rows, model_version, finished_at >= started_at FROM scoring_runs WHERE score_date = %s ORDER BY id",
        (DAY,),
    )
    assert runs == [("succeeded", CUSTOMERS, "1", True)] * 3
    assert [r["scoring_run"] for r in results] == sorted(r["scoring_run"] for r in results)


def test_every_row_carries_the_champions_version(spark, registry, features, url, tmp_path) -> None:
    from mlflow.tracking import MlflowClient

    path, frame = features
    run(spark, path, url, tmp_path / "scores")
    MlflowClient().set_registered_model_alias(MODEL, "champion", "2")
    try:
        champion = serving_model(MODEL)
        result = run(spark, path, url, tmp_path / "scores")
    finally:
        MlflowClient().set_registered_model_alias(MODEL, "champion", "1")
    assert champion.version == "2"
    stored = read_scores(url, DAY)
    assert len(stored) == CUSTOMERS
    assert set(stored["model_version"]) == {"2"}
    assert set(stored["run_id"]) == {registry["2"].run_id}
    assert set(stored["model_name"]) == {MODEL}
    assert result["model_version"] == "2"
    np.testing.assert_array_equal(stored["churn_probability"].to_numpy(), model_probabilities(registry["2"], frame))


def test_failed_scoring_is_audited_and_leaves_the_day_alone(spark, registry, features, url, tmp_path) -> None:
    path, frame = features
    run(spark, path, url, tmp_path / "scores")
    before = read_scores(url, DAY)
    broken = tmp_path / "broken"
    broken.mkdir()
    frame.drop(columns=["tenure_days"]).to_parquet(broken / "part-0.parquet", index=False)

    with pytest.raises(ValueError, match="lack model inputs.*tenure_days"):
        run(spark, broken, url, tmp_path / "scores-broken")
    pd.testing.assert_frame_equal(read_scores(url, DAY), before)
    status, rows, error = query(url, "SELECT status, rows, error FROM scoring_runs WHERE score_date = %s ORDER BY id DESC LIMIT 1", (DAY,))[
        0
    ]
    assert (status, rows) == ("failed", None)
    assert "tenure_days" in error


def test_model_trained_on_other_columns_is_refused(registry) -> None:
    with pytest.raises(ValueError, match="trained on features"):
        load_booster(registry["1"].uri, list(reversed(COLUMNS)))


def test_unreachable_database_fails_before_spark_work_naming_host(spark, features, monkeypatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PG_CONNECT_ATTEMPTS", "2")
    monkeypatch.setenv("NIGHTSHIFT_PG_CONNECT_BACKOFF_SECONDS", "0.01")
    port = free_port()
    with pytest.raises(WarehouseUnavailableError, match=rf"127\.0\.0\.1:{port} .*Connection refused"):
        score_day(spark, features[0], DAY, f"postgresql://postgres@127.0.0.1:{port}/nightshift", MODEL, WINDOWS, Path("/nonexistent"))


# The package's scoring entry for DAY in a child process, parked inside its audited run: its
# features "file" is a FIFO nobody writes, so fingerprinting the features blocks forever after
# the run is recorded and the model loaded, before Spark is needed (hence no session).
_PARKED_SCORING = """
import datetime as dt, sys
from pathlib import Path
from nightshift.scoring.score import score_day
score_day(None, Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]), sys.argv[3], sys.argv[4], [7, 30, 90], Path(sys.argv[5]))
"""


def _runs_of_day(url: str) -> list[tuple[int, str, str | None]]:
    return [(i, s, e) for i, s, e in query(url, "SELECT id, status, error FROM scoring_runs WHERE score_date = %s ORDER BY id", (DAY,))]


def _wait_for(condition, what: str, child: subprocess.Popen | None = None, seconds: float = 120):
    """Poll until `condition()` is truthy; fail naming `what` (and the child's stderr if it died)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if child is not None and child.poll() is not None:
            pytest.fail(f"child exited with {child.returncode} before {what}: {child.stderr.read()}")
        time.sleep(0.1)
    pytest.fail(f"no {what} within {seconds} s")


def test_a_killed_scoring_run_is_marked_failed_by_the_next_run_of_its_date(spark, registry, features, url, tmp_path) -> None:
    parked = tmp_path / "parked-features"
    parked.mkdir()
    os.mkfifo(parked / "part-0.parquet")
    child = subprocess.Popen(
        [sys.executable, "-c", _PARKED_SCORING, str(parked), DAY.isoformat(), url, MODEL, str(tmp_path / "parked-scores")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ((killed, status, _),) = _wait_for(lambda: _runs_of_day(url), "scoring_runs row of the child", child)
        assert status == "running"
        # A live run, even a concurrent one, is left alone: its lock is held by its session.
        concurrent = run(spark, features[0], url, tmp_path / "scores")
        assert _runs_of_day(url) == [(killed, "running", None), (concurrent["scoring_run"], "succeeded", None)]
        # The concurrent run has closed its connections: the package's sessions open now are the child's.
        sessions = query(url, "SELECT pid FROM pg_stat_activity WHERE application_name = 'nightshift'")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    # The server notices the closed socket on its own schedule: wait until the dead session is gone.
    for (pid,) in sessions:
        _wait_for(lambda pid=pid: not query(url, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)), f"exit of backend {pid}")

    assert _runs_of_day(url)[0][:2] == (killed, "running"), "nothing else wrote the dead run's row"
    after = run(spark, features[0], url, tmp_path / "scores")

    runs = {i: (s, e) for i, s, e in _runs_of_day(url)}
    status, error = runs[killed]
    assert status == "failed"
    assert error.startswith("superseded: worker gone") and DAY.isoformat() in error
    assert runs[after["scoring_run"]] == ("succeeded", None)
    assert len(read_scores(url, DAY)) == CUSTOMERS


def test_every_row_carries_its_top_three_reasons_from_the_models_own_contributions(spark, registry, features, url, tmp_path) -> None:
    path, frame = features
    run(spark, path, url, tmp_path / "scores")
    stored = stored_reasons(url, "churn_scores", DAY)
    expected = expected_reasons(registry["1"].uri, frame, COLUMNS)
    assert len(stored) == CUSTOMERS
    assert_same_reasons(stored, expected)
    assert stored["reason_1"].notna().mean() > 0.9, "most customers have a reason: the comparison covers real values"
    assert (stored["reason_1_contribution"].dropna() >= stored["reason_2_contribution"].fillna(0).loc[stored["reason_1"].notna()]).all()
    # The CRM's query as the scoring docs show it, for this day: the 100 most likely to churn with their reasons.
    docs = (Path(__file__).parents[3] / "docs" / "scoring.md").read_text()
    crm_query = docs.split("## Why a customer scored high")[1].split("```sql")[1].split("```")[0]
    assert "DATE '2026-06-02'" in crm_query
    top = query(url, crm_query.replace("DATE '2026-06-02'", f"DATE '{DAY}'"))
    ranked = read_scores(url, DAY).sort_values(["churn_probability", "customer_id"], ascending=[False, True]).head(100)
    assert [row[0] for row in top] == ranked["customer_id"].tolist()
    assert [row[2::2] for row in top] == [tuple(expected.loc[c, [f"reason_{k}" for k in (1, 2, 3)]]) for c in ranked["customer_id"]]
    # Contributions are log-odds: with the bias they add up to the logit of the stored probability.
    import mlflow.xgboost
    import xgboost as xgb

    ordered = frame.sort_values("customer_id")
    booster = mlflow.xgboost.load_model(registry["1"].uri).get_booster()
    total = booster.predict(xgb.DMatrix(ordered[COLUMNS]), pred_contribs=True).astype("float64").sum(axis=1)
    np.testing.assert_allclose(1 / (1 + np.exp(-total)), read_scores(url, DAY)["churn_probability"].to_numpy(), atol=1e-6)
