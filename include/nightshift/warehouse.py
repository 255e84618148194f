"""The scores warehouse: ``churn_scores``, the ``scoring_runs`` audit and the atomic per-date publish.

See DESIGN.md, "Output contract". ``churn_scores`` has one partition per score_date. A publish
streams its rows with binary COPY into a staging table created in its own transaction; then, in
that same transaction, the staging table becomes the date's partition (a new date) or replaces the
date's rows (a rerun). Readers see the old complete day or the new one, never a mix, and a writer
that dies mid-COPY leaves nothing behind: its transaction, staging table included, is rolled back.

Only (customer_id, churn_probability) travel per row: the lineage columns hold one value per publish
(one scoring run scores a whole date), so the staging table takes them as column defaults.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import struct
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from nightshift.embedded_pg import EmbeddedPostgresError, start_embedded, stop_embedded

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "SCORES_TABLE",
    "RUNS_TABLE",
    "REQUIRED_COLUMNS",
    "EmbeddedPostgresError",
    "Published",
    "ScoreLineage",
    "WarehouseUnavailableError",
    "count_scores",
    "database_url",
    "ensure_schema",
    "fail_scoring_run",
    "partition_name",
    "publish_score_batches",
    "publish_scores",
    "read_scores",
    "start_embedded",
    "start_scoring_run",
    "stop_embedded",
    "validate_scores",
]

log = logging.getLogger(__name__)

SCORES_TABLE = "churn_scores"
RUNS_TABLE = "scoring_runs"
REQUIRED_COLUMNS: tuple[str, ...] = (
    "customer_id", "churn_probability", "model_name", "model_version", "run_id", "data_version", "scored_at",
)
LINEAGE_COLUMNS: tuple[str, ...] = ("model_name", "model_version", "run_id", "data_version", "scored_at")
_TEXT_COLUMNS = ("model_name", "model_version", "run_id", "data_version")
# Constant first key of the two-int advisory locks taken on this table ("NSCS").
_LOCK_NAMESPACE = 0x4E534353
# Rows per COPY batch when publishing a pandas frame: bounds the encoded bytes held at once.
_FRAME_BATCH_ROWS = 100_000
_MAX_BACKOFF_SECONDS = 30.0

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
"""

_COLUMN_LIST = ", ".join(REQUIRED_COLUMNS)

# PostgreSQL's binary COPY framing: signature, flags, header extension length ... trailer.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
# One binary COPY tuple: field count, then (byte length, big-endian value) per column. Encoding a
# batch is a few numpy assignments, and PostgreSQL parses it faster than CSV (no float text round trip).
_COPY_ROW = np.dtype(
    [("fields", ">i2"), ("id_len", ">i4"), ("customer_id", ">i8"), ("p_len", ">i4"), ("churn_probability", ">f8")]
)

ScoreBatch = Union[pd.DataFrame, "pa.RecordBatch", "pa.Table"]


class WarehouseUnavailableError(psycopg2.OperationalError):
    """PostgreSQL could not be reached after every connection attempt."""


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
        for name in _TEXT_COLUMNS:
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
            object.__setattr__(self, "scored_at", self.scored_at.replace(tzinfo=dt.timezone.utc))


@dataclass(frozen=True)
class Published:
    """What a publish wrote: rows now stored for the date, rows it replaced, their mean probability."""

    score_date: dt.date
    rows: int
    replaced: int
    mean_probability: float
    seconds: float


def database_url() -> str:
    """NIGHTSHIFT_DATABASE_URL if set, else the embedded server's URL (started if needed)."""
    url = os.environ.get("NIGHTSHIFT_DATABASE_URL")
    if url:
        return url
    return start_embedded()


