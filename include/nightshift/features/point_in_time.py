"""Point-in-time customer features, one implementation for training and scoring.

For an as-of date d a customer's features use only its customers snapshot of d and
events with event_date <= d, so nothing from the future leaks in. The same function
builds the features of one scoring day and of the many snapshot dates of a training
set, which keeps training and serving from drifting apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from nightshift.contract import CUSTOMERS, EVENTS, PLANS, REGIONS
from nightshift.features.columns import DEFAULT_WINDOWS, feature_columns, three_windows

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


def read_events(spark: SparkSession, data_dir: Path) -> DataFrame:
    """The events landing zone; event_date comes from the partition folder."""
    return spark.read.option("basePath", str(data_dir / EVENTS)).parquet(str(data_dir / EVENTS))


def read_customers(spark: SparkSession, data_dir: Path) -> DataFrame:
    """All customers snapshots; snapshot_date comes from the partition folder."""
    return spark.read.option("basePath", str(data_dir / CUSTOMERS)).parquet(str(data_dir / CUSTOMERS))


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
    spark = events.sparkSession
    dates = spark.createDataFrame([(d,) for d in sorted(set(as_of_dates))], "as_of_date date")
    base = active_customers(customers, as_of_dates)

    lo = F.date_sub(F.lit(min(as_of_dates)), longest - 1)
    recent = events.where((F.col("event_date") >= lo) & (F.col("event_date") <= F.lit(max(as_of_dates))))
    # Each event is attached to every as-of date whose lookback window holds it; dates are few.
    windowed = recent.join(
        F.broadcast(dates),
        (F.col("event_date") <= F.col("as_of_date")) & (F.col("event_date") > F.date_sub(F.col("as_of_date"), longest)),
    ).withColumn("age_days", F.datediff(F.col("as_of_date"), F.col("event_date")))

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

    out = (
        out.withColumn(
            f"sessions_trend_{short}_{mid}",
            _ratio(F.col(f"sessions_{short}d") / short, F.col(f"sessions_{mid}d") / mid),
        )
        .withColumn(
            f"minutes_trend_{mid}_{longest}",
            _ratio(F.col(f"minutes_{mid}d") / mid, F.col(f"minutes_{longest}d") / longest),
        )
        .withColumn("tenure_days", F.datediff(F.col("as_of_date"), F.col("signup_date")))
    )
    for p in PLANS:
        out = out.withColumn(f"plan_{p}", (F.col("plan") == p).cast("int"))
    for r in REGIONS:
        out = out.withColumn(f"region_{r}", (F.col("region") == r).cast("int"))

    cols = feature_columns(windows)
    casts = [F.col(c).cast("double").alias(c) for c in cols]
    return out.select(F.col("as_of_date"), F.col("customer_id").cast("long").alias("customer_id"), *casts)


def build_labels(customers: DataFrame, as_of_dates: Sequence[date], horizon_days: int) -> DataFrame:
    """Churn label per (as_of_date, customer active on it), only where it is known.

    The label is 1 when churn_date falls in (d, d + horizon], read from the newest
    snapshot; it is known only when that snapshot is at least d + horizon, otherwise
    the date yields no rows at all (unknown is not 0).
    """
    from pyspark.sql import functions as F

    latest_date = customers.agg(F.max("snapshot_date")).first()[0]
    if latest_date is None:
        return customers.sparkSession.createDataFrame([], "as_of_date date, customer_id long, label int")
    known = [d for d in as_of_dates if (latest_date - d).days >= horizon_days]
    if not known:
        return customers.sparkSession.createDataFrame([], "as_of_date date, customer_id long, label int")
    base = active_customers(customers, known).select("as_of_date", "customer_id")
    latest = customers.where(F.col("snapshot_date") == F.lit(latest_date)).select(
        "customer_id", F.col("churn_date").alias("final_churn_date")
    )
    churned = (F.col("final_churn_date") > F.col("as_of_date")) & (
        F.col("final_churn_date") <= F.date_add(F.col("as_of_date"), horizon_days)
    )
    # A customer missing from the newest snapshot has an unknown label: inner join drops it.
    return base.join(latest, on="customer_id", how="inner").select(
        "as_of_date",
        F.col("customer_id").cast("long").alias("customer_id"),
        F.when(churned, 1).otherwise(0).cast("int").alias("label"),
    )


def labelled_dates(snapshot_dates: Sequence[date], as_of: date, horizon_days: int, every_days: int, window_days: int) -> list[date]:
    """Training snapshot dates: every `every_days` back from the newest date whose label is known by `as_of`.

    Only snapshots that exist and are on or before `as_of` count, so a run keyed on a
    logical date never sees data landed after it.
    """
    available = sorted(d for d in set(snapshot_dates) if d <= as_of)
    if not available:
        return []
    newest_known = max(available).toordinal() - horizon_days
    candidates = [d for d in available if d.toordinal() <= newest_known]
    if not candidates:
        return []
    last = candidates[-1]
    return [d for d in candidates if (last - d).days % every_days == 0 and (last - d).days < window_days]
