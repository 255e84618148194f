"""Feature job speed: nightshift's Spark feature job against DuckDB on the same Parquet, and the training set's growth.

    make bench-features                     (or: .venv/bin/python bench/feature_speed.py [--customers 50000])
    make bench-features CUSTOMERS=500000

Everything runs in this one process, on landing zones written by the project's generator into a temp folder:

  1. N customers x 180 days (`nightshift.local.generate`), timed;
  2. a local SparkSession (the project's `local_session`, local[2]) is started, timed, then
     `nightshift.features.jobs.scoring_features` builds the last day's features: the first call after
     the session started, then the median of --repeats warm calls;
  3. DuckDB (2 threads, as local[2]) computes the same 7/30/90-day window sums, active days and recency
     of the same day's active customers straight from the Parquet and writes them to Parquet: first call,
     then the median of --repeats;
  4. both outputs are compared customer by customer; the benchmark fails naming the column if they disagree;
  5. `training_set` on --train-customers x (a year of weekly dates + label horizon + longest window) days,
     for 4, 13 and 52 weekly dates after a warm-up: rows/s and how time grows with the dates
     (13x the dates for 52 vs 4: linear growth would be 13x the time). --no-training skips it.

The machine's load average is printed beside the figures: the benchmark measures wall time.
The last line is machine-readable:
RESULT feature_warm_vs_duckdb=<spark warm / duckdb warm> feature_first_s=<s> feature_warm_s=<s> duckdb_warm_s=<s>
       train_rows_per_s=<52 dates> train_52_vs_4=<time ratio>
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

WINDOWS = (7, 30, 90)
HORIZON_DAYS = 30
EVERY_DAYS = 7
TRAIN_DATES = (4, 13, 52)
STEMS = ("sessions", "minutes", "active_days", "tickets", "failed_payments")
# The raw column each feature stem sums (active days count rows).
SOURCES = {"sessions": "sessions", "minutes": "minutes", "tickets": "support_tickets", "failed_payments": "failed_payments"}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _first_and_warm(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    first = _timed(fn)
    return first, statistics.median(_timed(fn) for _ in range(repeats))


def compared_columns() -> list[str]:
    return [f"{stem}_{w}d" for w in WINDOWS for stem in STEMS] + ["days_since_last_active"]


def duckdb_features_sql(data_dir: Path, day: date, out: Path) -> str:
    """The window sums, active days and recency of `day`'s active customers, as nightshift defines them, in DuckDB."""
    longest = max(WINDOWS)
    first = day - timedelta(days=longest - 1)
    sums = []
    for w in WINDOWS:
        for stem in STEMS:
            agg = "count(*)" if stem == "active_days" else f"sum({SOURCES[stem]})"
            sums.append(f"coalesce({agg} FILTER (WHERE age < {w}), 0) AS {stem}_{w}d")
    return f"""
COPY (
    WITH active AS (
        SELECT customer_id FROM read_parquet('{data_dir}/customers/snapshot_date={day.isoformat()}/*.parquet')
        WHERE signup_date <= DATE '{day.isoformat()}' AND (churn_date IS NULL OR churn_date > DATE '{day.isoformat()}')
    ),
    windowed AS (
        SELECT customer_id, sessions, minutes, support_tickets, failed_payments, DATE '{day.isoformat()}' - event_date AS age
        FROM read_parquet('{data_dir}/events/*/*.parquet', hive_partitioning = true, hive_types = {{'event_date': DATE}})
        WHERE event_date BETWEEN DATE '{first.isoformat()}' AND DATE '{day.isoformat()}'
    ),
    activity AS (
        SELECT customer_id, {", ".join(sums)}, min(age) AS days_since_last_active
        FROM windowed GROUP BY customer_id
    )
    SELECT active.customer_id,
           {", ".join(f"coalesce(activity.{c}, 0) AS {c}" for c in compared_columns()[:-1])},
           coalesce(activity.days_since_last_active, {longest}) AS days_since_last_active
    FROM active LEFT JOIN activity USING (customer_id)
) TO '{out}' (FORMAT parquet)
"""


def disagreements(spark_path: Path, duckdb_path: Path) -> list[str]:
    """Where the two outputs differ: customers on one side only, or a column's values (floats to 1e-9 relative)."""
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(spark_path).set_index("customer_id").sort_index()
    theirs = pd.read_parquet(duckdb_path).set_index("customer_id").sort_index()
    if not ours.index.equals(theirs.index):
        only_ours, only_theirs = ours.index.difference(theirs.index), theirs.index.difference(ours.index)
        return [f"customers: {len(only_ours)} only in nightshift's output, {len(only_theirs)} only in DuckDB's"]
    problems = []
    for col in compared_columns():
        a, b = ours[col].to_numpy(dtype=float), theirs[col].to_numpy(dtype=float)
        bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-9)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"{col}: {int(bad.sum())} customers differ, e.g. customer {ours.index[i]}: nightshift {a[i]} DuckDB {b[i]}")
    return problems


