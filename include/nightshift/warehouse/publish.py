"""The atomic per-date publish of ``churn_scores``.

``churn_scores`` has one partition per score_date. A publish streams its rows with binary COPY
into a staging table created in its own transaction and indexes them in one sorted build; then, in
that same transaction, the staging table becomes the date's partition. For a new date it is attached;
for a rerun the old partition is dropped and the new one attached in its place, under a brief
exclusive lock on ``churn_scores`` that is waited for at most ``lock_timeout_ms`` per attempt
(params.yaml ``warehouse.swap``), so a reader is never held up longer than that. When a long reader
keeps the table past every attempt, the rerun rewrites the partition's rows in place instead, which
blocks no reader. Readers see the old complete day or the new one, never a mix, and a writer that
dies mid-COPY leaves nothing behind: its transaction, staging table included, is rolled back.

The rows are COPYed with FREEZE: committed as already visible to every snapshot, so a reader whose
snapshot predates the swap (REPEATABLE READ) sees the new day when it first reads the table, not an
empty one, as it would if the rows carried the swapping transaction's id.

Only (customer_id, churn_probability) and the row's reasons travel per row: the lineage columns hold one
value per publish (one scoring run scores a whole date), so the staging table takes them as column defaults; rows served
by another model (a canary's) are COPYed as a further group after the defaults are switched to its lineage.

``churn_scores_shadow`` (a challenger's rows, served to nobody) is published the same way, with its own
partitions and its own per-date lock, so a shadow publish never waits on the served one.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from nightshift.config import load_params
from nightshift.warehouse.binary_copy import COPY_COLUMNS, BinaryCopySource, ScoreBatch
from nightshift.warehouse.connection import open_connection
from nightshift.warehouse.schema import (
    LINEAGE_COLUMNS,
    LOCK_NAMESPACE,
    RUNS_TABLE,
    SCORES_TABLE,
    SHADOW_LOCK_NAMESPACE,
    SHADOW_TABLE,
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
class SwapPolicy:
    """How a rerun waits for the exclusive lock its partition swap needs (params.yaml ``warehouse.swap``)."""

    lock_timeout_ms: int
    attempts: int
    backoff_seconds: float

    def __post_init__(self) -> None:
        if self.lock_timeout_ms < 1 or self.attempts < 1 or self.backoff_seconds < 0:
            raise ValueError(f"warehouse.swap needs lock_timeout_ms >= 1, attempts >= 1 and backoff_seconds >= 0, got {self}")

    @classmethod
    def from_params(cls, params: dict[str, Any] | None = None) -> SwapPolicy:
        swap = (params if params is not None else load_params())["warehouse"]["swap"]
        return cls(int(swap["lock_timeout_ms"]), int(swap["attempts"]), float(swap["backoff_seconds"]))


# The advisory lock namespace serialising the publishers of one date, per published table.
_LOCKS = {SCORES_TABLE: LOCK_NAMESPACE, SHADOW_TABLE: SHADOW_LOCK_NAMESPACE}


# How a publish made the rows the date's: a new partition, a swapped-in partition, or an in-place rewrite.
ATTACHED, SWAPPED, REWRITTEN = "attached", "swapped", "rewritten"


@dataclass(frozen=True)
class Published:
    """What a publish wrote: rows now stored for the date, rows it replaced, their mean probability, and how."""

    score_date: dt.date
    rows: int
    replaced: int
    mean_probability: float
    seconds: float
    method: str
    lock_attempts: int


def publish_score_batches(
    url: str,
    score_date: dt.date,
    lineage: ScoreLineage,
    batches: Iterable[ScoreBatch],
    scoring_run: int | None = None,
    swap: SwapPolicy | None = None,
    *,
    table: str = SCORES_TABLE,
    more: Sequence[tuple[ScoreLineage, Iterable[ScoreBatch]]] = (),
) -> Published:
    """Replace ``score_date``'s rows with the streamed batches, atomically.

    ``batches`` yields pandas frames or Arrow record batches/tables with ``customer_id`` and
    ``churn_probability``; each is validated and COPYed as PostgreSQL consumes the stream, so only one
    batch is in memory at a time. customer_id uniqueness across batches is enforced by the primary key.
    With ``scoring_run``, that ``scoring_runs`` row is marked succeeded in the same transaction, so the
    audit and the data never disagree. ``swap`` defaults to params.yaml ``warehouse.swap``.

    ``table`` is churn_scores or churn_scores_shadow (the challenger's rows, same columns and path).
    ``more`` adds rows served by other models (the canary's), each group with its own lineage, in the
    same load: the date still changes in one swap.
    """
    check_score_date(score_date)
    if table not in _LOCKS:
        raise ValueError(f"cannot publish scores to {table!r}: only to {sorted(_LOCKS)}")
    swap = swap or SwapPolicy.from_params()
    t0 = time.monotonic()
    groups = [(lineage, BinaryCopySource(batches)), *((extra, BinaryCopySource(rows)) for extra, rows in more)]
    conn = open_connection(url)
    try:
        with conn, conn.cursor() as cur:
            create_schema(cur)
        with conn, conn.cursor() as cur:
            rows, (replaced, method, attempts) = _load_and_swap(cur, conn.get_backend_pid(), score_date, groups, swap, table, scoring_run)
    finally:
        conn.close()
    result = Published(
        score_date=score_date,
        rows=rows,
        replaced=replaced,
        mean_probability=sum(source.probability_sum for _, source in groups) / rows,
        seconds=time.monotonic() - t0,
        method=method,
        lock_attempts=attempts,
    )
    log.info(
        "published %d rows to %s for %s (replaced %d, %s) in %.2fs",
        result.rows,
        table,
        score_date,
        replaced,
        method,
        result.seconds,
    )
    return result


def _load_and_swap(
    cur: psycopg2.extensions.cursor,
    backend_pid: int,
    score_date: dt.date,
    groups: Sequence[tuple[ScoreLineage, BinaryCopySource]],
    swap: SwapPolicy,
    table: str,
    scoring_run: int | None,
) -> tuple[int, tuple[int, str, int]]:
    """In the caller's transaction: COPY every group into a staging table, swap it in, mark the run; rows and the swap's outcome."""
    # Named after the session: concurrent publishers of one date each load their own table.
    staging = f"{table}_load_{backend_pid}"
    _create_staging(cur, staging, score_date, table)
    for group_lineage, source in groups:
        _set_lineage(cur, staging, score_date, group_lineage)
        _copy_in(cur, staging, source)
    rows = sum(source.rows for _, source in groups)
    if rows == 0:
        # An empty publish would silently wipe the day's scores; that is never what a scoring run means.
        raise ValueError(f"no score rows for {score_date}: refusing to replace the date's scores with nothing")
    # Serialise publishers of the same date: without it, two concurrent reruns could both find
    # the date missing, or both delete the old rows and then collide (or mix) on insert.
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCKS[table], score_date.toordinal()))
    try:
        swapped = _swap_in(cur, staging, score_date, swap, table)
    except psycopg2.errors.UniqueViolation as exc:
        raise ValueError(f"scores for {score_date} hold duplicated customer_id values: {exc.diag.message_detail}") from exc
    if scoring_run is not None:
        cur.execute(
            f"UPDATE {RUNS_TABLE} SET status = 'succeeded', rows = %s, finished_at = clock_timestamp() WHERE id = %s",
            (rows, scoring_run),
        )
        if cur.rowcount != 1:
            raise LookupError(f"scoring run {scoring_run} is not in {RUNS_TABLE}; rolled back")
    return rows, swapped


def _copy_in(cur: psycopg2.extensions.cursor, staging: str, source: BinaryCopySource) -> None:
    """Stream ``source`` into ``staging``; a batch it refused is raised as itself, not as the COPY's error."""
    try:
        cur.copy_expert(
            sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary, FREEZE)")
            .format(sql.Identifier(staging), sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS)))
            .as_string(cur),
            source,
            size=1 << 20,
        )
    except psycopg2.Error:
        if source.error is not None:
            raise source.error from None
        raise


