"""Model quality: the pipeline's evaluation ROC AUC next to a plain XGBoost, on a few history lengths.

    .venv/bin/python bench/model_quality.py [--customers 3000] [--days 90,150,365] [--seed 11]

For each history length it generates a landing zone (the project's generator, with another
seed and customer count than the demo), builds the training set with the `train_model`
Spark job as of the last day (params.yaml `features` and `train`), and in this one process:

  pipeline  `train_model` as the DAG runs it: time split, customer-fold cross-validation for
            the number of trees, fit, evaluation, MLflow logging and the gate, against a
            throwaway MLflow store;
  plain     XGBoost with library defaults (100 trees, depth 6, learning rate 0.3; `hist`, a
            fixed seed) on the same features, trained on every labelled date of the training
            set before the evaluation gap (label window ending by the first evaluation date).

Both are scored on the pipeline's evaluation dates. The target is a pipeline within 0.01 of
plain, or better. The last line is machine-readable:
RESULT auc_<days>d=<pipeline> plain_<days>d=<plain> ... worst_vs_plain=<min of pipeline - plain>
"""

from __future__ import annotations

import argparse
import copy
import logging
import re
import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from scratch import scratch_root

START = date(2025, 1, 1)


@dataclass(frozen=True)
class Row:
    days: int
    labelled_dates: int
    eval_dates: int
    eval_rows: int
    train_dates: int
    train_rows: int
    trees: int
    auc: float
    plain_train_dates: int
    plain_train_rows: int
    plain_trees: int
    plain_auc: float
    seconds: float


def _range(text: str) -> tuple[date, date]:
    """`first..last (n dates)` as logged in a run's params, to its first and last date."""
    first, last = re.match(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text).groups()
    return date.fromisoformat(first), date.fromisoformat(last)


def plain_xgboost(frame, columns: list[str], eval_first: date, eval_last: date, horizon_days: int, seed: int):
    """Library-default XGBoost on every date before the evaluation gap, scored on the evaluation dates."""
    import pandas as pd
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    as_of = pd.to_datetime(frame["as_of_date"])
    train = frame[as_of + pd.Timedelta(days=horizon_days) <= pd.Timestamp(eval_first)]
    evaluation = frame[(as_of >= pd.Timestamp(eval_first)) & (as_of <= pd.Timestamp(eval_last))]
    model = xgb.XGBClassifier(tree_method="hist", random_state=seed, nthread=2)
    model.fit(train[columns], train["label"])
    auc = float(roc_auc_score(evaluation["label"], model.predict_proba(evaluation[columns])[:, 1]))
    return train["as_of_date"].nunique(), len(train), model.get_booster().num_boosted_rounds(), auc


def run_size(spark, root: Path, days: int, customers: int, seed: int, params: dict) -> Row:
    import pandas as pd

    from nightshift.feature_list import feature_columns
    from nightshift.features.jobs import training_set
    from nightshift.local.generate import generate
    from nightshift.model.registry import registry_client
    from nightshift.model.train import train_model

    started = time.perf_counter()
    landing = generate(root / f"raw_{days}d", customers=customers, days=days, start_date=START, seed=seed)
    train = params["train"]
    windows = params["features"]["windows_days"]
    horizon = int(train["label_horizon_days"])
    out = root / f"training_set_{days}d"
    built = training_set(
        spark, landing.data_dir, landing.end_date, out, windows, horizon, int(train["sample_every_days"]), int(train["window_days"])
    )

    run_params = copy.deepcopy(params)
    run_params["model"]["name"] = f"bench_churn_{days}d"
    result = train_model(out, run_params, {"bench": "model_quality"}, raw_data_dir=landing.data_dir)
    logged = registry_client().get_run(result.run_id).data.params
    eval_first, eval_last = _range(logged["eval_dates"])

    frame = pd.read_parquet(out)
    plain = plain_xgboost(frame, feature_columns(windows), eval_first, eval_last, horizon, int(train["seed"]))
    return Row(
        days=days,
        labelled_dates=len(built["dates"]),
        eval_dates=int(re.search(r"\((\d+) dates\)", logged["eval_dates"]).group(1)),
        eval_rows=result.eval_rows,
        train_dates=int(re.search(r"\((\d+) dates\)", logged["train_dates"]).group(1)),
        train_rows=result.train_rows,
        trees=result.n_trees,
        auc=result.roc_auc,
        plain_train_dates=plain[0],
        plain_train_rows=plain[1],
        plain_trees=plain[2],
        plain_auc=plain[3],
        seconds=time.perf_counter() - started,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=3000, help="customers in each generated landing zone (default 3000)")
    parser.add_argument("--days", default="90,150,365", help="history lengths in days, comma-separated (default 90,150,365)")
    parser.add_argument("--seed", type=int, default=11, help="generator seed (default 11; the demo uses 7)")
    args = parser.parse_args()
    sizes = [int(d) for d in args.days.split(",")]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.ERROR)

    root = scratch_root("nightshift-bench-quality-")

    from nightshift.config import load_params
    from nightshift.features.spark_session import local_session

    params = load_params()
    spark = local_session("nightshift-bench-quality")
    spark.sparkContext.setLogLevel("ERROR")
    rows = []
    try:
        for days in sizes:
            print(f"{days} days x {args.customers} customers: generate, training set, train_model, plain XGBoost ...", flush=True)
            rows.append(run_size(spark, root, days, args.customers, args.seed, params))
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)

    train = params["train"]
    print()
    print(
        f"evaluation ROC AUC, {args.customers} customers, seed {args.seed}, a training date every {train['sample_every_days']} days "
        f"within {train['window_days']} days, {train['label_horizon_days']}-day label gap before the evaluation dates"
    )
    print(
        f"{'days':>5} {'labelled':>8} {'eval':>13} | {'pipeline: dates':>15} {'rows':>6} {'trees':>5} {'AUC':>6} | "
        f"{'plain: dates':>12} {'rows':>6} {'trees':>5} {'AUC':>6} | {'diff':>7} {'seconds':>7}"
    )
    for r in rows:
        print(
            f"{r.days:>5} {r.labelled_dates:>8} {f'{r.eval_dates} / {r.eval_rows}':>13} | {r.train_dates:>15} {r.train_rows:>6} "
            f"{r.trees:>5} {r.auc:>6.3f} | {r.plain_train_dates:>12} {r.plain_train_rows:>6} {r.plain_trees:>5} {r.plain_auc:>6.3f} | "
            f"{r.auc - r.plain_auc:>+7.3f} {r.seconds:>7.1f}"
        )
    print("eval = evaluation dates / rows (the same for both); diff = pipeline - plain; target: diff >= -0.01")
    worst = min(r.auc - r.plain_auc for r in rows)
    figures = " ".join(f"auc_{r.days}d={r.auc:.3f} plain_{r.days}d={r.plain_auc:.3f}" for r in rows)
    print(f"RESULT {figures} worst_vs_plain={worst:+.3f}")


if __name__ == "__main__":
    main()
