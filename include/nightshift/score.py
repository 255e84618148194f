"""Score a day's features with the serving model and publish them to the warehouse."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from nightshift.features import feature_columns
from nightshift.registry import ServingModel, serving_model

log = logging.getLogger(__name__)


def fingerprint(path: Path) -> str:
    """Content hash of a Parquet file or folder: the scores' data version."""
    digest = hashlib.sha256()
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*.parquet")))
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def predict(features_path: Path, model: ServingModel, windows: list[int], scored_at: datetime):
    """Churn probability for every row of the features file, with lineage columns."""
    import mlflow
    import pandas as pd

    frame = pd.read_parquet(features_path)
    columns = feature_columns(windows)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"features at {features_path} lack model inputs {missing}")
    booster = mlflow.xgboost.load_model(model.uri)
    probabilities = booster.predict_proba(frame[columns])[:, 1]
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("int64"),
            "churn_probability": probabilities.astype("float64"),
            "model_name": model.name,
            "model_version": model.version,
            "run_id": model.run_id,
            "data_version": fingerprint(features_path),
            "scored_at": scored_at,
        }
    )


def score_day(
    features_path: Path,
    score_date: date,
    database_url: str,
    model_name: str,
    windows: list[int],
    alias: str = "champion",
) -> dict[str, Any]:
    """Score `score_date` with the model behind `alias` and replace that date's rows."""
    from nightshift.warehouse import ensure_schema, publish_scores

    model = serving_model(model_name, alias)
    # Audit metadata only: rows are keyed on score_date, so a rerun replaces them whatever the clock says.
    scored_at = datetime.now(timezone.utc)
    scores = predict(features_path, model, windows, scored_at)
    ensure_schema(database_url)
    rows = publish_scores(database_url, scores, score_date)
    result = {
        "score_date": score_date.isoformat(),
        "rows": rows,
        "model_name": model.name,
        "model_version": model.version,
        "run_id": model.run_id,
        "mean_probability": float(scores["churn_probability"].mean()) if rows else None,
    }
    log.info("scored %s", result)
    return result
