"""The features and training_set suites on real Spark frames, and the gate's audit rows and quarantine."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nightshift.config import load_params
from nightshift.contract import customers_partition, events_partition
from nightshift.feature_list import feature_columns
from nightshift.features.jobs import scoring_features, training_set
from nightshift.local.badinput import corrupt_day
from nightshift.local.generate import generate
from nightshift.model.evaluation import reference_distributions
from nightshift.quality.bad_days import accept_day
from nightshift.quality.bands import reference_bands
from nightshift.quality.gate import gate_parquet, gate_raw_day
from nightshift.quality.suites import suite_parameters
from nightshift.quality.validation import DataQualityError
from tests.pg_helpers import create_database, query

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


def _bad_zone(tmp_path) -> tuple[Path, date]:
    """A small landing zone of its own; its last day is the one the test breaks."""
    zone = generate(tmp_path / "raw", customers=60, days=10, start_date=date(2026, 3, 1), seed=8)
    return zone.data_dir, zone.end_date


def test_the_verdict_is_recorded_even_when_the_quarantine_copy_fails(pg_url, tmp_path) -> None:
    root, day = _bad_zone(tmp_path)
    corrupt_day(root, day, "negative_minutes")
    url = create_database(pg_url, f"gate_{uuid.uuid4().hex[:12]}")
    # A quarantine folder that cannot be made, as on a full or read-only disk: its parent is a file.
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")

    with pytest.raises(DataQualityError, match=r"expect_column_values_to_be_between\(column=minutes\)"):
        gate_raw_day(day, root, url, blocker / "quarantine", load_params()["quality"]["row_count"])

    rows = query(url, "SELECT suite, success, quarantine_path, quarantine_error FROM data_quality_runs WHERE logical_date = %s", (day,))
    failed = [r for r in rows if not r[1]]
    assert [r[0] for r in failed] == ["raw_events"]
    [(_, _, quarantine_path, quarantine_error)] = failed
    assert quarantine_path is None
    assert "NotADirectoryError" in quarantine_error and str(blocker) in quarantine_error
    # The day is refused downstream like any other failed day, and can be accepted as it is.
    assert [(b.day, b.suite) for b in accept_day(url, day, "minutes clipped downstream", "ops")] == [(day, "raw_events")]


def _truncate(partition: Path) -> Path:
    [file] = sorted(partition.glob("*.parquet"))
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])  # a copy cut off mid-write: no footer
    return file


def test_a_truncated_file_fails_the_gate_naming_it_and_is_recorded_and_quarantined(pg_url, tmp_path) -> None:
    root, day = _bad_zone(tmp_path)
    broken = _truncate(customers_partition(root, day))
    url = create_database(pg_url, f"gate_{uuid.uuid4().hex[:12]}")

    with pytest.raises(DataQualityError) as caught:
        gate_raw_day(day, root, url, tmp_path / "q", load_params()["quality"]["row_count"])

    message = str(caught.value)
    assert f"raw_customers: {broken}: not a readable Parquet file" in message
    rows = query(
        url,
        "SELECT suite, success, failed_expectations, quarantine_path FROM data_quality_runs WHERE logical_date = %s ORDER BY suite",
        (day,),
    )
    assert [(suite, success) for suite, success, _, _ in rows] == [("raw_customers", False), ("raw_events", True)]
    [entry] = rows[0][2]
    assert entry["expectation"] == "readable_file" and str(broken) in entry["observed"]
    quarantined = tmp_path / "q" / "raw" / day.isoformat()
    assert rows[0][3] == str(quarantined)
    assert (quarantined / "customers" / broken.parent.name / broken.name).read_bytes() == broken.read_bytes()


def test_a_truncated_file_of_an_earlier_day_does_not_break_the_row_count_band(pg_url, tmp_path) -> None:
    # The earlier day is a failure of its own, on record when it was validated; today's day still validates.
    root, day = _bad_zone(tmp_path)
    _truncate(events_partition(root, day - timedelta(days=2)))
    url = create_database(pg_url, f"gate_{uuid.uuid4().hex[:12]}")
    summary = gate_raw_day(day, root, url, tmp_path / "q", load_params()["quality"]["row_count"])
    assert summary["rows"]["events"] > 0


def _retype_sessions(partition: Path, *, split: bool) -> Path:
    """sessions written as text, in the only file or (split) in the second of two files."""
    [file] = sorted(partition.glob("*.parquet"))
    table = pq.read_table(file)
    text = pc.cast(table.column("sessions"), pa.string())
    retyped = table.set_column(table.schema.get_field_index("sessions"), pa.field("sessions", pa.string()), text)
    if not split:
        pq.write_table(retyped, file)
        return file
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), file)
    wrong = partition / "part-1.parquet"
    pq.write_table(retyped.slice(half), wrong)
    return wrong


@pytest.mark.parametrize("split", [False, True], ids=["only_file", "second_of_two_files"])
def test_a_column_of_the_wrong_parquet_type_fails_naming_the_file_column_and_type(pg_url, tmp_path, split) -> None:
    root, day = _bad_zone(tmp_path)
    wrong = _retype_sessions(events_partition(root, day), split=split)
    url = create_database(pg_url, f"gate_{uuid.uuid4().hex[:12]}")

    with pytest.raises(DataQualityError) as caught:
        gate_raw_day(day, root, url, tmp_path / "q", load_params()["quality"]["row_count"])

    assert f"raw_events: {wrong}: column sessions has type string, the contract's is int32" in str(caught.value)
    [(failed,)] = query(url, "SELECT failed_expectations FROM data_quality_runs WHERE logical_date = %s AND NOT success", (day,))
    assert [(e["expectation"], e["column"]) for e in failed] == [("column_type", "sessions")]
