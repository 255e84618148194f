"""What the scoring tests share: synthetic feature rows and a throwaway MLflow store to register small models in."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def synthetic_features(ids: np.ndarray, seed: int, columns: Sequence[str]) -> pd.DataFrame:
    """customer_id and Poisson counts for every feature column, seeded."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.poisson(3.0, (len(ids), len(columns))).astype("float64"), columns=list(columns))
    frame.insert(0, "customer_id", ids.astype("int64"))
    return frame


def churn_label(frame: pd.DataFrame) -> pd.Series:
    """A learnable, noisy 0/1 label of the feature rows."""
    return (frame["failed_payments_30d"] + np.random.default_rng(2).normal(0, 1, len(frame)) > 3).astype(int)


@contextmanager
def mlflow_store(root: Path, model_name: str) -> Iterator[None]:
    """MLflow tracking and registry in `root` for the block, with the model's experiment made."""
    from nightshift.model.registry import configure_mlflow, ensure_experiment

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(root / "artifacts"))
        configure_mlflow()
        ensure_experiment(model_name)
        yield
