"""`nightshift quality validate | accept` and `nightshift suites`: raw days that failed or never landed, and the GX suites."""

from __future__ import annotations

import argparse

from nightshift.cli.common import database_url, parse_date

_MISSING_READ_AS = {
    "events": "its events partition never landed: windows count the day as no activity",
    "customers": "its customers snapshot never landed: no training date falls on it, and labels due that day read the next snapshot",
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    suites = sub.add_parser(
        "suites", help="rewrite the GX features and training_set suites from params.yaml (features.windows_days, quality)"
    )
    suites.set_defaults(func=cmd_suites)

    quality = sub.add_parser("quality", help="raw days that failed validation or never landed: validate a day again, or accept it")
    quality_sub = quality.add_subparsers(dest="quality_command", required=True)
    val = quality_sub.add_parser("validate", help="validate DATE's raw events and snapshot again (a pass resolves its failure)")
    val.add_argument("date", type=parse_date)
    val.set_defaults(func=cmd_quality_validate)
    acc = quality_sub.add_parser(
        "accept", help="accept DATE's failed validation (or with --missing, its absence): feature and training windows may read it"
    )
    acc.add_argument("date", type=parse_date)
    acc.add_argument("--missing", action="store_true", help="DATE never landed: accept it as a day of no activity (refused if it landed)")
    acc.add_argument("--reason", required=True, help="why the day's data is good enough as it is (kept with the acceptance)")
    acc.add_argument("--by", default=None, help="who accepts it (default: the login name)")
    acc.set_defaults(func=cmd_quality_accept)


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
    from nightshift.quality.gate import gate_raw_day

    # The gate nightly_scoring runs, recorded the same way: a pass resolves the day's earlier failure.
    summary = gate_raw_day(args.date, data_dir(), database_url(), quarantine_dir(), load_params()["quality"]["row_count"])
    print(f"raw data of {summary['day']} passed ({summary['rows']['events']} events, {summary['rows']['customers']} customers)")
    return 0


def cmd_quality_accept(args: argparse.Namespace) -> int:
    import getpass

    from nightshift.config import data_dir
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
