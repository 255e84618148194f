"""What the served model trains on, against a real Spark-built training set and a real MLflow store."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from nightshift.config import load_params
from nightshift.feature_list import feature_columns
from nightshift.features.jobs import training_set
from nightshift.local.generate import generate
from nightshift.model.train import TrainResult, train_model

pytestmark = pytest.mark.integration

NAME = "churn_xgb_train_test"
WINDOWS = [7, 30, 90]
HORIZON, EVERY = 30, 7


@pytest.fixture(scope="module")
def training_path(spark, tmp_path_factory) -> Path:
    # Five months of history, the length that once left one training date.
    landing = generate(tmp_path_factory.mktemp("train") / "raw", customers=600, days=150, start_date=date(2025, 8, 1), seed=13)
    out = landing.data_dir.parent / "set"
    training_set(spark, landing.data_dir, landing.end_date, out, WINDOWS, HORIZON, EVERY, 140)
    return out


@pytest.fixture(scope="module")
def trained(training_path: Path, tmp_path_factory) -> tuple[TrainResult, dict, dict]:
    store = tmp_path_factory.mktemp("mlflow_train")
    params = copy.deepcopy(load_params())
    params["model"]["name"] = NAME
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
        mp.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(store / "artifacts"))
        from nightshift.model.registry import registry_client

        result = train_model(training_path, params, raw_data_dir=training_path.parent / "raw")
        run = registry_client().get_run(result.run_id).data
        return result, run.params, run.metrics


def test_the_served_model_trains_on_every_date_before_the_evaluation_gap(trained, training_path: Path) -> None:
    result, params, metrics = trained
    frame = pd.read_parquet(training_path)
    dates = sorted(pd.to_datetime(frame["as_of_date"]).unique())
    eval_dates = dates[-round(len(dates) * 0.25) :]
    # Every date whose 30-day label window ends by the first evaluation date trains; only the gap is left out.
    before_gap = [d for d in dates if d + pd.Timedelta(days=HORIZON) <= eval_dates[0]]
    assert len(dates) == 18 and len(before_gap) == 10
    assert params["train_dates"] == f"{before_gap[0].date()}..{before_gap[-1].date()} ({len(before_gap)} dates)"
    assert params["eval_dates"] == f"{eval_dates[0].date()}..{eval_dates[-1].date()} ({len(eval_dates)} dates)"
    in_train = pd.to_datetime(frame["as_of_date"]).isin(before_gap)
    assert result.train_rows == int(metrics["train_rows"]) == int(in_train.sum())
    assert result.eval_rows == int(pd.to_datetime(frame["as_of_date"]).isin(eval_dates).sum())


def test_cross_validation_chose_the_trees_the_served_booster_holds(trained) -> None:
    import mlflow

    result, params, metrics = trained
    assert params["cv_folds"] == "5"
    assert 1 <= result.n_trees == int(metrics["n_trees"]) < int(params["xgb.n_estimators"])
    booster = mlflow.xgboost.load_model(f"runs:/{result.run_id}/model").get_booster()
    assert booster.num_boosted_rounds() == result.n_trees
    assert booster.feature_names == feature_columns(WINDOWS)
