"""`nightshift model list | promote | rollback | train | lineage | compare`: the registered churn model."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from nightshift.cli.common import database_url, model_context, parse_date, training_as_of


def add_commands(sub: argparse._SubParsersAction) -> None:
    model = sub.add_parser("model", help="the registered churn model: list versions, promote, roll back, show lineage")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    listing = model_sub.add_parser("list", help="versions, newest first, with aliases, gate outcome and key metrics")
    listing.set_defaults(func=cmd_model_list)
    prom = model_sub.add_parser("promote", help="make VERSION champion now, without the gate (the old one stays rollback-able)")
    prom.add_argument("version")
    prom.add_argument("--reason", default="manual promotion (nightshift model promote)")
    prom.set_defaults(func=cmd_model_promote)
    back = model_sub.add_parser("rollback", help="move champion back to the previous champion (no retraining)")
    back.add_argument("--reason", default="manual rollback (nightshift model rollback)")
    back.set_defaults(func=cmd_model_rollback)
    _add_train(model_sub)
    lin = model_sub.add_parser("lineage", help="VERSION's run, data fingerprint, git commit, params and gate verdict")
    lin.add_argument("version")
    lin.set_defaults(func=cmd_model_lineage)
    cmp = model_sub.add_parser("compare", help="champion vs challenger on matured score dates, per segment, and the rollout decision")
    cmp.add_argument("--since", type=parse_date, default=dt.date.min, help="first score date (default: all)")
    cmp.add_argument("--until", type=parse_date, default=dt.date.max, help="last score date (default: all)")
    cmp.set_defaults(func=cmd_model_compare)


def _add_train(model_sub: argparse._SubParsersAction) -> None:
    mtrain = model_sub.add_parser("train", help="train, evaluate and register a version from a training set, as train_model does")
    mtrain.add_argument("--training-set", required=True, help="the training set's Parquet folder (`nightshift features training-set`)")
    mtrain.add_argument("--data", default=None, help="the landing zone it was built from (default: NIGHTSHIFT_DATA_DIR or data/raw)")
    mtrain.add_argument(
        "--as-of", type=parse_date, default=None, help="the day it trains as of (default: train.as_of, else the newest day landed)"
    )
    mtrain.add_argument("--model-out", default=None, help="also save the booster here (XGBoost UBJSON), for a dvc.yaml stage")
    mtrain.add_argument("--metrics-out", default="metrics.json", help="with --model-out: the evaluation metrics as JSON")
    mtrain.add_argument("--plots-out", default="plots", help="with --model-out: folder of ROC, precision-recall and calibration CSVs")
    mtrain.add_argument("--params", default=None, help="params file (default: NIGHTSHIFT_PARAMS or params.yaml)")
    mtrain.set_defaults(func=cmd_model_train)


def cmd_model_train(args: argparse.Namespace) -> int:
    """The train_model DAG's training (nightshift.model.train.train_model): MLflow run, registry, gate."""
    from nightshift.config import data_dir, load_params
    from nightshift.model.guard import require_fresh_training
    from nightshift.model.outputs import OutputPaths
    from nightshift.model.train import train_model

    params = load_params(Path(args.params) if args.params else None)
    path = Path(args.training_set)
    raw = Path(args.data) if args.data else data_dir()
    # The DAG's check_data_freshness: refused (and recorded in MLflow) before the training set is read.
    require_fresh_training(raw, training_as_of(args.as_of, params, raw), params, {"training_set": str(path)})
    result = train_model(
        path,
        params,
        {"training_set": str(path)},
        raw_data_dir=raw,
        outputs=OutputPaths(Path(args.model_out), Path(args.metrics_out), Path(args.plots_out)) if args.model_out else None,
    )
    print(
        f"{result.model_name} version {result.model_version} (run {result.run_id}): ROC AUC {result.roc_auc:.4f}, "
        f"PR AUC {result.pr_auc:.4f}, {result.n_trees} trees; gate: {result.gate['outcome']}"
    )
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from nightshift.config import mlflow_tracking_uri
    from nightshift.model.lifecycle import KEY_METRICS, list_versions

    name, _ = model_context()
    rows = list_versions(name)
    print(f"{name} in {mlflow_tracking_uri()}")
    short = {"expected_calibration_error": "ece"}
    header = f"{'version':>7}  {'aliases':<28} {'created (UTC)':<16}  {'gate':<14}" + "".join(f"{short.get(m, m):>9}" for m in KEY_METRICS)
    print(header)
    for row in rows:
        metrics = "".join(f"{row.metrics[m]:>9.4f}" if m in row.metrics else f"{'-':>9}" for m in KEY_METRICS)
        print(f"{row.version:>7}  {','.join(row.aliases) or '-':<28} {row.created:<16}  {row.gate or '-':<14}{metrics}")
    return 0


def cmd_model_promote(args: argparse.Namespace) -> int:
    from nightshift.model.lifecycle import promote

    name, aliases = model_context()
    previous = promote(name, args.version, aliases, args.reason)
    if previous == args.version:
        print(f"{name} version {args.version} is already {aliases.champion}")
    else:
        print(f"{name} {aliases.champion}: version {previous or '-'} -> {args.version}")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from nightshift.model.lifecycle import rollback

    name, aliases = model_context()
    done = rollback(name, aliases, args.reason)
    print(f"{name} {aliases.champion}: version {done.from_version} -> {done.to_version} (rolled back in {done.seconds:.2f} s)")
    return 0


def cmd_model_lineage(args: argparse.Namespace) -> int:
    import json

    from nightshift.model.lifecycle import lineage

    name, _ = model_context()
    print(json.dumps(lineage(name, args.version), indent=2, default=str))
    return 0


def cmd_model_compare(args: argparse.Namespace) -> int:
    from nightshift.model.registry import model_version, registry_client
    from nightshift.monitoring.comparison import comparison_table
    from nightshift.warehouse.comparison import read_comparison

    name, _ = model_context()
    rows = read_comparison(database_url(), args.since, args.until)
    if not rows:
        raise LookupError(
            f"no champion/challenger comparison for score dates {args.since} to {args.until}: a date is compared by drift_monitor "
            "once its labels mature, when a challenger scored it in shadow (churn_scores_shadow)"
        )
    print(f"{name}: champion (c.) vs challenger (x.) on the same customers; auc_diff = challenger - champion, bootstrap interval")
    print(comparison_table(rows))
    client = registry_client()
    for version in sorted({r.challenger_version for r in rows}, key=int):
        tags = model_version(client, name, version).tags
        if tags.get("rollout.decision"):
            print(f"challenger {version}: {tags['rollout.decision']} ({tags.get('rollout.reason', '')})")
    return 0
