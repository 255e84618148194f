"""Replacing one score date's rows of a monitoring table: what drift, realized performance and comparison share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import execute_values


def replace_date_rows(cur: Cursor, table: str, columns: str, score_date: dt.date, values: Sequence[tuple], lock_namespace: int) -> None:
    """Delete ``table``'s rows of ``score_date`` and insert ``values``, in the caller's transaction.

    The date's advisory lock (``lock_namespace``, the date's ordinal) serializes two writers of one
    date; readers see the old rows or the new ones, never a half-written date.
    """
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (lock_namespace, score_date.toordinal()))
    cur.execute(f"DELETE FROM {table} WHERE score_date = %s", (score_date,))
    if values:
        execute_values(cur, f"INSERT INTO {table} ({columns}) VALUES %s", values)
