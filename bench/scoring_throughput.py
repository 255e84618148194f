"""Scoring throughput: nightshift's write path against raw COPY and pandas.to_sql, and end-to-end scoring.

    .venv/bin/python bench/scoring_throughput.py [--rows N] [--scale]      (or: make bench [SCALE=1])

Everything runs in this one process against a throwaway embedded PostgreSQL (free port, temp folder)
and a throwaway MLflow store holding an XGBoost champion fit on synthetic rows of the project's feature
columns with the project's training parameters (params.yaml ``train.xgboost``):

  (a) raw COPY of the final churn_scores rows, in key order, from a pre-encoded buffer straight into
      the date's empty partition: the database's own limit (binary and CSV; the faster is the reference);
  (b) nightshift's write path, ``publish_score_batches`` streaming the scores Parquet into a new date,
      and a rerun that replaces a date holding 90% as many rows (the partition swap). The rerun is timed
      alone, then again while a reader on another connection counts the date's rows every 50 ms: its
      longest wait for an answer is printed, and every count it saw must be the old day's or the new
      one's. A last rerun runs while a report holds churn_scores in an open transaction, so it falls
      back to the in-place rewrite after its capped lock attempts (params.yaml ``warehouse.swap``);
  (c) ``pandas.DataFrame.to_sql`` of the same rows, what one would otherwise write;
  end-to-end ``score_day``: read N customers' features, predict on Spark, stream into PostgreSQL,
  timed after a warm-up run so the JVM and the Python workers are up. Memory is sampled over the
  whole process tree (this driver, the Spark JVM and its Python workers) during that run; the RESULT
  line's peak_rss_gib is the RSS summed over the tree, which counts shared pages more than once.
  what every row's three reasons cost (``nightshift.score_reasons``, params.yaml ``scoring.reasons``): the
  Spark scoring pass with ``off`` (plain), ``approx`` and ``exact`` reasons, on the same features in the same
  session, each with the Python workers' peak RSS. The end-to-end run computes ``approx`` reasons and its
  Spark pass is the approx figure. Exact TreeSHAP with the 400-tree bench model takes about 100x a
  prediction per row (over 5 minutes at 1M rows on an idle 2-core machine), so it is timed on the first
  ``--exact-rows`` rows (100,000) next to a plain pass of those rows, and scaled per row: plain(N) +
  (exact - plain)(slice) x N / slice. Then all three again at full size with a booster of the size
  training actually serves: 28 trees of params.yaml's depth, what the train step's cross-validation
  picked on the generated data in the model quality run (n_estimators 400 is only its ceiling);
  With ``--scale``, ``score_day`` also runs on 1M, 3M and 10M customers (``--scale-rows``), each a new
  date, printing time, peak memory and where the time went (phases).

Every write but the reruns starts from an empty table after a CHECKPOINT, so no step pays for another's
dirty pages. The last line is machine-readable:
RESULT write_vs_copy=<(a)/(b)> write_vs_to_sql=<(c)/(b)> e2e_seconds=<s> peak_rss_gib=<GiB>
       rerun_vs_copy=<(a)/(b) rerun> reader_max_wait_s=<s> reasons_vs_plain=<exact/plain, Spark pass>
       approx_reasons_vs_plain=<approx/plain> plain_pass_s=<s> reasons_pass_s=<s exact> approx_pass_s=<s>
       exact_timed_rows=<rows> workers_rss_gib_plain=<GiB> workers_rss_gib_reasons=<GiB exact> workers_rss_gib_approx=<GiB>
       reasons_vs_plain_champion_size=<exact/plain, 28 trees> approx_reasons_vs_plain_champion_size=<approx/plain, 28 trees>
       workers_rss_gib_plain_champion_size=<GiB> workers_rss_gib_reasons_champion_size=<GiB exact>
       [scale_10m_vs_1m=<t(10M)/t(1M)> scale_peak_rss_gib=<max GiB>]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
from phase_clock import PhaseClock
from scratch import scratch_root

GIB = 1024**3
MODEL_NAME = "churn_xgb_bench"
WINDOWS = (7, 30, 90)
WARMUP_DATE = dt.date(2026, 6, 1)
E2E_DATE = dt.date(2026, 6, 2)
WRITE_DATE = dt.date(2026, 6, 3)
SCALE_FIRST_DATE = dt.date(2026, 7, 1)
READER_PAUSE_SECONDS = 0.05  # a dashboard polling the date's count, not a tight loop stealing a core


class TreeRss:
    """Samples the memory of this process and all its descendants (Spark JVM, Python workers) in the background.

    Peaks are kept for the whole tree and for each part: this driver, the JVM, the Python workers together.
    ``tree`` sums RSS, so pages the forked Python workers share with their daemon count once per process;
    ``tree_pss`` sums PSS (Linux; RSS elsewhere), which counts every shared page once.
    """

    PARTS = ("tree", "tree_pss", "driver", "jvm", "workers", "worker_processes")

    def __init__(self, interval: float = 0.05) -> None:
        self._proc = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.peak = dict.fromkeys(self.PARTS, 0)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> dict[str, int]:
        now = dict.fromkeys(self.PARTS, 0)
        for proc in [self._proc, *self._proc.children(recursive=True)]:
            try:
                info = proc.memory_full_info()
                part = "driver" if proc is self._proc else "jvm" if proc.name() == "java" else "workers"
            except psutil.NoSuchProcess:
                continue  # a Python worker that exited between listing and reading
            now[part] += info.rss
            now["tree"] += info.rss
            now["tree_pss"] += getattr(info, "pss", info.rss)
            now["worker_processes"] += part == "workers"
        return now

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            now = self._sample()
            with self._lock:
                self.peak = {part: max(self.peak[part], now[part]) for part in self.PARTS}

    def reset(self) -> None:
        with self._lock:
            self.peak = self._sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Trees of the model the train step serves: cross-validation picked 28 on the generated data (docs/model.md).
CHAMPION_SIZE_TREES = 28


def fit_model(n_estimators: int | None = None, rows: int = 20_000):
    """An XGBoost churn model on synthetic rows of the project's feature columns, params.yaml's ``train.xgboost``.

    ``n_estimators`` None keeps params.yaml's (400, the ceiling cross-validation picks below).
    """
    import xgboost as xgb

    from nightshift.config import load_params
    from nightshift.feature_list import feature_columns

    columns = feature_columns(WINDOWS)
    frame = synthetic_features(np.random.default_rng(1), np.arange(rows), columns)
    risk = frame["failed_payments_30d"] + frame["tickets_30d"] - frame["active_days_30d"] / 10
    label = (risk + np.random.default_rng(2).normal(0, 1, rows) > 1).astype(int)
    settings = {"eval_metric": "logloss", **load_params()["train"]["xgboost"]}
    if n_estimators is not None:
        settings["n_estimators"] = n_estimators
    model = xgb.XGBClassifier(**settings)
    model.fit(frame[columns], label)
    return model


def register_champion() -> None:
    """The 400-tree model (params.yaml's training params at their ceiling), registered and aliased champion."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from nightshift.model.registry import configure_mlflow, ensure_experiment

    model = fit_model()
    configure_mlflow()
    ensure_experiment(MODEL_NAME)
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(model, name="model", registered_model_name=MODEL_NAME)
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", str(info.registered_model_version))


def synthetic_features(rng: np.random.Generator, ids: np.ndarray, columns: list[str]):
    """Plausible feature values (counts, minutes, ratios, one-hot plan/region) for the given customer ids."""
    import pandas as pd

    n = len(ids)
    data: dict[str, np.ndarray] = {"customer_id": ids.astype(np.int64)}
    for col in columns:
        if col.startswith(("plan_", "region_")):
            continue
        if col.startswith(("sessions_trend", "minutes_trend")):
            data[col] = rng.gamma(4.0, 0.25, n)
        elif col.startswith("minutes_"):
            data[col] = rng.gamma(2.0, 30.0, n)
        elif col in ("tenure_days", "days_since_last_active"):
            data[col] = rng.integers(0, 720 if col == "tenure_days" else 90, n).astype(np.float64)
        elif col == "monthly_fee":
            data[col] = rng.choice([9.99, 19.99, 29.99], n)
        else:
            data[col] = rng.poisson(3.0, n).astype(np.float64)
    for prefix in ("plan_", "region_"):
        group = [c for c in columns if c.startswith(prefix)]
        pick = rng.integers(0, len(group), n)
        for i, col in enumerate(group):
            data[col] = (pick == i).astype(np.float64)
    return pd.DataFrame(data)[["customer_id", *columns]]


def write_features(path: Path, rows: int, seed: int) -> None:
    """N customers' features as one Parquet file, written in a child process so this one's memory stays as it was."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_write_features, args=(path, rows, seed))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"writing {rows:,} customers' features to {path} failed (exit code {child.exitcode})")


def _write_features(path: Path, rows: int, seed: int) -> None:
    """N customers' features as one Parquet file, written in chunks so the generator never holds them all."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nightshift.feature_list import feature_columns

    columns = feature_columns(WINDOWS)
    rng = np.random.default_rng(seed)
    # In key order, as the feature job writes them (nightshift.features.jobs.scoring_features).
    ids = np.arange(1, rows + 1, dtype=np.int64)
    chunk = 100_000
    writer = None
    try:
        for start in range(0, rows, chunk):
            frame = synthetic_features(rng, ids[start : start + chunk], columns)
            frame.insert(0, "as_of_date", E2E_DATE)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=chunk)
    finally:
        if writer is not None:
            writer.close()


