"""`nightshift lineage`: from a published score (or a date's scores) to its model, run, data versions, commit and rebuild commands."""

from __future__ import annotations

import argparse
from typing import Any

from nightshift.cli.common import database_url, parse_date


def add_commands(sub: argparse._SubParsersAction) -> None:
    lineage = sub.add_parser(
        "lineage", help="from a score in churn_scores to its model version, MLflow run, DVC data versions, commit and rebuild commands"
    )
    lineage.add_argument("date", type=parse_date, nargs="?", help="the score date")
    lineage.add_argument("customer_id", type=int, nargs="?", help="the customer whose score to trace")
    lineage.add_argument("--score-date", type=parse_date, default=None, help="trace every model version that scored this date instead")
    lineage.add_argument("--json", action="store_true", help="one JSON object with the same facts")
    lineage.set_defaults(func=cmd_lineage)


def cmd_lineage(args: argparse.Namespace) -> int:
    """From a published score (or a date's scores) to its model, run, data versions, commit and rebuild commands."""
    import json

    from nightshift.model.provenance import chain, model_record, render
    from nightshift.model.registry import registry_client
    from nightshift.warehouse.schema import ensure_schema

    url = database_url()
    # A warehouse nothing has scored into yet says "no row", not "no such table".
    ensure_schema(url)
    served, heading = _served(url, args)
    client = registry_client()
    chains = [chain(model_record(client, s["model_name"], s["model_version"]), s) for s in served]
    if args.json:
        facts = chains[0] if args.score_date is None else {"score_date": args.score_date.isoformat(), "models": chains}
        print(json.dumps(facts, indent=2, default=str))
    else:
        print(render(chains, heading))
    return 0


def _served(url: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], str]:
    """The served rows to trace (one score, or one per model version of a date) and the heading that names them."""
    from nightshift.warehouse.readers import read_score_row, served_models

    if args.score_date is not None:
        if args.date is not None:
            raise ValueError("give either DATE CUSTOMER_ID or --score-date DATE, not both")
        day = args.score_date
        served = served_models(url, day)
        if not served:
            raise LookupError(f"no rows in churn_scores for {day}: nightly_scoring has not published that date")
        return served, f"churn_scores of {day}: {sum(s['rows'] for s in served)} rows from {len(served)} model version(s)"
    if args.date is None or args.customer_id is None:
        raise ValueError("give DATE CUSTOMER_ID (one score) or --score-date DATE (every model that scored that date)")
    row = read_score_row(url, args.date, args.customer_id)
    if row is None:
        raise LookupError(f"no row in churn_scores for customer {args.customer_id} on {args.date}")
    return [row], f"lineage of customer {args.customer_id}'s score on {args.date}"
