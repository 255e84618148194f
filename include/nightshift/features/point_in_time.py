"""Point-in-time customer features, one implementation for training and scoring.

For an as-of date d a customer's features use only its customers snapshot of d and
events with event_date <= d, so nothing from the future leaks in. The same function
builds the features of one scoring day and of the many snapshot dates of a training
set, which keeps training and serving from drifting apart.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from nightshift.contract import CUSTOMERS, CUSTOMERS_COLUMNS, CUSTOMERS_PARTITION, EVENTS, EVENTS_COLUMNS, EVENTS_PARTITION, PLANS, REGIONS
from nightshift.feature_list import DEFAULT_WINDOWS, feature_columns, three_windows
from nightshift.landing import landed_days

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# The contract's Arrow types as Spark SQL types.
_SPARK_TYPES = {"int64": "bigint", "int32": "int", "float64": "double", "string": "string", "date32": "date"}


def _contract_schema(columns: Sequence[tuple[str, str]], partition: str) -> str:
    return ", ".join([f"{name} {_SPARK_TYPES[kind]}" for name, kind in columns] + [f"{partition} date"])


def _read_days(spark: SparkSession, data_dir: Path, table: str, partition: str, columns, days: Sequence[date]) -> DataFrame:
    """The partitions of `days` only, read with the contract's schema.

    Naming the folders keeps Spark from listing every day of the table, and the given schema
    from opening a file to infer one: a day outside `days` is never touched, whatever it holds.
    """
    root = Path(data_dir) / table
    if not root.is_dir():
        raise FileNotFoundError(f"no {table} under {root}")
    schema = _contract_schema(columns, partition)
    if not days:
        return spark.createDataFrame([], schema)
    paths = [str(root / f"{partition}={d.isoformat()}") for d in sorted(set(days))]
    return spark.read.schema(schema).option("basePath", str(root)).parquet(*paths)


def read_events(spark: SparkSession, data_dir: Path, first: date, last: date) -> DataFrame:
    """The events of the days `first` to `last` that have landed; event_date comes from the partition folder."""
    days = [d for d in landed_days(data_dir, EVENTS, EVENTS_PARTITION) if first <= d <= last]
    return _read_days(spark, data_dir, EVENTS, EVENTS_PARTITION, EVENTS_COLUMNS, days)


def read_customers(spark: SparkSession, data_dir: Path, snapshots: Sequence[date]) -> DataFrame:
    """The customers snapshots of `snapshots` (each must have landed); snapshot_date comes from the partition folder."""
    return _read_days(spark, data_dir, CUSTOMERS, CUSTOMERS_PARTITION, CUSTOMERS_COLUMNS, snapshots)


def snapshot_dates(data_dir: Path) -> list[date]:
    """The days with a customers snapshot, oldest first: folder names only, no file is opened."""
    return landed_days(data_dir, CUSTOMERS, CUSTOMERS_PARTITION)


def feature_window(as_of_dates: Sequence[date], windows: Sequence[int] = DEFAULT_WINDOWS) -> tuple[date, date]:
    """The first and last event day the features of `as_of_dates` read."""
    longest = max(three_windows(windows))
    return min(as_of_dates) - timedelta(days=longest - 1), max(as_of_dates)


def active_customers(customers: DataFrame, as_of_dates: Sequence[date]) -> DataFrame:
    """Customers active on each date: in that day's snapshot, signed up, not churned."""
    from pyspark.sql import functions as F

    return (
        customers.where(F.col("snapshot_date").isin(list(as_of_dates)))
        .where(F.col("signup_date") <= F.col("snapshot_date"))
        .where(F.col("churn_date").isNull() | (F.col("churn_date") > F.col("snapshot_date")))
        .withColumnRenamed("snapshot_date", "as_of_date")
    )


def _ratio(num: Column, den: Column) -> Column:
    from pyspark.sql import functions as F

    # 0/0 means "no activity in either window": a neutral trend of 1, not a missing value.
    return F.when(den > 0, num / den).otherwise(F.when(num > 0, F.lit(2.0)).otherwise(F.lit(1.0)))


