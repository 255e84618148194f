"""``deadline_misses``: one row per nightly_scoring run that missed its morning deadline.

Written by the deadline alert's callback (``nightshift.airflow.deadline``) when Airflow's scheduler finds
a run past ``scoring.publish_by``: the day, when it was due, the run's state and what was still running or
missing then. Keyed on the Airflow run and its deadline, so a callback delivered twice records one miss.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from nightshift.warehouse.connection import connect
from nightshift.warehouse.ddl import Table, ensure_tables

MISSES_TABLE = "deadline_misses"
# Constant first key of the advisory lock a schema change of this table takes ("NSDL").
LOCK_NAMESPACE = 0x4E53444C
MISSES = Table(
    MISSES_TABLE,
    (
        "score_date   date        NOT NULL",
        "dag_id       text        NOT NULL",
        "dag_run_id   text        NOT NULL",
        "deadline_at  timestamptz NOT NULL",
        "run_state    text        NOT NULL",
        # The run's tasks not done when the deadline passed, as 'task_id: state'; empty when the run had ended.
        "unfinished   text[]      NOT NULL",
        "missing      text        NOT NULL",
        "recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp()",
    ),
    ("PRIMARY KEY (dag_id, dag_run_id, deadline_at)",),
    indexes=((f"{MISSES_TABLE}_score_date", f"{MISSES_TABLE} (score_date)"),),
)
_COLUMNS = "score_date, dag_id, dag_run_id, deadline_at, run_state, unfinished, missing"


@dataclass(frozen=True)
class DeadlineMiss:
    score_date: dt.date
    dag_id: str
    dag_run_id: str
    deadline_at: dt.datetime
    run_state: str
    unfinished: tuple[str, ...]
    missing: str

    def describe(self) -> str:
        still = ", ".join(self.unfinished) or "nothing (the run had ended)"
        return (
            f"{self.dag_id} missed its deadline for {self.score_date}: due {self.deadline_at:%Y-%m-%d %H:%M} UTC, "
            f"run {self.dag_run_id} is {self.run_state}; still running or not run: {still}; {self.missing}"
        )


def ensure_deadline_schema(url: str) -> list[str]:
    with connect(url) as conn, conn.cursor() as cur:
        return ensure_tables(cur, (MISSES,), LOCK_NAMESPACE)


def record_miss(url: str, miss: DeadlineMiss) -> bool:
    """Store ``miss``; False when this run's miss of this deadline was already recorded."""
    ensure_deadline_schema(url)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {MISSES_TABLE} ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (miss.score_date, miss.dag_id, miss.dag_run_id, miss.deadline_at, miss.run_state, list(miss.unfinished), miss.missing),
        )
        return cur.rowcount == 1


def read_misses(url: str, days: Sequence[dt.date]) -> list[DeadlineMiss]:
    """The misses recorded for ``days``, oldest deadline first; [] when no miss was ever recorded."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (MISSES_TABLE,))
        if cur.fetchone()[0] is None:
            return []
        cur.execute(
            f"SELECT {_COLUMNS} FROM {MISSES_TABLE} WHERE score_date = ANY(%s::date[]) ORDER BY deadline_at, dag_run_id",
            (list(days),),
        )
        return [DeadlineMiss(r[0], r[1], r[2], r[3], r[4], tuple(r[5]), r[6]) for r in cur.fetchall()]
