"""``model_calibration``: the bins of each matured date's published scores, per version (nightshift.monitoring.calibration).

A table of its own beside ``model_performance``, which it does not change. A date's rows are replaced in
one transaction under the date's advisory lock, like the other monitoring tables. The realized job
writes a date's calibration before its performance: a date counts as measured once its performance
is stored, so a job that dies in between measures the date again and replaces its calibration.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import astuple

from nightshift.warehouse.connection import connect
from nightshift.warehouse.date_rows import replace_date_rows
from nightshift.warehouse.ddl import Table, ensure_tables
from nightshift.warehouse.rows import CalibrationBinRow
from nightshift.warehouse.schema import check_score_date

log = logging.getLogger(__name__)

CALIBRATION_TABLE = "model_calibration"
# Constant first key of the two-int advisory locks taken on this table ("NSCB").
LOCK_NAMESPACE = 0x4E534342
CALIBRATION = Table(
    CALIBRATION_TABLE,
    (
        "score_date     date             NOT NULL",
        "model_name     text             NOT NULL",
        "model_version  text             NOT NULL",
        "binning        text             NOT NULL",
        "bin            integer          NOT NULL",
        "rows           bigint           NOT NULL",
        "score_sum      double precision NOT NULL",
        "positives      bigint           NOT NULL",
        "label_snapshot date             NOT NULL",
        "computed_at    timestamptz      NOT NULL DEFAULT clock_timestamp()",
    ),
    ("PRIMARY KEY (score_date, model_version, binning, bin)",),
)
_COLUMNS = "score_date, model_name, model_version, binning, bin, rows, score_sum, positives"


def ensure_calibration_schema(url: str) -> list[str]:
    with connect(url) as conn, conn.cursor() as cur:
        return ensure_tables(cur, (CALIBRATION,), LOCK_NAMESPACE)


def write_calibration(url: str, score_date: dt.date, label_snapshot: dt.date, rows: Sequence[CalibrationBinRow]) -> int:
    """Replace ``score_date``'s calibration bins in one transaction; return the rows stored."""
    check_score_date(score_date)
    if any(r.score_date != score_date for r in rows):
        raise ValueError(f"rows of other dates than {score_date} passed to write_calibration")
    ensure_calibration_schema(url)
    with connect(url) as conn, conn.cursor() as cur:
        values = [(*astuple(r), label_snapshot) for r in rows]
        replace_date_rows(cur, CALIBRATION_TABLE, f"{_COLUMNS}, label_snapshot", score_date, values, LOCK_NAMESPACE)
    log.info("stored realized calibration of %s (labels from the %s snapshot): %d bins", score_date, label_snapshot, len(rows))
    return len(rows)


def read_calibration(url: str, since: dt.date, until: dt.date, known_by: dt.date | None = None) -> list[CalibrationBinRow]:
    """Bins of score dates in [since, until]; with ``known_by``, only those whose labels came from a snapshot landed by then."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM {CALIBRATION_TABLE} WHERE score_date BETWEEN %s AND %s"
            " AND (%s::date IS NULL OR label_snapshot <= %s::date)"
            " ORDER BY score_date, model_version, binning, bin",
            (since, until, known_by, known_by),
        )
        return [CalibrationBinRow(d, n, v, b, int(i), int(r), float(s), int(p)) for d, n, v, b, i, r, s, p in cur.fetchall()]
