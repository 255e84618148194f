"""The warehouse schema: ``churn_scores`` (one partition per score_date) and the ``scoring_runs`` audit.

Created on first use and safe to create concurrently; a ``churn_scores`` from before it was
partitioned is converted in place, keeping every row.
"""

from __future__ import annotations

import datetime as dt
import logging

import psycopg2.extensions
from psycopg2 import sql

from nightshift.warehouse.connection import connect

log = logging.getLogger(__name__)

SCORES_TABLE = "churn_scores"
# The challenger's scores of every customer, scored next to the champion and served to nobody.
SHADOW_TABLE = "churn_scores_shadow"
RUNS_TABLE = "scoring_runs"
# What a scoring run published: the served rows of churn_scores, or the challenger's shadow rows.
SERVED, SHADOW = "served", "shadow"
REQUIRED_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "churn_probability",
    "model_name",
    "model_version",
    "run_id",
    "data_version",
    "scored_at",
)
LINEAGE_COLUMNS: tuple[str, ...] = ("model_name", "model_version", "run_id", "data_version", "scored_at")
TEXT_COLUMNS: tuple[str, ...] = ("model_name", "model_version", "run_id", "data_version")
# Constant first key of the two-int advisory locks taken on this table ("NSCS").
LOCK_NAMESPACE = 0x4E534353
# The same for churn_scores_shadow ("NSSH"): the shadow publish of a date never waits on the served one.
SHADOW_LOCK_NAMESPACE = 0x4E535348
_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCORES_TABLE} (
    score_date        date             NOT NULL,
    customer_id       bigint           NOT NULL,
    churn_probability double precision NOT NULL
        CONSTRAINT churn_probability_in_unit_interval CHECK (churn_probability >= 0 AND churn_probability <= 1),
    model_name        text             NOT NULL,
    model_version     text             NOT NULL,
    run_id            text             NOT NULL,
    data_version      text             NOT NULL,
    scored_at         timestamptz      NOT NULL,
    PRIMARY KEY (score_date, customer_id)
) PARTITION BY LIST (score_date);
CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    score_date    date        NOT NULL,
    model_name    text        NOT NULL,
    model_version text        NOT NULL,
    run_id        text        NOT NULL,
    rows          bigint,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,
    status        text        NOT NULL DEFAULT 'running'
        CONSTRAINT scoring_runs_status CHECK (status IN ('running', 'succeeded', 'failed')),
    error         text
);
CREATE INDEX IF NOT EXISTS {RUNS_TABLE}_score_date_idx ON {RUNS_TABLE} (score_date, started_at);
CREATE TABLE IF NOT EXISTS {SHADOW_TABLE} (LIKE {SCORES_TABLE} INCLUDING CONSTRAINTS, PRIMARY KEY (score_date, customer_id))
    PARTITION BY LIST (score_date);
ALTER TABLE {RUNS_TABLE} ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT '{SERVED}';
ALTER TABLE {RUNS_TABLE} ADD COLUMN IF NOT EXISTS features_path text;
ALTER TABLE {RUNS_TABLE} ADD COLUMN IF NOT EXISTS scores_path text;
"""

_COLUMN_LIST = ", ".join(REQUIRED_COLUMNS)


def partition_name(score_date: dt.date, table: str = SCORES_TABLE) -> str:
    """The table holding ``score_date``'s rows: one partition of ``table`` per date."""
    return f"{table}_d{score_date:%Y%m%d}"


def _migrate_unpartitioned(cur: psycopg2.extensions.cursor) -> None:
    """Convert a churn_scores created before it was partitioned by date, keeping every row."""
    cur.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (SCORES_TABLE,))
    row = cur.fetchone()
    if row is None or row[0] != "r":
        return
    legacy = sql.Identifier(f"{SCORES_TABLE}_unpartitioned")
    cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(SCORES_TABLE), legacy))
    # The new table's primary key index takes the old one's name.
    cur.execute(f"ALTER INDEX IF EXISTS {SCORES_TABLE}_pkey RENAME TO {SCORES_TABLE}_unpartitioned_pkey")
    cur.execute(_DDL)
    cur.execute(sql.SQL("SELECT DISTINCT score_date FROM {} ORDER BY 1").format(legacy))
    days = [d for (d,) in cur.fetchall()]
    for day in days:
        cur.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN (%s)").format(
                sql.Identifier(partition_name(day)), sql.Identifier(SCORES_TABLE)
            ),
            (day,),
        )
    cur.execute(
        sql.SQL("INSERT INTO {} (score_date, {cols}) SELECT score_date, {cols} FROM {}").format(
            sql.Identifier(SCORES_TABLE), legacy, cols=sql.SQL(_COLUMN_LIST)
        )
    )
    moved = cur.rowcount
    cur.execute(sql.SQL("DROP TABLE {}").format(legacy))
    log.warning("converted %s to one partition per score_date: %d rows over %d dates", SCORES_TABLE, moved, len(days))


def create_schema(cur: psycopg2.extensions.cursor) -> None:
    # Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog; the lock serialises it.
    cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_NAMESPACE,))
    _migrate_unpartitioned(cur)
    cur.execute(_DDL)


def ensure_schema(url: str) -> None:
    """Create ``churn_scores`` and ``scoring_runs`` if missing; safe to call any number of times, concurrently."""
    with connect(url) as conn, conn.cursor() as cur:
        create_schema(cur)
    log.info("schema ready: %s, %s", SCORES_TABLE, RUNS_TABLE)


def check_score_date(score_date: dt.date) -> None:
    if isinstance(score_date, dt.datetime) or not isinstance(score_date, dt.date):
        raise TypeError(f"score_date must be a datetime.date, got {type(score_date).__name__}")
