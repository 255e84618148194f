"""Calibration maps: Platt scaling (what nightshift serves) against isotonic regression, on the demo's data.

    .venv/bin/python bench/calibration_methods.py [--customers 5000] [--days 180] [--seed 7]

It generates the landing zone `nightshift demo` trains on (params.yaml `generate`, unless told
otherwise), builds the training set with the `train_model` Spark job as of the last day, splits it
as training does (train | calibration | gap | evaluation) and fits the booster with the pipeline's
own `fit`. On the same calibration dates it then fits both maps with scikit-learn:

  platt     nightshift's map: logistic regression on the booster's margin (nightshift.model.calibration);
  isotonic  IsotonicRegression on the booster's probabilities (clipped to [0, 1] outside the fitted range).

The baseline is the booster's raw probabilities. Each is scored on the evaluation dates: ECE
(params.yaml train.calibration_bins equal-width bins), ROC AUC and the distinct scores it serves.
The last line is machine-readable:
RESULT ece_raw=<> ece_platt=<> ece_isotonic=<> auc_raw=<> auc_platt=<> auc_isotonic=<>
"""

from __future__ import annotations

import argparse
import logging
import shutil
from datetime import date
from pathlib import Path

from scratch import scratch_root


def measure(frame, params: dict) -> dict[str, tuple[float, float, int]]:
    """(ECE, ROC AUC, distinct scores) on the evaluation dates of the raw booster and of each map."""
    import numpy as np
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score

    from nightshift.feature_list import feature_columns
    from nightshift.model.calibration import fit_platt
    from nightshift.model.evaluation import calibration_metrics
    from nightshift.model.split import split_windows
    from nightshift.model.train import fit

    train = params["train"]
    columns = feature_columns(params["features"]["windows_days"])
    split = split_windows(
        frame,
        float(train["test_fraction"]),
        int(train["label_horizon_days"]),
        int(train["sample_every_days"]),
        calibration_dates=int(train["calibration_dates"]),
    )
    model = fit(split, columns, train)
    calibration, evaluation = split.calibration, split.evaluation
    platt = fit_platt(model.predict(calibration[columns], output_margin=True), calibration["label"], split.date_ranges()["calib_dates"])
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    isotonic.fit(model.predict_proba(calibration[columns])[:, 1], calibration["label"])
    raw = model.predict_proba(evaluation[columns])[:, 1].astype(np.float64)
    scores = {
        "raw": raw,
        "platt": platt.apply(model.predict(evaluation[columns], output_margin=True)),
        "isotonic": isotonic.predict(raw),
    }
    y, bins = evaluation["label"], int(train["calibration_bins"])
    print(f"training {split.date_ranges()}; calibration {len(calibration)} rows, {int(calibration['label'].sum())} churned")
    return {
        name: (calibration_metrics(y, p, bins)["expected_calibration_error"], float(roc_auc_score(y, p)), len(np.unique(p)))
        for name, p in scores.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, help="customers in the generated landing zone (default: params.yaml generate)")
    parser.add_argument("--days", type=int, help="days of history (default: params.yaml generate)")
    parser.add_argument("--seed", type=int, help="generator seed (default: params.yaml generate)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.ERROR)
    root = scratch_root("nightshift-bench-calibration-")

    from nightshift.config import load_params
    from nightshift.feature_list import feature_columns
    from nightshift.features.jobs import training_set
    from nightshift.features.spark_session import local_session
    from nightshift.local.generate import generate
    from nightshift.model.train import _load_training_set

    params = load_params()
    gen, train = params["generate"], params["train"]
    customers, days, seed = args.customers or gen["customers"], args.days or gen["days"], args.seed or gen["seed"]
    print(f"{customers} customers x {days} days (seed {seed}): generate, training set, fit, both maps ...", flush=True)
    spark = local_session("nightshift-bench-calibration")
    spark.sparkContext.setLogLevel("ERROR")
    try:
        landing = generate(root / "raw", customers, days, date.fromisoformat(str(gen["start_date"])), seed)
        built = training_set(
            spark, landing.data_dir, landing.end_date, root / "set", params["features"]["windows_days"],
            train["label_horizon_days"], train["sample_every_days"], train["window_days"],
        )  # fmt: skip
        # Read as training reads it (key order), so the booster is the one train_model would fit.
        frame = _load_training_set(Path(built["path"]), feature_columns(params["features"]["windows_days"]))
        results = measure(frame, params)
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)

    print(f"\n{'map':<9} {'ECE':>7} {'ROC AUC':>8} {'distinct scores':>16}   (evaluation dates; baseline: raw)")
    for name, (ece, auc, distinct) in results.items():
        print(f"{name:<9} {ece:>7.4f} {auc:>8.4f} {distinct:>16}")
    ece = " ".join(f"ece_{n}={r[0]:.4f}" for n, r in results.items())
    auc = " ".join(f"auc_{n}={r[1]:.4f}" for n, r in results.items())
    print(f"RESULT {ece} {auc}")


if __name__ == "__main__":
    main()
