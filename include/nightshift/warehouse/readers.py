"""Reading published scores back: counts, a date's rows, one customer's row and the models that served a date."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pandas as pd

from nightshift.warehouse.connection import connect
from nightshift.warehouse.schema import REQUIRED_COLUMNS, SCORES_TABLE, check_score_date


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


def date_columns(url: str, table: str, score_date: dt.date, dtypes: dict[str, str]) -> pd.DataFrame:
    """The ``dtypes`` columns of ``table``'s rows for ``score_date``, through COPY (no Python row objects); empty when none."""
    check_score_date(score_date)
    buffer = io.StringIO()
    with connect(url) as conn, conn.cursor() as cur:
        query = cur.mogrify(
            f"COPY (SELECT {', '.join(dtypes)} FROM {table} WHERE score_date = %s) TO STDOUT WITH (FORMAT csv, HEADER true)",
            (score_date,),
        ).decode()
        cur.copy_expert(query, buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=dtypes)


def read_score_row(url: str, score_date: dt.date, customer_id: int) -> dict[str, Any] | None:
    """One customer's published row of ``score_date`` with its lineage columns, or None if there is none."""
    columns = ["score_date", *REQUIRED_COLUMNS]
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(columns)} FROM {SCORES_TABLE} WHERE score_date = %s AND customer_id = %s",
            (score_date, customer_id),
        )
        row = cur.fetchone()
    return None if row is None else dict(zip(columns, row, strict=True))


def served_models(url: str, score_date: dt.date) -> list[dict[str, Any]]:
    """Per (model, version, run, data version) that scored ``score_date``: its row count and when it scored."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"""SELECT model_name, model_version, run_id, data_version, count(*), min(scored_at), max(scored_at)
                FROM {SCORES_TABLE} WHERE score_date = %s
                GROUP BY model_name, model_version, run_id, data_version
                ORDER BY model_name, model_version, run_id, data_version""",
            (score_date,),
        )
        rows = cur.fetchall()
    keys = ("model_name", "model_version", "run_id", "data_version", "rows", "scored_at_first", "scored_at_last")
    return [dict(zip(keys, row, strict=True)) for row in rows]
