"""What the served model trains on and the calibrated probability it serves, against a real Spark-built training set,
a real MLflow store, real Spark scoring and real PostgreSQL."""

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
from nightshift.model.calibration import booster_calibration, served_probabilities
from nightshift.model.evaluation import calibration_metrics
from nightshift.model.train import train_model

pytestmark = pytest.mark.integration

NAME = "churn_xgb_train_test"
WINDOWS = [7, 30, 90]
COLUMNS = feature_columns(WINDOWS)
HORIZON, EVERY = 30, 7
CALIBRATION_DATES = 2  # params.yaml train.calibration_dates


@pytest.fixture(scope="module")
def training_path(spark, tmp_path_factory) -> Path:
    # Five months of history, the length that once left one training date.
    landing = generate(tmp_path_factory.mktemp("train") / "raw", customers=600, days=150, start_date=date(2025, 8, 1), seed=13)
    out = landing.data_dir.parent / "set"
    training_set(spark, landing.data_dir, landing.end_date, out, WINDOWS, HORIZON, EVERY, 140)
    return out


@pytest.fixture(scope="module")
def trained(training_path: Path, tmp_path_factory):
    """The trained version, its run's params and metrics; the MLflow store stays set for the module's tests."""
    store = tmp_path_factory.mktemp("mlflow_train")
    params = copy.deepcopy(load_params())
    params["model"]["name"] = NAME
    assert params["train"]["calibration_dates"] == CALIBRATION_DATES
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
        mp.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(store / "artifacts"))
        from nightshift.model.registry import registry_client

        result = train_model(training_path, params, raw_data_dir=training_path.parent / "raw")
        run = registry_client().get_run(result.run_id).data
        yield result, run.params, run.metrics


def test_the_served_model_trains_on_every_date_before_the_evaluation_gap(trained, training_path: Path) -> None:
    result, params, metrics = trained
    frame = pd.read_parquet(training_path)
    dates = sorted(pd.to_datetime(frame["as_of_date"]).unique())
    eval_dates = dates[-round(len(dates) * 0.25) :]
    # Every date whose 30-day label window ends by the first evaluation date trains or calibrates; only the gap is left out.
    before_gap = [d for d in dates if d + pd.Timedelta(days=HORIZON) <= eval_dates[0]]
    assert len(dates) == 18 and len(before_gap) == 10
    train_dates, calib_dates = before_gap[:-CALIBRATION_DATES], before_gap[-CALIBRATION_DATES:]
    assert params["train_dates"] == f"{train_dates[0].date()}..{train_dates[-1].date()} ({len(train_dates)} dates)"
    assert params["calib_dates"] == f"{calib_dates[0].date()}..{calib_dates[-1].date()} ({CALIBRATION_DATES} dates)"
    assert params["eval_dates"] == f"{eval_dates[0].date()}..{eval_dates[-1].date()} ({len(eval_dates)} dates)"
    as_of = pd.to_datetime(frame["as_of_date"])
    assert result.train_rows == int(metrics["train_rows"]) == int(as_of.isin(train_dates).sum())
    assert int(metrics["calibration_rows"]) == int(as_of.isin(calib_dates).sum())
    assert result.eval_rows == int(as_of.isin(eval_dates).sum())


def test_cross_validation_chose_the_trees_the_served_booster_holds(trained) -> None:
    import mlflow

    result, params, metrics = trained
    assert params["cv_folds"] == "5"
    assert 1 <= result.n_trees == int(metrics["n_trees"]) < int(params["xgb.n_estimators"])
    booster = mlflow.xgboost.load_model(f"runs:/{result.run_id}/model").get_booster()
    assert booster.num_boosted_rounds() == result.n_trees
    assert booster.feature_names == feature_columns(WINDOWS)


def _evaluation(training_path: Path, params: dict) -> pd.DataFrame:
    frame = pd.read_parquet(training_path).sort_values(["as_of_date", "customer_id"], kind="mergesort")
    first = pd.Timestamp(params["eval_dates"][:10])
    return frame[pd.to_datetime(frame["as_of_date"]) >= first]


