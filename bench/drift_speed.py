"""Drift speed: one day's drift computation against the scoring of the same day, in one process.

    .venv/bin/python bench/drift_speed.py [--rows N]      (default 1,000,000)

Set up as bench/scoring_throughput.py does (throwaway embedded PostgreSQL and MLflow store, an XGBoost
champion with the project's training parameters, N customers' synthetic features), plus the champion's
``reference/distributions.json`` built as training builds it (model.evaluation.reference_distributions
on 50,000 rows of the same distribution and their scores). Then, each after a warm-up run:

  baseline: end-to-end ``score_day`` of the N rows (read features, predict on Spark, publish to PostgreSQL);
  drift:    ``measure_day`` of the same day, PSI, null share and mean shift of every input and of the
            score, streamed from the features and scores Parquet in Arrow batches (best of 3);
  monitor:  ``monitor_day``, what the drift_monitor task runs: the reference from MLflow, the measurement,
            the decision, both drift tables written and the PNG/HTML report rendered.

Target: drift at most 10 % of the scoring time. The first measurement runs in a process that has
not measured before, so how far its RSS grows shows what the measurement holds; it is printed next
to the size of the day's inputs as float64 arrays. The last line is machine-readable:
RESULT drift_vs_scoring=<drift/scoring> monitor_vs_scoring=<monitor/scoring> drift_seconds=<s> scoring_seconds=<s>
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from scoring_throughput import (
    E2E_DATE,
    MODEL_NAME,
    WARMUP_DATE,
    WINDOWS,
    bench_environment,
    features_and_session,
    register_champion,
    write_features,
)

GIB = 1024**3


class PeakRss:
    """Peak RSS of this process (the driver that reads the Parquet) while running."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def log_reference(work: Path) -> dict:
    """The champion's reference distributions, logged to its run as train_model logs them."""
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from nightshift.feature_list import feature_columns
    from nightshift.model.evaluation import reference_distributions

    columns = feature_columns(WINDOWS)
    write_features(work / "reference.parquet", 50_000, seed=9)
    frame = pd.read_parquet(work / "reference.parquet")
    version = MlflowClient().get_model_version_by_alias(MODEL_NAME, "champion")
    model = mlflow.xgboost.load_model(f"models:/{MODEL_NAME}/{version.version}")
    reference = reference_distributions(frame, columns, model.predict_proba(frame[columns])[:, 1], 10)
    mlflow.log_dict(reference, "reference/distributions.json", run_id=version.run_id)
    return reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers scored and measured (default 1,000,000)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.ERROR)

    from nightshift.config import load_params
    from nightshift.monitoring.drift import DriftSettings, measure_day
    from nightshift.monitoring.monitor import monitor_day
    from nightshift.scoring.score import score_day

    params = load_params()
    params["model"]["name"] = MODEL_NAME
    settings = DriftSettings.from_params(params["drift"])
    with bench_environment() as url:
        work = Path(os.environ["NIGHTSHIFT_WORK_DIR"])
        work.mkdir(parents=True)
        print(f"preparing: champion model and its reference, {args.rows:,} customers' features, Spark warm-up ...", flush=True)
        register_champion()
        reference = log_reference(work)
        spark = features_and_session(work, args.rows)

        def run_score_day(features: Path, day: dt.date) -> dict:
            return score_day(spark, features, day, url, MODEL_NAME, list(WINDOWS), work / "scores" / day.isoformat())

        warm = run_score_day(work / "warmup.parquet", WARMUP_DATE)  # JVM, Python workers, imports and model cache up
        t0 = time.perf_counter()
        scored = run_score_day(work / "features.parquet", E2E_DATE)
        scoring_seconds = time.perf_counter() - t0
        spark.stop()
        assert scored["rows"] == args.rows, scored
        scores_path = Path(scored["scores_path"])

        print("timing drift ...", flush=True)
        times, peak, growth = [], 0, 0
        for _ in range(3):
            rss = PeakRss()
            t0 = time.perf_counter()
            drift = measure_day(work / "features.parquet", scores_path, reference, settings)
            times.append(time.perf_counter() - t0)
            peak = max(peak, rss.stop())
            growth = max(growth, rss.peak - rss.start)
        drift_seconds = min(times)
        assert drift.rows == args.rows, drift.rows

        data = work / "raw"
        (data / "customers" / f"snapshot_date={E2E_DATE.isoformat()}").mkdir(parents=True)
        run = dict(database_url=url, model_name=MODEL_NAME, model_version=scored["model_version"], params=params, data_dir=data)
        monitor_day(
            WARMUP_DATE, **run, features_path=work / "warmup.parquet", scores_path=Path(warm["scores_path"]), reports_root=work / "r"
        )
        t0 = time.perf_counter()
        monitored = monitor_day(E2E_DATE, **run, features_path=work / "features.parquet", scores_path=scores_path, reports_root=work / "r")
        monitor_seconds = time.perf_counter() - t0

    psis = np.array([m.value for m in drift.metrics if m.metric == "psi"])
    n = args.rows
    print()
    print(f"nightshift drift speed: {n:,} rows, {len(psis)} PSI columns, {os.cpu_count()} cores, local[2] Spark")
    print(f"{'step':<64} {'seconds':>8} {'rows/s':>11} {'vs scoring':>10}")
    for name, seconds in (
        ("baseline: end-to-end score_day (read, predict on Spark, publish)", scoring_seconds),
        ("drift: measure_day (every input and the score, best of 3)", drift_seconds),
        ("monitor: monitor_day (reference, measure, decide, store, report)", monitor_seconds),
    ):
        print(f"{name:<64} {seconds:>8.2f} {n / seconds:>11,.0f} {seconds / scoring_seconds:>10.3f}")
    day_gib = n * (len(reference["features"]) + 1) * 8 / GIB
    print(
        f"peak RSS of this process while measuring: {peak / GIB:.2f} GiB, {growth / GIB:.3f} GiB above where it started "
        f"(the day's inputs and score as float64 arrays: {day_gib:.3f} GiB); decision {monitored['decision']}, max PSI {psis.max():.3f}"
    )
    print(
        f"RESULT drift_vs_scoring={drift_seconds / scoring_seconds:.3f} monitor_vs_scoring={monitor_seconds / scoring_seconds:.3f} "
        f"drift_seconds={drift_seconds:.2f} scoring_seconds={scoring_seconds:.2f}"
    )


if __name__ == "__main__":
    main()
