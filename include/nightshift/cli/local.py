"""`nightshift generate | db | airflow | demo`: the embedded default (nightshift.local) from the command line."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nightshift.cli.common import parse_date


def add_commands(sub: argparse._SubParsersAction) -> None:
    from nightshift.config import load_params
    from nightshift.local.badinput import BAD_KINDS

    gen_defaults = load_params()["generate"]
    gen = sub.add_parser("generate", help="write a seeded synthetic landing zone (raw data contract)")
    gen.add_argument("--customers", type=int, default=gen_defaults["customers"])
    gen.add_argument("--days", type=int, default=gen_defaults["days"])
    gen.add_argument("--start-date", type=parse_date, default=parse_date(str(gen_defaults["start_date"])))
    gen.add_argument("--seed", type=int, default=gen_defaults["seed"])
    gen.add_argument("--drift-from", type=parse_date, default=None, help="shift behaviour from this date on")
    gen.add_argument(
        "--drift-kind",
        choices=("usage", "activity_drop", "churn_rise"),  # nightshift.local.generate.DRIFT_KINDS, not imported to keep the parser light
        default="usage",
        help=(
            "usage: more sessions, fees +10 %% (default); activity_drop: daily activity -15 points, south's churn doubles; "
            "churn_rise: every customer's churn doubles, behaviour unchanged"
        ),
    )
    gen.add_argument("--out", default=None, help="landing zone root (default: NIGHTSHIFT_DATA_DIR or data/raw)")
    gen.add_argument("--bad", choices=sorted(BAD_KINDS), default=None, help="make one day bad in this way")
    gen.add_argument("--bad-date", type=parse_date, default=None, help="the day --bad corrupts (default: the last day)")
    gen.set_defaults(func=cmd_generate)

    db = sub.add_parser("db", help="the scores database: print its URL, or start/stop the embedded server")
    db.add_argument("action", choices=["url", "start", "stop"], nargs="?", default="url")
    db.add_argument("--show-password", action="store_true", help="print the URL with its password (masked by default)")
    db.set_defaults(func=cmd_db)

    af = sub.add_parser("airflow", help="run the airflow CLI in the project's environment, e.g. `nightshift airflow standalone`")
    af.add_argument("airflow_args", nargs=argparse.REMAINDER)
    af.set_defaults(func=cmd_airflow)

    demo = sub.add_parser("demo", help="generate data, run train_model and nightly_scoring, print a summary")
    demo.add_argument("--logs", default=None, help="folder for the DAG runs' output (default data/logs)")
    demo.set_defaults(func=cmd_demo)


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
    from nightshift.cli.common import database_url
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


def cmd_airflow(args: argparse.Namespace) -> int:
    """Run the `airflow` CLI inside the project's environment (AIRFLOW_HOME, connections)."""
    from nightshift.cli.common import database_url
    from nightshift.local.airflow_env import airflow_bin, airflow_env, run_dags_test, run_standalone

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


def cmd_demo(args: argparse.Namespace) -> int:
    from nightshift.local.demo import run_demo

    run_demo(Path(args.logs) if args.logs else None)
    return 0
