"""``estimated_performance`` and ``estimation_error``: each date's performance estimated from its scores, and how far off it was.

``estimated_performance`` holds one row per date, version, segment and metric (ROC AUC, PR AUC,
positive rate), written the night the date is scored, beside ``model_performance`` (realized, a label
horizon later). ``estimation_error`` holds, per date whose labels matured, the estimate, the realized
figure and their difference; it is rebuilt from the two tables whenever either changes for a date (a
rescored date, a late label snapshot), so it never disagrees with them.

Each date's rows are replaced in one transaction under the date's advisory lock, like the other
monitoring tables: a reader never sees half of a date.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import astuple, dataclass

from nightshift.warehouse.connection import connect
from nightshift.warehouse.date_rows import replace_date_rows
from nightshift.warehouse.ddl import Table, ensure_tables
from nightshift.warehouse.performance import PERFORMANCE_TABLE, ensure_performance_schema
from nightshift.warehouse.schema import check_score_date

log = logging.getLogger(__name__)

ESTIMATED_TABLE = "estimated_performance"
ERROR_TABLE = "estimation_error"
# Constant first key of the two-int advisory locks taken on these tables ("NSEP").
LOCK_NAMESPACE = 0x4E534550
ESTIMATED = Table(
    ESTIMATED_TABLE,
    (
        "score_date         date             NOT NULL",
        "model_name         text             NOT NULL",
        "model_version      text             NOT NULL",
        "segment            text             NOT NULL",
        "metric             text             NOT NULL",
        "value              double precision NOT NULL",
        "rows               bigint           NOT NULL",
        "expected_positives double precision NOT NULL",
        "computed_at        timestamptz      NOT NULL DEFAULT clock_timestamp()",
    ),
    ("PRIMARY KEY (score_date, model_version, segment, metric)",),
)
ERROR = Table(
    ERROR_TABLE,
    (
        "score_date     date             NOT NULL",
        "model_version  text             NOT NULL",
        "segment        text             NOT NULL",
        "metric         text             NOT NULL",
        "estimated      double precision NOT NULL",
        "realized       double precision NOT NULL",
        "error          double precision NOT NULL",  # estimated - realized
        "rows           bigint           NOT NULL",  # labelled customers behind the realized figure
        "label_snapshot date             NOT NULL",
        "computed_at    timestamptz      NOT NULL DEFAULT clock_timestamp()",
    ),
    ("PRIMARY KEY (score_date, model_version, segment, metric)",),
)
_COLUMNS = "score_date, model_name, model_version, segment, metric, value, rows, expected_positives"
# The realized counterpart of each estimated metric: the AUCs as stored, the positive rate as the
# labelled churn share (positives / rows; every segment with labels has a Brier row that carries them).
_REALIZED = f"""
    SELECT score_date, model_version, segment, metric, value AS realized, rows, label_snapshot
    FROM {PERFORMANCE_TABLE} WHERE score_date = %(day)s AND metric IN ('roc_auc', 'pr_auc')
    UNION ALL
    SELECT score_date, model_version, segment, 'positive_rate', positives::double precision / rows, rows, label_snapshot
    FROM {PERFORMANCE_TABLE} WHERE score_date = %(day)s AND metric = 'brier' AND rows > 0"""


@dataclass(frozen=True)
class EstimateRow:
    score_date: dt.date
    model_name: str
    model_version: str
    segment: str  # "all", "plan=basic", "region=north", ...
    metric: str  # roc_auc, pr_auc, positive_rate
    value: float
    rows: int  # served customers
    expected_positives: float  # sum of their probabilities


@dataclass(frozen=True)
class ErrorRow:
    score_date: dt.date
    model_version: str
    segment: str
    metric: str
    estimated: float
    realized: float
    error: float
    rows: int


def ensure_estimate_schema(url: str) -> list[str]:
    """Both tables; ``model_performance`` too (under its own lock), which ``estimation_error`` is built from."""
    done = ensure_performance_schema(url)
    with connect(url) as conn, conn.cursor() as cur:
        return done + ensure_tables(cur, (ESTIMATED, ERROR), LOCK_NAMESPACE)


def write_estimated(url: str, score_date: dt.date, rows: Sequence[EstimateRow]) -> int:
    """Replace ``score_date``'s estimate (and its estimation error, if its labels matured) in one transaction."""
    check_score_date(score_date)
    if any(r.score_date != score_date for r in rows):
        raise ValueError(f"rows of other dates than {score_date} passed to write_estimated")
    ensure_estimate_schema(url)
    with connect(url) as conn, conn.cursor() as cur:
        replace_date_rows(cur, ESTIMATED_TABLE, _COLUMNS, score_date, [astuple(r) for r in rows], LOCK_NAMESPACE)
        errors = _rebuild_error(cur, score_date)
    log.info("stored the estimated performance of %s: %d rows (%d estimation errors)", score_date, len(rows), errors)
    return len(rows)


def refresh_estimation_error(url: str, score_date: dt.date) -> int:
    """Rebuild ``score_date``'s estimation error from its estimate and its realized performance; the rows stored."""
    ensure_estimate_schema(url)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, score_date.toordinal()))
        stored = _rebuild_error(cur, score_date)
        cur.execute(
            f"SELECT model_version, estimated, realized, error FROM {ERROR_TABLE}"
            " WHERE score_date = %s AND segment = 'all' AND metric = 'roc_auc' ORDER BY model_version",
            (score_date,),
        )
        for version, estimated, realized, error in cur.fetchall():
            log.info("%s: version %s ROC AUC estimated %.4f, realized %.4f: error %+.4f", score_date, version, estimated, realized, error)
    if not stored:
        log.warning("%s: no estimate to compare its realized performance with (estimated before the estimate existed?)", score_date)
    return stored


def _rebuild_error(cur, score_date: dt.date) -> int:
    """In the caller's transaction, holding the date's lock: the date's error rows, from the two tables as they are."""
    cur.execute(f"DELETE FROM {ERROR_TABLE} WHERE score_date = %(day)s", {"day": score_date})
    cur.execute(
        f"""INSERT INTO {ERROR_TABLE} (score_date, model_version, segment, metric, estimated, realized, error, rows, label_snapshot)
            SELECT e.score_date, e.model_version, e.segment, e.metric, e.value, r.realized, e.value - r.realized, r.rows, r.label_snapshot
            FROM {ESTIMATED_TABLE} e JOIN ({_REALIZED}) r USING (score_date, model_version, segment, metric)
            WHERE e.score_date = %(day)s""",
        {"day": score_date},
    )
    return cur.rowcount


def read_estimated(url: str, since: dt.date, until: dt.date) -> list[EstimateRow]:
    """Rows of score dates in [since, until], by date, version, segment, metric."""
    ensure_estimate_schema(url)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM {ESTIMATED_TABLE} WHERE score_date BETWEEN %s AND %s"
            " ORDER BY score_date, model_version, segment, metric",
            (since, until),
        )
        return [EstimateRow(d, n, v, s, m, float(x), int(r), float(e)) for d, n, v, s, m, x, r, e in cur.fetchall()]


def read_estimation_error(url: str, since: dt.date, until: dt.date) -> list[ErrorRow]:
    ensure_estimate_schema(url)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT score_date, model_version, segment, metric, estimated, realized, error, rows FROM {ERROR_TABLE}"
            " WHERE score_date BETWEEN %s AND %s ORDER BY score_date, model_version, segment, metric",
            (since, until),
        )
        return [ErrorRow(d, v, s, m, float(e), float(r), float(x), int(n)) for d, v, s, m, e, r, x, n in cur.fetchall()]