def test_the_registered_model_carries_the_map_fitted_on_the_calibration_dates(trained, training_path: Path) -> None:
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    result, params, metrics = trained
    model = mlflow.xgboost.load_model(f"models:/{NAME}/{result.model_version}")
    calibration = booster_calibration(model.get_booster())
    assert calibration is not None and calibration.fitted_on == params["calib_dates"]
    assert params["calibration.method"] == "platt" and float(params["calibration.slope"]) == pytest.approx(calibration.slope)
    # The map is scikit-learn's logistic regression of the calibration dates' labels on the booster's margins.
    frame = pd.read_parquet(training_path).sort_values(["as_of_date", "customer_id"], kind="mergesort")
    calib = frame[pd.to_datetime(frame["as_of_date"]).isin(pd.to_datetime(calibration.fitted_on[:10]) + pd.to_timedelta([0, 7], "D"))]
    assert calibration.rows == len(calib) == int(metrics["calibration_rows"]) and calibration.positives == int(calib["label"].sum())
    margins = model.predict(calib[COLUMNS], output_margin=True).reshape(-1, 1)
    by_hand = LogisticRegression(C=np.inf).fit(margins, calib["label"])
    # Up to the solver's tolerance (lbfgs stops within 1e-4).
    assert (calibration.slope, calibration.intercept) == pytest.approx((by_hand.coef_[0][0], by_hand.intercept_[0]), abs=1e-4)

    # Every metric is of the served, calibrated probabilities; ece_before of the booster's own.
    evaluation = _evaluation(training_path, params)
    served, raw = served_probabilities(model, evaluation[COLUMNS]), model.predict_proba(evaluation[COLUMNS])[:, 1]
    assert metrics["ece_after"] == metrics["expected_calibration_error"] == result.expected_calibration_error
    assert metrics["ece_after"] == pytest.approx(calibration_metrics(evaluation["label"], served)["expected_calibration_error"])
    assert metrics["ece_before"] == pytest.approx(calibration_metrics(evaluation["label"], raw)["expected_calibration_error"])
    assert metrics["ece_before"] != pytest.approx(metrics["ece_after"])
    # An increasing map: the ranking and so the ROC AUC are the booster's.
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(evaluation["label"], raw), abs=1e-9)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id, "plots")}
    assert "plots/calibration.png" in artifacts


def test_scoring_serves_the_calibrated_probabilities_and_shadow_scoring_each_models_own(
    trained, training_path: Path, spark, pg_url: str, tmp_path: Path
) -> None:
    import datetime as dt

    import mlflow
    import numpy as np
    import xgboost as xgb

    from nightshift.scoring.predict import load_booster, score_features_pair
    from nightshift.scoring.rollout import Canary
    from nightshift.scoring.score import score_day
    from nightshift.warehouse.readers import read_scores

    result, params, _ = trained
    evaluation = _evaluation(training_path, params)
    day = evaluation[evaluation["as_of_date"] == evaluation["as_of_date"].max()].sort_values("customer_id")
    features = tmp_path / "features"
    features.mkdir()
    day[["customer_id", *COLUMNS]].to_parquet(features / "part-0.parquet", index=False)
    model = mlflow.xgboost.load_model(f"models:/{NAME}/{result.model_version}")
    served = served_probabilities(model, day[COLUMNS])

    # The version as nightly scoring finds it: the champion in the registry, scored on Spark, published to PostgreSQL.
    assert result.champion, result.gate
    score_date = dt.date.fromisoformat(str(day["as_of_date"].iloc[0])[:10])
    scored = score_day(spark, features, score_date, pg_url, NAME, WINDOWS, tmp_path / "scores")
    assert scored["model_version"] == result.model_version
    published = read_scores(pg_url, score_date)
    assert published["customer_id"].tolist() == day["customer_id"].tolist()
    np.testing.assert_allclose(published["churn_probability"].to_numpy(), served, rtol=1e-12)
    assert not np.allclose(served, model.predict_proba(day[COLUMNS])[:, 1])

    # In one shadow pass each booster applies its own map: here the champion's, and none for a copy without one.
    calibrated = load_booster(f"models:/{NAME}/{result.model_version}", COLUMNS)
    bare = xgb.Booster(model_file=bytearray(calibrated))
    bare.set_attr(calibration=None)
    pair = score_features_pair(spark, features, calibrated, bytes(bare.save_raw("ubj")), COLUMNS, tmp_path / "pair", Canary(0.0, "s"))
    both = pd.read_parquet(pair).sort_values("customer_id")
    np.testing.assert_allclose(both["churn_probability"].to_numpy(), served, rtol=1e-12)
    np.testing.assert_allclose(both["challenger_probability"].to_numpy(), model.predict_proba(day[COLUMNS])[:, 1], rtol=1e-7)
