"""The `nightshift` command line: generate data, run the demo, reach the warehouse and Airflow."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from datetime import date
from pathlib import Path

log = logging.getLogger("nightshift")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def cmd_generate(args: argparse.Namespace) -> int:
    from nightshift.config import data_dir
    from nightshift.local.badinput import corrupt_day
    from nightshift.local.generate import generate

    result = generate(
        Path(args.out) if args.out else data_dir(),
        customers=args.customers,
        days=args.days,
        start_date=args.start_date,
        seed=args.seed,
        drift_from=args.drift_from,
        drift_kind=args.drift_kind,
    )
    if args.bad:
        bad_day = args.bad_date or result.end_date
        corrupt_day(result.data_dir, bad_day, args.bad)
        print(f"made {bad_day} bad: {args.bad}")
    print(
        f"wrote {args.days} days ({result.start_date}..{result.end_date}) of {result.customers} customers, "
        f"{result.event_rows} event rows, to {result.data_dir}"
    )
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from nightshift.local.database import database_url
    from nightshift.local.embedded_pg import start_embedded, stop_embedded
    from nightshift.warehouse.connection import redact_url

    if args.action == "stop":
        stop_embedded()
        print("embedded PostgreSQL stopped")
        return 0
    url = start_embedded() if args.action == "start" else database_url()
    # Terminals and CI logs keep what is printed: the password only when asked for, e.g. psql "$(nightshift db url --show-password)".
    print(url if args.show_password else redact_url(url))
    return 0


def cmd_scores(args: argparse.Namespace) -> int:
    from nightshift.local.database import database_url
    from nightshift.warehouse.readers import read_scores

    frame = read_scores(database_url(), args.date)
    print(f"{len(frame)} rows in churn_scores for {args.date}")
    if len(frame):
        print(frame.sort_values("churn_probability", ascending=False).head(args.top).to_string(index=False))
    return 0


def cmd_drift_show(args: argparse.Namespace) -> int:
    from nightshift.local.database import database_url
    from nightshift.monitoring.report import drift_table
    from nightshift.warehouse.drift import ensure_drift_schema, read_drift_metrics, read_drift_run

    url = database_url()
    ensure_drift_schema(url)
    run = read_drift_run(url, args.date)
    if run is None:
        raise LookupError(
            f"no drift recorded for {args.date}: drift_monitor judges a day once nightly_scoring has published it "
            f"(or trigger drift_monitor with score_date={args.date})"
        )
    print(drift_table(run, read_drift_metrics(url, args.date), show_all=args.all))
    return 0


def cmd_drift_performance(args: argparse.Namespace) -> int:
    from nightshift.local.database import database_url
    from nightshift.monitoring.performance import performance_table
    from nightshift.warehouse.performance import ensure_performance_schema, read_performance

    url = database_url()
    ensure_performance_schema(url)
    rows = read_performance(url, args.since, args.until)
    if not rows:
        raise LookupError(
            f"no realized performance for score dates {args.since} to {args.until}: a date is measured by drift_monitor "
            "once a customers snapshot 30 days after it has landed"
        )
    print(performance_table(rows))
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    """Run the `airflow` CLI inside the project's environment (AIRFLOW_HOME, connections)."""
    from nightshift.local.airflow_env import airflow_bin, airflow_env, run_dags_test, run_standalone
    from nightshift.local.database import database_url

    env = airflow_env(database_url())
    argv = args.airflow_args[1:] if args.airflow_args[:1] == ["--"] else args.airflow_args
    if argv[:1] == ["standalone"]:
        # Supervised rather than exec'd: one Ctrl-C must stop all four components (see run_standalone).
        return run_standalone([airflow_bin(), *argv], env)
    if argv[:2] == ["dags", "test"]:
        # Watched rather than exec'd: exit 0 with a failed run, or one in which no task ran, is a failure.
        return run_dags_test([airflow_bin(), *argv], env)
    os.execve(airflow_bin(), [airflow_bin(), *argv], env)
    return 0  # not reached


