"""Train the churn model on a labelled training set and register it in MLflow.

The newest snapshot dates of the training set are held out for evaluation, so the
metrics are measured on customers' later behaviour, not on rows the model saw. The
first registered version becomes `champion`; later versions are registered and left
for a promotion decision.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nightshift.features import KEYS, feature_columns
from nightshift.registry import configure_mlflow, ensure_experiment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_name: str
    model_version: str
    champion: bool
    roc_auc: float
    pr_auc: float
    log_loss: float
    train_rows: int
    eval_rows: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_by_time(frame, test_fraction: float):
    """Oldest snapshot dates train, the newest `test_fraction` of dates evaluate."""
    dates = sorted(frame["as_of_date"].unique())
    if len(dates) < 2:
        raise ValueError(f"a time split needs at least two snapshot dates, got {len(dates)}")
    n_test = min(max(1, round(len(dates) * test_fraction)), len(dates) - 1)
    cutoff = dates[-n_test]
    return frame[frame["as_of_date"] < cutoff], frame[frame["as_of_date"] >= cutoff]


def evaluate(labels, probabilities) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "log_loss": float(log_loss(labels, probabilities, labels=[0, 1])),
    }


def train_model(
    training_set_path: Path,
    params: dict[str, Any],
    model_name: str,
    champion_alias: str = "champion",
    tags: dict[str, str] | None = None,
) -> TrainResult:
    """Fit XGBoost on the older dates, evaluate on the newest, log and register in MLflow."""
    import mlflow
    import pandas as pd
    import xgboost as xgb
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    train_params = params["train"]
    windows = params["features"]["windows_days"]
    columns = feature_columns(windows)
    frame = pd.read_parquet(training_set_path)
    missing = [c for c in [*KEYS, *columns, "label"] if c not in frame.columns]
    if missing:
        raise ValueError(f"training set {training_set_path} lacks columns {missing}")
    if frame["label"].nunique() < 2:
        raise ValueError(f"training set {training_set_path} has a single label value; cannot train")
    train, test = split_by_time(frame, float(train_params["test_fraction"]))
    if test["label"].nunique() < 2:
        raise ValueError("the evaluation window holds a single label value; widen train.window_days")

    configure_mlflow()
    ensure_experiment(model_name)
    xgb_params = dict(train_params["xgboost"])
    model = xgb.XGBClassifier(**xgb_params, random_state=int(train_params["seed"]), eval_metric="logloss")
    with mlflow.start_run(run_name=f"train-{model_name}", tags=tags or {}) as run:
        mlflow.log_params({f"xgb.{k}": v for k, v in xgb_params.items()})
        mlflow.log_params(
            {
                "label_horizon_days": train_params["label_horizon_days"],
                "sample_every_days": train_params["sample_every_days"],
                "window_days": train_params["window_days"],
                "test_fraction": train_params["test_fraction"],
                "feature_windows": ",".join(str(w) for w in windows),
                "train_dates": f"{train['as_of_date'].min()}..{train['as_of_date'].max()}",
                "eval_dates": f"{test['as_of_date'].min()}..{test['as_of_date'].max()}",
            }
        )
        model.fit(train[columns], train["label"])
        probabilities = model.predict_proba(test[columns])[:, 1]
        metrics = evaluate(test["label"], probabilities)
        mlflow.log_metrics({**metrics, "train_rows": len(train), "eval_rows": len(test), "eval_label_rate": float(test["label"].mean())})
        example = test[columns].head(5)
        info = mlflow.xgboost.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict_proba(example)[:, 1]),
            input_example=example,
            registered_model_name=model_name,
        )
        version = str(info.registered_model_version)

    client = MlflowClient()
    is_champion = False
    try:
        client.get_model_version_by_alias(model_name, champion_alias)
    except mlflow.exceptions.MlflowException:
        client.set_registered_model_alias(model_name, champion_alias, version)
        is_champion = True
    result = TrainResult(
        run_id=run.info.run_id,
        model_name=model_name,
        model_version=version,
        champion=is_champion,
        train_rows=len(train),
        eval_rows=len(test),
        **metrics,
    )
    log.info("trained %s", result)
    return result
