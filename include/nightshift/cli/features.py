"""`nightshift features training-set`: the Spark feature job train_model runs, with its checks, on a local SparkSession."""

from __future__ import annotations

import argparse
from pathlib import Path

from nightshift.cli.common import database_url, parse_date, training_as_of


def add_commands(sub: argparse._SubParsersAction) -> None:
    features = sub.add_parser("features", help="the Spark feature jobs the DAGs run")
    features_sub = features.add_subparsers(dest="features_command", required=True)
    tset = features_sub.add_parser("training-set", help="the point-in-time labelled training set train_model builds")
    tset.add_argument("--out", required=True, help="Parquet folder to write (replaced)")
    tset.add_argument("--as-of", type=parse_date, default=None, help="the run's date (default: train.as_of, else the newest day landed)")
    tset.add_argument("--data", default=None, help="landing zone root (default: NIGHTSHIFT_DATA_DIR or data/raw)")
    tset.add_argument("--params", default=None, help="params file (default: NIGHTSHIFT_PARAMS or params.yaml)")
    tset.set_defaults(func=cmd_features_training_set)


def cmd_features_training_set(args: argparse.Namespace) -> int:
    """The train_model DAG's training set (nightshift.features.jobs.training_set) and its checks, on a local SparkSession.

    The same checks as the DAG's build_training_set: the window must hold no raw day whose failed
    validation is unresolved, and the written set must pass the GX `training_set` suite (recorded,
    quarantined on failure), so a `dvc repro` fails where train_model would.
    """
    from nightshift.config import data_dir, load_params, quarantine_dir
    from nightshift.features.jobs import training_set
    from nightshift.features.spark_session import local_session
    from nightshift.quality.freshness import max_staleness_days, require_fresh
    from nightshift.quality.gate import gate_parquet
    from nightshift.quality.suites import suite_parameters

    params = load_params(Path(args.params) if args.params else None)
    raw = Path(args.data) if args.data else data_dir()
    as_of = training_as_of(args.as_of, params, raw)
    # train_model's first check, before Spark starts: a landing zone too old for the day refuses the stage.
    require_fresh(raw, as_of, max_staleness_days(params))
    windows = params["features"]["windows_days"]
    url = database_url()
    spark = local_session("nightshift-training-set")
    try:
        train = params["train"]
        result = training_set(
            spark, raw, as_of, Path(args.out), windows, train["label_horizon_days"], train["sample_every_days"], train["window_days"], url
        )
        suite = suite_parameters(params["quality"])["training_set"]
        gate_parquet("training_set", spark, Path(result["path"]), as_of, suite, url, quarantine_dir(), windows)
    finally:
        spark.stop()
    print(f"training set as of {as_of}: {result['rows']} rows over {len(result['dates'])} dates, label rate {result['label_rate']:.3f}")
    print(f"  -> {result['path']} (passed the training_set suite)")
    return 0
