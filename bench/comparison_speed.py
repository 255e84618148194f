"""Comparison speed: the paired bootstrap of the ROC AUC difference on one large day, against the naive bootstrap.

    .venv/bin/python bench/comparison_speed.py [--rows N] [--resamples B] [--naive-resamples K]

N customers (default 1,000,000) with a champion's and a challenger's probabilities, rounded to 3
decimals so scores tie as boosters' do. Measured in one process:

  bootstrap: ``paired_auc_difference`` with B resamples (default params.yaml ``rollout.bootstrap.resamples``),
             the scores ranked once, each resample an O(n) weighted count;
  naive:     the textbook loop on the same draws: materialise the resampled rows, then scikit-learn's
             ``roc_auc_score`` for both models (a sort each), timed on K resamples and scaled to B.

The two give the same interval (tests/unit/monitoring/test_comparison.py checks it exactly). Target: B
resamples on 1M rows well under a minute. The last line is machine-readable:
RESULT bootstrap_seconds=<s> naive_seconds=<s, scaled to B> speedup=<naive/bootstrap> rows=<N> resamples=<B>
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from nightshift.config import load_params
from nightshift.monitoring.comparison import Bootstrap, paired_auc_difference


def main() -> None:
    params = load_params()["rollout"]["bootstrap"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=int(params["resamples"]))
    parser.add_argument("--naive-resamples", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(11)
    y = (rng.random(args.rows) < 0.08).astype(np.int64)
    champion = np.round(1 / (1 + np.exp(-(y * 1.2 + rng.normal(-2.5, 1.0, args.rows)))), 3)
    challenger = np.round(1 / (1 + np.exp(-(y * 1.3 + rng.normal(-2.5, 1.0, args.rows)))), 3)
    boot = Bootstrap(args.resamples, int(params["seed"]), float(params["confidence"]))

    t0 = time.perf_counter()
    diff, low, high = paired_auc_difference(y, champion, challenger, boot)
    fast = time.perf_counter() - t0

    draws = np.random.default_rng(boot.seed)
    t0 = time.perf_counter()
    for _ in range(args.naive_resamples):
        idx = draws.integers(0, args.rows, args.rows)
        roc_auc_score(y[idx], challenger[idx]) - roc_auc_score(y[idx], champion[idx])
    naive = (time.perf_counter() - t0) / args.naive_resamples * args.resamples

    print(f"{args.rows:,} rows, {args.resamples} resamples, seed {boot.seed}")
    print(f"AUC difference {diff:+.5f}, {boot.confidence:.0%} interval [{low:+.5f}, {high:+.5f}]")
    print(f"bootstrap (ranked once, weighted counts): {fast:8.1f} s  ({fast / args.resamples * 1000:.1f} ms per resample)")
    print(f"naive (resample + sort, scikit-learn):    {naive:8.1f} s  (timed on {args.naive_resamples} resamples, scaled)")
    print(f"speedup {naive / fast:.1f}x")
    print(
        f"RESULT bootstrap_seconds={fast:.2f} naive_seconds={naive:.1f} speedup={naive / fast:.1f} "
        f"rows={args.rows} resamples={args.resamples}"
    )


if __name__ == "__main__":
    main()
