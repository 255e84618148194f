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


REASONS = ["reason_1", "reason_1_contribution", "reason_2", "reason_2_contribution", "reason_3", "reason_3_contribution"]


def expected_reasons(model_uri: str, frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The registered model's own tree contributions of each row (Booster.predict, pred_contribs), read the slow way:
    per customer, the three largest positive ones, largest first, ties to the earlier column; None when fewer."""
    import mlflow.xgboost
    import xgboost as xgb

    booster = mlflow.xgboost.load_model(model_uri).get_booster()
    contributions = booster.predict(xgb.DMatrix(frame[list(columns)]), pred_contribs=True)[:, :-1]
    records = []
    for row in contributions.tolist():
        up = sorted((-value, i) for i, value in enumerate(row) if value > 0)[:3]
        up += [(None, None)] * (3 - len(up))
        records.append([x for value, i in up for x in ((None, None) if i is None else (columns[i], -value))])
    return pd.DataFrame(records, columns=REASONS, index=frame["customer_id"].to_numpy()).sort_index()


def stored_reasons(url: str, table: str, day: object) -> pd.DataFrame:
    """The reason columns of ``table``'s rows of ``day``, by customer_id."""
    from tests.pg_helpers import query

    found = query(url, f"SELECT customer_id, {', '.join(REASONS)} FROM {table} WHERE score_date = %s", (day,))
    return pd.DataFrame([row[1:] for row in found], columns=REASONS, index=[row[0] for row in found]).sort_index()


def assert_same_reasons(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same features in the same places; contributions equal to float32 precision, NULL where None."""
    assert list(stored.index) == list(expected.index)
    for k in (1, 2, 3):
        assert stored[f"reason_{k}"].tolist() == expected[f"reason_{k}"].tolist(), f"reason_{k}"
        got, want = (f[f"reason_{k}_contribution"].to_numpy(dtype=float, na_value=np.nan) for f in (stored, expected))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, equal_nan=True)
