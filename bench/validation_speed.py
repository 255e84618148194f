"""Validation time of one day of events on Spark and on pandas, in one run, printed as a table.

Generates a landing zone (default 100,000 customers, 8 days so the row-count band has a
history), then runs the checked-in `raw_events` suite on the last day's events:
  pandas  the `raw` datasource (what the nightly raw gate uses): read the partition, validate
  spark   the `spark` datasource on a Spark DataFrame of the same partition
Each engine gets a warm-up run, then the median of --repeats timed runs; the suite is also
timed without its referential check (customer_id against its lookup in the day's snapshot),
to show what that check costs.

    python bench/validation_speed.py [--customers 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from nightshift.contract import customers_partition, events_partition
from nightshift.features.spark_session import local_session
from nightshift.local.generate import generate
from nightshift.quality.validation import SNAPSHOT_ID_COLUMN, UNKNOWN_CUSTOMER, _context, _read_partition, row_count_band, with_snapshot_ids


def _timed(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up: imports, JIT of Spark code paths, GX metric registry
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _without_referential(suite):
    """The same suite minus the customer_id-in-snapshot check."""
    import great_expectations as gx

    kept = [e.copy(update={"id": None}) for e in suite.expectations if e.expectation_type != "expect_column_pair_values_to_be_equal"]
    return gx.ExpectationSuite(name="raw_events_without_referential", expectations=kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="nightshift-bench-gx-")) / "raw"
    started = time.perf_counter()
    landing = generate(root, customers=args.customers, days=args.days, start_date=date(2026, 1, 1), seed=1)
    print(f"generated {args.customers} customers x {args.days} days in {time.perf_counter() - started:.1f} s")
    day = landing.end_date
    lo, hi = row_count_band(root, day, 7, 0.5, 2.0)

    context = _context(None)
    suite = context.suites.get("raw_events")
    parameters = {"events_min_rows": lo, "events_max_rows": hi}
    pandas_def = context.data_sources.get("raw").get_asset("events").get_batch_definition("day")
    spark_def = context.data_sources.get("spark").get_asset("events").get_batch_definition("whole")

    def on_pandas(checked):
        frame = with_snapshot_ids(_read_partition(events_partition(root, day)), _read_partition(customers_partition(root, day)))
        return pandas_def.get_batch(batch_parameters={"dataframe": frame}).validate(checked, expectation_parameters=parameters)

    spark = local_session("nightshift-bench-gx")
    spark.sparkContext.setLogLevel("ERROR")

    def on_spark(checked):
        from pyspark.sql import functions as F

        # The same lookup column as on pandas, as a broadcast join instead of an isin.
        ids = spark.read.parquet(str(customers_partition(root, day))).select(F.col("customer_id").alias(SNAPSHOT_ID_COLUMN)).distinct()
        events = spark.read.parquet(str(events_partition(root, day)))
        joined = events.join(F.broadcast(ids), events["customer_id"] == ids[SNAPSHOT_ID_COLUMN], "left")
        frame = joined.withColumn(
            SNAPSHOT_ID_COLUMN,
            F.when(F.col("customer_id").isNull(), F.lit(None)).otherwise(F.coalesce(F.col(SNAPSHOT_ID_COLUMN), F.lit(UNKNOWN_CUSTOMER))),
        )
        return spark_def.get_batch(batch_parameters={"dataframe": frame}).validate(checked, expectation_parameters=parameters)

    rows = len(_read_partition(events_partition(root, day)))
    table = []
    for label, checked in (("full suite", suite), ("without referential", _without_referential(suite))):
        for engine, fn in (("pandas", on_pandas), ("spark", on_spark)):
            seconds, result = _timed(lambda fn=fn, checked=checked: fn(checked), args.repeats)
            table.append((label, engine, seconds, result))
    print()
    print(
        f"raw_events suite on one day = {rows} event rows ({args.customers} customers in the snapshot), "
        f"median of {args.repeats} after a warm-up"
    )
    print(f"{'suite':<20} {'engine':<7} {'checks':>6} {'seconds':>8} {'rows/s':>10} {'success':>8}")
    for label, engine, seconds, result in table:
        checks = result.statistics["evaluated_expectations"]
        print(f"{label:<20} {engine:<7} {checks:>6} {seconds:>8.2f} {rows / seconds:>10,.0f} {str(result.success):>8}")
    for label in ("full suite", "without referential"):
        pandas_s, spark_s = (row[2] for row in table if row[0] == label)
        print(f"{label}: spark/pandas time ratio {spark_s / pandas_s:.2f}")
    spark.stop()


if __name__ == "__main__":
    main()
