"""Estimated performance: how close the nightly estimate from the scores alone comes to what the labels realize a month later.

    .venv/bin/python bench/estimated_performance.py [--customers 5000] [--clean-days 8] [--drifted-days 8]
    (or: make bench-estimate; make bench-estimate CUSTOMERS=20000 for more)

It generates two landing zones with the project's generator and one seed, identical up to the onset day:

  input shift    ``activity_drop`` from the onset (daily activity -15 points; the south's churn hazard
                 doubles, and its customers fade before cancelling as every churner does);
  outcome shift  ``churn_rise`` from the onset (every customer's churn hazard doubles; nothing anyone
                 does before cancelling changes: the same inputs, more churn).

Then, in this one process, with no Airflow and a throwaway MLflow store in a temp dir: the training set
as of the day before the clean days and ``train_model`` on it (its zone's days up to then are the same
in both, so one model serves both), and for each zone and each night the day's scoring features and
scores (the Spark jobs ``nightly_scoring`` runs), the estimate from the scores (``expected_metrics``,
what ``drift_monitor`` stores) and, from the 30-day labels of the training rule (``build_labels``; the
zones run past the last night until every label matured), the realized figures.

The clean nights are the first after the model's as-of day; the onset comes a label horizon after the
last of them, so no clean night's label window reaches into the shift (a churn rise would otherwise
show in the clean nights' labels), and the shifted nights follow it.

Baseline, in the same process: what is known of a day's AUC before its labels mature without an
estimate, the model's evaluation ROC AUC from training (the gate's figure), carried to every night.

Figures (every night of the input-shift zone; each night's labels matured): ``estimate_mae`` and
``estimate_abs_err_max``, the mean and largest |estimated - realized| ROC AUC (targets 0.02 and 0.05);
the baseline's two. On the outcome shift: the mean change from the clean nights to the shifted ones of
the estimated ROC AUC and positive rate and of the realized ones, and on how many shifted nights the
realized path flags it with a retrain reason ``drift_monitor`` applies: the realized ROC AUC under the gate
floor (``performance_reason``) or the realized expected calibration error above the gate's ceiling
(``calibration_reason``); and, shown beside them, a realized churn rate more than 4 binomial standard
errors above the clean nights' realized rate. The last line is machine-readable:
RESULT estimate_mae=... estimate_abs_err_max=... baseline_mae=... baseline_abs_err_max=... drifted_estimate_mae=...
       outcome_shift_estimate_delta=... outcome_shift_realized_auc_delta=... outcome_shift_estimated_rate_delta=...
       outcome_shift_realized_rate_delta=... outcome_shift_auc_floor_nights=... outcome_shift_ece_ceiling_nights=...
       outcome_shift_rate_rise_nights=... clean_nights_flagged=...
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from scratch import scratch_root

START = date(2026, 1, 1)
# Days of history before the model's as-of day: the training window, the label horizon and the longest
# feature window fit in it, as on a landing zone in production.
HISTORY_DAYS = 200
MODEL_NAME = "churn_xgb_bench_estimate"
# A realized churn rate this many binomial standard errors above the clean nights' is shown as a rise.
RATE_SIGMAS = 4.0


@dataclass(frozen=True)
class Night:
    day: date
    rows: int
    estimated: dict[str, float]  # roc_auc, pr_auc, positive_rate
    realized: dict[str, float]  # roc_auc, pr_auc, positive_rate
    labelled: int

    @property
    def auc_error(self) -> float:
        return self.estimated["roc_auc"] - self.realized["roc_auc"]


def score_nights(spark, data_dir: Path, out: Path, nights: list[date], booster, columns, windows) -> dict[date, Path]:
    """Each night's scoring features and scores, as ``nightly_scoring`` computes them; the scores' paths."""
    from nightshift.features.jobs import scoring_features
    from nightshift.scoring.predict import score_features

    scored = {}
    for day in nights:
        features = scoring_features(spark, data_dir, day, out / "features" / day.isoformat(), windows)
        scored[day] = score_features(spark, Path(features["path"]), booster, columns, out / "scores" / day.isoformat())
    return scored


def judge_nights(spark, data_dir: Path, scored: dict[date, Path], horizon: int, bins: int) -> list[Night]:
    """Each night's estimate from its scores and its realized figures from its matured labels."""
    import pandas as pd

    from nightshift.features.point_in_time import build_labels, read_customers, snapshot_dates
    from nightshift.model.evaluation import calibration_metrics, evaluate
    from nightshift.monitoring.estimated import expected_metrics

    first, last = min(scored), max(scored) + timedelta(days=horizon)
    snapshots = [d for d in snapshot_dates(data_dir) if first <= d <= last]
    labels = build_labels(read_customers(spark, data_dir, snapshots), sorted(scored), horizon, snapshots).toPandas()
    labels["as_of_date"] = pd.to_datetime(labels["as_of_date"]).dt.date
    out = []
    for day, path in sorted(scored.items()):
        scores = pd.read_parquet(path)
        estimated = expected_metrics(scores["churn_probability"].to_numpy())
        frame = scores.merge(labels[labels["as_of_date"] == day], on="customer_id", how="inner")
        y, p = frame["label"].to_numpy(), frame["churn_probability"].to_numpy()
        realized = {**evaluate(y, p), **calibration_metrics(y, p, bins), "positive_rate": float(y.mean())}
        out.append(Night(day, len(scores), estimated, realized, len(frame)))
    return out


