"""Shadow scoring cost: a day scored by the champion alone against the champion with a challenger in shadow.

    .venv/bin/python bench/shadow_scoring.py [--rows N]      (default 1,000,000)

Set up as bench/scoring_throughput.py does (throwaway embedded PostgreSQL and MLflow store, XGBoost models
with the project's training parameters, N customers' synthetic features); two versions trained on different
rows are registered, the newer one `champion`, the older one `challenger`. Then, after a warm-up of each path, in one process:

  baseline: ``score_day``: read the features, predict with the champion on Spark, publish churn_scores;
  shadow:   ``score_day_with_challenger``: one Spark pass predicting with both boosters, churn_scores
            published, then the challenger's rows published to churn_scores_shadow.

For the shadow run it also prints when the served rows were committed (``scoring_runs.finished_at`` of
the served run, from the call's start): what the champion's consumers wait for. Each figure is the best
of 3 runs, the two paths alternating (reruns of the same dates, so every run replaces a day). The last line is
machine-readable:
RESULT shadow_vs_baseline=<shadow/baseline> served_after_vs_baseline=<served commit/baseline> baseline_seconds=<s> shadow_seconds=<s>
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import time
from pathlib import Path

from scoring_throughput import E2E_DATE, MODEL_NAME, WARMUP_DATE, WINDOWS, bench_environment, features_and_session, register_champion

SHADOW_WARMUP_DATE = dt.date(2026, 6, 3)
SHADOW_DATE = dt.date(2026, 6, 4)
REPEATS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers scored (default 1,000,000)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.ERROR)

    from mlflow.tracking import MlflowClient

    from nightshift.model.registry import Aliases
    from nightshift.scoring.rollout import Canary
    from nightshift.scoring.score import score_day
    from nightshift.scoring.shadow import score_day_with_challenger
    from nightshift.warehouse.connection import connect

    with bench_environment() as url:
        work = Path(os.environ["NIGHTSHIFT_WORK_DIR"])
        work.mkdir(parents=True)
        print(f"preparing: two model versions, {args.rows:,} customers' features, Spark warm-up ...", flush=True)
        register_champion()
        register_champion(rows=15_000)  # another model (other training rows), version 2, champion now
        MlflowClient().set_registered_model_alias(MODEL_NAME, "challenger", "1")
        spark = features_and_session(work, args.rows)

        def baseline(features: Path, day: dt.date) -> dict:
            return score_day(spark, features, day, url, MODEL_NAME, list(WINDOWS), work / "scores" / day.isoformat())

        def shadow(features: Path, day: dt.date) -> dict:
            out = work / "scores" / day.isoformat()
            return score_day_with_challenger(spark, features, day, url, MODEL_NAME, list(WINDOWS), out, Aliases(), Canary(0.0, "bench"))

        baseline(work / "warmup.parquet", WARMUP_DATE)
        shadow(work / "warmup.parquet", SHADOW_WARMUP_DATE)
        # Alternating, best of REPEATS each: the machine is shared, and the two must see the same load.
        base_times, shadow_times, served_times = [], [], []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            base = baseline(work / "features.parquet", E2E_DATE)
            base_times.append(time.perf_counter() - t0)
            started = time.time()
            t0 = time.perf_counter()
            both = shadow(work / "features.parquet", SHADOW_DATE)
            shadow_times.append(time.perf_counter() - t0)
            with connect(url) as conn, conn.cursor() as cur:
                cur.execute("SELECT extract(epoch FROM finished_at) FROM scoring_runs WHERE id = %s", (both["scoring_run"],))
                served_times.append(float(cur.fetchone()[0]) - started)
        spark.stop()
    assert base["rows"] == both["rows"] == both["shadow"]["rows"] == args.rows, (base, both)
    base_seconds, shadow_seconds, served_after = min(base_times), min(shadow_times), min(served_times)

    print()
    print(f"nightshift shadow scoring: {args.rows:,} rows, 2 cores, local[2] Spark, best of {REPEATS}")
    print(f"{'run':<66} {'seconds':>8} {'vs baseline':>12}")
    print(f"{'baseline: score_day, champion only (read, predict, publish)':<66} {base_seconds:>8.2f} {1:>12.3f}")
    label = "shadow: champion and challenger in one pass, both tables published"
    print(f"{label:<66} {shadow_seconds:>8.2f} {shadow_seconds / base_seconds:>12.3f}")
    print(f"{'  of which until churn_scores was committed':<66} {served_after:>8.2f} {served_after / base_seconds:>12.3f}")
    print(
        f"RESULT shadow_vs_baseline={shadow_seconds / base_seconds:.3f} served_after_vs_baseline={served_after / base_seconds:.3f} "
        f"baseline_seconds={base_seconds:.2f} shadow_seconds={shadow_seconds:.2f}"
    )


if __name__ == "__main__":
    main()
