"""`data_quality_runs`: one row per suite for every validation, passing or not.

The gate writes them; a failed row also carries the message and, once the copy was attempted,
where the data was quarantined or why that failed (`quarantine_error`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from nightshift.warehouse.connection import connect
from nightshift.warehouse.ddl import Table, ensure_tables

QUALITY_TABLE = "data_quality_runs"
# Constant first key of the advisory lock a schema change of these tables takes ("NSQR").
LOCK_NAMESPACE = 0x4E535152
QUALITY = Table(
    QUALITY_TABLE,
    (
        "id                  bigserial   PRIMARY KEY",
        "logical_date        date        NOT NULL",
        "suite               text        NOT NULL",
        "success             boolean     NOT NULL",
        "evaluated           integer     NOT NULL",
        "failed              integer     NOT NULL",
        "failed_expectations jsonb       NOT NULL",
        "row_count           bigint",
        "message             text",
        "quarantine_path     text",
        # Added to warehouses created before the column existed.
        "quarantine_error    text",
        "recorded_at         timestamptz NOT NULL DEFAULT now()",
    ),
    indexes=((f"{QUALITY_TABLE}_date_suite", f"{QUALITY_TABLE} (logical_date, suite)"),),
)


def create_quality_table(cur: Any) -> None:
    """Create what is missing of data_quality_runs; a complete schema runs no DDL and takes no table lock."""
    ensure_tables(cur, (QUALITY,), LOCK_NAMESPACE)


def record_quality_runs(
    url: str,
    logical_date: date,
    suites: dict[str, dict[str, Any]],
    failures: Sequence[dict[str, Any]] = (),
    row_count: int | None = None,
    message: str | None = None,
    quarantine_path: Path | None = None,
) -> list[int]:
    """One row per suite in data_quality_runs (the table is created on first use); returns the failed rows' ids."""
    failed_ids = []
    # The warehouse's connection: same backoff and the same host-and-cause error when it is down.
    with connect(url) as conn, conn.cursor() as cur:
        create_quality_table(cur)
        for suite, stats in suites.items():
            failed = [
                {k: f.get(k) for k in ("expectation", "column", "unexpected_count", "examples", "observed")}
                for f in failures
                if f["suite"] == suite
            ]
            cur.execute(
                f"INSERT INTO {QUALITY_TABLE} (logical_date, suite, success, evaluated, failed, failed_expectations,"
                " row_count, message, quarantine_path) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    logical_date,
                    suite,
                    bool(stats["success"]),
                    int(stats["evaluated"]),
                    int(stats["failed"]),
                    json.dumps(failed, default=str),
                    row_count,
                    None if stats["success"] else message,
                    None if stats["success"] or quarantine_path is None else str(quarantine_path),
                ),
            )
            run_id = int(cur.fetchone()[0])
            if not stats["success"]:
                failed_ids.append(run_id)
    return failed_ids


def record_quarantine(url: str, run_ids: Sequence[int], path: Path | None, error: str | None) -> None:
    """What became of the quarantine copy of already recorded failed runs: where it went, or why it failed."""
    if not run_ids:
        return
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"UPDATE {QUALITY_TABLE} SET quarantine_path = %s, quarantine_error = %s WHERE id = ANY(%s)",
            (None if path is None else str(path), error, list(run_ids)),
        )