def _window_days(spark: SparkSession, as_of_dates: Sequence[date], longest: int) -> DataFrame:
    """(event_date, as_of_date, age_days) for every day of every as-of date's longest window.

    An inline table: Spark holds it on the driver (a local relation), so broadcasting it runs no job,
    where a frame made from a Python list would be an RDD, scanned by a job of its own on every call.
    """
    rows = ", ".join(
        f"(DATE'{(d - timedelta(days=age)).isoformat()}', DATE'{d.isoformat()}', {age})" for d in as_of_dates for age in range(longest)
    )
    return spark.sql(f"SELECT * FROM VALUES {rows} AS window_days(event_date, as_of_date, age_days)")


def build_features(
    events: DataFrame,
    customers: DataFrame,
    as_of_dates: Sequence[date],
    windows: Sequence[int] = DEFAULT_WINDOWS,
) -> DataFrame:
    """One row per (as_of_date, active customer) with `feature_columns(windows)`."""
    from pyspark.sql import functions as F

    if not as_of_dates:
        raise ValueError("build_features needs at least one as-of date")
    short, mid, longest = three_windows(windows)
    windows = [short, mid, longest]
    dates = sorted(set(as_of_dates))
    base = active_customers(customers, dates)

    first, last = feature_window(dates, windows)
    recent = events.where(F.col("event_date").between(F.lit(first), F.lit(last)))
    # The union of the windows is scanned once, and each event meets only the as-of dates it counts
    # towards through an equi-join with every (event day, as-of date, age) pair: one date or a year of them.
    windowed = recent.join(F.broadcast(_window_days(events.sparkSession, dates, longest)), "event_date")

    aggs = []
    for w in windows:
        inside = F.col("age_days") < w
        aggs += [
            F.sum(F.when(inside, F.col("sessions")).otherwise(0)).alias(f"sessions_{w}d"),
            F.sum(F.when(inside, F.col("minutes")).otherwise(0.0)).alias(f"minutes_{w}d"),
            F.count(F.when(inside, 1)).alias(f"active_days_{w}d"),
            F.sum(F.when(inside, F.col("support_tickets")).otherwise(0)).alias(f"tickets_{w}d"),
            F.sum(F.when(inside, F.col("failed_payments")).otherwise(0)).alias(f"failed_payments_{w}d"),
        ]
    aggs.append(F.min("age_days").alias("days_since_last_active"))
    activity = windowed.groupBy("as_of_date", "customer_id").agg(*aggs)

    out = base.join(activity, on=["as_of_date", "customer_id"], how="left")
    fill: dict[str, float] = {}
    for w in windows:
        fill.update({f"sessions_{w}d": 0, f"minutes_{w}d": 0.0, f"active_days_{w}d": 0, f"tickets_{w}d": 0, f"failed_payments_{w}d": 0})
    # Not seen inside the longest window: one day past it, so "longer ago" still sorts higher.
    fill["days_since_last_active"] = longest
    out = out.fillna(fill)

    # One projection for every derived column: each withColumn would analyse the whole plan again.
    derived = {
        f"sessions_trend_{short}_{mid}": _ratio(F.col(f"sessions_{short}d") / short, F.col(f"sessions_{mid}d") / mid),
        f"minutes_trend_{mid}_{longest}": _ratio(F.col(f"minutes_{mid}d") / mid, F.col(f"minutes_{longest}d") / longest),
        "tenure_days": F.datediff(F.col("as_of_date"), F.col("signup_date")),
        **{f"plan_{p}": (F.col("plan") == p).cast("int") for p in PLANS},
        **{f"region_{r}": (F.col("region") == r).cast("int") for r in REGIONS},
    }
    casts = [derived.get(c, F.col(c)).cast("double").alias(c) for c in feature_columns(windows)]
    return out.select(F.col("as_of_date"), F.col("customer_id").cast("long").alias("customer_id"), *casts)


def label_snapshots(snapshot_dates: Sequence[date], as_of_dates: Sequence[date], horizon_days: int) -> dict[date, date]:
    """For each as-of date d, the snapshot its label is read from: the first one on or after d + horizon.

    Normally that is the snapshot of d + horizon itself. When that day's snapshot is missing
    (a day that never landed or was quarantined) the next one stands in: churn_date in
    (d, d + horizon] is already known by then, and a day's gap is no reason to lose a
    week of labels. A date with no snapshot on or after d + horizon is left out: its label
    is unknown, not 0.
    """
    available = sorted(set(snapshot_dates))
    out: dict[date, date] = {}
    for d in as_of_dates:
        i = bisect_left(available, d + timedelta(days=horizon_days))
        if i < len(available):
            out[d] = available[i]
    return out