def redact_url(url: str) -> str:
    """The URL with any password masked, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _endpoint(url: str) -> str:
    """host:port of a libpq URL or DSN, for error messages (never the password)."""
    try:
        params = psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError:
        return "<unparseable database URL>"
    host = params.get("host") or "localhost (Unix socket)"
    return f"{host}:{params.get('port') or 5432}"


def _retry_settings() -> tuple[int, float]:
    """Connection attempts and first backoff delay; env so tests and deployments can tune them."""
    attempts = int(os.environ.get("NIGHTSHIFT_PG_CONNECT_ATTEMPTS", "5"))
    backoff = float(os.environ.get("NIGHTSHIFT_PG_CONNECT_BACKOFF_SECONDS", "1"))
    if attempts < 1 or backoff < 0:
        raise ValueError(
            f"NIGHTSHIFT_PG_CONNECT_ATTEMPTS must be >= 1 and NIGHTSHIFT_PG_CONNECT_BACKOFF_SECONDS >= 0, "
            f"got {attempts} and {backoff}"
        )
    return attempts, backoff


def _open(url: str) -> psycopg2.extensions.connection:
    """Connect, retrying with exponential backoff: a database restarting or failing over is usually back soon."""
    attempts, backoff = _retry_settings()
    attempt = 1
    while True:
        try:
            return psycopg2.connect(url, connect_timeout=10, application_name="nightshift")
        except psycopg2.OperationalError as exc:
            cause = re.sub(r"\s+", " ", str(exc)).strip()
            if attempt >= attempts:
                raise WarehouseUnavailableError(
                    f"PostgreSQL at {_endpoint(url)} is unreachable after {attempts} attempt(s): {cause}"
                ) from exc
            delay = min(backoff * 2 ** (attempt - 1), _MAX_BACKOFF_SECONDS)
            log.warning(
                "PostgreSQL at %s unreachable (attempt %d/%d: %s); retrying in %.2fs",
                _endpoint(url), attempt, attempts, cause, delay,
            )
            time.sleep(delay)
            attempt += 1


@contextmanager
def connect(url: str) -> Iterator[psycopg2.extensions.connection]:
    """A connection that commits on success, rolls back on error, and is always closed."""
    conn = _open(url)
    try:
        with conn:  # commit / rollback only; psycopg2's context manager does not close
            yield conn
    finally:
        conn.close()


def partition_name(score_date: dt.date) -> str:
    """The table holding ``score_date``'s rows: one partition of churn_scores per date."""
    return f"{SCORES_TABLE}_d{score_date:%Y%m%d}"


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


def _create_schema(cur: psycopg2.extensions.cursor) -> None:
    # Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog; the lock serialises it.
    cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_LOCK_NAMESPACE,))
    _migrate_unpartitioned(cur)
    cur.execute(_DDL)


def ensure_schema(url: str) -> None:
    """Create ``churn_scores`` and ``scoring_runs`` if missing; safe to call any number of times, concurrently."""
    with connect(url) as conn, conn.cursor() as cur:
        _create_schema(cur)
    log.info("schema ready: %s, %s", SCORES_TABLE, RUNS_TABLE)


def _check_score_date(score_date: dt.date) -> None:
    if isinstance(score_date, dt.datetime) or not isinstance(score_date, dt.date):
        raise TypeError(f"score_date must be a datetime.date, got {type(score_date).__name__}")


def _problem(column: str, mask: pd.Series, what: str, values: pd.Series | None = None) -> str | None:
    bad = int(mask.sum())
    if bad == 0:
        return None
    sample = (values if values is not None else pd.Series(dtype=object))[mask].head(5).tolist()
    shown = f" (e.g. {sample})" if sample else ""
    return f"column '{column}': {bad} row(s) {what}{shown}"


def _numeric(values: pd.Series) -> pd.Series:
    """Values as numbers, NaN where not numeric; booleans are not numbers here."""
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index)
    return pd.to_numeric(values, errors="coerce")


