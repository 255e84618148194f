"""`nightshift scores DATE`: what the warehouse holds for a date; `nightshift status`: the morning page's table."""

from __future__ import annotations

import argparse
import datetime as dt
import os

from nightshift.cli.common import database_url, parse_date


def add_commands(sub: argparse._SubParsersAction) -> None:
    scores = sub.add_parser("scores", help="show a date's rows in churn_scores")
    scores.add_argument("date", type=parse_date)
    scores.add_argument("--top", type=int, default=10)
    scores.set_defaults(func=cmd_scores)
    status = sub.add_parser("status", help="each recent day: landed, validated, scored by which model, drift, AUC, deadline, approvals")
    status.add_argument("--days", type=int, default=14, help="how many days, newest first (default 14)")
    status.set_defaults(func=cmd_status)


def cmd_scores(args: argparse.Namespace) -> int:
    from nightshift.warehouse.readers import read_scores

    frame = read_scores(database_url(), args.date)
    print(f"{len(frame)} rows in churn_scores for {args.date}")
    if len(frame):
        print(frame.sort_values("churn_probability", ascending=False).head(args.top).to_string(index=False))
    return 0


def _airflow_facts(url: str) -> tuple[list, list, str]:
    """nightly_scoring's runs and the open approvals from Airflow's metadata database, or why they are not shown.

    Locally, the database `nightshift airflow` uses; in a deployment, the one this environment's Airflow settings name.
    """
    from nightshift.config import local_defaults_allowed

    if local_defaults_allowed():
        from nightshift.local.airflow_env import airflow_env

        os.environ.update({k: v for k, v in airflow_env(url).items() if k.startswith("AIRFLOW") and k not in os.environ})
    from nightshift.airflow.status_app import open_approvals, scoring_runs_by_day

    try:
        return scoring_runs_by_day(), open_approvals(), ""
    except Exception as exc:  # noqa: BLE001 - any database error: the warehouse's table is still worth printing
        reason = " ".join(str(exc).split())[:300]
        return [], [], f"Airflow runs and approvals not shown: its metadata database could not be read ({type(exc).__name__}: {reason})"


def cmd_status(args: argparse.Namespace) -> int:
    from nightshift.config import data_dir, mlflow_ui_url
    from nightshift.monitoring.status import newest_recorded_day, read_facts, recent_days, render_text, status_rows

    url, root = database_url(), data_dir()
    days = recent_days(root, newest_recorded_day(url), dt.datetime.now(dt.UTC).date(), args.days)
    runs, approvals, note = _airflow_facts(url)
    print(render_text(status_rows(days, root, read_facts(url, days), runs, approvals, mlflow_ui_url()), approvals, note))
    return 0
