"""Real Spark builds the scoring features and the training set from a small generated landing zone."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from nightshift.feature_list import feature_columns
from nightshift.features.jobs import scoring_features, training_set
from nightshift.local.generate import generate

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    return generate(root / "raw", customers=300, days=100, start_date=date(2026, 2, 1), seed=3)


def test_scoring_features_cover_every_active_customer(spark, landing, tmp_path) -> None:
    day = landing.end_date
    out = scoring_features(spark, landing.data_dir, day, tmp_path / "features", WINDOWS)
    frame = pd.read_parquet(out["path"])
    snap = pd.read_parquet(landing.data_dir / "customers" / f"snapshot_date={day.isoformat()}")
    churn = pd.to_datetime(snap["churn_date"])
    active = snap[churn.isna() | (churn > pd.Timestamp(day))]
    assert out["rows"] == len(frame) == len(active)
    assert set(frame["customer_id"]) == set(active["customer_id"])
    assert list(frame.columns) == ["as_of_date", "customer_id", *feature_columns(WINDOWS)]
    assert frame[feature_columns(WINDOWS)].notna().all().all()


def test_scoring_features_are_written_in_key_order(spark, landing, tmp_path) -> None:
    # What lets the day's data version stream it (nightshift.scoring.data_version) rather than sort it.
    out = scoring_features(spark, landing.data_dir, landing.end_date, tmp_path / "features", WINDOWS)
    ids = pd.read_parquet(out["path"], columns=["customer_id"])["customer_id"]
    assert len(ids) == out["rows"] > 1
    assert ids.is_monotonic_increasing


def test_scoring_features_of_a_missing_day_name_the_folder(spark, landing, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no customers snapshot for 2027-01-01"):
        scoring_features(spark, landing.data_dir, date(2027, 1, 1), tmp_path / "f", WINDOWS)


def test_training_set_uses_only_labelled_dates_up_to_as_of(spark, landing, tmp_path) -> None:
    as_of = landing.end_date - timedelta(days=5)
    out = training_set(spark, landing.data_dir, as_of, tmp_path / "train", WINDOWS, 30, 7, 120)
    frame = pd.read_parquet(out["path"])
    dates = sorted({d.isoformat() if hasattr(d, "isoformat") else str(d) for d in frame["as_of_date"]})
    assert dates == out["dates"]
    # Every label is known by as_of: d + 30 days is on or before the newest snapshot it may read.
    assert max(date.fromisoformat(d) for d in dates) + timedelta(days=30) <= as_of
    assert set(frame["label"]) <= {0, 1}
    assert 0 < out["label_rate"] < 0.5
    assert not frame.duplicated(["as_of_date", "customer_id"]).any()


def test_training_set_refuses_too_little_history(spark, landing, tmp_path) -> None:
    with pytest.raises(ValueError, match="not enough labelled history"):
        training_set(spark, landing.data_dir, landing.start_date + timedelta(days=20), tmp_path / "t", WINDOWS, 30, 7, 120)
