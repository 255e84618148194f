"""The Assets the DAGs hand each other (Airflow data-aware scheduling): names, never data."""

from __future__ import annotations

from airflow.sdk import Asset

TRAINING_SET = Asset(name="churn_training_set", uri="nightshift://work/training_set")
CHAMPION_MODEL = Asset(name="churn_model", uri="nightshift://mlflow/churn_model")
DAY_FEATURES = Asset(name="churn_day_features", uri="nightshift://work/features")
CHURN_SCORES = Asset(name="churn_scores", uri="nightshift://warehouse/churn_scores")
# Raised by drift_monitor only when its policy asks for a retrain; train_model runs on it (or its weekly schedule).
CHURN_DRIFT = Asset(name="churn_drift", uri="nightshift://monitoring/churn_drift")
