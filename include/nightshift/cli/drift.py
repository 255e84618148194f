"""`nightshift drift show | performance`: a date's drift decision, and the realized performance of published scores."""

from __future__ import annotations

import argparse
import datetime as dt

from nightshift.cli.common import database_url, parse_date


def add_commands(sub: argparse._SubParsersAction) -> None:
    drift = sub.add_parser("drift", help="drift monitoring: show a date's drift metrics and retrain decision")
    drift_sub = drift.add_subparsers(dest="drift_command", required=True)
    show = drift_sub.add_parser("show", help="DATE's decision and reason, and PSI, null-share change and mean shift per column")
    show.add_argument("date", type=parse_date)
    show.add_argument("--all", action="store_true", help="list every column, not only the drifted ones and the ten largest PSIs")
    show.set_defaults(func=cmd_drift_show)
    perf = drift_sub.add_parser("performance", help="realized ROC AUC, PR AUC, Brier and calibration of published scores, per segment")
    perf.add_argument("--since", type=parse_date, default=dt.date.min, help="first score date (default: all)")
    perf.add_argument("--until", type=parse_date, default=dt.date.max, help="last score date (default: all)")
    perf.set_defaults(func=cmd_drift_performance)


def cmd_drift_show(args: argparse.Namespace) -> int:
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
