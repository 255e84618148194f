"""The Spark jobs read only the day partitions their windows need: a day outside them is never opened.

Each case breaks the days a job must not read (a file that is not Parquet, a file whose columns break
the contract) and checks that the job still succeeds with exactly the rows it builds on intact data.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nightshift.contract import customers_partition, events_partition
from nightshift.features.jobs import scoring_features, training_set
from nightshift.local.generate import generate

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]
START = date(2026, 2, 1)
DAYS = 140


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("landing_window") / "raw", customers=200, days=DAYS, start_date=START, seed=5)


def _broken_copy(landing, tmp_path: Path, days: list[date]) -> Path:
    """A copy of the landing zone whose events and customers partitions of `days` cannot be read by the contract."""
    root = tmp_path / "raw"
    shutil.copytree(landing.data_dir, root)
    for i, d in enumerate(days):
        for folder in (events_partition(root, d), customers_partition(root, d)):
            for f in folder.iterdir():
                f.unlink()
            if i % 2 == 0:
                (folder / "part-0.parquet").write_bytes(b"not a parquet file")
            else:  # a readable file whose customer_id is text: no schema merges with it
                pq.write_table(pa.table({"customer_id": ["x"], "sessions": ["many"]}), folder / "part-0.parquet")
    return root


def _rows(path: str) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values(["as_of_date", "customer_id"]).reset_index(drop=True)


def test_scoring_features_never_open_a_day_before_the_longest_window(spark, landing, tmp_path) -> None:
    day = landing.end_date
    first_read = day - timedelta(days=max(WINDOWS) - 1)
    broken = _broken_copy(landing, tmp_path, [START, START + timedelta(days=1), first_read - timedelta(days=1)])

    got = scoring_features(spark, broken, day, tmp_path / "broken_out", WINDOWS)
    want = scoring_features(spark, landing.data_dir, day, tmp_path / "clean_out", WINDOWS)
    assert got["rows"] == want["rows"] > 0
    pd.testing.assert_frame_equal(_rows(got["path"]), _rows(want["path"]))


def test_a_broken_day_inside_the_window_still_fails_the_job(spark, landing, tmp_path) -> None:
    # The guard for the test above: the broken files do break a job that reads them.
    day = landing.end_date
    broken = _broken_copy(landing, tmp_path, [day - timedelta(days=max(WINDOWS) - 1)])
    with pytest.raises(Exception, match="(?i)parquet|customer_id|sessions"):
        scoring_features(spark, broken, day, tmp_path / "out", WINDOWS)


def test_training_set_never_opens_a_day_before_its_first_window_or_after_as_of(spark, landing, tmp_path) -> None:
    as_of = landing.end_date - timedelta(days=3)
    args = (WINDOWS, 30, 7, 21)  # 3 weekly dates, the first 92 days after START
    want = training_set(spark, landing.data_dir, as_of, tmp_path / "clean", *args)
    first_date = date.fromisoformat(want["dates"][0])
    before = first_date - timedelta(days=max(WINDOWS))
    assert before > START
    broken = _broken_copy(landing, tmp_path, [START, before, as_of + timedelta(days=1), landing.end_date])

    got = training_set(spark, broken, as_of, tmp_path / "broken", *args)
    assert (got["rows"], got["dates"]) == (want["rows"], want["dates"])
    pd.testing.assert_frame_equal(_rows(got["path"]), _rows(want["path"]))
