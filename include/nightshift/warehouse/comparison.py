"""``model_comparison``: champion against challenger on each matured score date, one row per date, challenger and segment.

A date's rows are replaced in one transaction under the date's advisory lock, like ``model_performance``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nightshift.warehouse.connection import connect
from nightshift.warehouse.date_rows import replace_date_rows
from nightshift.warehouse.ddl import Table, ensure_tables
from nightshift.warehouse.readers import date_columns
from nightshift.warehouse.rows import METRICS, ComparisonRow
from nightshift.warehouse.schema import SHADOW_TABLE, check_score_date

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

COMPARISON_TABLE = "model_comparison"
# Constant first key of the two-int advisory locks taken on this table ("NSMC").
LOCK_NAMESPACE = 0x4E534D43
_SHORT = {"roc_auc": "roc_auc", "pr_auc": "pr_auc", "brier": "brier", "expected_calibration_error": "ece"}
_METRIC_COLUMNS = [f"{who}_{_SHORT[m]}" for m in METRICS for who in ("champion", "challenger")]
COMPARISON = Table(
    COMPARISON_TABLE,
    (
        "score_date         date   NOT NULL",
        "model_name         text   NOT NULL",
        "champion_version   text   NOT NULL",
        "challenger_version text   NOT NULL",
        "segment            text   NOT NULL",
        "rows               bigint NOT NULL",
        "positives          bigint NOT NULL",
        *(f"{c} double precision" for c in _METRIC_COLUMNS),
        "auc_diff           double precision",
        "auc_diff_low       double precision",
        "auc_diff_high      double precision",
        "label_snapshot     date   NOT NULL",
        "computed_at        timestamptz NOT NULL DEFAULT clock_timestamp()",
    ),
    ("PRIMARY KEY (score_date, challenger_version, segment)",),
)
_COLUMNS = "score_date, model_name, champion_version, challenger_version, segment, rows, positives, " + ", ".join(_METRIC_COLUMNS)
_TAIL = "auc_diff, auc_diff_low, auc_diff_high"


def ensure_comparison_schema(url: str) -> list[str]:
    with connect(url) as conn, conn.cursor() as cur:
        return ensure_tables(cur, (COMPARISON,), LOCK_NAMESPACE)


def _values(r: ComparisonRow) -> tuple:
    metrics = [getattr(r, who).get(m) for m in METRICS for who in ("champion", "challenger")]
    return (r.score_date, r.model_name, r.champion_version, r.challenger_version, r.segment, r.rows, r.positives, *metrics)


def write_comparison(url: str, score_date: dt.date, label_snapshot: dt.date, rows: Sequence[ComparisonRow]) -> int:
    """Replace ``score_date``'s comparison in one transaction; return the rows stored."""
    check_score_date(score_date)
    if any(r.score_date != score_date for r in rows):
        raise ValueError(f"rows of other dates than {score_date} passed to write_comparison")
    ensure_comparison_schema(url)
    values = [(*_values(r), r.auc_diff, r.auc_diff_low, r.auc_diff_high, label_snapshot) for r in rows]
    with connect(url) as conn, conn.cursor() as cur:
        replace_date_rows(cur, COMPARISON_TABLE, f"{_COLUMNS}, {_TAIL}, label_snapshot", score_date, values, LOCK_NAMESPACE)
    log.info(
        "stored the champion/challenger comparison of %s (labels from the %s snapshot): %d rows", score_date, label_snapshot, len(rows)
    )
    return len(rows)


def read_comparison(url: str, since: dt.date = dt.date.min, until: dt.date = dt.date.max) -> list[ComparisonRow]:
    """Rows of score dates in [since, until], by date, challenger, segment order as computed."""
    ensure_comparison_schema(url)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {_COLUMNS}, {_TAIL} FROM {COMPARISON_TABLE} WHERE score_date BETWEEN %s AND %s"
            " ORDER BY score_date, challenger_version, segment = 'all' DESC, segment",
            (since, until),
        )
        out = []
        for row in cur.fetchall():
            day, name, champion, challenger, segment, n, positives, *rest = row
            metrics, (diff, low, high) = rest[: len(_METRIC_COLUMNS)], rest[len(_METRIC_COLUMNS) :]
            pairs = list(zip(metrics[0::2], metrics[1::2], strict=True))
            out.append(
                ComparisonRow(
                    day,
                    name,
                    champion,
                    challenger,
                    segment,
                    int(n),
                    int(positives),
                    {m: float(c) for m, (c, _) in zip(METRICS, pairs, strict=True) if c is not None},
                    {m: float(x) for m, (_, x) in zip(METRICS, pairs, strict=True) if x is not None},
                    diff,
                    low,
                    high,
                )
            )
        return out


def shadow_scores(url: str, score_date: dt.date) -> pd.DataFrame:
    """customer_id, churn_probability, model_version of a date's shadow rows (empty when the date has none)."""
    return date_columns(url, SHADOW_TABLE, score_date, {"customer_id": "int64", "churn_probability": "float64", "model_version": "str"})