def cmd_suites(args: argparse.Namespace) -> int:
    from nightshift.config import load_params
    from nightshift.quality.suites import write_feature_suites
    from nightshift.quality.validation import gx_context_dir

    changed = write_feature_suites(gx_context_dir(), load_params())
    for path in changed:
        print(f"rewrote {path}")
    if not changed:
        print("the features and training_set suites already match params.yaml")
    return 0


def cmd_quality_validate(args: argparse.Namespace) -> int:
    from nightshift.config import data_dir, load_params, quarantine_dir
    from nightshift.local.database import database_url
    from nightshift.quality.gate import gate_raw_day

    # The gate nightly_scoring runs, recorded the same way: a pass resolves the day's earlier failure.
    summary = gate_raw_day(args.date, data_dir(), database_url(), quarantine_dir(), load_params()["quality"]["row_count"])
    print(f"raw data of {summary['day']} passed ({summary['rows']['events']} events, {summary['rows']['customers']} customers)")
    return 0


_MISSING_READ_AS = {
    "events": "its events partition never landed: windows count the day as no activity",
    "customers": "its customers snapshot never landed: no training date falls on it, and labels due that day read the next snapshot",
}


def cmd_quality_accept(args: argparse.Namespace) -> int:
    import getpass

    from nightshift.config import data_dir
    from nightshift.local.database import database_url
    from nightshift.quality.bad_days import accept_day, accept_missing_day

    if args.missing:
        tables = accept_missing_day(database_url(), data_dir(), args.date, args.reason, args.by or getpass.getuser())
        print(f"accepted {args.date.isoformat()} as a day of no activity; windows that read it build again.")
        for table in tables:
            print(f"  {_MISSING_READ_AS[table]}")
        return 0
    accepted = accept_day(database_url(), args.date, args.reason, args.by or getpass.getuser())
    print(f"accepted {args.date.isoformat()} as it is; windows that read it build again. It had failed:")
    for bad in accepted:
        print(f"  {bad.describe()}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from nightshift.local.demo import run_demo

    run_demo(Path(args.logs) if args.logs else None)
    return 0


def _newest_landed_day(root: Path) -> date:
    from nightshift.contract import CUSTOMERS, CUSTOMERS_PARTITION, EVENTS, EVENTS_PARTITION
    from nightshift.quality.landing import describe_landing_zone, landed_days

    both = set(landed_days(root, EVENTS, EVENTS_PARTITION)) & set(landed_days(root, CUSTOMERS, CUSTOMERS_PARTITION))
    if not both:
        raise FileNotFoundError(f"no day with both events and a customers snapshot: {describe_landing_zone(root)}")
    return max(both)


def _training_as_of(chosen: date | None, params: dict, raw: Path) -> date:
    """The day a training from the command line is as of: --as-of, else params.yaml train.as_of, else the newest landed day."""
    configured = params["train"].get("as_of")
    if chosen is None and configured is not None:
        try:
            chosen = configured if isinstance(configured, date) else date.fromisoformat(str(configured))
        except ValueError as exc:
            raise ValueError(f"params.yaml train.as_of: not a YYYY-MM-DD date or null: {configured!r}") from exc
    return chosen or _newest_landed_day(raw)


def cmd_features_training_set(args: argparse.Namespace) -> int:
    """The train_model DAG's training set (nightshift.features.jobs.training_set) and its checks, on a local SparkSession.

    The same checks as the DAG's build_training_set: the window must hold no raw day whose failed
    validation is unresolved, and the written set must pass the GX `training_set` suite (recorded,
    quarantined on failure), so a `dvc repro` fails where train_model would.
    """
    from nightshift.config import data_dir, load_params, quarantine_dir
    from nightshift.features.jobs import training_set
    from nightshift.features.spark_session import local_session
    from nightshift.local.database import database_url
    from nightshift.quality.freshness import max_staleness_days, require_fresh
    from nightshift.quality.gate import gate_parquet
    from nightshift.quality.suites import suite_parameters

    params = load_params(Path(args.params) if args.params else None)
    raw = Path(args.data) if args.data else data_dir()
    as_of = _training_as_of(args.as_of, params, raw)
    # train_model's first check, before Spark starts: a landing zone too old for the day refuses the stage.
    require_fresh(raw, as_of, max_staleness_days(params))
    windows = params["features"]["windows_days"]
    url = database_url()
    spark = local_session("nightshift-training-set")
    try:
        result = training_set(
            spark,
            raw,
            as_of,
            Path(args.out),
            windows,
            params["train"]["label_horizon_days"],
            params["train"]["sample_every_days"],
            params["train"]["window_days"],
            url,
        )
        suite = suite_parameters(params["quality"])["training_set"]
        gate_parquet("training_set", spark, Path(result["path"]), as_of, suite, url, quarantine_dir(), windows)
    finally:
        spark.stop()
    print(f"training set as of {as_of}: {result['rows']} rows over {len(result['dates'])} dates, label rate {result['label_rate']:.3f}")
    print(f"  -> {result['path']} (passed the training_set suite)")
    return 0


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
    require_fresh_training(raw, _training_as_of(args.as_of, params, raw), params, {"training_set": str(path)})
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


def _model_context() -> tuple[str, object]:
    from nightshift.config import load_params
    from nightshift.model.registry import Aliases

    model = load_params()["model"]
    return model["name"], Aliases.from_params(model)


def cmd_model_list(args: argparse.Namespace) -> int:
    from nightshift.config import mlflow_tracking_uri
    from nightshift.model.lifecycle import KEY_METRICS, list_versions

    name, _ = _model_context()
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

    name, aliases = _model_context()
    previous = promote(name, args.version, aliases, args.reason)
    if previous == args.version:
        print(f"{name} version {args.version} is already {aliases.champion}")
    else:
        print(f"{name} {aliases.champion}: version {previous or '-'} -> {args.version}")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from nightshift.model.lifecycle import rollback

    name, aliases = _model_context()
    done = rollback(name, aliases, args.reason)
    print(f"{name} {aliases.champion}: version {done.from_version} -> {done.to_version} (rolled back in {done.seconds:.2f} s)")
    return 0


def cmd_model_lineage(args: argparse.Namespace) -> int:
    import json

    from nightshift.model.lifecycle import lineage

    name, _ = _model_context()
    print(json.dumps(lineage(name, args.version), indent=2, default=str))
    return 0


def cmd_model_compare(args: argparse.Namespace) -> int:
    from nightshift.local.database import database_url
    from nightshift.model.registry import model_version, registry_client
    from nightshift.monitoring.comparison import comparison_table
    from nightshift.warehouse.comparison import read_comparison

    name, _ = _model_context()
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


def cmd_lineage(args: argparse.Namespace) -> int:
    """From a published score (or a date's scores) to its model, run, data versions, commit and rebuild commands."""
    import json

    from nightshift.local.database import database_url
    from nightshift.model.provenance import chain, model_record, render
    from nightshift.model.registry import registry_client
    from nightshift.warehouse.readers import read_score_row, served_models
    from nightshift.warehouse.schema import ensure_schema

    url = database_url()
    # A warehouse nothing has scored into yet says "no row", not "no such table".
    ensure_schema(url)
    if args.score_date is not None:
        if args.date is not None:
            raise ValueError("give either DATE CUSTOMER_ID or --score-date DATE, not both")
        day = args.score_date
        served = served_models(url, day)
        if not served:
            raise LookupError(f"no rows in churn_scores for {day}: nightly_scoring has not published that date")
        heading = f"churn_scores of {day}: {sum(s['rows'] for s in served)} rows from {len(served)} model version(s)"
    else:
        if args.date is None or args.customer_id is None:
            raise ValueError("give DATE CUSTOMER_ID (one score) or --score-date DATE (every model that scored that date)")
        row = read_score_row(url, args.date, args.customer_id)
        if row is None:
            raise LookupError(f"no row in churn_scores for customer {args.customer_id} on {args.date}")
        served = [row]
        heading = f"lineage of customer {args.customer_id}'s score on {args.date}"
    client = registry_client()
    chains = [chain(model_record(client, s["model_name"], s["model_version"]), s) for s in served]
    if args.json:
        facts = chains[0] if args.score_date is None else {"score_date": args.score_date.isoformat(), "models": chains}
        print(json.dumps(facts, indent=2, default=str))
    else:
        print(render(chains, heading))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from nightshift.config import load_params
    from nightshift.local.badinput import BAD_KINDS

    gen_defaults = load_params()["generate"]
    parser = argparse.ArgumentParser(prog="nightshift", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a seeded synthetic landing zone (raw data contract)")
    gen.add_argument("--customers", type=int, default=gen_defaults["customers"])
    gen.add_argument("--days", type=int, default=gen_defaults["days"])
    gen.add_argument("--start-date", type=_date, default=_date(str(gen_defaults["start_date"])))
    gen.add_argument("--seed", type=int, default=gen_defaults["seed"])
    gen.add_argument("--drift-from", type=_date, default=None, help="shift behaviour from this date on")
    gen.add_argument(
        "--drift-kind",
        choices=("usage", "activity_drop"),  # nightshift.local.generate.DRIFT_KINDS, not imported to keep the parser light
        default="usage",
        help="usage: more sessions, fees +10 %% (default); activity_drop: daily activity -15 points, south's churn doubles",
    )
    gen.add_argument("--out", default=None, help="landing zone root (default: NIGHTSHIFT_DATA_DIR or data/raw)")
    gen.add_argument("--bad", choices=sorted(BAD_KINDS), default=None, help="make one day bad in this way")
    gen.add_argument("--bad-date", type=_date, default=None, help="the day --bad corrupts (default: the last day)")
    gen.set_defaults(func=cmd_generate)

    db = sub.add_parser("db", help="the scores database: print its URL, or start/stop the embedded server")
    db.add_argument("action", choices=["url", "start", "stop"], nargs="?", default="url")
    db.add_argument("--show-password", action="store_true", help="print the URL with its password (masked by default)")
    db.set_defaults(func=cmd_db)

    scores = sub.add_parser("scores", help="show a date's rows in churn_scores")
    scores.add_argument("date", type=_date)
    scores.add_argument("--top", type=int, default=10)
    scores.set_defaults(func=cmd_scores)

    drift = sub.add_parser("drift", help="drift monitoring: show a date's drift metrics and retrain decision")
    drift_sub = drift.add_subparsers(dest="drift_command", required=True)
    show = drift_sub.add_parser("show", help="DATE's decision and reason, and PSI, null-share change and mean shift per column")
    show.add_argument("date", type=_date)
    show.add_argument("--all", action="store_true", help="list every column, not only the drifted ones and the ten largest PSIs")
    show.set_defaults(func=cmd_drift_show)
    perf = drift_sub.add_parser("performance", help="realized ROC AUC, PR AUC, Brier and calibration of published scores, per segment")
    perf.add_argument("--since", type=_date, default=dt.date.min, help="first score date (default: all)")
    perf.add_argument("--until", type=_date, default=dt.date.max, help="last score date (default: all)")
    perf.set_defaults(func=cmd_drift_performance)

    af = sub.add_parser("airflow", help="run the airflow CLI in the project's environment, e.g. `nightshift airflow standalone`")
    af.add_argument("airflow_args", nargs=argparse.REMAINDER)
    af.set_defaults(func=cmd_airflow)

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
    mtrain = model_sub.add_parser("train", help="train, evaluate and register a version from a training set, as train_model does")
    mtrain.add_argument("--training-set", required=True, help="the training set's Parquet folder (`nightshift features training-set`)")
    mtrain.add_argument("--data", default=None, help="the landing zone it was built from (default: NIGHTSHIFT_DATA_DIR or data/raw)")
    mtrain.add_argument(
        "--as-of", type=_date, default=None, help="the day it trains as of (default: train.as_of, else the newest day landed)"
    )
    mtrain.add_argument("--model-out", default=None, help="also save the booster here (XGBoost UBJSON), for a dvc.yaml stage")
    mtrain.add_argument("--metrics-out", default="metrics.json", help="with --model-out: the evaluation metrics as JSON")
    mtrain.add_argument("--plots-out", default="plots", help="with --model-out: folder of ROC, precision-recall and calibration CSVs")
    mtrain.add_argument("--params", default=None, help="params file (default: NIGHTSHIFT_PARAMS or params.yaml)")
    mtrain.set_defaults(func=cmd_model_train)
    lin = model_sub.add_parser("lineage", help="VERSION's run, data fingerprint, git commit, params and gate verdict")
    lin.add_argument("version")
    lin.set_defaults(func=cmd_model_lineage)
    cmp = model_sub.add_parser("compare", help="champion vs challenger on matured score dates, per segment, and the rollout decision")
    cmp.add_argument("--since", type=_date, default=dt.date.min, help="first score date (default: all)")
    cmp.add_argument("--until", type=_date, default=dt.date.max, help="last score date (default: all)")
    cmp.set_defaults(func=cmd_model_compare)

    lineage = sub.add_parser(
        "lineage", help="from a score in churn_scores to its model version, MLflow run, DVC data versions, commit and rebuild commands"
    )
    lineage.add_argument("date", type=_date, nargs="?", help="the score date")
    lineage.add_argument("customer_id", type=int, nargs="?", help="the customer whose score to trace")
    lineage.add_argument("--score-date", type=_date, default=None, help="trace every model version that scored this date instead")
    lineage.add_argument("--json", action="store_true", help="one JSON object with the same facts")
    lineage.set_defaults(func=cmd_lineage)

    features = sub.add_parser("features", help="the Spark feature jobs the DAGs run")
    features_sub = features.add_subparsers(dest="features_command", required=True)
    tset = features_sub.add_parser("training-set", help="the point-in-time labelled training set train_model builds")
    tset.add_argument("--out", required=True, help="Parquet folder to write (replaced)")
    tset.add_argument("--as-of", type=_date, default=None, help="the run's date (default: train.as_of, else the newest day landed)")
    tset.add_argument("--data", default=None, help="landing zone root (default: NIGHTSHIFT_DATA_DIR or data/raw)")
    tset.add_argument("--params", default=None, help="params file (default: NIGHTSHIFT_PARAMS or params.yaml)")
    tset.set_defaults(func=cmd_features_training_set)

    suites = sub.add_parser(
        "suites", help="rewrite the GX features and training_set suites from params.yaml (features.windows_days, quality)"
    )
    suites.set_defaults(func=cmd_suites)

    quality = sub.add_parser("quality", help="raw days that failed validation or never landed: validate a day again, or accept it")
    quality_sub = quality.add_subparsers(dest="quality_command", required=True)
    val = quality_sub.add_parser("validate", help="validate DATE's raw events and snapshot again (a pass resolves its failure)")
    val.add_argument("date", type=_date)
    val.set_defaults(func=cmd_quality_validate)
    acc = quality_sub.add_parser(
        "accept", help="accept DATE's failed validation (or with --missing, its absence): feature and training windows may read it"
    )
    acc.add_argument("date", type=_date)
    acc.add_argument("--missing", action="store_true", help="DATE never landed: accept it as a day of no activity (refused if it landed)")
    acc.add_argument("--reason", required=True, help="why the day's data is good enough as it is (kept with the acceptance)")
    acc.add_argument("--by", default=None, help="who accepts it (default: the login name)")
    acc.set_defaults(func=cmd_quality_accept)

    demo = sub.add_parser("demo", help="generate data, run train_model and nightly_scoring, print a summary")
    demo.add_argument("--logs", default=None, help="folder for the DAG runs' output (default data/logs)")
    demo.set_defaults(func=cmd_demo)
    return parser


def _expected(exc: Exception) -> bool:
    """Failures whose message says it all; anything else is a bug and keeps its traceback."""
    from nightshift.warehouse.connection import WarehouseUnavailableError

    return isinstance(exc, (ValueError, LookupError, OSError, RuntimeError, WarehouseUnavailableError))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    started = time.monotonic()
    try:
        return args.func(args)
    except Exception as exc:
        if not _expected(exc):
            raise
        # An expected failure (bad input, a missing thing, a server down) is one clear line, not a traceback.
        print(f"nightshift {args.command}: {exc}", file=sys.stderr)
        return 1
    finally:
        log.info("%s took %.1f s", args.command, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
