"""``model_performance``: what each date's published scores achieved, one row per date, version, segment and metric.

A date's rows are replaced in one transaction under the date's advisory lock, like the drift tables:
a recomputation (a late label snapshot, a rescored date) never shows a reader a mix of two.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import astuple
from typing import TYPE_CHECKING

from nightshift.warehouse.connection import connect
from nightshift.warehouse.date_rows import replace_date_rows
from nightshift.warehouse.ddl import Table, ensure_tables
from nightshift.warehouse.readers import date_columns
from nightshift.warehouse.rows import PerformanceRow
from nightshift.warehouse.schema import SCORES_TABLE, check_score_date

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

PERFORMANCE_TABLE = "model_performance"
# Constant first key of the two-int advisory locks taken on this table ("NSMP").
LOCK_NAMESPACE = 0x4E534D50
PERFORMANCE = Table(
    PERFORMANCE_TABLE,
    (
        "score_date     date             NOT NULL",
        "model_name     text             NOT NULL",
        "model_version  text             NOT NULL",
        "segment        text             NOT NULL",
        "metric         text             NOT NULL",
        "value          double precision NOT NULL",
        "rows           bigint           NOT NULL",
        "positives      bigint           NOT NULL",
        "label_snapshot date             NOT NULL",
        "computed_at    timestamptz      NOT NULL DEFAULT clock_timestamp()",
    ),
    ("PRIMARY KEY (score_date, model_version, segment, metric)",),
)
_COLUMNS = "score_date, model_name, model_version, segment, metric, value, rows, positives"


def ensure_performance_schema(url: str) -> list[str]:
    with connect(url) as conn, conn.cursor() as cur:
        return ensure_tables(cur, (PERFORMANCE,), LOCK_NAMESPACE)


def write_performance(url: str, score_date: dt.date, label_snapshot: dt.date, rows: Sequence[PerformanceRow]) -> int:
    """Replace ``score_date``'s realized performance in one transaction; return the rows stored."""
    check_score_date(score_date)
    if any(r.score_date != score_date for r in rows):
        raise ValueError(f"rows of other dates than {score_date} passed to write_performance")
    with connect(url) as conn, conn.cursor() as cur:
        values = [(*astuple(r), label_snapshot) for r in rows]
        replace_date_rows(cur, PERFORMANCE_TABLE, f"{_COLUMNS}, label_snapshot", score_date, values, LOCK_NAMESPACE)
    log.info("stored realized performance of %s (labels from the %s snapshot): %d rows", score_date, label_snapshot, len(rows))
    return len(rows)


def read_performance(url: str, since: dt.date, until: dt.date) -> list[PerformanceRow]:
    """Rows of score dates in [since, until], by date, version, segment, metric."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM {PERFORMANCE_TABLE} WHERE score_date BETWEEN %s AND %s"
            " ORDER BY score_date, model_version, segment, metric",
            (since, until),
        )
        return [PerformanceRow(d, n, v, s, m, float(x), int(r), int(p)) for d, n, v, s, m, x, r, p in cur.fetchall()]


def dates_with_performance(url: str) -> set[dt.date]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT DISTINCT score_date FROM {PERFORMANCE_TABLE}")
        return {r[0] for r in cur.fetchall()}


def published_dates(url: str) -> list[dt.date]:
    """Dates with a succeeded scoring run: their rows in churn_scores are what was served."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT score_date FROM scoring_runs WHERE status = 'succeeded' AND role = 'served' ORDER BY score_date")
        return [r[0] for r in cur.fetchall()]


def published_scores(url: str, score_date: dt.date) -> pd.DataFrame:
    """customer_id, churn_probability, model_name, model_version of a date's published rows (COPY, not row objects)."""
    dtypes = {"customer_id": "int64", "churn_probability": "float64", "model_name": "str", "model_version": "str"}
    return date_columns(url, SCORES_TABLE, score_date, dtypes)
