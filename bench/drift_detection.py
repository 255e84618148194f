"""Drift detection: how soon a real drift asks for a retrain, and how quiet clean days stay.

    .venv/bin/python bench/drift_detection.py [--customers 3000] [--clean-days 14] [--drifted-days 6]
    (or: make bench-drift)

It generates a landing zone with the project's generator, with an ``activity_drop`` drift from the
onset day on (every customer's daily probability of being active falls by 15 points, and the
south's churn hazard doubles), then, in this one process, with no Airflow and a throwaway MLflow
store in a temp dir:

  train    the training set as of the day before the clean days (the `train_model` Spark job) and
           `train_model` on it: the real split, cross-validation, fit, evaluation, the reference
           it logs (``reference/distributions.json``) and the registry;
  nights   for each of the clean days and the drifted days after them, in order: the day's
           scoring features (the `nightly_scoring` Spark job), the model's scores (the Spark
           prediction scoring uses), the day measured against the reference (``measure_day``)
           and decided by the real policy (``decide``) with the history of the nights before;
  labels   the realized ROC AUC of the scores on clean and on drifted days, from the 30-day labels
           of the training rule (``build_labels``): the landing zone runs past the last scored day
           until every label has matured.

The baseline is the same nights judged in the same process against the reference training logged
before it was one day: the pooled evaluation window (every evaluation date's rows and scores).

Figures: ``retrain_lag_nights`` (nights from the onset, the onset night being 1, to the first
``retrain``; ``none`` when none came), ``false_drift_days`` (clean days judged drifted) and
``max_column_flag_rate`` (the largest share of clean days any one column was flagged on). Targets:
lag <= 3, no false drift day, no column on more than 1 in 10 clean days. The last line is
machine-readable:
RESULT retrain_lag_nights=... false_drift_days=... max_column_flag_rate=... baseline_retrain_lag_nights=...
       baseline_false_drift_days=... baseline_max_column_flag_rate=... auc_clean=... auc_drifted=...
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from scratch import scratch_root

START = date(2026, 1, 1)
# Days of history before the model's as-of day: the training window (train.window_days), the label
# horizon and the longest feature window all fit in it, as on a landing zone in production.
HISTORY_DAYS = 200
MODEL_NAME = "churn_xgb_bench_drift"
# params.yaml `drift` before the one-day reference (an input drifted at PSI 0.25, three made a drifted day):
# the pooled reference judged with them is printed too, as what monitoring did before.
BEFORE = {"threshold": 0.25, "min_drifted_inputs": 3}


@dataclass
class Judged:
    """One reference's verdicts over the nights, in order."""

    nights: list[tuple[date, bool, str, list[str]]] = field(default_factory=list)
    # Each night's largest PSI of a column over its threshold: (ratio, column).
    peaks: list[tuple[float, str]] = field(default_factory=list)

    def clean_peak(self, onset: date) -> tuple[float, str]:
        return max((p for (d, *_), p in zip(self.nights, self.peaks, strict=True) if d < onset), default=(0.0, "-"))

    def lag(self, onset: date) -> int | None:
        asked = [d for d, _, decision, _ in self.nights if decision == "retrain" and d >= onset]
        return (asked[0] - onset).days + 1 if asked else None

    def false_drift_days(self, onset: date) -> int:
        return sum(1 for d, drifted, _, _ in self.nights if d < onset and drifted)

    def column_flag_rate(self, onset: date) -> tuple[float, str]:
        clean = [columns for d, _, _, columns in self.nights if d < onset]
        counts = Counter(c for columns in clean for c in columns)
        if not counts:
            return 0.0, "-"
        column, n = counts.most_common(1)[0]
        return n / len(clean), column

    def retrained_on_clean(self, onset: date) -> int:
        return sum(1 for d, _, decision, _ in self.nights if d < onset and decision == "retrain")


