"""The challenger in shadow and canary, on real Spark, a real MLflow registry and real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nightshift.feature_list import feature_columns
from nightshift.model.registry import Aliases, ServingModel
from nightshift.scoring.rollout import Canary, in_canary
from nightshift.scoring.shadow import score_day_with_challenger
from nightshift.warehouse.audit import published_run
from nightshift.warehouse.publish import ScoreLineage, publish_score_batches
from nightshift.warehouse.schema import SHADOW_TABLE, ensure_schema, partition_name
from tests.integration.scoring._models import (
    assert_same_reasons,
    churn_label,
    expected_reasons,
    mlflow_store,
    stored_reasons,
    synthetic_features,
)
from tests.pg_helpers import query

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]
COLUMNS = feature_columns(WINDOWS)
MODEL = "churn_xgb_shadow_test"
DAY = dt.date(2026, 5, 20)
CUSTOMERS = 2_000
ALIASES = Aliases()
NO_CANARY = Canary(0.0, "test-salt")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServingModel]]:
    """Version 1 champion; 2 a good challenger; 3 trained on fewer inputs; 4 with a corrupted artifact; 5 multi-class."""
    import mlflow
    import xgboost as xgb
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    with mlflow_store(root, MODEL):
        train = synthetic_features(np.arange(1_500), 1, COLUMNS)
        label = churn_label(train)
        versions = {}
        three_classes = label + (train["tickets_30d"] > 3)
        for inputs, depth, y in (
            (COLUMNS, 2, label),
            (COLUMNS, 4, label),
            (COLUMNS[:-3], 3, label),
            (COLUMNS, 3, label),
            (COLUMNS, 2, three_classes),
        ):
            model = xgb.XGBClassifier(n_estimators=20, max_depth=depth, nthread=1)
            model.fit(train[inputs], y)
            with mlflow.start_run() as run:
                info = mlflow.xgboost.log_model(model, name="model", registered_model_name=MODEL)
            versions[str(info.registered_model_version)] = ServingModel(MODEL, str(info.registered_model_version), run.info.run_id, "")
        # Version 4's booster file is garbage: the registry lists it, but it cannot load.
        folders = [m.parent for m in (root / "artifacts").rglob("MLmodel") if versions["4"].run_id in m.read_text()]
        boosters = [f for folder in folders for f in folder.iterdir() if f.is_file() and f.name.startswith("model.")]
        assert boosters, f"version 4's booster file not found under {root / 'artifacts'}"
        for booster in boosters:
            booster.write_bytes(b"not a booster")
        MlflowClient().set_registered_model_alias(MODEL, "champion", "1")
        yield versions


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    path = tmp_path_factory.mktemp("features") / "score_date=2026-05-20"
    path.mkdir()
    frame = synthetic_features(np.random.default_rng(3).permutation(np.arange(1, CUSTOMERS + 1)), 4, COLUMNS)
    half = CUSTOMERS // 2
    frame.iloc[:half].to_parquet(path / "part-0.parquet", index=False)
    frame.iloc[half:].to_parquet(path / "part-1.parquet", index=False)
    return path, frame


@pytest.fixture
def url(pg_url: str) -> str:
    ensure_schema(pg_url)
    for table in ("churn_scores", SHADOW_TABLE):
        query(pg_url, f"DROP TABLE IF EXISTS {partition_name(DAY, table)}")
    query(pg_url, "DELETE FROM scoring_runs WHERE score_date = %s", (DAY,))
    return pg_url


def set_challenger(version: str) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient().set_registered_model_alias(MODEL, "challenger", version)


def predictions(version: str, frame: pd.DataFrame) -> pd.Series:
    import mlflow.xgboost

    model = mlflow.xgboost.load_model(f"models:/{MODEL}/{version}")
    return pd.Series(model.predict_proba(frame[COLUMNS])[:, 1], index=frame["customer_id"]).sort_index()


def rows(url: str, table: str) -> pd.DataFrame:
    found = query(url, f"SELECT customer_id, churn_probability, model_version, data_version FROM {table} WHERE score_date = %s", (DAY,))
    return (
        pd.DataFrame(found, columns=["customer_id", "churn_probability", "model_version", "data_version"])
        .set_index("customer_id")
        .sort_index()
    )


def run(spark, features_path: Path, url: str, out: Path, canary: Canary = NO_CANARY) -> dict:
    return score_day_with_challenger(spark, features_path, DAY, url, MODEL, WINDOWS, out, ALIASES, canary)


def runs(url: str) -> list[tuple]:
    return query(url, "SELECT role, model_version, status, rows, error FROM scoring_runs WHERE score_date = %s ORDER BY id", (DAY,))


def test_shadow_rows_are_the_challengers_and_a_rerun_replaces_both_tables(spark, registry, features, url, tmp_path) -> None:
    path, frame = features
    set_challenger("2")
    first = run(spark, path, url, tmp_path / "scores")
    second = run(spark, path, url, tmp_path / "scores")

    served, shadow = rows(url, "churn_scores"), rows(url, SHADOW_TABLE)
    assert len(served) == len(shadow) == CUSTOMERS
    assert set(served["model_version"]) == {"1"} and set(shadow["model_version"]) == {"2"}
    np.testing.assert_allclose(served["churn_probability"], predictions("1", frame), rtol=1e-6)
    np.testing.assert_allclose(shadow["churn_probability"], predictions("2", frame), rtol=1e-6)
    assert (shadow["data_version"] == served["data_version"]).all()
    assert first["shadow"]["status"] == second["shadow"]["status"] == "succeeded"
    assert second["replaced"] == CUSTOMERS and second["canary_rows"] == 0
    assert runs(url) == [("served", "1", "succeeded", CUSTOMERS, None), ("shadow", "2", "succeeded", CUSTOMERS, None)] * 2
    # What drift monitoring reads as "the version that scored the day" stays the served one, though the shadow ran last.
    published = published_run(url, DAY)
    assert (published.model_name, published.model_version, published.id) == (MODEL, "1", second["scoring_run"])


def test_the_canary_serves_the_challenger_to_its_customers_and_fraction_zero_restores_the_champion(
    spark, registry, features, url, tmp_path
) -> None:
    path, frame = features
    set_challenger("2")
    canary = Canary(0.25, "test-salt")
    result = run(spark, path, url, tmp_path / "scores", canary)

    served = rows(url, "churn_scores")
    chosen = pd.Series(in_canary(served.index.to_numpy(), canary), index=served.index)
    assert 0.2 < chosen.mean() < 0.3 and result["canary_rows"] == int(chosen.sum())
    assert (served.loc[chosen, "model_version"] == "2").all() and (served.loc[~chosen, "model_version"] == "1").all()
    np.testing.assert_allclose(served.loc[chosen, "churn_probability"], predictions("2", frame)[chosen], rtol=1e-6)
    np.testing.assert_allclose(served.loc[~chosen, "churn_probability"], predictions("1", frame)[~chosen], rtol=1e-6)
    assert len(rows(url, SHADOW_TABLE)) == CUSTOMERS  # the shadow still holds every customer

    run(spark, path, url, tmp_path / "scores", NO_CANARY)
    assert set(rows(url, "churn_scores")["model_version"]) == {"1"}


@pytest.mark.parametrize(("version", "problem"), [("3", "features"), ("4", "cannot score"), ("5", "multi:softprob")])
def test_a_broken_challenger_is_recorded_and_the_champion_publishes_as_before(
    spark, registry, features, url, tmp_path, version: str, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    path, frame = features
    set_challenger(version)
    result = run(spark, path, url, tmp_path / "scores", Canary(0.25, "test-salt"))

    served = rows(url, "churn_scores")
    assert len(served) == CUSTOMERS and set(served["model_version"]) == {"1"}
    np.testing.assert_allclose(served["churn_probability"], predictions("1", frame), rtol=1e-6)
    assert rows(url, SHADOW_TABLE).empty
    assert result["shadow"]["status"] == "failed" and result["canary_rows"] == 0
    (served_run, shadow_run) = runs(url)
    assert served_run == ("served", "1", "succeeded", CUSTOMERS, None)
    assert shadow_run[:3] == ("shadow", version, "failed") and problem in shadow_run[4]
    assert "SHADOW SCORING FAILED" in caplog.text


def test_a_failed_shadow_publish_leaves_the_dates_shadow_rows_as_they_were(url) -> None:
    lineage = ScoreLineage("m", "2", "run", "data", dt.datetime(2026, 5, 21, tzinfo=dt.UTC))
    good = pd.DataFrame({"customer_id": np.arange(100), "churn_probability": np.linspace(0, 1, 100)})
    first = publish_score_batches(url, DAY, lineage, [good], table=SHADOW_TABLE)
    again = publish_score_batches(url, DAY, lineage, [good], table=SHADOW_TABLE)
    assert (first.rows, first.replaced, again.replaced) == (100, 0, 100)
    bad = good.assign(churn_probability=1.5)
    with pytest.raises(ValueError, match="NaN or outside"):
        publish_score_batches(url, DAY, lineage, [good.iloc[:50], bad], table=SHADOW_TABLE)
    assert query(
        url, f"SELECT count(*), min(churn_probability), max(churn_probability) FROM {SHADOW_TABLE} WHERE score_date = %s", (DAY,)
    ) == [(100, 0.0, 1.0)]
    assert query(url, "SELECT count(*) FROM churn_scores WHERE score_date = %s", (DAY,)) == [(0,)]
    with pytest.raises(ValueError, match="only to"):
        publish_score_batches(url, DAY, lineage, [good], table="customers")


def test_shadow_and_canary_rows_carry_the_reasons_of_the_model_that_scored_them(spark, registry, features, url, tmp_path) -> None:
    path, frame = features
    set_challenger("2")
    canary = Canary(0.25, "test-salt")
    run(spark, path, url, tmp_path / "scores", canary)

    champion = expected_reasons(f"models:/{MODEL}/1", frame, COLUMNS)
    challenger = expected_reasons(f"models:/{MODEL}/2", frame, COLUMNS)
    assert not champion.equals(challenger), "two models with the same reasons would not tell the columns apart"
    assert_same_reasons(stored_reasons(url, SHADOW_TABLE, DAY), challenger)
    served = stored_reasons(url, "churn_scores", DAY)
    chosen = in_canary(served.index.to_numpy(), canary)
    assert 0 < chosen.sum() < len(served)
    assert_same_reasons(served[chosen], challenger[chosen])
    assert_same_reasons(served[~chosen], champion[~chosen])