def build_labels(
    customers: DataFrame, as_of_dates: Sequence[date], horizon_days: int, snapshots: Sequence[date] | None = None
) -> DataFrame:
    """Churn label per (as_of_date, customer active on it), only where it is known.

    The label of a customer active on d is 1 when churn_date falls in (d, d + horizon], as
    the label snapshot (`label_snapshots`: the snapshot of d + horizon) records it, never
    the newest one: a churn_date revised later does not change an old label, so a training
    set rebuilt later has the labels it had. A customer missing from the label snapshot
    (purged after cancelling) keeps the churn_date of its last record in a snapshot after d
    and up to the label snapshot; one that vanished with no churn_date recorded has an
    unknown label and is left out, like every customer of a date without a label snapshot.
    `snapshots`, the days `customers` holds when the caller knows them, spares a Spark job listing them.
    """
    from pyspark.sql import functions as F

    spark = customers.sparkSession
    empty = spark.createDataFrame([], "as_of_date date, customer_id long, label int")
    if snapshots is None:
        snapshots = [r[0] for r in customers.select("snapshot_date").distinct().collect()]
    read_from = label_snapshots(snapshots, as_of_dates, horizon_days)
    if not read_from:
        return empty
    pairs = F.broadcast(spark.createDataFrame(sorted(read_from.items()), "as_of_date date, label_snapshot date"))
    base = active_customers(customers, list(read_from)).select("as_of_date", "customer_id").join(pairs, "as_of_date")

    # One equi-join on (label snapshot, customer) for every date at once.
    at_label = customers.where(F.col("snapshot_date").isin(sorted(set(read_from.values())))).select(
        F.col("snapshot_date").alias("label_snapshot"),
        "customer_id",
        F.col("churn_date").alias("label_churn_date"),
        F.lit(True).alias("in_label_snapshot"),
    )
    labelled = base.join(at_label, ["label_snapshot", "customer_id"], "left")

    # Customers missing from their label snapshot: the newest churn record between d and it.
    # Only rows with a churn_date take part, so this join stays small.
    records = customers.where(
        F.col("churn_date").isNotNull()
        & (F.col("snapshot_date") > F.lit(min(read_from)))
        & (F.col("snapshot_date") <= F.lit(max(read_from.values())))
    ).select("customer_id", F.col("snapshot_date").alias("record_date"), F.col("churn_date").alias("record_churn_date"))
    purged = (
        labelled.where(F.col("in_label_snapshot").isNull())
        .select("as_of_date", "label_snapshot", "customer_id")
        .join(records, "customer_id")
        .where((F.col("record_date") > F.col("as_of_date")) & (F.col("record_date") <= F.col("label_snapshot")))
        .groupBy("as_of_date", "customer_id")
        .agg(F.max_by("record_churn_date", "record_date").alias("purged_churn_date"))
    )
    known = labelled.join(purged, ["as_of_date", "customer_id"], "left").where(
        F.col("in_label_snapshot").isNotNull() | F.col("purged_churn_date").isNotNull()
    )
    churn_date = F.when(F.col("in_label_snapshot").isNotNull(), F.col("label_churn_date")).otherwise(F.col("purged_churn_date"))
    churned = (churn_date > F.col("as_of_date")) & (churn_date <= F.date_add(F.col("as_of_date"), horizon_days))
    return known.select(
        "as_of_date",
        F.col("customer_id").cast("long").alias("customer_id"),
        F.when(churned, 1).otherwise(0).cast("int").alias("label"),
    )


def labelled_dates(snapshot_dates: Sequence[date], as_of: date, horizon_days: int, every_days: int, window_days: int) -> list[date]:
    """Training snapshot dates: every `every_days` back from the newest date whose label is known by `as_of`.

    Only snapshots that exist and are on or before `as_of` count, so a run keyed on a
    logical date never sees data landed after it. A date counts as labelled when
    `label_snapshots` finds it a label snapshot among them, the rule `build_labels` reads by.
    """
    available = sorted(d for d in set(snapshot_dates) if d <= as_of)
    candidates = sorted(label_snapshots(available, available, horizon_days))
    if not candidates:
        return []
    last = candidates[-1]
    return [d for d in candidates if (last - d).days % every_days == 0 and (last - d).days < window_days]