def validate_scores(scores: pd.DataFrame, score_date: dt.date) -> pd.DataFrame:
    """Check a scores frame against the output contract; return the normalised columns to write.

    Raises ValueError naming every column and problem found (all of them, not just the first).
    """
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a pandas DataFrame, got {type(scores).__name__}")
    _check_score_date(score_date)
    missing = [c for c in REQUIRED_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"scores frame is missing required column(s): {', '.join(missing)}")
    if scores.columns.duplicated().any():
        dup_cols = sorted(set(scores.columns[scores.columns.duplicated()]))
        raise ValueError(f"scores frame has duplicated column names: {dup_cols}")
    if scores.empty:
        # An empty publish would silently wipe the day's scores; that is never what a scoring run means.
        raise ValueError(f"scores frame is empty: refusing to replace the scores of {score_date} with nothing")

    scores = scores.reset_index(drop=True)  # a duplicated index would break column alignment below
    problems: list[str | None] = []
    out = pd.DataFrame(index=scores.index)

    cid = scores["customer_id"]
    cid_num = _numeric(cid)
    problems.append(_problem("customer_id", cid.isna(), "are null"))
    non_int = cid.notna() & (cid_num.isna() | (cid_num % 1 != 0) | (cid_num.abs() > 2**63 - 1))
    problems.append(_problem("customer_id", non_int, "are not integers", cid))
    if not (cid.isna().any() or non_int.any()):
        out["customer_id"] = cid_num.astype("int64")
        dup = out["customer_id"].duplicated(keep=False)
        if dup.any():
            dupes = sorted(out.loc[dup, "customer_id"].unique().tolist())[:5]
            problems.append(f"column 'customer_id': {int(dup.sum())} row(s) have duplicated ids (e.g. {dupes})")

    prob = scores["churn_probability"]
    prob_num = _numeric(prob)
    problems.append(_problem("churn_probability", prob.isna(), "are null/NaN"))
    problems.append(_problem("churn_probability", prob.notna() & prob_num.isna(), "are not numbers", prob))
    out_of_range = prob_num.notna() & ((prob_num < 0) | (prob_num > 1))  # inf is out of range too
    problems.append(_problem("churn_probability", out_of_range, "are outside [0, 1]", prob_num))
    out["churn_probability"] = prob_num.astype("float64")

    for col in _TEXT_COLUMNS:
        values = scores[col]
        problems.append(_problem(col, values.isna(), "are null"))
        # Checked on the distinct values: these columns hold one value per publish.
        blanks = [v for v in pd.unique(values.dropna()) if not str(v).strip()]
        problems.append(_problem(col, values.isin(blanks), "are empty strings"))
        out[col] = values.astype(str)

    raw_ts = scores["scored_at"]
    problems.append(_problem("scored_at", raw_ts.isna(), "are null"))
    try:
        # Naive timestamps are taken as UTC: the scoring job runs on UTC clocks.
        if pd.api.types.is_datetime64_any_dtype(raw_ts):
            ts = pd.to_datetime(raw_ts, utc=True)
        else:
            # Element-wise parsing: with one inferred format, valid values in another format became NaT.
            ts = pd.to_datetime(raw_ts, utc=True, errors="coerce", format="mixed")
    except (TypeError, ValueError):
        ts = pd.Series(pd.NaT, index=raw_ts.index, dtype="datetime64[ns, UTC]")
    problems.append(_problem("scored_at", raw_ts.notna() & ts.isna(), "are not timestamps", raw_ts))
    out["scored_at"] = ts

    for col in LINEAGE_COLUMNS:
        # A date's rows come from one scoring run: one model version, one data version, one clock reading.
        distinct = out.loc[scores[col].notna(), col].unique()
        if len(distinct) > 1:
            problems.append(
                f"column '{col}': {len(distinct)} different values (e.g. {list(distinct[:3])}); "
                "every row of a publish must carry the same lineage"
            )

    if "score_date" in scores.columns:
        # A frame that carries its own date must agree with the date it is published under.
        sd = pd.to_datetime(scores["score_date"], errors="coerce").dt.date
        problems.append(
            _problem("score_date", sd != score_date, f"differ from the publish date {score_date}", scores["score_date"])
        )

    found = [p for p in problems if p]
    if found:
        raise ValueError("invalid scores frame: " + "; ".join(found))
    return out[list(REQUIRED_COLUMNS)]