def pooled_reference(training_set: Path, params: dict, run_id: str) -> dict:
    """The reference as training built it before it was one day: every evaluation date's rows, scored by the model."""
    import mlflow.xgboost
    import pandas as pd

    from nightshift.feature_list import feature_columns
    from nightshift.model.calibration import served_probabilities
    from nightshift.model.evaluation import reference_distributions
    from nightshift.model.split import split_windows

    train = params["train"]
    columns = feature_columns(params["features"]["windows_days"])
    frame = pd.read_parquet(training_set).sort_values(["as_of_date", "customer_id"], kind="mergesort").reset_index(drop=True)
    split = split_windows(
        frame,
        float(train["test_fraction"]),
        int(train["label_horizon_days"]),
        int(train["sample_every_days"]),
        calibration_dates=int(train["calibration_dates"]),
    )
    model = mlflow.xgboost.load_model(f"runs:/{run_id}/model")
    probabilities = served_probabilities(model, split.evaluation[columns])
    reference = reference_distributions(split.evaluation, columns, probabilities, int(train.get("reference_quantiles", 10)))
    return {**reference, "window": split.date_ranges()["eval_dates"]}


def realized_auc(spark, data_dir: Path, scored: dict[date, Path], horizon: int) -> dict[date, tuple[int, float]]:
    """Labels of each scored day by the training rule (`build_labels`), joined with its scores: (labelled rows, churn rate) and AUC."""
    import pandas as pd

    from nightshift.features.point_in_time import build_labels, read_customers, snapshot_dates

    first, last = min(scored), max(scored) + timedelta(days=horizon)
    snapshots = [d for d in snapshot_dates(data_dir) if first <= d <= last]
    labels = build_labels(read_customers(spark, data_dir, snapshots), sorted(scored), horizon, snapshots).toPandas()
    labels["as_of_date"] = pd.to_datetime(labels["as_of_date"]).dt.date
    frames = []
    for day, path in scored.items():
        scores = pd.read_parquet(path)
        scores["as_of_date"] = day
        frames.append(scores)
    return pd.concat(frames).merge(labels, on=["as_of_date", "customer_id"], how="inner")