def _create_staging(cur: psycopg2.extensions.cursor, staging: str, score_date: dt.date, parent: str) -> None:
    """A table shaped like ``parent``, holding only ``score_date``'s rows."""
    table = sql.Identifier(staging)
    cur.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING CONSTRAINTS)").format(table, sql.Identifier(parent)))
    cur.execute(
        # Implies the partition bound, so attaching the table as the date's partition needs no scan.
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (score_date = %s)").format(table, sql.Identifier("partition_score_date")),
        (score_date,),
    )


def _set_lineage(cur: psycopg2.extensions.cursor, staging: str, score_date: dt.date, lineage: ScoreLineage) -> None:
    """Column defaults that fill every column the COPY does not, for the rows COPYed next."""
    defaults = {"score_date": score_date, **{c: getattr(lineage, c) for c in LINEAGE_COLUMNS}}
    cur.execute(
        sql.SQL("ALTER TABLE {} {}").format(
            sql.Identifier(staging),
            sql.SQL(", ").join(sql.SQL("ALTER COLUMN {} SET DEFAULT %s").format(sql.Identifier(c)) for c in defaults),
        ),
        tuple(defaults.values()),
    )


def _swap_in(
    cur: psycopg2.extensions.cursor, staging: str, score_date: dt.date, swap: SwapPolicy, parent_table: str = SCORES_TABLE
) -> tuple[int, str, int]:
    """Make the staged rows the date's rows; return how many rows they replace, how, and the lock attempts."""
    table, parent = sql.Identifier(staging), sql.Identifier(parent_table)
    name = partition_name(score_date, parent_table)
    partition, pkey = sql.Identifier(name), sql.Identifier(f"{name}_pkey")
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    exists = cur.fetchone()[0]
    # Index the loaded rows in one sorted build, before any lock readers could wait on. The old partition
    # still holds the index name on a rerun, so the new index takes it only once the old one is gone.
    staged_pkey = sql.Identifier(f"{staging}_pkey")
    cur.execute(
        sql.SQL("ALTER TABLE {} {}, ADD CONSTRAINT {} PRIMARY KEY (score_date, customer_id)").format(
            table,
            # The run's lineage must not linger as defaults of the date's partition.
            sql.SQL(", ").join(sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(c)) for c in ("score_date", *LINEAGE_COLUMNS)),
            staged_pkey,
        )
    )
    if not exists:
        # A new date: ATTACH takes no lock that blocks readers or other dates' writers.
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table, partition))
        cur.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(staged_pkey, pkey))
        cur.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN (%s)").format(parent, partition), (score_date,))
        return 0, ATTACHED, 0
    # The advisory lock held since the COPY keeps other publishers of the date out, so this stays exact.
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(partition))
    replaced = int(cur.fetchone()[0])
    delay = swap.backoff_seconds
    for attempt in range(1, swap.attempts + 1):
        cur.execute("SAVEPOINT partition_swap")
        try:
            # Dropping a partition locks churn_scores exclusively; readers arriving while it is waited for
            # queue behind it, so the wait is capped. Held from here to commit: a few catalog updates.
            cur.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{swap.lock_timeout_ms}ms")))
            cur.execute(sql.SQL("DROP TABLE {}").format(partition))
            cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table, partition))
            cur.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(staged_pkey, pkey))
            cur.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN (%s)").format(parent, partition), (score_date,))
        except psycopg2.errors.LockNotAvailable:
            # Undoes the SET LOCAL too: nothing after the swap runs under the short timeout.
            cur.execute("ROLLBACK TO SAVEPOINT partition_swap")
            log.warning("swapping in %s: %s stayed locked by a reader (attempt %d of %d)", name, parent_table, attempt, swap.attempts)
            if attempt < swap.attempts:
                time.sleep(delay)
                delay *= 2
            continue
        cur.execute("SET LOCAL lock_timeout TO DEFAULT")
        cur.execute("RELEASE SAVEPOINT partition_swap")
        return replaced, SWAPPED, attempt
    # A reader kept the table through every attempt: replace the rows inside the existing partition, which
    # takes no lock readers wait on. Key order: appending to the primary key's b-tree in order is about twice
    # as fast as random inserts.
    log.warning("rewriting %s in place: a reader held %s through %d swap attempts", name, parent_table, swap.attempts)
    cur.execute(sql.SQL("DELETE FROM {}").format(partition))
    cur.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} ORDER BY customer_id").format(partition, table))
    cur.execute(sql.SQL("DROP TABLE {}").format(table))
    return replaced, REWRITTEN, swap.attempts
