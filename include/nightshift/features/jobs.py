"""Spark jobs: the feature set of a scoring day and the labelled training set.

Both take a SparkSession from the caller (Airflow's Spark provider, a test fixture or
`nightshift` on the command line), read the landing zone and write Parquet, returning
references (path, rows) rather than data. Given the warehouse's URL (`quality_url`), a job
first refuses to read a window holding a raw day whose failed validation is not resolved
(nightshift.quality.bad_days): it names the raw partitions it reads in a `RawWindow`. With or
without it, a job refuses a window holding a day that has not landed, unless that day was
accepted as a day of no activity (nightshift.quality.missing_days; acceptances live in the
warehouse, so without one none counts).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nightshift.contract import customers_partition
from nightshift.feature_list import KEYS
from nightshift.features.point_in_time import (
    build_features,
    build_labels,
    feature_window,
    label_snapshots,
    labelled_dates,
    read_customers,
    read_events,
    snapshot_dates,
)
from nightshift.features.stable_parquet import write_stable_parquet
from nightshift.landing import missing_partitions
from nightshift.quality.bad_days import RawWindow, require_resolved
from nightshift.quality.missing_days import require_landed

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def scoring_window(day: date, windows: Sequence[int]) -> RawWindow:
    """What the features of `day` read: the longest window's events up to `day`, and the snapshot of `day`."""
    return RawWindow(day - timedelta(days=max(windows) - 1), day, (day,))


def training_window(dates: Sequence[date], label_snapshots: Sequence[date], windows: Sequence[int]) -> RawWindow:
    """What a training set reads: each date's feature window and snapshot, and the snapshots its labels come from."""
    return RawWindow(min(dates) - timedelta(days=max(windows) - 1), max(dates), tuple(sorted({*dates, *label_snapshots})))


def training_landed_window(
    dates: Sequence[date], newest_label: date, windows: Sequence[int], every_days: int, window_days: int
) -> RawWindow:
    """What must have landed for a training set: each date's feature window, and a snapshot every day
    from the first date the weekly grid asks for to the newest label snapshot.

    From the grid's first date, not the first date found: a date whose snapshot never landed is not
    among `dates` (labelled_dates sees only snapshots that exist), and would vanish without a word.
    """
    newest = max(dates)
    asked = newest - timedelta(days=(window_days - 1) // every_days * every_days)
    snapshots = tuple(asked + timedelta(days=i) for i in range((newest_label - asked).days + 1))
    return RawWindow(min(dates) - timedelta(days=max(windows) - 1), newest, snapshots)


def parquet_rows(path: Path) -> int:
    """Rows of the Parquet written at `path`, from the files' footers: no Spark job reads them back."""
    import pyarrow.parquet as pq

    # Spark's _SUCCESS and .crc side files are not data.
    files = [p for p in Path(path).glob("*.parquet") if not p.name.startswith(("_", "."))]
    return sum(pq.ParquetFile(str(file)).metadata.num_rows for file in files)


def scoring_features(
    spark: SparkSession, data_dir: Path, day: date, out_dir: Path, windows: Sequence[int], quality_url: str | None = None
) -> dict[str, Any]:
    """Features of every customer active on `day`, written to `out_dir` (replaced)."""
    if quality_url is not None:
        require_resolved(quality_url, scoring_window(day, windows), f"build features for {day.isoformat()}")
    if customers_partition(data_dir, day) in missing_partitions(data_dir, day):
        raise FileNotFoundError(f"no customers snapshot for {day} under {data_dir / 'customers'}")
    require_landed(data_dir, scoring_window(day, windows), quality_url, f"build features for {day.isoformat()}")
    events = read_events(spark, data_dir, *feature_window([day], windows))
    features = build_features(events, read_customers(spark, data_dir, [day]), [day], windows)
    # In key order: the day's data version (nightshift.scoring.data_version) then streams it in flat memory.
    features.coalesce(1).sortWithinPartitions(*KEYS).write.mode("overwrite").parquet(str(out_dir))
    rows = parquet_rows(out_dir)
    log.info("scoring features for %s: %d customers -> %s", day, rows, out_dir)
    return {"path": str(out_dir), "rows": rows, "day": day.isoformat()}


def training_set(
    spark: SparkSession,
    data_dir: Path,
    as_of: date,
    out_dir: Path,
    windows: Sequence[int],
    horizon_days: int,
    every_days: int,
    window_days: int,
    quality_url: str | None = None,
) -> dict[str, Any]:
    """Features joined with known labels for weekly snapshot dates up to `as_of`."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    snapshots = snapshot_dates(data_dir)
    dates = labelled_dates(snapshots, as_of, horizon_days, every_days, window_days)
    if len(dates) < 2:
        raise ValueError(
            f"not enough labelled history under {data_dir}: need snapshots at least {horizon_days} days "
            f"before {as_of} on two or more dates (found {len(dates)})"
        )
    # build_labels reads each label from the snapshot of d + horizon (or the next one), and a purged
    # customer's churn_date from any snapshot after d up to it: every snapshot in that span counts.
    # Nothing landed after the run's date takes part, not even in labels (labelled_dates saw only those).
    newest_label = max(label_snapshots(snapshots, dates, horizon_days).values())
    read_for_labels = [d for d in snapshots if min(dates) < d <= newest_label]
    what = f"build the training set as of {as_of.isoformat()}"
    if quality_url is not None:
        require_resolved(quality_url, training_window(dates, read_for_labels, windows), what)
    require_landed(data_dir, training_landed_window(dates, newest_label, windows, every_days, window_days), quality_url, what)
    customers = read_customers(spark, data_dir, sorted({*dates, *read_for_labels}))
    features = build_features(read_events(spark, data_dir, *feature_window(dates, windows)), customers, dates, windows)
    labels = build_labels(customers, dates, horizon_days, [d for d in snapshots if d <= as_of])
    labelled = features.join(labels, on=["as_of_date", "customer_id"], how="inner")
    # Same inputs, same bytes: a DVC stage over this output is up to date when nothing changed.
    written = write_stable_parquet(labelled, out_dir, KEYS)
    # The label column of the one file just written, read by pyarrow: no Spark job reads the set back.
    labels_written = pq.read_table(str(written), columns=["label"]).column("label")
    result = {
        "path": str(out_dir),
        "rows": len(labels_written),
        "label_rate": float(pc.mean(labels_written).as_py() or 0.0),
        "dates": [d.isoformat() for d in dates],
    }
    log.info("training set as of %s: %d rows over %d dates, label rate %.3f", as_of, result["rows"], len(dates), result["label_rate"])
    return result
