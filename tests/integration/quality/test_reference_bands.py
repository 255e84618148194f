"""The features gate judges a day by the champion's own training data, not by the generator's customers.

A landing zone of 1997 whose customers are far less active than the bundled generator's (one
customer-day in ten kept, one session each, a fifth of the minutes) trains a real model into a
real MLflow store as of 1997-12-31. Its next day, 1998-01-01, passes the features gate with the
bands of that model's reference; the same day with one column moved far away is refused, and the
message names the column, its mean, the band and the model version.
"""

from __future__ import annotations

import copy
import re
from datetime import date, timedelta
from pathlib import Path

import psycopg2
import pyarrow.parquet as pq
import pytest

from nightshift.config import load_params
from nightshift.contract import events_partition
from nightshift.features.jobs import scoring_features, training_set
from nightshift.local.generate import generate
from nightshift.model.train import train_model
from nightshift.monitoring.reference import champion_bands
from nightshift.quality.gate import gate_parquet
from nightshift.quality.validation import DataQualityError

pytestmark = pytest.mark.integration

NAME = "churn_1997_test"
WINDOWS = [7, 30, 90]
START = date(1997, 1, 1)
AS_OF = date(1997, 12, 31)
DAY = date(1998, 1, 1)


def _params() -> dict:
    params = copy.deepcopy(load_params())
    params["model"]["name"] = NAME
    # Whatever this thin history lets a model learn, version 1 must serve: the promotion gate is not under test.
    params["gate"] = {"metric": "roc_auc", "min_improvement": 0.005, "floors": {}, "ceilings": {}}
    return params


def _calm(root: Path, start: date, end: date) -> None:
    """Keep one customer-day in ten, one session each and a fifth of the minutes: still the contract."""
    day = start
    while day <= end:
        [file] = events_partition(root, day).glob("*.parquet")
        table = pq.read_table(file)
        events = table.to_pandas()
        events = events[(events["customer_id"] * 7 + day.toordinal()) % 10 == 0]
        events = events.assign(sessions=1, minutes=(events["minutes"] / 5.0).round(2))
        pq.write_table(table.from_pandas(events, schema=table.schema, preserve_index=False), file)
        day += timedelta(days=1)


def _use_store(mp: pytest.MonkeyPatch, root: Path) -> None:
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(root / "artifacts"))


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    result = generate(tmp_path_factory.mktemp("y1997") / "raw", customers=500, days=366, start_date=START, seed=19)
    assert result.end_date == DAY
    _calm(result.data_dir, result.start_date, result.end_date)
    return result


@pytest.fixture(scope="module")
def store(spark, landing, tmp_path_factory) -> Path:
    """A real MLflow store whose champion, version 1, was trained on 1997 as of its last day."""
    root = tmp_path_factory.mktemp("mlflow")
    out = tmp_path_factory.mktemp("training") / "set"
    train = _params()["train"]
    horizon, every, window = train["label_horizon_days"], train["sample_every_days"], train["window_days"]
    training_set(spark, landing.data_dir, AS_OF, out, WINDOWS, horizon, every, window)
    with pytest.MonkeyPatch.context() as mp:
        _use_store(mp, root)
        result = train_model(out, _params(), {"test": "1997"}, raw_data_dir=landing.data_dir)
    assert (result.model_version, result.champion) == ("1", True)
    return root


@pytest.fixture(scope="module")
def next_day(spark, landing, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("features") / DAY.isoformat()
    scoring_features(spark, landing.data_dir, DAY, out, WINDOWS)
    return out


@pytest.fixture
def champion(store: Path, monkeypatch: pytest.MonkeyPatch):
    _use_store(monkeypatch, store)
    return champion_bands(_params())


def _runs(url: str, day: date) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT success, failed, failed_expectations FROM data_quality_runs WHERE logical_date = %s ORDER BY id", (day,))
        return cur.fetchall()


def _means(spark, path: Path, columns: list[str]) -> dict[str, float]:
    from pyspark.sql import functions as F

    row = spark.read.parquet(str(path)).agg(*[F.mean(c).alias(c) for c in columns]).first()
    return {c: float(row[c]) for c in columns}


def test_the_next_day_of_a_quiet_1997_history_passes_the_bands_of_its_own_champion(spark, champion, next_day, pg_url, tmp_path) -> None:
    means = _means(spark, next_day, ["sessions_30d", "active_days_30d"])
    # The customers of this history: below the floors once fitted to the generator (5 and 3).
    assert means["sessions_30d"] < 5.0 and means["active_days_30d"] < 3.0
    assert champion.model_version == "1"
    bands = {b.column: b for b in champion.bands}
    assert list(bands) == load_params()["quality"]["features"]["mean_columns"]
    assert bands["sessions_30d"].low < means["sessions_30d"] < bands["sessions_30d"].high < 5.0

    day = date(2032, 1, 1)  # a date no other test records under
    parameters = champion.suite_parameters()
    summary = gate_parquet("features", spark, next_day, day, parameters, pg_url, tmp_path / "q", WINDOWS, champion.describe())
    assert summary["suites"]["features"]["success"] is True
    assert _runs(pg_url, day) == [(True, 0, [])]


def test_a_day_whose_mean_left_the_band_is_refused_naming_column_mean_band_and_version(spark, champion, next_day, pg_url, tmp_path) -> None:
    from pyspark.sql import functions as F

    moved = tmp_path / "moved"
    # Minutes counted in seconds: every value 60 times larger, still a valid non-negative number.
    spark.read.parquet(str(next_day)).withColumn("minutes_30d", F.col("minutes_30d") * 60.0).write.parquet(str(moved))
    band = next(b for b in champion.bands if b.column == "minutes_30d")
    observed = _means(spark, moved, ["minutes_30d"])["minutes_30d"]
    assert observed > band.high

    day = date(2032, 1, 2)
    with pytest.raises(DataQualityError) as caught:
        gate_parquet("features", spark, moved, day, champion.suite_parameters(), pg_url, tmp_path / "q", WINDOWS, champion.describe())
    message = str(caught.value)
    assert "features: 1 of" in message
    assert f"the mean of minutes_30d must be between {band.low} and {band.high}" in message
    [reported] = re.findall(r"\[expect_column_mean_to_be_between\(column=minutes_30d\)\]: observed ([-+.\de]+),", message)
    assert float(reported) == pytest.approx(observed, rel=1e-9)
    assert f"mean bands from the reference of {NAME} version 1 (run {champion.run_id})" in message
    [(success, failed, failures)] = _runs(pg_url, day)
    assert (success, failed, failures[0]["column"]) == (False, 1, "minutes_30d")
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT message FROM data_quality_runs WHERE logical_date = %s", (day,))
        assert cur.fetchone()[0] == message  # the audit row says which model's bands refused the day


def test_without_a_champion_the_bands_are_refused_with_the_registrys_reason(tmp_path, monkeypatch) -> None:
    _use_store(monkeypatch, tmp_path)
    with pytest.raises(LookupError, match=f"model '{NAME}' has no versions in the registry at sqlite:.*run the train_model DAG first"):
        champion_bands(_params())
