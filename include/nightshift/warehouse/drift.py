"""The drift tables: ``drift_metrics`` (one row per date, column and metric) and ``drift_runs`` (one per date).

A date's rows are replaced in one transaction, like ``churn_scores``: a rerun deletes and inserts the
metrics and upserts the summary under the date's advisory lock, so a reader sees the old complete
date or the new one, never a mix, and two reruns of one date cannot interleave.

The column of a metric is stored as ``column_name``: ``column`` is a reserved word in SQL.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from nightshift.warehouse.connection import connect
from nightshift.warehouse.date_rows import replace_date_rows
from nightshift.warehouse.ddl import Table, ensure_tables
from nightshift.warehouse.schema import check_score_date

log = logging.getLogger(__name__)

METRICS_TABLE = "drift_metrics"
RUNS_TABLE = "drift_runs"
# Constant first key of the two-int advisory locks taken on the drift tables ("NSDR").
LOCK_NAMESPACE = 0x4E534452
METRICS = Table(
    METRICS_TABLE,
    (
        "score_date    date             NOT NULL",
        "model_name    text             NOT NULL",
        "model_version text             NOT NULL",
        "column_name   text             NOT NULL",
        "metric        text             NOT NULL",
        "value         double precision",
        "threshold     double precision",
        "drifted       boolean          NOT NULL",
    ),
    ("PRIMARY KEY (score_date, column_name, metric)",),
)
RUNS = Table(
    RUNS_TABLE,
    (
        "score_date       date        PRIMARY KEY",
        "model_name       text        NOT NULL",
        "model_version    text        NOT NULL",
        "rows             bigint      NOT NULL",
        "columns_drifted  integer     NOT NULL",
        "drifted_columns  text[]      NOT NULL",
        "score_psi        double precision",
        "drifted          boolean     NOT NULL",
        "decision         text        NOT NULL",
        "reason           text        NOT NULL",
        "report_path      text",
        "computed_at      timestamptz NOT NULL DEFAULT clock_timestamp()",
    ),
)


@dataclass(frozen=True)
class MetricRow:
    column: str
    metric: str
    value: float | None
    threshold: float | None
    drifted: bool


@dataclass(frozen=True)
class DriftRun:
    score_date: dt.date
    model_name: str
    model_version: str
    rows: int
    drifted_columns: list[str]
    score_psi: float | None
    drifted: bool
    decision: str
    reason: str
    report_path: str | None = None


def ensure_drift_schema(url: str) -> list[str]:
    """Create ``drift_metrics`` and ``drift_runs`` if missing; safe to call concurrently."""
    with connect(url) as conn, conn.cursor() as cur:
        return ensure_tables(cur, (METRICS, RUNS), LOCK_NAMESPACE)


def write_drift(url: str, run: DriftRun, metrics: Sequence[MetricRow]) -> int:
    """Replace ``run.score_date``'s metrics and summary in one transaction; return the metric rows stored."""
    check_score_date(run.score_date)
    with connect(url) as conn, conn.cursor() as cur:
        replace_date_rows(
            cur,
            METRICS_TABLE,
            "score_date, model_name, model_version, column_name, metric, value, threshold, drifted",
            run.score_date,
            [(run.score_date, run.model_name, run.model_version, m.column, m.metric, m.value, m.threshold, m.drifted) for m in metrics],
            LOCK_NAMESPACE,
        )
        cur.execute(
            f"""
            INSERT INTO {RUNS_TABLE} (score_date, model_name, model_version, rows, columns_drifted, drifted_columns, score_psi,
                                      drifted, decision, reason, report_path)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (score_date) DO UPDATE SET
                model_name = EXCLUDED.model_name, model_version = EXCLUDED.model_version, rows = EXCLUDED.rows,
                columns_drifted = EXCLUDED.columns_drifted, drifted_columns = EXCLUDED.drifted_columns,
                score_psi = EXCLUDED.score_psi, drifted = EXCLUDED.drifted, decision = EXCLUDED.decision,
                reason = EXCLUDED.reason, report_path = EXCLUDED.report_path, computed_at = clock_timestamp()
            """,
            (
                run.score_date,
                run.model_name,
                run.model_version,
                run.rows,
                len(run.drifted_columns),
                list(run.drifted_columns),
                run.score_psi,
                run.drifted,
                run.decision,
                run.reason,
                run.report_path,
            ),
        )
    log.info("stored drift of %s: %d metrics, decision %s", run.score_date, len(metrics), run.decision)
    return len(metrics)


_RUN_COLUMNS = "score_date, model_name, model_version, rows, drifted_columns, score_psi, drifted, decision, reason, report_path"


def _run(row: tuple) -> DriftRun:
    return DriftRun(*row[:4], list(row[4]), *row[5:])


def read_drift_runs(url: str, before: dt.date, days: int) -> list[DriftRun]:
    """The summaries of the ``days`` dates before ``before`` (exclusive), oldest first."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {_RUN_COLUMNS} FROM {RUNS_TABLE} WHERE score_date < %s AND score_date >= %s ORDER BY score_date",
            (before, before - dt.timedelta(days=days)),
        )
        return [_run(r) for r in cur.fetchall()]


def read_drift_run(url: str, score_date: dt.date) -> DriftRun | None:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {_RUN_COLUMNS} FROM {RUNS_TABLE} WHERE score_date = %s", (score_date,))
        row = cur.fetchone()
    return None if row is None else _run(row)


def read_drift_metrics(url: str, score_date: dt.date) -> list[MetricRow]:
    """A date's metrics, by column then metric."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT column_name, metric, value, threshold, drifted FROM {METRICS_TABLE} WHERE score_date = %s"
            " ORDER BY column_name, metric",
            (score_date,),
        )
        return [MetricRow(*r) for r in cur.fetchall()]
