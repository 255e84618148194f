"""The ``scoring_runs`` audit: a run is recorded as running before any work, then failed with its error.

Success is written by the publish itself, in the transaction that swaps the date's rows in. Each run
records the features and scores folders it reads and writes, so the files of a date's published run
are the ones its rows came from (`published_run`).

A worker killed mid-run (SIGKILL, OOM killer, a lost host) writes nothing, so "running" alone
cannot tell a live run from a dead one. Each run therefore holds a session-level advisory lock
keyed on its id, on a connection kept open for the whole run: PostgreSQL releases it when that
session ends, which is when its worker process dies. The next run that starts tries each
running row's lock; one it can take has no live owner and is marked failed. A live run,
concurrent or not, keeps its lock and is left alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2.extensions

from nightshift.warehouse.connection import open_connection
from nightshift.warehouse.schema import RUNS_TABLE, SERVED, SHADOW, check_score_date

log = logging.getLogger(__name__)

# First key of the two-int advisory lock a running scoring run holds ("NSRR"); distinct from
# schema.LOCK_NAMESPACE, whose second key is a date ordinal that could equal a run id.
RUN_LOCK_NAMESPACE = 0x4E535252
# Sent by the server to the client of the lock's session: a host that vanishes without closing
# its socket (power loss, partition) is dropped, and its lock released, after about
# idle + interval * count seconds instead of the operating system's default of two hours.
_KEEPALIVE_SETTINGS = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


def run_lock_key(scoring_run: int) -> int:
    """The advisory lock's second key (an int4) for a scoring run id (a bigint)."""
    # Two runs share a key only if their ids are 2**31 apart and both are running at once.
    return scoring_run % (1 << 31)


def fail_abandoned_runs(cur: psycopg2.extensions.cursor, found_by: str) -> list[int]:
    """Mark failed every running run whose lock no session holds (its worker is gone); return their ids."""
    cur.execute(f"SELECT id FROM {RUNS_TABLE} WHERE status = 'running' ORDER BY id")
    abandoned = []
    for (run,) in cur.fetchall():
        # Transaction-level: released at commit, so the sweep itself holds nothing afterwards.
        cur.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (RUN_LOCK_NAMESPACE, run_lock_key(run)))
        if not cur.fetchone()[0]:
            continue  # a live session holds it: the run is still going
        cur.execute(
            f"UPDATE {RUNS_TABLE} SET status = 'failed', finished_at = clock_timestamp(), error = %s WHERE id = %s AND status = 'running'",
            (f"superseded: worker gone (its database session ended before the run finished; found by {found_by})", run),
        )
        if cur.rowcount:
            abandoned.append(run)
    if abandoned:
        log.warning("scoring runs %s were left running by a worker that is gone: marked failed", abandoned)
    return abandoned


@contextmanager
def scoring_run(
    url: str,
    score_date: dt.date,
    model_name: str,
    model_version: str,
    run_id: str,
    role: str = SERVED,
    *,
    features_path: str | None = None,
    scores_path: str | None = None,
) -> Iterator[int]:
    """Record a scoring run of ``score_date`` as running and yield its id; the block is the run.

    ``role`` is ``served`` (churn_scores) or ``shadow`` (the challenger's churn_scores_shadow);
    ``features_path`` (read) and ``scores_path`` (written) are recorded with the run, before any file is written.

    Runs left behind by dead workers are marked failed first. The run's lock is held until the
    block ends; an exception out of the block marks the run failed with it. Success is the
    publish's to record (``publish_score_batches(..., scoring_run=id)``), inside the block.
    """
    check_score_date(score_date)
    if role not in (SERVED, SHADOW):
        raise ValueError(f"scoring run role must be {SERVED!r} or {SHADOW!r}, got {role!r}")
    conn = open_connection(url)
    try:
        with conn, conn.cursor() as cur:  # committed on its own: a rolled-back transaction would undo a SET
            for setting, value in _KEEPALIVE_SETTINGS.items():
                cur.execute(f"SET {setting} = %s", (value,))
        with conn, conn.cursor() as cur:
            fail_abandoned_runs(cur, f"the scoring run of {score_date.isoformat()} that started next")
        with conn, conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO {RUNS_TABLE} (score_date, model_name, model_version, run_id, role, features_path, scores_path)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (score_date, model_name, model_version, run_id, role, features_path, scores_path),
            )
            (run,) = cur.fetchone()
            # Taken before the insert commits: no other session ever sees this row running without its lock.
            # Session-level, so the commit keeps it; closing the connection (or the process dying) releases it.
            cur.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK_NAMESPACE, run_lock_key(run)))
        try:
            yield int(run)
        except BaseException as exc:
            try:
                with conn, conn.cursor() as cur:
                    cur.execute(
                        f"UPDATE {RUNS_TABLE} SET status = 'failed', error = %s, finished_at = clock_timestamp() "
                        "WHERE id = %s AND status = 'running'",
                        (f"{type(exc).__name__}: {exc}", run),
                    )
            except Exception:  # the original error matters more than a failed audit update
                log.exception("could not mark scoring run %d failed; the next scoring run will", run)
            raise
    finally:
        conn.close()


def record_failed_run(
    url: str,
    score_date: dt.date,
    model_name: str,
    model_version: str,
    run_id: str,
    role: str,
    error: str,
    *,
    features_path: str | None = None,
    scores_path: str | None = None,
) -> int:
    """Record a scoring run that failed before it could start (e.g. a challenger whose model does not load); return its id."""
    check_score_date(score_date)
    conn = open_connection(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO {RUNS_TABLE} (score_date, model_name, model_version, run_id, role, status, error, finished_at,"
                " features_path, scores_path) VALUES (%s, %s, %s, %s, %s, 'failed', %s, clock_timestamp(), %s, %s) RETURNING id",
                (score_date, model_name, model_version, run_id, role, error, features_path, scores_path),
            )
            return int(cur.fetchone()[0])
    finally:
        conn.close()


@dataclass(frozen=True)
class PublishedRun:
    """The scoring run whose rows a date holds: its model, MLflow run and the folders its rows came from."""

    id: int
    score_date: dt.date
    role: str
    model_name: str
    model_version: str
    run_id: str
    features_path: str | None
    scores_path: str | None


# Of a date's succeeded runs, the one that published last holds the rows: publishes of a date are serialised by
# its advisory lock and stamp finished_at inside it, while ids follow the start (a run that started first can publish last).
_LATEST_PUBLISHED = f"""
SELECT DISTINCT ON (score_date, role) id, score_date, role, model_name, model_version, run_id, features_path, scores_path
FROM {RUNS_TABLE}
WHERE status = 'succeeded' AND (%(day)s::date IS NULL OR score_date = %(day)s) AND (%(role)s::text IS NULL OR role = %(role)s)
ORDER BY score_date, role, finished_at DESC NULLS LAST, id DESC
"""


def published_runs(url: str, score_date: dt.date | None = None, role: str | None = None) -> list[PublishedRun]:
    """The latest published run of each date and role (of ``score_date`` and ``role`` when given), by date."""
    if score_date is not None:
        check_score_date(score_date)
    conn = open_connection(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(_LATEST_PUBLISHED, {"day": score_date, "role": role})
            return [PublishedRun(*row) for row in cur.fetchall()]
    finally:
        conn.close()


def published_run(url: str, score_date: dt.date) -> PublishedRun | None:
    """The served run whose rows ``score_date`` holds in churn_scores, or None when no run of it succeeded."""
    found = published_runs(url, score_date, SERVED)
    return found[0] if found else None
