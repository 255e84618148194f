"""A Spark DataFrame written by nightshift.features.stable_parquet: the same rows give the same bytes whatever the plan."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from nightshift.features.stable_parquet import PART_FILE, write_stable_parquet

pytestmark = pytest.mark.integration


def test_partitioning_and_row_order_do_not_reach_the_bytes(spark, tmp_path: Path) -> None:
    rows = [(date(2026, 1, 4) + timedelta(days=7 * (i % 4)), i, float(i) / 3, i % 2) for i in range(400)]
    frame = spark.createDataFrame(rows, "as_of_date date, customer_id long, minutes_7d double, label int")
    one = write_stable_parquet(frame.coalesce(1), tmp_path / "one", ["as_of_date", "customer_id"])
    # Another plan for the same rows: hash-shuffled into 7 partitions, each in reverse order.
    shuffled = frame.repartition(7, "customer_id").sortWithinPartitions("customer_id", ascending=False)
    other = write_stable_parquet(shuffled, tmp_path / "other", ["as_of_date", "customer_id"])
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == [PART_FILE]
    assert one.read_bytes() == other.read_bytes()
    assert spark.read.parquet(str(tmp_path / "other")).count() == 400