def auc_of(frame) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(frame["label"], frame["churn_probability"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=3000, help="customers in the generated landing zone (default 3000)")
    parser.add_argument("--clean-days", type=int, default=14, help="nights scored before the onset (default 14)")
    parser.add_argument("--drifted-days", type=int, default=6, help="nights scored from the onset on (default 6)")
    parser.add_argument("--seed", type=int, default=11, help="generator seed (default 11)")
    parser.add_argument("--dump", type=Path, default=None, help="write every night's PSI, threshold and verdict per reference to this JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.ERROR)

    root = scratch_root("nightshift-bench-drift-")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    from nightshift.config import load_params
    from nightshift.feature_list import feature_columns
    from nightshift.features.jobs import scoring_features, training_set
    from nightshift.features.point_in_time import snapshot_dates
    from nightshift.features.spark_session import local_session
    from nightshift.local.generate import ACTIVITY_DROP, ACTIVITY_DROP_KIND, CHURN_RISE_FACTOR, CHURN_RISE_REGION, generate
    from nightshift.model.registry import registry_client
    from nightshift.model.train import train_model
    from nightshift.monitoring.drift import SCORE, DriftSettings, NotEnoughRowsError, measure_day
    from nightshift.monitoring.monitor import newest_labelled
    from nightshift.monitoring.policy import DriftPolicy, PastDay, decide
    from nightshift.monitoring.reference import load_reference
    from nightshift.scoring.predict import load_booster, score_features

    params = copy.deepcopy(load_params())
    params["model"]["name"] = MODEL_NAME
    train = params["train"]
    windows = params["features"]["windows_days"]
    horizon = int(train["label_horizon_days"])
    columns = feature_columns(windows)
    settings = DriftSettings.from_params(params["drift"])
    policy = DriftPolicy.from_params(params["drift"])
    before = copy.deepcopy(params["drift"])
    before["psi"]["threshold"] = BEFORE["threshold"]
    before["min_drifted_inputs"] = BEFORE["min_drifted_inputs"]
    judges = {
        "one day": (settings, policy),
        "baseline": (settings, policy),
        "before": (DriftSettings.from_params(before), DriftPolicy.from_params(before)),
    }

    as_of = START + timedelta(days=HISTORY_DAYS)
    onset = as_of + timedelta(days=args.clean_days + 1)
    nights = [as_of + timedelta(days=i + 1) for i in range(args.clean_days + args.drifted_days)]
    days = HISTORY_DAYS + len(nights) + horizon + 1
    started = time.perf_counter()
    spark = None
    try:
        print(
            f"preparing: {args.customers:,} customers x {days} days, {ACTIVITY_DROP_KIND} from {onset}; "
            f"training set as of {as_of} and train_model ...",
            flush=True,
        )
        drift = {"drift_from": onset, "drift_kind": ACTIVITY_DROP_KIND}
        landing = generate(root / "raw", customers=args.customers, days=days, start_date=START, seed=args.seed, **drift)
        spark = local_session("nightshift-bench-drift")
        spark.sparkContext.setLogLevel("ERROR")
        out = root / "training_set"
        training_set(spark, landing.data_dir, as_of, out, windows, horizon, int(train["sample_every_days"]), int(train["window_days"]))
        result = train_model(out, params, {"bench": "drift_detection"}, raw_data_dir=landing.data_dir)
        run_params = registry_client().get_run(result.run_id).data.params
        champion_max = date.fromisoformat(run_params["data.date_max"])
        references = {
            "one day": load_reference(MODEL_NAME, result.model_version).distributions,
            "baseline": pooled_reference(out, params, result.run_id),
        }
        references["before"] = references["baseline"]
        booster = load_booster(f"runs:/{result.run_id}/model", columns)
        snapshots = snapshot_dates(landing.data_dir)

        judged = {name: Judged() for name in references}
        dumped: list[dict] = []
        scored: dict[date, Path] = {}
        print(f"nights: {len(nights)} days scored and judged ...", flush=True)
        for day in nights:
            features = scoring_features(spark, landing.data_dir, day, root / "features" / day.isoformat(), windows)
            # Drift reads the probabilities only: the reasons would add their cost to every night here.
            scores_path = score_features(spark, Path(features["path"]), booster, columns, root / "scores" / day.isoformat(), reasons="off")
            scored[day] = scores_path
            labelled = newest_labelled(snapshots, day, horizon)
            for name, reference in references.items():
                day_settings, day_policy = judges[name]
                history = [PastDay(d, drifted, decision) for d, drifted, decision, _ in judged[name].nights]
                try:
                    drift = measure_day(Path(features["path"]), scores_path, reference, day_settings)
                except NotEnoughRowsError as exc:
                    judged[name].nights.append((day, False, "not_enough_rows", []))
                    judged[name].peaks.append((0.0, "-"))
                    print(f"  {day}: {exc}")
                    continue
                verdict = decide(
                    day,
                    drift.score_drifted,
                    drift.drifted_inputs,
                    history,
                    labelled,
                    champion_max,
                    day_policy,
                    severe_inputs=drift.severe_inputs(day_settings.severe_psi),
                )
                flagged = ([SCORE] if drift.score_drifted else []) + drift.drifted_inputs
                judged[name].nights.append((day, verdict.drifted, verdict.decision, flagged))
                judged[name].peaks.append(max((m.value / m.threshold, m.column) for m in drift.metrics if m.metric == "psi"))
                psis = [(m.column, m.value, m.threshold) for m in drift.metrics if m.metric == "psi"]
                dumped.append({"day": day.isoformat(), "reference": name, "decision": verdict.decision, "rows": drift.rows, "psi": psis})

        print("labels: realized ROC AUC of the scored days ...", flush=True)
        realized = realized_auc(spark, landing.data_dir, scored, horizon)
        if args.dump is not None:
            args.dump.write_text(json.dumps({"onset": onset.isoformat(), "nights": dumped}, indent=1))
    finally:
        if spark is not None:
            spark.stop()
        shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - started

    clean_rows = realized[realized["as_of_date"] < onset]
    drifted_rows = realized[realized["as_of_date"] >= onset]
    auc_clean, auc_drifted = auc_of(clean_rows), auc_of(drifted_rows)
    new, base = judged["one day"], judged["baseline"]

    print()
    print(
        f"nightshift drift detection: {args.customers:,} customers, model {MODEL_NAME} v{result.model_version} trained as of {as_of} "
        f"(eval AUC {result.roc_auc:.3f}); from {onset}: daily activity -{ACTIVITY_DROP * 100:.0f} points, "
        f"{CHURN_RISE_REGION} churn hazard x{CHURN_RISE_FACTOR:g}"
    )
    print(f"references: one day = {references['one day']['window']}, {references['one day']['rows']:,} rows; ", end="")
    print(f"baseline (pooled evaluation window) = {references['baseline']['window']}, {references['baseline']['rows']:,} rows")
    print(
        f"{'day':<10} {'night':>5} | {'one day: drifted':<16} {'decision':<20} {'columns':<44} | "
        f"{'baseline: drifted':<17} {'decision':<20} columns"
    )
    for (day, drifted, decision, flagged), (_, b_drifted, b_decision, b_flagged) in zip(new.nights, base.nights, strict=True):
        night = (day - onset).days + 1
        shown = ",".join(flagged) or "-"
        print(
            f"{day.isoformat():<10} {night if night > 0 else 'clean':>5} | {'yes' if drifted else 'no':<16} {decision:<20} "
            f"{shown[:44]:<44} | {'yes' if b_drifted else 'no':<17} {b_decision:<20} {','.join(b_flagged) or '-'}"
        )
    rate, column = new.column_flag_rate(onset)
    b_rate, b_column = base.column_flag_rate(onset)
    lag, b_lag = new.lag(onset), base.lag(onset)
    rows = {
        "retrain_lag_nights": (lambda j: str(j.lag(onset) or "none"), "<= 3 (onset night = 1)"),
        "false_drift_days": (lambda j: str(j.false_drift_days(onset)), f"0 of {args.clean_days} clean days"),
        "max_column_flag_rate": (lambda j: "{:.3f} {}".format(*j.column_flag_rate(onset)), "<= 0.1"),
        "retrains asked on clean days": (lambda j: str(j.retrained_on_clean(onset)), "0"),
        "clean days' largest PSI/threshold": (lambda j: "{:.2f} {}".format(*j.clean_peak(onset)), "< 1"),
    }
    names = {"one day": "one-day reference", "baseline": "baseline: pooled", "before": "before: pooled, 0.25 x 3"}
    print(f"\n{'':<34} " + " ".join(f"{names[n]:<28}" for n in judged) + " target")
    for label, (figure, target) in rows.items():
        print(f"{label:<34} " + " ".join(f"{figure(j):<28}" for j in judged.values()) + f" {target}")
    print(
        f"one-day and baseline: params.yaml drift (input PSI {settings.psi_threshold:g}, score {settings.score_psi_threshold:g}, "
        f"{policy.min_drifted_inputs} input(s) a drifted day, {policy.consecutive_days} days in a row); before: input PSI "
        f"{BEFORE['threshold']:g}, {BEFORE['min_drifted_inputs']} inputs a drifted day"
    )
    print(
        f"realized ROC AUC (30-day labels): clean days {auc_clean:.3f} ({len(clean_rows):,} rows, churn {clean_rows['label'].mean():.3f}), "
        f"drifted days {auc_drifted:.3f} ({len(drifted_rows):,} rows, churn {drifted_rows['label'].mean():.3f}); {seconds:.0f} s in all"
    )
    print(
        f"RESULT retrain_lag_nights={lag or 'none'} false_drift_days={new.false_drift_days(onset)} max_column_flag_rate={rate:.3f} "
        f"baseline_retrain_lag_nights={b_lag or 'none'} baseline_false_drift_days={base.false_drift_days(onset)} "
        f"baseline_max_column_flag_rate={b_rate:.3f} auc_clean={auc_clean:.3f} auc_drifted={auc_drifted:.3f}"
    )


if __name__ == "__main__":
    main()