def bench_scoring_features(spark, landing, repeats: int, work: Path) -> dict[str, float]:
    import duckdb

    from nightshift.features.jobs import scoring_features

    day = landing.end_date
    spark_out = work / "features_spark"
    built: list[dict] = []
    first, warm = _first_and_warm(lambda: built.append(scoring_features(spark, landing.data_dir, day, spark_out, list(WINDOWS))), repeats)
    rows = built[-1]["rows"]

    con = duckdb.connect()
    con.execute("SET threads = 2")
    duck_out = work / "features_duckdb.parquet"
    sql = duckdb_features_sql(landing.data_dir, day, duck_out)
    duck_first, duck_warm = _first_and_warm(lambda: con.execute(sql), repeats)
    con.close()

    problems = disagreements(spark_out, duck_out)
    if problems:
        raise SystemExit("nightshift's features and DuckDB's disagree for " + day.isoformat() + ":\n  " + "\n  ".join(problems))
    print(f"features of {day} for {rows:,} active customers: nightshift and DuckDB agree on {len(compared_columns())} columns")
    print()
    print(f"{'step':<58} {'seconds':>8} {'vs DuckDB':>10}")
    print(f"{'nightshift scoring_features, first call after session start':<58} {first:>8.2f} {first / duck_warm:>10.1f}")
    print(f"{f'nightshift scoring_features, warm (median of {repeats})':<58} {warm:>8.2f} {warm / duck_warm:>10.1f}")
    print(f"{'DuckDB, same aggregates from the Parquet, first call':<58} {duck_first:>8.2f}")
    print(f"{f'DuckDB, warm (median of {repeats})':<58} {duck_warm:>8.2f} {1.0:>10.1f}")
    warm_met, first_met = ("met" if ok else "not met" for ok in (warm <= 2 * duck_warm, first <= 3))
    print(f"targets: warm <= 2x DuckDB ({warm_met}), first call <= 3 s ({first_met})")
    return {"first": first, "warm": warm, "duck_first": duck_first, "duck_warm": duck_warm}


def bench_training_set(spark, customers: int, work: Path) -> dict[str, float]:
    from nightshift.features.jobs import training_set
    from nightshift.local.generate import generate

    days = max(TRAIN_DATES) * EVERY_DAYS + HORIZON_DAYS + max(WINDOWS)
    started = time.perf_counter()
    landing = generate(work / "train_raw", customers=customers, days=days, start_date=date(2025, 1, 1), seed=2)
    print(f"generated {customers:,} customers x {days} days ({landing.event_rows:,} event rows) in {time.perf_counter() - started:.1f} s")

    def run(n: int) -> dict:
        out = work / f"train_{n}"
        return training_set(spark, landing.data_dir, landing.end_date, out, list(WINDOWS), HORIZON_DAYS, EVERY_DAYS, n * EVERY_DAYS)

    run(TRAIN_DATES[0])  # warm-up: the session has not built a training set yet
    results = {}
    for n in TRAIN_DATES:
        started = time.perf_counter()
        out = run(n)
        seconds = time.perf_counter() - started
        if len(out["dates"]) != n:
            raise SystemExit(f"training_set built {len(out['dates'])} dates, expected {n}: the landing zone is too short")
        results[n] = (seconds, out["rows"])
    base_s = results[TRAIN_DATES[0]][0]
    print()
    print(f"training_set as of {landing.end_date}, weekly dates, after a warm-up ({_load()})")
    print(f"{'dates':>5} {'rows':>11} {'seconds':>8} {'rows/s':>10} {'s/date':>7} {'time vs 4 dates':>16} {'dates vs 4':>11}")
    for n, (seconds, rows) in results.items():
        print(
            f"{n:>5} {rows:>11,} {seconds:>8.2f} {rows / seconds:>10,.0f} {seconds / n:>7.2f} "
            f"{seconds / base_s:>16.2f} {n / TRAIN_DATES[0]:>11.2f}"
        )
    last_s, last_rows = results[TRAIN_DATES[-1]]
    growth = last_s / base_s
    linear = TRAIN_DATES[-1] / TRAIN_DATES[0]
    verdict = "met" if growth <= linear else "not met"
    print(f"target: linear or better, {TRAIN_DATES[-1]} dates <= {linear:.0f}x the time of {TRAIN_DATES[0]} ({verdict}: {growth:.2f}x)")
    return {"rows_per_s": last_rows / last_s, "growth": growth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-customers", type=int, default=50_000)
    parser.add_argument("--no-training", action="store_true", help="skip the training-set part")
    args = parser.parse_args()

    from nightshift.features.spark_session import local_session
    from nightshift.local.generate import generate

    work = Path(tempfile.mkdtemp(prefix="nightshift-bench-features-"))
    try:
        print(_load())
        started = time.perf_counter()
        landing = generate(work / "raw", customers=args.customers, days=args.days, start_date=date(2026, 1, 1), seed=1)
        print(
            f"generated {args.customers:,} customers x {args.days} days ({landing.event_rows:,} event rows) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        spark = local_session("nightshift-bench-features")
        spark.sparkContext.setLogLevel("ERROR")
        print(f"Spark session (JVM start) in {time.perf_counter() - started:.1f} s")

        features = bench_scoring_features(spark, landing, args.repeats, work)
        print(_load())
        training = {"rows_per_s": float("nan"), "growth": float("nan")}
        if not args.no_training:
            print()
            training = bench_training_set(spark, args.train_customers, work)
        spark.stop()
        print(
            f"RESULT feature_warm_vs_duckdb={features['warm'] / features['duck_warm']:.2f} feature_first_s={features['first']:.2f} "
            f"feature_warm_s={features['warm']:.2f} duckdb_warm_s={features['duck_warm']:.3f} "
            f"train_rows_per_s={training['rows_per_s']:.0f} train_52_vs_4={training['growth']:.2f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