def under_floor(night: Night, floor: float) -> bool:
    """Whether ``drift_monitor``'s realized retrain reason (``performance_reason``) fires on the night's realized ROC AUC."""
    from nightshift.monitoring.performance import performance_reason
    from nightshift.warehouse.rows import ALL, ROC_AUC, PerformanceRow

    positives = round(night.realized["positive_rate"] * night.labelled)
    row = PerformanceRow(night.day, MODEL_NAME, "1", ALL, ROC_AUC, night.realized["roc_auc"], night.labelled, positives)
    return performance_reason([row], "1", {ROC_AUC: floor}) is not None


def over_ceiling(night: Night, ceiling: float) -> bool:
    """Whether ``drift_monitor``'s realized calibration reason (``calibration_reason``) fires on the night's realized ECE."""
    from nightshift.monitoring.performance import ECE, calibration_reason
    from nightshift.warehouse.rows import ALL, PerformanceRow

    positives = round(night.realized["positive_rate"] * night.labelled)
    row = PerformanceRow(night.day, MODEL_NAME, "1", ALL, ECE, night.realized[ECE], night.labelled, positives)
    return calibration_reason([row], "1", {ECE: ceiling}) is not None


def rate_rise(night: Night, clean_rate: float) -> bool:
    """Whether the night's realized churn rate is more than `RATE_SIGMAS` binomial standard errors above ``clean_rate``."""
    standard_error = (clean_rate * (1 - clean_rate) / night.labelled) ** 0.5
    return night.realized["positive_rate"] - clean_rate > RATE_SIGMAS * standard_error


def flags(night: Night, limits: tuple[float, float], clean_rate: float) -> str:
    floor, ceiling = limits
    said = (
        (["AUC under floor"] if under_floor(night, floor) else [])
        + ([f"ECE {night.realized['expected_calibration_error']:.3f} over ceiling"] if over_ceiling(night, ceiling) else [])
        + (["churn rate up"] if rate_rise(night, clean_rate) else [])
    )
    return ", ".join(said)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def delta(nights: list[Night], onset: date, kind: str, metric: str) -> float:
    """Mean of ``metric`` (estimated or realized) on the shifted nights minus its mean on the clean ones."""
    after = [getattr(n, kind)[metric] for n in nights if n.day >= onset]
    before = [getattr(n, kind)[metric] for n in nights if n.day < onset]
    return mean(after) - mean(before)


