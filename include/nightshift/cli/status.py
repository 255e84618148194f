"""`nightshift scores DATE`: what the warehouse holds for a date."""

from __future__ import annotations

import argparse

from nightshift.cli.common import database_url, parse_date


def add_commands(sub: argparse._SubParsersAction) -> None:
    scores = sub.add_parser("scores", help="show a date's rows in churn_scores")
    scores.add_argument("date", type=parse_date)
    scores.add_argument("--top", type=int, default=10)
    scores.set_defaults(func=cmd_scores)


def cmd_scores(args: argparse.Namespace) -> int:
    from nightshift.warehouse.readers import read_scores

    frame = read_scores(database_url(), args.date)
    print(f"{len(frame)} rows in churn_scores for {args.date}")
    if len(frame):
        print(frame.sort_values("churn_probability", ascending=False).head(args.top).to_string(index=False))
    return 0