def _batch_arrays(batch: ScoreBatch, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """customer_id (int64) and churn_probability (float64) of one batch; ValueError naming every problem."""
    names = list(batch.columns) if isinstance(batch, pd.DataFrame) else list(batch.schema.names)
    missing = [c for c in ("customer_id", "churn_probability") if c not in names]
    if missing:
        raise ValueError(f"score batch starting at row {offset} lacks column(s) {missing}")
    if isinstance(batch, pd.DataFrame):
        ids_col, p_col = batch["customer_id"], batch["churn_probability"]
        id_nulls, p_nulls = int(ids_col.isna().sum()), int(p_col.isna().sum())
        id_type, p_type = ids_col.dtype, p_col.dtype
        ids_int = pd.api.types.is_integer_dtype(id_type)
        p_numeric = pd.api.types.is_numeric_dtype(p_type) and not pd.api.types.is_bool_dtype(p_type)
    else:
        import pyarrow as pa

        ids_col, p_col = batch.column("customer_id"), batch.column("churn_probability")
        id_nulls, p_nulls = ids_col.null_count, p_col.null_count
        id_type, p_type = ids_col.type, p_col.type
        ids_int = pa.types.is_integer(id_type)
        p_numeric = pa.types.is_floating(p_type) or pa.types.is_integer(p_type)
    n = len(batch)
    where = f"rows {offset}..{offset + n - 1}"
    problems = []
    if id_nulls:
        problems.append(f"column 'customer_id': {id_nulls} row(s) in {where} are null")
    if not ids_int:
        problems.append(f"column 'customer_id' must be integers, got {id_type}")
    if p_nulls:
        problems.append(f"column 'churn_probability': {p_nulls} row(s) in {where} are null")
    if not p_numeric:
        problems.append(f"column 'churn_probability' must be numbers, got {p_type}")
    if problems:
        raise ValueError("invalid score batch: " + "; ".join(problems))
    ids = np.asarray(ids_col)
    if ids.dtype.kind == "u" and ids.size and ids.max() > np.iinfo(np.int64).max:
        raise ValueError(f"invalid score batch: column 'customer_id' in {where} exceeds the bigint range")
    probs = np.asarray(p_col, dtype=np.float64)
    bad = ~((probs >= 0) & (probs <= 1))  # NaN fails both comparisons, so it is caught here too
    if bad.any():
        raise ValueError(
            f"invalid score batch: column 'churn_probability': {int(bad.sum())} row(s) in {where} are NaN or "
            f"outside [0, 1] (e.g. {probs[bad][:5].tolist()})"
        )
    return ids.astype(np.int64, copy=False), probs


class _BinaryCopySource:
    """A file-like COPY source that validates and encodes score batches only when PostgreSQL asks for data.

    Batches are pulled one at a time, so memory holds one encoded batch whatever the day's size.
    """

    def __init__(self, batches: Iterable[ScoreBatch]) -> None:
        self._batches = iter(batches)
        self._buffer = memoryview(_COPY_HEADER)
        self._finished = False
        self.rows = 0
        self.probability_sum = 0.0
        # psycopg2 reports an exception raised in read() as a generic "COPY from stdin failed"; keep the original.
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            while not self._buffer and not self._finished:
                self._buffer = memoryview(self._next_chunk())
        except BaseException as exc:
            self.error = exc
            raise
        n = len(self._buffer) if size is None or size < 0 else size
        chunk, self._buffer = self._buffer[:n], self._buffer[n:]
        return chunk.tobytes()

    def _next_chunk(self) -> bytes:
        batch = next(self._batches, None)
        if batch is None:
            self._finished = True
            return _COPY_TRAILER
        ids, probs = _batch_arrays(batch, self.rows)
        rows = np.empty(len(ids), dtype=_COPY_ROW)
        rows["fields"] = 2
        rows["id_len"] = 8
        rows["customer_id"] = ids
        rows["p_len"] = 8
        rows["churn_probability"] = probs
        self.rows += len(ids)
        self.probability_sum += float(probs.sum())
        return rows.tobytes()


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
    _check_score_date(score_date)
    t0 = time.monotonic()
    source = _BinaryCopySource(batches)
    conn = _open(url)
    try:
        with conn, conn.cursor() as cur:
            _create_schema(cur)
        with conn, conn.cursor() as cur:
            # Named after the session: concurrent publishers of one date each load their own table.
            staging = f"{SCORES_TABLE}_load_{conn.get_backend_pid()}"
            _create_staging(cur, staging, score_date, lineage)
            try:
                cur.copy_expert(
                    sql.SQL("COPY {} (customer_id, churn_probability) FROM STDIN WITH (FORMAT binary)")
                    .format(sql.Identifier(staging)).as_string(cur),
                    source, size=1 << 20,
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
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_NAMESPACE, score_date.toordinal()))
            try:
                replaced = _swap_in(cur, staging, score_date)
            except psycopg2.errors.UniqueViolation as exc:
                raise ValueError(
                    f"scores for {score_date} hold duplicated customer_id values: {exc.diag.message_detail}"
                ) from exc
            if scoring_run is not None:
                cur.execute(
                    f"UPDATE {RUNS_TABLE} SET status = 'succeeded', rows = %s, finished_at = clock_timestamp() "
                    "WHERE id = %s",
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
        "published %d churn scores for %s (replaced %d) in %.2fs", result.rows, score_date, replaced, result.seconds,
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
                    sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(c))
                    for c in ("score_date", *LINEAGE_COLUMNS)
                ),
                sql.Identifier(f"{partition_name(score_date)}_pkey"),
            )
        )
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table, partition))
        cur.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN (%s)").format(parent, partition), (score_date,)
        )
        return 0
    # A rerun: replace the rows inside the existing partition. Dropping the old partition instead would
    # lock every reader of churn_scores out, and show an empty day to snapshots taken before the swap.
    cur.execute(sql.SQL("DELETE FROM {}").format(partition))
    replaced = cur.rowcount
    # Key order: appending to the primary key's b-tree in order is about twice as fast as random inserts.
    cur.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} ORDER BY customer_id").format(partition, table))
    cur.execute(sql.SQL("DROP TABLE {}").format(table))
    return replaced