def print_nights(title: str, nights: list[Night], onset: date, baseline: float, limits: tuple[float, float]) -> None:
    clean_rate = mean(n.realized["positive_rate"] for n in nights if n.day < onset)
    print(f"\n{title}")
    print(
        f"{'day':<10} {'night':>5} {'scored':>7} {'labelled':>8} | {'est AUC':>7} {'real AUC':>8} {'error':>7} {'base err':>8} | "
        f"{'est PR':>6} {'real PR':>7} | {'est rate':>8} {'real rate':>9} | realized path"
    )
    for n in nights:
        night = (n.day - onset).days + 1
        print(
            f"{n.day.isoformat():<10} {night if night > 0 else 'clean':>5} {n.rows:>7,} {n.labelled:>8,} | "
            f"{n.estimated['roc_auc']:>7.4f} {n.realized['roc_auc']:>8.4f} {n.auc_error:>+7.4f} "
            f"{baseline - n.realized['roc_auc']:>+8.4f} | "
            f"{n.estimated['pr_auc']:>6.4f} {n.realized['pr_auc']:>7.4f} | {n.estimated['positive_rate']:>8.4f} "
            f"{n.realized['positive_rate']:>9.4f} | {flags(n, limits, clean_rate)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=5000, help="customers in each generated landing zone (default 5000, the demo's)")
    parser.add_argument("--clean-days", type=int, default=8, help="nights scored before the onset (default 8)")
    parser.add_argument("--drifted-days", type=int, default=8, help="nights scored from the onset on (default 8)")
    parser.add_argument("--seed", type=int, default=11, help="generator seed (default 11)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.ERROR)

    root = scratch_root("nightshift-bench-estimate-")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    from nightshift.config import load_params
    from nightshift.feature_list import feature_columns
    from nightshift.features.jobs import training_set
    from nightshift.features.spark_session import local_session
    from nightshift.local.generate import ACTIVITY_DROP_KIND, CHURN_RISE_KIND, OUTCOME_RISE_FACTOR, generate
    from nightshift.model.train import train_model
    from nightshift.scoring.predict import load_booster

    params = copy.deepcopy(load_params())
    params["model"]["name"] = MODEL_NAME
    train, windows = params["train"], params["features"]["windows_days"]
    horizon, columns = int(train["label_horizon_days"]), feature_columns(windows)
    floor = float(params["gate"]["floors"]["roc_auc"])
    ceiling = float(params["gate"]["ceilings"]["expected_calibration_error"])
    as_of = START + timedelta(days=HISTORY_DAYS)
    onset = as_of + timedelta(days=args.clean_days + horizon + 1)
    clean = [as_of + timedelta(days=i + 1) for i in range(args.clean_days)]
    nights = clean + [onset + timedelta(days=i) for i in range(args.drifted_days)]
    days = (nights[-1] - START).days + horizon + 2
    started = time.perf_counter()
    spark = None
    judged: dict[str, list[Night]] = {}
    try:
        kinds = f"{ACTIVITY_DROP_KIND}, {CHURN_RISE_KIND} from {onset}"
        print(f"preparing: 2 zones of {args.customers:,} customers x {days} days ({kinds}); training set as of {as_of} ...", flush=True)
        zones = {
            kind: generate(root / kind, args.customers, days, START, args.seed, drift_from=onset, drift_kind=kind).data_dir
            for kind in (ACTIVITY_DROP_KIND, CHURN_RISE_KIND)
        }
        spark = local_session("nightshift-bench-estimate")
        spark.sparkContext.setLogLevel("ERROR")
        out = root / "training_set"
        sampling = int(train["sample_every_days"]), int(train["window_days"])
        training_set(spark, zones[ACTIVITY_DROP_KIND], as_of, out, windows, horizon, *sampling)
        result = train_model(out, params, {"bench": "estimated_performance"}, raw_data_dir=zones[ACTIVITY_DROP_KIND])
        booster = load_booster(f"runs:/{result.run_id}/model", columns)
        for kind, data_dir in zones.items():
            print(f"{kind}: {len(nights)} nights scored, estimated and labelled ...", flush=True)
            scored = score_nights(spark, data_dir, root / kind, nights, booster, columns, windows)
            judged[kind] = judge_nights(spark, data_dir, scored, horizon, int(train["calibration_bins"]))
    finally:
        if spark is not None:
            spark.stop()
        shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - started
    report(judged[ACTIVITY_DROP_KIND], judged[CHURN_RISE_KIND], onset, result, (floor, ceiling), args, seconds, OUTCOME_RISE_FACTOR)


def report(
    inputs: list[Night], outcome: list[Night], onset: date, result, limits: tuple[float, float], args, seconds: float, factor: float
) -> None:
    baseline = float(result.roc_auc)
    floor, ceiling = limits
    print(
        f"\nnightshift estimated performance: {args.customers:,} customers, model {MODEL_NAME} v{result.model_version} "
        f"(evaluation ROC AUC {baseline:.4f}, expected calibration error {result.expected_calibration_error:.4f}); onset {onset}"
    )
    print_nights("input shift (activity_drop: activity -15 points, south churn x2):", inputs, onset, baseline, limits)
    print_nights(f"outcome shift (churn_rise: every customer's churn x{factor:g}, inputs unchanged):", outcome, onset, baseline, limits)
    errors = [abs(n.auc_error) for n in inputs]
    base_errors = [abs(baseline - n.realized["roc_auc"]) for n in inputs]
    drifted = [abs(n.auc_error) for n in inputs if n.day >= onset]
    figures = {
        "estimate_mae": mean(errors),
        "estimate_abs_err_max": max(errors),
        "baseline_mae": mean(base_errors),
        "baseline_abs_err_max": max(base_errors),
        "drifted_estimate_mae": mean(drifted),
        "outcome_shift_estimate_delta": delta(outcome, onset, "estimated", "roc_auc"),
        "outcome_shift_realized_auc_delta": delta(outcome, onset, "realized", "roc_auc"),
        "outcome_shift_estimated_rate_delta": delta(outcome, onset, "estimated", "positive_rate"),
        "outcome_shift_realized_rate_delta": delta(outcome, onset, "realized", "positive_rate"),
    }
    shifted = [n for n in outcome if n.day >= onset]
    clean_rate = mean(n.realized["positive_rate"] for n in outcome if n.day < onset)
    caught = sum(under_floor(n, floor) for n in shifted)
    miscalibrated = sum(over_ceiling(n, ceiling) for n in shifted)
    risen = sum(rate_rise(n, clean_rate) for n in shifted)
    clean = [n for n in outcome + inputs if n.day < onset]
    false_flags = sum(under_floor(n, floor) or over_ceiling(n, ceiling) for n in clean)
    print(
        f"\ninput shift, ROC AUC over {len(inputs)} matured nights: estimate MAE {figures['estimate_mae']:.4f}, max "
        f"{figures['estimate_abs_err_max']:.4f} (targets 0.02, 0.05); baseline (evaluation AUC carried) MAE "
        f"{figures['baseline_mae']:.4f}, max {figures['baseline_abs_err_max']:.4f}; shifted nights only: estimate MAE "
        f"{figures['drifted_estimate_mae']:.4f}"
    )
    print(
        f"outcome shift, shifted nights minus clean nights: estimated ROC AUC {figures['outcome_shift_estimate_delta']:+.4f}, "
        f"realized {figures['outcome_shift_realized_auc_delta']:+.4f}; estimated positive rate "
        f"{figures['outcome_shift_estimated_rate_delta']:+.4f}, realized {figures['outcome_shift_realized_rate_delta']:+.4f}"
    )
    print(
        f"realized path on the {len(shifted)} outcome-shifted nights (retrain reasons): ROC AUC under the floor {floor:g} on "
        f"{caught}, ECE above the ceiling {ceiling:g} on {miscalibrated}; churn rate > the clean nights' {clean_rate:.4f} + "
        f"{RATE_SIGMAS:g} binomial SE on {risen}; clean nights with a realized reason: {false_flags}; {seconds:.0f} s in all"
    )
    print(
        "RESULT "
        + " ".join(f"{k}={v:.4f}" for k, v in figures.items())
        + f" outcome_shift_auc_floor_nights={caught}/{len(shifted)} outcome_shift_ece_ceiling_nights={miscalibrated}/{len(shifted)}"
        + f" outcome_shift_rate_rise_nights={risen}/{len(shifted)} clean_nights_flagged={false_flags}/{len(clean)}"
    )


if __name__ == "__main__":
    main()
