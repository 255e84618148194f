"""Tiny scoring days written as the Parquet scoring writes, with a reference built the way training builds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nightshift.contract import PLANS, REGIONS
from nightshift.feature_list import feature_columns
from nightshift.model.evaluation import reference_distributions

COLUMNS = feature_columns()


def features(rows: int, seed: int = 0, fee_factor: float = 1.0, plan: str | None = None) -> pd.DataFrame:
    """A day of plausible features: every model input, one plan and one region flag set per row."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.gamma(2.0, 3.0, rows) for c in COLUMNS})
    frame["monthly_fee"] = rng.choice([9.99, 19.99, 34.99], rows) * rng.uniform(0.9, 1.1, rows) * fee_factor
    plans = rng.choice(len(PLANS), rows, p=[0.5, 0.35, 0.15])
    regions = rng.choice(len(REGIONS), rows)
    for i, p in enumerate(PLANS):
        frame[f"plan_{p}"] = ((plans == i) & (plan is None)).astype("int32")
    for i, r in enumerate(REGIONS):
        frame[f"region_{r}"] = (regions == i).astype("int32")
    frame.insert(0, "customer_id", np.arange(rows, dtype="int64"))
    return frame


def scores(frame: pd.DataFrame, shift: float = 0.0) -> pd.DataFrame:
    logit = 0.08 * frame["tickets_30d"] - 0.05 * frame["sessions_30d"] - 2.0 + shift
    return pd.DataFrame({"customer_id": frame["customer_id"], "churn_probability": 1 / (1 + np.exp(-logit))})


def reference(frame: pd.DataFrame) -> dict:
    return reference_distributions(frame, COLUMNS, scores(frame)["churn_probability"], 10)


def write_day(folder: Path, frame: pd.DataFrame, score_frame: pd.DataFrame) -> tuple[Path, Path]:
    f, s = folder / "features", folder / "scores"
    f.mkdir(parents=True, exist_ok=True)
    s.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(f / "part-0.parquet")
    score_frame.to_parquet(s / "part-0.parquet")
    (s / "_SUCCESS").write_text("")  # as Spark leaves it: must be ignored
    return f, s