def publish_scores(url: str, scores: pd.DataFrame, score_date: dt.date) -> int:
    """Replace ``score_date``'s rows with a validated pandas frame atomically; return the rows written."""
    frame = validate_scores(scores, score_date)
    first = frame.iloc[0]
    lineage = ScoreLineage(
        model_name=first["model_name"],
        model_version=first["model_version"],
        run_id=first["run_id"],
        data_version=first["data_version"],
        scored_at=first["scored_at"].to_pydatetime(),
    )
    keys = frame[["customer_id", "churn_probability"]]
    batches = (keys.iloc[i : i + _FRAME_BATCH_ROWS] for i in range(0, len(keys), _FRAME_BATCH_ROWS))
    return publish_score_batches(url, score_date, lineage, batches).rows


def start_scoring_run(url: str, score_date: dt.date, model_name: str, model_version: str, run_id: str) -> int:
    """Record a scoring run of ``score_date`` as running; return its id in ``scoring_runs``."""
    _check_score_date(score_date)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {RUNS_TABLE} (score_date, model_name, model_version, run_id) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (score_date, model_name, model_version, run_id),
        )
        (run,) = cur.fetchone()
    return int(run)


def fail_scoring_run(url: str, scoring_run: int, error: str) -> None:
    """Mark a running scoring run failed with the error that ended it."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"UPDATE {RUNS_TABLE} SET status = 'failed', error = %s, finished_at = clock_timestamp() "
            "WHERE id = %s AND status = 'running'",
            (error, scoring_run),
        )


def count_scores(url: str, score_date: dt.date) -> int:
    """Rows published for ``score_date``."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {SCORES_TABLE} WHERE score_date = %s", (score_date,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def read_scores(url: str, score_date: dt.date) -> pd.DataFrame:
    """``score_date``'s rows ordered by customer_id; scored_at as UTC timestamps."""
    columns = ["score_date", *REQUIRED_COLUMNS]
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(columns)} FROM {SCORES_TABLE} WHERE score_date = %s ORDER BY customer_id",
            (score_date,),
        )
        rows = cur.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["customer_id"] = frame["customer_id"].astype("int64")
    frame["churn_probability"] = frame["churn_probability"].astype("float64")
    frame["scored_at"] = pd.to_datetime(frame["scored_at"], utc=True)
    return frame
