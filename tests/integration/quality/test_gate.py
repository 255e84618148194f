"""The features and training_set suites on real Spark frames, and the gate's audit rows and quarantine."""

from __future__ import annotations

import json
from datetime import date

import psycopg2
import pytest

from nightshift.config import load_params
from nightshift.features.columns import feature_columns
from nightshift.features.jobs import scoring_features, training_set
from nightshift.local.generate import generate
from nightshift.model.evaluation import reference_distributions
from nightshift.quality.bands import reference_bands
from nightshift.quality.gate import gate_parquet, gate_raw_day
from nightshift.quality.suites import suite_parameters
from nightshift.quality.validation import DataQualityError

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]
PARAMS = suite_parameters(load_params()["quality"])


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    return generate(root / "raw", customers=400, days=100, start_date=date(2026, 2, 1), seed=5)


@pytest.fixture(scope="module")
def features_path(spark, landing, tmp_path_factory):
    out = tmp_path_factory.mktemp("features") / "day"
    scoring_features(spark, landing.data_dir, landing.end_date, out, WINDOWS)
    return out


@pytest.fixture(scope="module")
def mean_params(features_path) -> dict[str, float]:
    """Mean bands from a reference of the generator's own features, as a model trained on them would log."""
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(features_path)
    columns = feature_columns(WINDOWS)
    reference = reference_distributions(frame, columns, np.zeros(len(frame)))
    return reference_bands("gate_test", "1", "none", reference, load_params()["quality"]).suite_parameters()


def _runs(url: str, day: date, after_id: int = 0) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT suite, success, failed, failed_expectations, quarantine_path FROM data_quality_runs"
            " WHERE logical_date = %s AND id > %s ORDER BY id",
            (day, after_id),
        )
        return cur.fetchall()


def _last_id(url: str) -> int:
    # The session's database is shared: other tests may record runs for the same date.
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('data_quality_runs') IS NOT NULL")
        if not cur.fetchone()[0]:
            return 0
        cur.execute("SELECT coalesce(max(id), 0) FROM data_quality_runs")
        return int(cur.fetchone()[0])


def test_clean_features_pass_and_are_recorded(spark, features_path, mean_params, landing, pg_url, tmp_path) -> None:
    day = date(2031, 1, 1)  # a date no other test records under
    summary = gate_parquet("features", spark, features_path, day, mean_params, pg_url, tmp_path / "q", WINDOWS)
    assert summary["suites"]["features"]["success"] is True
    assert summary["suites"]["features"]["evaluated"] > 50
    assert _runs(pg_url, day) == [("features", True, 0, [], None)]
    assert not (tmp_path / "q").exists()


def test_bad_features_fail_in_spark_name_the_problem_and_are_quarantined(spark, features_path, mean_params, pg_url, tmp_path) -> None:
    from pyspark.sql import functions as F

    bad_path = tmp_path / "bad_features"
    frame = spark.read.parquet(str(features_path))
    frame.withColumn("sessions_7d", F.when(F.col("customer_id") % 5 == 0, F.lit(-3.0)).otherwise(F.col("sessions_7d"))).write.parquet(
        str(bad_path)
    )
    day = date(2031, 1, 2)
    with pytest.raises(DataQualityError) as caught:
        gate_parquet("features", spark, bad_path, day, mean_params, pg_url, tmp_path / "q", WINDOWS)
    message = str(caught.value)
    assert "features:" in message
    assert "expect_column_values_to_be_between(column=sessions_7d)" in message
    assert "-3.0" in message
    [(suite, success, failed, failed_expectations, quarantine_path)] = _runs(pg_url, day)
    assert (suite, success, failed) == ("features", False, 1)
    assert failed_expectations[0]["column"] == "sessions_7d"
    quarantined = tmp_path / "q" / "features" / day.isoformat()
    assert quarantine_path == str(quarantined)
    assert list(quarantined.glob("*/bad_features/*.parquet")), "the failing output is copied to quarantine"
    result = json.loads((quarantined / "validation_result.json").read_text())
    assert result["failures"][0]["column"] == "sessions_7d"


def test_training_set_label_rate_out_of_bounds_fails(spark, landing, pg_url, tmp_path) -> None:
    out = tmp_path / "train"
    training_set(spark, landing.data_dir, landing.end_date, out, WINDOWS, 30, 7, 120)
    day = date(2031, 1, 3)
    strict = {**PARAMS["training_set"], "label_rate_min": 0.5, "label_rate_max": 0.9}
    with pytest.raises(DataQualityError, match=r"expect_column_mean_to_be_between\(column=label\)"):
        gate_parquet("training_set", spark, out, day, strict, pg_url, tmp_path / "q", WINDOWS)
    assert _runs(pg_url, day)[0][:2] == ("training_set", False)
    # The same set passes the configured bounds.
    ok_day = date(2031, 1, 4)
    gate_parquet("training_set", spark, out, ok_day, PARAMS["training_set"], pg_url, tmp_path / "q", WINDOWS)
    assert _runs(pg_url, ok_day)[0][:2] == ("training_set", True)


def test_raw_gate_records_both_suites(landing, pg_url, tmp_path) -> None:
    band = load_params()["quality"]["row_count"]
    before = _last_id(pg_url)
    summary = gate_raw_day(landing.end_date, landing.data_dir, pg_url, tmp_path / "q", band)
    assert summary["rows"]["events"] > 0
    rows = _runs(pg_url, landing.end_date, after_id=before)
    assert sorted(r[0] for r in rows) == ["raw_customers", "raw_events"]
    assert all(r[1] for r in rows)
