"""The warehouse schema: ``churn_scores`` (one partition per score_date) and the ``scoring_runs`` audit.

Created on first use and safe to create concurrently; a ``churn_scores`` from before it was
partitioned is converted in place, keeping every row. Only what the catalog says is missing is
created or added, each lock waited for at most ``warehouse.schema_lock_timeout_ms`` (see ``ddl``).
"""

from __future__ import annotations

import datetime as dt
import logging

import psycopg2.extensions
from psycopg2 import sql

from nightshift.score_reasons import REASON_PAIRS
from nightshift.warehouse.connection import connect
from nightshift.warehouse.ddl import Table, bounded_schema_change, create_missing, run_ddl, schema_complete

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
SCORES_COLUMNS: tuple[str, ...] = (
    "score_date        date             NOT NULL",
    "customer_id       bigint           NOT NULL",
    "churn_probability double precision NOT NULL"
    " CONSTRAINT churn_probability_in_unit_interval CHECK (churn_probability >= 0 AND churn_probability <= 1)",
    "model_name        text             NOT NULL",
    "model_version     text             NOT NULL",
    "run_id            text             NOT NULL",
    "data_version      text             NOT NULL",
    "scored_at         timestamptz      NOT NULL",
    # Why the row scored high (nightshift.score_reasons): a feature's name and its contribution in log-odds,
    # NULL where fewer features pushed the probability up. Nullable, so existing warehouses get them added.
    *(f"{column} {kind}" for pair in REASON_PAIRS for column, kind in zip(pair, ("text", "double precision"), strict=True)),
)
_BY_DATE = ("PRIMARY KEY (score_date, customer_id)",)
SCORES_SPEC = Table(SCORES_TABLE, SCORES_COLUMNS, _BY_DATE, "PARTITION BY LIST (score_date)")
SHADOW_SPEC = Table(SHADOW_TABLE, SCORES_COLUMNS, _BY_DATE, "PARTITION BY LIST (score_date)")
# A column appended here is added to the scoring_runs of existing warehouses: nullable or with a default.
RUNS_SPEC = Table(
    RUNS_TABLE,
    (
        "id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "score_date    date        NOT NULL",
        "model_name    text        NOT NULL",
        "model_version text        NOT NULL",
        "run_id        text        NOT NULL",
        "rows          bigint",
        "started_at    timestamptz NOT NULL DEFAULT clock_timestamp()",
        "finished_at   timestamptz",
        "status        text        NOT NULL DEFAULT 'running'"
        " CONSTRAINT scoring_runs_status CHECK (status IN ('running', 'succeeded', 'failed'))",
        "error         text",
        f"role          text        NOT NULL DEFAULT '{SERVED}'",
        "features_path text",
        "scores_path   text",
    ),
    indexes=((f"{RUNS_TABLE}_score_date_idx", f"{RUNS_TABLE} (score_date, started_at)"),),
)
TABLES: tuple[Table, ...] = (SCORES_SPEC, RUNS_SPEC, SHADOW_SPEC)

_COLUMN_LIST = ", ".join(REQUIRED_COLUMNS)


def partition_name(score_date: dt.date, table: str = SCORES_TABLE) -> str:
    """The table holding ``score_date``'s rows: one partition of ``table`` per date."""
    return f"{table}_d{score_date:%Y%m%d}"


def _unpartitioned(cur: psycopg2.extensions.cursor) -> bool:
    """True for a churn_scores created before it was partitioned by date (a catalog read: no lock on it)."""
    cur.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (SCORES_TABLE,))
    row = cur.fetchone()
    return row is not None and row[0] == "r"


def _migrate_unpartitioned(cur: psycopg2.extensions.cursor) -> None:
    """Convert a churn_scores created before it was partitioned by date, keeping every row."""
    legacy = sql.Identifier(f"{SCORES_TABLE}_unpartitioned")
    run_ddl(cur, SCORES_TABLE, sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(SCORES_TABLE), legacy))
    # The new table's primary key index takes the old one's name.
    cur.execute(f"ALTER INDEX IF EXISTS {SCORES_TABLE}_pkey RENAME TO {SCORES_TABLE}_unpartitioned_pkey")
    create_missing(cur, [SCORES_SPEC])
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


def create_schema(cur: psycopg2.extensions.cursor) -> list[str]:
    """Create or extend what is missing of the scoring tables; return what was done.

    A complete schema (every run after the first) reads only the catalog and takes no lock on the tables.
    """
    if not _unpartitioned(cur) and schema_complete(cur, TABLES):
        return []
    with bounded_schema_change(cur, LOCK_NAMESPACE, [t.name for t in TABLES]):
        done = []
        # Looked at again under the lock: a concurrent caller may have converted it meanwhile.
        if _unpartitioned(cur):
            _migrate_unpartitioned(cur)
            done.append(f"{SCORES_TABLE}: partitioned by score_date")
        done += create_missing(cur, TABLES)
    if done:
        log.info("warehouse schema changed: %s", "; ".join(done))
    return done


def ensure_schema(url: str) -> list[str]:
    """Create ``churn_scores`` and ``scoring_runs`` if missing; safe to call any number of times, concurrently.

    Returns what was created or added, [] when the schema was complete.
    """
    with connect(url) as conn, conn.cursor() as cur:
        done = create_schema(cur)
    log.info("schema ready: %s, %s", SCORES_TABLE, RUNS_TABLE)
    return done


def check_score_date(score_date: dt.date) -> None:
    if isinstance(score_date, dt.datetime) or not isinstance(score_date, dt.date):
        raise TypeError(f"score_date must be a datetime.date, got {type(score_date).__name__}")