def features_and_session(work: Path, rows: int):
    """What each scoring benchmark starts from: warm-up and measured features in `work`, then a local[2] session."""
    from nightshift.features.spark_session import local_session

    write_features(work / "warmup.parquet", 10_000, seed=5)
    write_features(work / "features.parquet", rows, seed=6)
    spark = local_session("nightshift-bench", master="local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def execute(url: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True  # CHECKPOINT cannot run in a transaction block
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def empty_table(url: str, day: dt.date | None = None) -> None:
    """Each write starts alike: no rows, no dirty pages left to flush, and ``day``'s partition if given."""
    from nightshift.warehouse.schema import ensure_schema, partition_name

    execute(url, "DROP TABLE IF EXISTS churn_scores")
    ensure_schema(url)
    if day is not None:
        execute(url, f"CREATE TABLE {partition_name(day)} PARTITION OF churn_scores FOR VALUES IN ('{day}')")
    execute(url, "CHECKPOINT")


def final_rows(scores_path: Path, day: dt.date, lineage):
    """The churn_scores rows exactly as stored, sorted by key (the order most favourable to a raw COPY)."""
    import pandas as pd

    from nightshift.score_reasons import REASON_COLUMNS

    frame = pd.read_parquet(scores_path).sort_values("customer_id", ignore_index=True)
    frame.insert(0, "score_date", day)
    for col in ("model_name", "model_version", "run_id", "data_version", "scored_at"):
        frame[col] = getattr(lineage, col)
    return frame[[c for c in frame.columns if c not in REASON_COLUMNS] + list(REASON_COLUMNS)]  # the table's order


def reason_fields(frame) -> list[bytes]:
    """Each row's reason fields in binary COPY format (a name's length varies, so row by row; not timed)."""
    from nightshift.score_reasons import REASON_PAIRS

    null = struct.pack("!i", -1)
    names: dict[str, bytes] = {}
    columns = [frame[c].to_numpy(dtype=object) for pair in REASON_PAIRS for c in pair]
    out = []
    for row in zip(*columns, strict=True):
        parts = []
        for name, value in zip(row[::2], row[1::2], strict=True):
            if not isinstance(name, str):  # None or NaN, as pandas reads a NULL string
                parts += [null, null]
                continue
            if name not in names:
                names[name] = struct.pack("!i", len(name.encode())) + name.encode()
            parts += [names[name], struct.pack("!id", 8, value)]
        out.append(b"".join(parts))
    return out


def binary_copy_buffer(frame) -> bytes:
    """The rows in PostgreSQL's binary COPY format, every column typed as the table declares it."""
    texts = [frame[c].iloc[0].encode() for c in ("model_name", "model_version", "run_id", "data_version")]
    fields = [("n", ">i2"), ("dl", ">i4"), ("d", ">i4"), ("il", ">i4"), ("id", ">i8"), ("pl", ">i4"), ("p", ">f8")]
    for i, text in enumerate(texts):
        fields += [(f"tl{i}", ">i4"), (f"t{i}", f"S{len(text)}")]
    fields += [("sl", ">i4"), ("s", ">i8")]
    rows = np.empty(len(frame), np.dtype(fields))
    epoch = dt.date(2000, 1, 1)  # PostgreSQL's binary date and timestamp epoch
    scored_at = frame["scored_at"].iloc[0]
    rows["n"], rows["dl"], rows["d"] = len(frame.columns), 4, (frame["score_date"].iloc[0] - epoch).days
    rows["il"], rows["id"] = 8, frame["customer_id"].to_numpy()
    rows["pl"], rows["p"] = 8, frame["churn_probability"].to_numpy()
    for i, text in enumerate(texts):
        rows[f"tl{i}"], rows[f"t{i}"] = len(text), text
    micros = (scored_at - dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    rows["sl"], rows["s"] = 8, micros
    fixed, width = rows.tobytes(), rows.dtype.itemsize
    tails = reason_fields(frame)
    body = b"".join(fixed[i * width : (i + 1) * width] + tail for i, tail in enumerate(tails))
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0) + body + struct.pack("!h", -1)


def raw_copy(url: str, table: str, payload: bytes, fmt: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT {fmt})", io.BytesIO(payload), size=1 << 20)
    finally:
        conn.close()


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def best_of(repeats: int, prepare: Callable[[], None], fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        prepare()
        times.append(timed(fn))
    return min(times)


@contextmanager
def bench_environment() -> Iterator[str]:
    """A temp root with a fresh embedded PostgreSQL and MLflow store; yields the database URL."""
    from nightshift.local.embedded_pg import start_embedded, stop_embedded

    # 0711: as root the server runs as an unprivileged account that must be able to enter the folder.
    root = scratch_root("nightshift-bench-")
    root.chmod(0o711)
    os.environ["NIGHTSHIFT_WORK_DIR"] = str(root / "work")
    pgdata = root / "pgdata"
    try:
        url = start_embedded(pgdata, free_port())
        yield url
    finally:
        stop_embedded(pgdata)
        shutil.rmtree(root, ignore_errors=True)


def first_rows(batches: Iterable, n: int) -> Iterator:
    """The first ``n`` rows of a stream of Arrow record batches."""
    left = n
    for batch in batches:
        if left <= 0:
            return
        yield batch.slice(0, left) if len(batch) > left else batch
        left -= len(batch)


@dataclass
class ReaderLog:
    """What a reader polling one date's count saw: each query's wait for its answer, and the count."""

    waits: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)


def watched(url: str, day: dt.date, fn: Callable[[], object]) -> tuple[float, ReaderLog]:
    """Time ``fn`` while another connection counts ``day``'s rows every READER_PAUSE_SECONDS, each its own snapshot."""
    import psycopg2

    seen = ReaderLog()
    stop = threading.Event()
    first = threading.Event()

    def poll() -> None:
        conn = psycopg2.connect(url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    cur.execute("SELECT count(*) FROM churn_scores WHERE score_date = %s", (day,))
                    seen.counts.append(cur.fetchone()[0])
                    seen.waits.append(time.perf_counter() - t0)
                    first.set()
                    stop.wait(READER_PAUSE_SECONDS)
        finally:
            conn.close()

    reader = threading.Thread(target=poll, daemon=True)
    reader.start()
    first.wait(60)
    seconds = timed(fn)
    time.sleep(10 * READER_PAUSE_SECONDS)  # a few reads of the new day
    stop.set()
    reader.join(60)
    return seconds, seen


@dataclass
class ScalePoint:
    rows: int
    seconds: float
    peak: dict[str, int]
    phases: str


def size_label(rows: int) -> str:
    """10m for 10,000,000 rows, 40000 for 40,000: the RESULT key's spelling of a size."""
    return f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else str(rows)


SPARK_PASS = "Spark: read features, predict, write Parquet"


@dataclass
class PassCost:
    seconds: float
    workers_peak: int  # bytes: the Python workers' summed RSS at their peak


def spark_pass(spark, features: Path, booster: bytes, out: Path, rss: TreeRss, reasons: str) -> PassCost:
    """The scoring Spark pass alone (read, predict with ``reasons``, write Parquet), timed with the workers' peak RSS."""
    from nightshift.feature_list import feature_columns
    from nightshift.scoring.predict import score_features

    rss.reset()
    seconds = timed(lambda: score_features(spark, features, booster, feature_columns(WINDOWS), out, reasons=reasons))
    peak = rss.peak["workers"]
    shutil.rmtree(out, ignore_errors=True)
    return PassCost(seconds, peak)


@dataclass
class ReasonCosts:
    """One booster's Spark pass without reasons, with approx and with exact reasons, on the same features."""

    plain: PassCost
    approx: PassCost
    exact: PassCost  # scaled from exact_rows to all rows when exact_rows is fewer
    exact_rows: int
    slice_note: str = ""

    def lines(self, rows: int) -> str:
        out = []
        for label, cost in (("off (plain)", self.plain), ("approx (Saabas)", self.approx), ("exact (TreeSHAP)", self.exact)):
            out.append(
                f"  {label:<17} {cost.seconds:>8.2f} s {rows / cost.seconds:>11,.0f} rows/s, Python workers' peak RSS "
                f"{cost.workers_peak / GIB:.2f} GiB"
            )
        return "\n".join(out) + self.slice_note


def exact_cost(
    spark, work: Path, booster: bytes, rss: TreeRss, rows: int, exact_rows: int, plain: PassCost, approx: PassCost
) -> ReasonCosts:
    """Exact reasons' pass over all rows, or over the first ``exact_rows`` scaled per row by their extra cost over plain."""
    features = work / "features.parquet"
    if exact_rows >= rows:
        return ReasonCosts(plain, approx, spark_pass(spark, features, booster, work / "scores-exact", rss, "exact"), rows)
    # The same seed writes the same first rows: the slice is the head of the full features.
    sliced = work / "features-slice.parquet"
    write_features(sliced, exact_rows, seed=6)
    slice_plain = spark_pass(spark, sliced, booster, work / "scores-slice", rss, "off")
    slice_exact = spark_pass(spark, sliced, booster, work / "scores-slice", rss, "exact")
    sliced.unlink()
    scaled = plain.seconds + (slice_exact.seconds - slice_plain.seconds) * rows / exact_rows
    note = (
        f"\n  exact timed on the first {exact_rows:,} rows (off {slice_plain.seconds:.2f} s, exact {slice_exact.seconds:.2f} s) and "
        f"scaled per row: plain + (exact - off) x {rows / exact_rows:g}; its RSS is the slice's (per Arrow batch, not per row)"
    )
    return ReasonCosts(plain, approx, PassCost(scaled, slice_exact.workers_peak), exact_rows, note)


def reason_costs(spark, work: Path, rss: TreeRss, rows: int, exact_rows: int, approx: PassCost) -> tuple[ReasonCosts, ReasonCosts]:
    """The 400-tree champion's three passes (approx from the end-to-end run), then a champion-size booster's, all rows."""
    from nightshift.feature_list import feature_columns
    from nightshift.model.registry import serving_model
    from nightshift.scoring.predict import load_booster

    features = work / "features.parquet"
    booster = load_booster(serving_model(MODEL_NAME).uri, feature_columns(WINDOWS))
    plain = spark_pass(spark, features, booster, work / "scores-plain", rss, "off")
    big = exact_cost(spark, work, booster, rss, rows, exact_rows, plain, approx)
    small_booster = bytes(fit_model(CHAMPION_SIZE_TREES).get_booster().save_raw("ubj"))
    small = [spark_pass(spark, features, small_booster, work / "scores-small", rss, mode) for mode in ("off", "approx", "exact")]
    return big, ReasonCosts(*small, rows)


def score_day_phases(clock: PhaseClock) -> None:
    """Wrap what ``score_day`` calls, so a run's time splits into its phases."""
    import nightshift.scoring.predict as predict
    import nightshift.scoring.score as score
    import nightshift.warehouse.publish as publish
    import nightshift.warehouse.schema as schema

    clock.wrap(schema, "ensure_schema", "schema check")
    clock.wrap(score, "serving_model", "registry: resolve champion")
    clock.wrap(predict, "load_booster", "load booster from MLflow")
    clock.wrap(score, "fingerprint", "sha256 of the features (data_version)")
    clock.wrap(predict, "score_features", SPARK_PASS)
    clock.wrap(publish, "publish_score_batches", "publish: read scores, encode, COPY")
    clock.wrap(publish, "_swap_in", "publish: primary key build, attach")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers scored and written (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of (a) and (b); the best counts (default 3)")
    parser.add_argument("--scale", action="store_true", help="also score 1M, 3M and 10M customers end to end (about 6 more minutes)")
    parser.add_argument("--scale-rows", default="1000000,3000000,10000000", help="the sizes --scale scores, comma-separated")
    parser.add_argument(
        "--exact-rows", type=int, default=100_000, help="rows the 400-tree model's exact reasons are timed on, then scaled (100,000)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.ERROR)
    # The fallback rerun logs each refused lock attempt as a warning; expected here.
    logging.getLogger("nightshift.warehouse.publish").setLevel(logging.ERROR)

    from nightshift.scoring.score import iter_score_batches, score_day
    from nightshift.warehouse.publish import REWRITTEN, SWAPPED, ScoreLineage, publish_score_batches
    from nightshift.warehouse.readers import count_scores
    from nightshift.warehouse.schema import partition_name

    scale_rows = [int(n) for n in args.scale_rows.split(",")] if args.scale else []
    rss = TreeRss()
    with bench_environment() as url:
        work = Path(os.environ["NIGHTSHIFT_WORK_DIR"])
        work.mkdir(parents=True)
        print(f"preparing: champion model, {args.rows:,} customers' features, Spark warm-up ...", flush=True)
        register_champion()
        spark = features_and_session(work, args.rows)

        def run_score_day(features: Path, day: dt.date) -> dict:
            # approx: exact reasons with the 400-tree model would take most of the benchmark's time (timed apart below).
            scores = work / "scores" / day.isoformat()
            return score_day(spark, features, day, url, MODEL_NAME, list(WINDOWS), scores, reasons="approx")

        run_score_day(work / "warmup.parquet", WARMUP_DATE)  # JVM, Python workers, imports and model cache up
        e2e_clock = PhaseClock()
        score_day_phases(e2e_clock)
        rss.reset()
        t0 = time.perf_counter()
        e2e = run_score_day(work / "features.parquet", E2E_DATE)
        e2e_seconds = time.perf_counter() - t0
        peak = dict(rss.peak)
        e2e_clock.restore()
        assert e2e["rows"] == args.rows, e2e
        # The reasons' cost: the e2e run's Spark pass (approx) against the same pass without them and with exact ones.
        approx = PassCost(e2e_clock.seconds[SPARK_PASS], peak["workers"])
        print("timing the reasons' Spark passes ...", flush=True)
        big, small = reason_costs(spark, work, rss, args.rows, min(args.exact_rows, args.rows), approx)

        scale: list[ScalePoint] = []
        for i, n in enumerate(scale_rows):
            print(f"scale: {n:,} customers ...", flush=True)
            features, day = work / f"scale-{n}.parquet", SCALE_FIRST_DATE + dt.timedelta(days=i)
            write_features(features, n, seed=100 + i)
            clock = PhaseClock()
            score_day_phases(clock)
            rss.reset()
            t0 = time.perf_counter()
            result = run_score_day(features, day)
            seconds = time.perf_counter() - t0
            scale.append(ScalePoint(n, seconds, dict(rss.peak), clock.table(seconds, indent="    ")))
            clock.restore()
            assert result["rows"] == n, result
            # Only the figures are kept: the next size gets the disk and the database to itself.
            features.unlink()
            shutil.rmtree(result["scores_path"])
            execute(url, f"DROP TABLE {partition_name(day)}")
        rss.stop()
        spark.stop()

        scores_path = Path(e2e["scores_path"])
        lineage = ScoreLineage(
            e2e["model_name"],
            e2e["model_version"],
            e2e["run_id"],
            e2e["data_version"],
            dt.datetime(2026, 6, 3, 1, 2, 3, 456789, tzinfo=dt.UTC),
        )

        def publish(rows: int | None = None):
            batches = iter_score_batches(scores_path)
            return publish_score_batches(url, WRITE_DATE, lineage, batches if rows is None else first_rows(batches, rows))

        print("timing writes ...", flush=True)
        t_b = best_of(args.repeats, lambda: empty_table(url), publish)
        assert count_scores(url, WRITE_DATE) == args.rows  # every row landed, once

        # Reruns: the date holds an older, smaller set of scores, replaced by the full one.
        old_rows = args.rows * 9 // 10
        methods: list[str] = []
        t_rerun = best_of(args.repeats, lambda: publish(old_rows), lambda: methods.append(publish().method))
        publish(old_rows)
        t_watched, reader = watched(url, WRITE_DATE, lambda: methods.append(publish().method))
        assert methods == [SWAPPED] * (args.repeats + 1), methods
        assert count_scores(url, WRITE_DATE) == args.rows
        unexpected = sorted(set(reader.counts) - {old_rows, args.rows})
        # A report holding churn_scores in an open transaction: the swap cannot get its lock.
        publish(old_rows)
        import psycopg2

        report = psycopg2.connect(url)
        report.set_session(isolation_level="REPEATABLE READ")
        try:
            with report.cursor() as cur:
                cur.execute("SELECT count(*) FROM churn_scores WHERE score_date = %s", (WRITE_DATE,))
            fallback = []
            t_fallback = timed(lambda: fallback.append(publish()))
        finally:
            report.close()
        assert fallback[0].method == REWRITTEN, fallback
        assert count_scores(url, WRITE_DATE) == args.rows

        # (a) straight into the date's empty partition: no staging, no routing, the rows in key order.
        frame = final_rows(scores_path, WRITE_DATE, lineage)
        partition = partition_name(WRITE_DATE)
        binary = binary_copy_buffer(frame)
        t_a_bin = best_of(
            args.repeats, lambda: empty_table(url, WRITE_DATE), lambda payload=binary: raw_copy(url, partition, payload, "binary")
        )
        del binary
        text = io.StringIO()
        frame.assign(scored_at=lineage.scored_at.isoformat()).to_csv(text, index=False, header=False)
        csv = text.getvalue().encode()
        del text
        t_a_csv = best_of(args.repeats, lambda: empty_table(url, WRITE_DATE), lambda payload=csv: raw_copy(url, partition, payload, "csv"))
        del csv

        from sqlalchemy import create_engine

        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
        empty_table(url, WRITE_DATE)
        # What a user would otherwise write: the documented one-liner, default method and chunking.
        t_c = timed(lambda: frame.to_sql("churn_scores", engine, if_exists="append", index=False))
        engine.dispose()

    t_a = min(t_a_bin, t_a_csv)
    n = args.rows
    rows = [
        ("(a) raw COPY, binary, of the final rows", t_a_bin),
        ("(a) raw COPY, CSV, of the final rows", t_a_csv),
        ("(b) nightshift publish_score_batches, new date", t_b),
        ("(b) rerun: partition swap", t_rerun),
        ("(b) rerun: swap, a reader polling meanwhile", t_watched),
        ("(b) rerun: a report holds the table (fallback)", t_fallback),
        ("(c) pandas.DataFrame.to_sql", t_c),
    ]
    waits = sorted(reader.waits)
    print()
    print(f"nightshift scoring throughput: {n:,} rows, {os.cpu_count()} cores, PostgreSQL (embedded), local[2] Spark")
    print(f"{'step':<48} {'seconds':>8} {'rows/s':>11} {'vs (a)':>7}")
    for name, seconds in rows:
        print(f"{name:<48} {seconds:>8.2f} {n / seconds:>11,.0f} {t_a / seconds:>7.2f}")
    print(f"{'end-to-end score_day (read, predict, write)':<48} {e2e_seconds:>8.2f} {n / e2e_seconds:>11,.0f}")
    print(
        f"(a) = fastest raw COPY; (b) and (a) best of {args.repeats}; a rerun replaces {old_rows:,} rows with {n:,} "
        f"(target: rerun >= 0.9x (a))\n"
        f"reader during the rerun: {len(waits)} counts, longest wait {waits[-1]:.3f} s, median {waits[len(waits) // 2]:.3f} s; "
        f"counts seen: {sorted(set(reader.counts))} "
        f"({'only the old day or the new one' if not unexpected else f'UNEXPECTED {unexpected}'})"
    )
    print(
        f"peak memory during end-to-end: {peak['tree'] / GIB:.2f} GiB RSS summed over the process tree "
        f"({peak['tree_pss'] / GIB:.2f} GiB PSS; target <= 1 GiB RSS)\n"
        f"  each part's own peak RSS: driver {peak['driver'] / GIB:.2f} GiB, Spark JVM {peak['jvm'] / GIB:.2f} GiB, "
        f"Python workers {peak['workers'] / GIB:.2f} GiB (up to {peak['worker_processes']} processes)"
    )
    exact_ratio, approx_ratio = big.exact.seconds / big.plain.seconds, big.approx.seconds / big.plain.seconds
    small_exact, small_approx = small.exact.seconds / small.plain.seconds, small.approx.seconds / small.plain.seconds
    print(
        f"reasons (top three tree contributions per row): Spark scoring pass of {n:,} rows, local[2]\n"
        f"bench model (400 trees, depth 4; approx is the end-to-end run's pass):\n{big.lines(n)}\n"
        f"  reasons_vs_plain {exact_ratio:.2f}, approx_reasons_vs_plain {approx_ratio:.2f} (target <= 1.5, memory unchanged)\n"
        f"champion size ({CHAMPION_SIZE_TREES} trees, depth 4, the count cross-validation picks on the generated data):\n"
        f"{small.lines(n)}\n"
        f"  reasons_vs_plain_champion_size {small_exact:.2f}, approx_reasons_vs_plain_champion_size {small_approx:.2f}\n"
        f"where the end-to-end score_day's {e2e_seconds:.1f} s went (approx reasons):\n{e2e_clock.table(e2e_seconds, indent='    ')}"
    )
    result = (
        f"RESULT write_vs_copy={t_a / t_b:.2f} write_vs_to_sql={t_c / t_b:.2f} "
        f"e2e_seconds={e2e_seconds:.1f} peak_rss_gib={peak['tree'] / GIB:.2f} "
        f"rerun_vs_copy={t_a / t_rerun:.2f} reader_max_wait_s={waits[-1]:.3f} "
        f"reasons_vs_plain={exact_ratio:.2f} approx_reasons_vs_plain={approx_ratio:.2f} plain_pass_s={big.plain.seconds:.1f} "
        f"reasons_pass_s={big.exact.seconds:.1f} approx_pass_s={big.approx.seconds:.1f} exact_timed_rows={big.exact_rows} "
        f"workers_rss_gib_plain={big.plain.workers_peak / GIB:.2f} workers_rss_gib_reasons={big.exact.workers_peak / GIB:.2f} "
        f"workers_rss_gib_approx={big.approx.workers_peak / GIB:.2f} "
        f"reasons_vs_plain_champion_size={small_exact:.2f} approx_reasons_vs_plain_champion_size={small_approx:.2f} "
        f"workers_rss_gib_plain_champion_size={small.plain.workers_peak / GIB:.2f} "
        f"workers_rss_gib_reasons_champion_size={small.exact.workers_peak / GIB:.2f}"
    )
    if scale:
        print()
        print("scale curve: end-to-end score_day, each size a new date, same Spark session")
        print(
            f"{'rows':>12} {'seconds':>8} {'rows/s':>11} {'vs 1st':>7} {'per-row vs 1st':>15} "
            f"{'peak RSS GiB':>13} {'driver':>7} {'JVM':>6} {'workers':>8}"
        )
        base = scale[0]
        for point in scale:
            print(
                f"{point.rows:>12,} {point.seconds:>8.2f} {point.rows / point.seconds:>11,.0f} {point.seconds / base.seconds:>7.2f} "
                f"{(point.seconds / point.rows) / (base.seconds / base.rows):>15.2f} {point.peak['tree'] / GIB:>13.2f} "
                f"{point.peak['driver'] / GIB:>7.2f} {point.peak['jvm'] / GIB:>6.2f} {point.peak['workers'] / GIB:>8.2f}"
            )
        for point in scale:
            print(f"  where {point.rows:,} rows' {point.seconds:.1f} s went:")
            print(point.phases)
        last = scale[-1]
        print(f"target: {last.rows:,} rows <= {last.rows / base.rows * 1.1:.0f}x the {base.rows:,}-row time, memory flat")
        result += (
            f" scale_{size_label(last.rows)}_vs_{size_label(base.rows)}={last.seconds / base.seconds:.2f}"
            f" scale_peak_rss_gib={max(p.peak['tree'] for p in scale) / GIB:.2f}"
        )
    print(result)


if __name__ == "__main__":
    main()
