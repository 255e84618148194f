"""The scores warehouse: the ``churn_scores`` table and its atomic per-date publish (DESIGN.md, "Output contract").

psycopg2 only: rows are streamed with COPY into a temp staging table, then one transaction swaps the
date's rows, so readers see either the old set or the new one, never both and never half.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.extensions

from nightshift.embedded_pg import EmbeddedPostgresError, start_embedded, stop_embedded

__all__ = [
    "SCORES_TABLE",
    "REQUIRED_COLUMNS",
    "EmbeddedPostgresError",
    "count_scores",
    "database_url",
    "ensure_schema",
    "publish_scores",
    "read_scores",
    "start_embedded",
    "stop_embedded",
    "validate_scores",
]

log = logging.getLogger(__name__)

SCORES_TABLE = "churn_scores"
REQUIRED_COLUMNS: tuple[str, ...] = (
    "customer_id", "churn_probability", "model_name", "model_version", "run_id", "data_version", "scored_at",
)
_TEXT_COLUMNS = ("model_name", "model_version", "run_id", "data_version")
# Constant first key of the two-int advisory locks taken on this table ("NSCS").
_LOCK_NAMESPACE = 0x4E534353

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
)
"""

_STAGING_DDL = """
CREATE TEMP TABLE churn_scores_staging (
    customer_id       bigint,
    churn_probability double precision,
    model_name        text,
    model_version     text,
    run_id            text,
    data_version      text,
    scored_at         timestamptz
) ON COMMIT DROP
"""

_COLUMN_LIST = ", ".join(REQUIRED_COLUMNS)


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


@contextmanager
def _connect(url: str) -> Iterator[psycopg2.extensions.connection]:
    """A connection that commits on success, rolls back on error, and is always closed."""
    try:
        conn = psycopg2.connect(url, connect_timeout=10, application_name="nightshift")
    except psycopg2.OperationalError as exc:
        raise psycopg2.OperationalError(f"cannot connect to {redact_url(url)}: {exc}") from exc
    try:
        with conn:  # commit / rollback only; psycopg2's context manager does not close
            yield conn
    finally:
        conn.close()


def _create_table(cur: psycopg2.extensions.cursor) -> None:
    # Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog; the lock serialises it.
    cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_LOCK_NAMESPACE,))
    cur.execute(_DDL)


def ensure_schema(url: str) -> None:
    """Create ``churn_scores`` if missing; safe to call any number of times, concurrently."""
    with _connect(url) as conn, conn.cursor() as cur:
        _create_table(cur)
    log.info("schema ready: %s", SCORES_TABLE)


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
    if isinstance(score_date, dt.datetime) or not isinstance(score_date, dt.date):
        raise TypeError(f"score_date must be a datetime.date, got {type(score_date).__name__}")
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
        # Checked on the distinct values: these columns hold one or a few values per run.
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


def _to_csv_buffer(frame: pd.DataFrame) -> io.StringIO:
    buf = io.StringIO()
    utc = frame["scored_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    # Vectorised ISO strings ("...Z"): to_csv's per-row strftime costs ~10 s per million rows. The explicit
    # UTC suffix keeps the session TimeZone out of it.
    frame = frame.assign(scored_at=np.datetime_as_string(utc, unit="us", timezone="UTC"))
    frame.to_csv(buf, index=False, header=False)
    buf.seek(0)
    return buf


def publish_scores(url: str, scores: pd.DataFrame, score_date: dt.date) -> int:
    """Replace ``score_date``'s rows with ``scores`` atomically; return the number of rows written."""
    t0 = time.monotonic()
    frame = validate_scores(scores, score_date)
    buf = _to_csv_buffer(frame)
    with _connect(url) as conn, conn.cursor() as cur:
        _create_table(cur)
        cur.execute(_STAGING_DDL)
        cur.copy_expert(f"COPY churn_scores_staging ({_COLUMN_LIST}) FROM STDIN WITH (FORMAT csv)", buf)
        # Serialise publishers of the same date: without it, two concurrent reruns could both delete
        # the old rows and then collide (or mix) on insert.
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_NAMESPACE, score_date.toordinal()))
        cur.execute(f"DELETE FROM {SCORES_TABLE} WHERE score_date = %s", (score_date,))
        replaced = cur.rowcount
        cur.execute(
            f"INSERT INTO {SCORES_TABLE} (score_date, {_COLUMN_LIST}) "
            f"SELECT %s, {_COLUMN_LIST} FROM churn_scores_staging",
            (score_date,),
        )
        written = cur.rowcount
        if written != len(frame):
            # Raised inside the transaction, so the old rows stay: a short write must never be published.
            raise RuntimeError(f"staged {written} rows for {score_date} but the frame had {len(frame)}; rolled back")
    log.info(
        "published %d churn scores for %s (replaced %d) in %.2fs", written, score_date, replaced, time.monotonic() - t0,
    )
    return written


def count_scores(url: str, score_date: dt.date) -> int:
    """Rows published for ``score_date``."""
    with _connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {SCORES_TABLE} WHERE score_date = %s", (score_date,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def read_scores(url: str, score_date: dt.date) -> pd.DataFrame:
    """``score_date``'s rows ordered by customer_id; scored_at as UTC timestamps."""
    columns = ["score_date", *REQUIRED_COLUMNS]
    with _connect(url) as conn, conn.cursor() as cur:
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
