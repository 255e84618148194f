"""The `nightshift` command line: generate data, run the demo, reach the warehouse and Airflow."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from nightshift.cli import drift, features, lineage, local, model, quality, status

log = logging.getLogger("nightshift")

# Each group adds its subcommands; `nightshift --help` lists them in this order.
GROUPS = (local, status, drift, model, lineage, features, quality)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nightshift", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
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
