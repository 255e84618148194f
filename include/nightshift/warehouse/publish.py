"""The atomic per-date publish of ``churn_scores``.

``churn_scores`` has one partition per score_date. A publish streams its rows with binary COPY
into a staging table created in its own transaction; then, in that same transaction, the
staging table becomes the date's partition (a new date) or replaces the date's rows (a rerun).
Readers see the old complete day or the new one, never a mix, and a writer that dies mid-COPY
leaves nothing behind: its transaction, staging table included, is rolled back.

Only (customer_id, churn_probability) travel per row: the lineage columns hold one value per publish
(one scoring run scores a whole date), so the staging table takes them as column defaults.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from nightshift.warehouse.binary_copy import BinaryCopySource, ScoreBatch
from nightshift.warehouse.connection import open_connection
from nightshift.warehouse.schema import (
    LINEAGE_COLUMNS,
    LOCK_NAMESPACE,
    RUNS_TABLE,
    SCORES_TABLE,
    TEXT_COLUMNS,
    check_score_date,
    create_schema,
    partition_name,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreLineage:
    """What every row of one publish carries besides its score: which model, which data, when."""

    model_name: str
    model_version: str
    run_id: str
    data_version: str
    scored_at: dt.datetime

    def __post_init__(self) -> None:
        problems = []
        for name in TEXT_COLUMNS:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{name} must be a non-empty string, got {value!r}")
            elif "\x00" in value:
                problems.append(f"{name} contains a NUL character, which PostgreSQL text cannot hold")
        if not isinstance(self.scored_at, dt.datetime):
            problems.append(f"scored_at must be a datetime, got {type(self.scored_at).__name__}")
        if problems:
            raise ValueError("invalid score lineage: " + "; ".join(problems))
        if self.scored_at.tzinfo is None:
            # Naive timestamps are taken as UTC: the scoring job runs on UTC clocks.
            object.__setattr__(self, "scored_at", self.scored_at.replace(tzinfo=dt.UTC))


@dataclass(frozen=True)
class Published:
    """What a publish wrote: rows now stored for the date, rows it replaced, their mean probability."""

    score_date: dt.date
    rows: int
    replaced: int
    mean_probability: float
    seconds: float


def publish_score_batches(
    url: str,
    score_date: dt.date,
    lineage: ScoreLineage,
    batches: Iterable[ScoreBatch],
    scoring_run: int | None = None,
) -> Published:
    """Replace ``score_date``'s rows with the streamed batches, atomically.

    ``batches`` yields pandas frames or Arrow record batches/tables with ``customer_id`` and
    ``churn_probability``; each is validated and COPYed as PostgreSQL consumes the stream, so only one
    batch is in memory at a time. customer_id uniqueness across batches is enforced by the primary key.
    With ``scoring_run``, that ``scoring_runs`` row is marked succeeded in the same transaction, so the
    audit and the data never disagree.
    """
    check_score_date(score_date)
    t0 = time.monotonic()
    source = BinaryCopySource(batches)
    conn = open_connection(url)
    try:
        with conn, conn.cursor() as cur:
            create_schema(cur)
        with conn, conn.cursor() as cur:
            # Named after the session: concurrent publishers of one date each load their own table.
            staging = f"{SCORES_TABLE}_load_{conn.get_backend_pid()}"
            _create_staging(cur, staging, score_date, lineage)
            try:
                cur.copy_expert(
                    sql.SQL("COPY {} (customer_id, churn_probability) FROM STDIN WITH (FORMAT binary)")
                    .format(sql.Identifier(staging))
                    .as_string(cur),
                    source,
                    size=1 << 20,
                )
            except psycopg2.Error:
                if source.error is not None:
                    raise source.error from None
                raise
            if source.rows == 0:
                # An empty publish would silently wipe the day's scores; that is never what a scoring run means.
                raise ValueError(f"no score rows for {score_date}: refusing to replace the date's scores with nothing")
            # Serialise publishers of the same date: without it, two concurrent reruns could both find
            # the date missing, or both delete the old rows and then collide (or mix) on insert.
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, score_date.toordinal()))
            try:
                replaced = _swap_in(cur, staging, score_date)
            except psycopg2.errors.UniqueViolation as exc:
                raise ValueError(f"scores for {score_date} hold duplicated customer_id values: {exc.diag.message_detail}") from exc
            if scoring_run is not None:
                cur.execute(
                    f"UPDATE {RUNS_TABLE} SET status = 'succeeded', rows = %s, finished_at = clock_timestamp() WHERE id = %s",
                    (source.rows, scoring_run),
                )
                if cur.rowcount != 1:
                    raise LookupError(f"scoring run {scoring_run} is not in {RUNS_TABLE}; rolled back")
    finally:
        conn.close()
    result = Published(
        score_date=score_date,
        rows=source.rows,
        replaced=replaced,
        mean_probability=source.probability_sum / source.rows,
        seconds=time.monotonic() - t0,
    )
    log.info(
        "published %d churn scores for %s (replaced %d) in %.2fs",
        result.rows,
        score_date,
        replaced,
        result.seconds,
    )
    return result


def _create_staging(cur: psycopg2.extensions.cursor, staging: str, score_date: dt.date, lineage: ScoreLineage) -> None:
    """A table shaped like churn_scores whose defaults fill every column but the two that are COPYed."""
    table = sql.Identifier(staging)
    cur.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING CONSTRAINTS)").format(table, sql.Identifier(SCORES_TABLE)))
    defaults = {"score_date": score_date, **{c: getattr(lineage, c) for c in LINEAGE_COLUMNS}}
    cur.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (score_date = %s), {}").format(
            table,
            # Implies the partition bound, so attaching the table as the date's partition needs no scan.
            sql.Identifier("partition_score_date"),
            sql.SQL(", ").join(sql.SQL("ALTER COLUMN {} SET DEFAULT %s").format(sql.Identifier(c)) for c in defaults),
        ),
        (score_date, *defaults.values()),
    )


def _swap_in(cur: psycopg2.extensions.cursor, staging: str, score_date: dt.date) -> int:
    """Make the staged rows the date's rows; return how many rows they replace."""
    table, parent = sql.Identifier(staging), sql.Identifier(SCORES_TABLE)
    partition = sql.Identifier(partition_name(score_date))
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (partition_name(score_date),))
    if not cur.fetchone()[0]:
        # A new date: index the loaded rows in one sorted build and attach them as the date's partition.
        # ATTACH takes no lock that blocks readers or other dates' writers.
        cur.execute(
            sql.SQL("ALTER TABLE {} {}, ADD CONSTRAINT {} PRIMARY KEY (score_date, customer_id)").format(
                table,
                # The run's lineage must not linger as defaults of the date's partition.
                sql.SQL(", ").join(
                    sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(c)) for c in ("score_date", *LINEAGE_COLUMNS)
                ),
                sql.Identifier(f"{partition_name(score_date)}_pkey"),
            )
        )
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table, partition))
        cur.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN (%s)").format(parent, partition), (score_date,))
        return 0
    # A rerun: replace the rows inside the existing partition. Dropping the old partition instead would
    # lock every reader of churn_scores out, and show an empty day to snapshots taken before the swap.
    cur.execute(sql.SQL("DELETE FROM {}").format(partition))
    replaced = cur.rowcount
    # Key order: appending to the primary key's b-tree in order is about twice as fast as random inserts.
    cur.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} ORDER BY customer_id").format(partition, table))
    cur.execute(sql.SQL("DROP TABLE {}").format(table))
    return replaced
