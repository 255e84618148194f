"""The ``scoring_runs`` audit: a run is recorded as running before any work, then failed with its error.

Success is written by the publish itself, in the transaction that swaps the date's rows in.
"""

from __future__ import annotations

import datetime as dt

from nightshift.warehouse.connection import connect
from nightshift.warehouse.schema import RUNS_TABLE, check_score_date


def start_scoring_run(url: str, score_date: dt.date, model_name: str, model_version: str, run_id: str) -> int:
    """Record a scoring run of ``score_date`` as running; return its id in ``scoring_runs``."""
    check_score_date(score_date)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {RUNS_TABLE} (score_date, model_name, model_version, run_id) VALUES (%s, %s, %s, %s) RETURNING id",
            (score_date, model_name, model_version, run_id),
        )
        (run,) = cur.fetchone()
    return int(run)


def fail_scoring_run(url: str, scoring_run: int, error: str) -> None:
    """Mark a running scoring run failed with the error that ended it."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"UPDATE {RUNS_TABLE} SET status = 'failed', error = %s, finished_at = clock_timestamp() WHERE id = %s AND status = 'running'",
            (error, scoring_run),
        )
