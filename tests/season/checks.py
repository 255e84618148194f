"""What must hold after every night of a season, read with plain SQL and the REST API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tests.pg_helpers import query


@dataclass(frozen=True)
class NightCheck:
    rows: int
    expected: int
    duplicates: int
    served_runs: int
    decision: str | None


def night_check(url: str, day: date, expected: int) -> NightCheck:
    rows = _one(url, "SELECT count(*) FROM churn_scores WHERE score_date = %s", day)
    dup = _one(url, "SELECT count(*) - count(DISTINCT customer_id) FROM churn_scores WHERE score_date = %s", day)
    served = _one(url, "SELECT count(*) FROM scoring_runs WHERE score_date = %s AND status = 'succeeded' AND role = 'served'", day)
    decision = _decision(url, day)
    return NightCheck(rows=rows, expected=expected, duplicates=dup, served_runs=served, decision=decision)


def all_duplicates(url: str) -> int:
    if not _table(url, "churn_scores"):
        return 0
    return _one(url, "SELECT count(*) - count(DISTINCT (score_date, customer_id)) FROM churn_scores")


def rows_of(url: str, day: date) -> int:
    if not _table(url, "churn_scores"):
        return 0
    return _one(url, "SELECT count(*) FROM churn_scores WHERE score_date = %s", day)


def _decision(url: str, day: date) -> str | None:
    if not _table(url, "drift_runs"):
        return None
    found = query(url, "SELECT decision FROM drift_runs WHERE score_date = %s", (day,))
    return str(found[0][0]) if found else None


def decision_of(url: str, day: date) -> str | None:
    return _decision(url, day)


def _table(url: str, name: str) -> bool:
    return bool(query(url, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0])


def _one(url: str, sql: str, *args: object) -> int:
    return int(query(url, sql, tuple(args))[0][0] or 0)
