"""What must hold after every night of a season, read with plain SQL and the REST API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

from tests.pg_helpers import query


@dataclass(frozen=True)
class NightCheck:
    rows: int
    expected: int
    duplicates: int
    served_runs: int
    decision: str | None
    # The run folder of every succeeded served publish of the day, oldest first (`run=<airflow run id>-<hex>`).
    publish_folders: tuple[str, ...] = ()


def night_check(url: str, day: date, expected: int) -> NightCheck:
    rows = _one(url, "SELECT count(*) FROM churn_scores WHERE score_date = %s", day)
    dup = _one(url, "SELECT count(*) - count(DISTINCT customer_id) FROM churn_scores WHERE score_date = %s", day)
    served = _one(url, "SELECT count(*) FROM scoring_runs WHERE score_date = %s AND status = 'succeeded' AND role = 'served'", day)
    decision = decision_of(url, day)
    paths = query(
        url,
        "SELECT scores_path FROM scoring_runs WHERE score_date = %s AND status = 'succeeded' AND role = 'served' ORDER BY finished_at",
        (day,),
    )
    folders = tuple(PurePath(str(path)).name for (path,) in paths)
    return NightCheck(rows=rows, expected=expected, duplicates=dup, served_runs=served, decision=decision, publish_folders=folders)


def publishing_run(folder: str, airflow_runs: dict[str, str]) -> str | None:
    """The Airflow run whose task wrote ``folder`` (`run=` + the run id made safe for a path + `-` + a random suffix)."""
    name = folder.removeprefix("run=").rsplit("-", 1)[0]
    matches = [run_id for run_id in airflow_runs if re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._-")[:80] == name]
    return matches[0] if len(matches) == 1 else None


def all_duplicates(url: str) -> int:
    if not _table(url, "churn_scores"):
        return 0
    return _one(url, "SELECT count(*) - count(DISTINCT (score_date, customer_id)) FROM churn_scores")


def rows_of(url: str, day: date) -> int:
    if not _table(url, "churn_scores"):
        return 0
    return _one(url, "SELECT count(*) FROM churn_scores WHERE score_date = %s", day)


def decision_of(url: str, day: date) -> str | None:
    """The drift decision stored for ``day``, None before drift_monitor judged it."""
    if not _table(url, "drift_runs"):
        return None
    found = query(url, "SELECT decision FROM drift_runs WHERE score_date = %s", (day,))
    return str(found[0][0]) if found else None


def _table(url: str, name: str) -> bool:
    return bool(query(url, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0])


def _one(url: str, sql: str, *args: object) -> int:
    return int(query(url, sql, tuple(args))[0][0] or 0)


def retrain_days(url: str) -> list[date]:
    """The days whose drift decision asked for a retrain, oldest first."""
    if not _table(url, "drift_runs"):
        return []
    return [row[0] for row in query(url, "SELECT score_date FROM drift_runs WHERE decision = 'retrain' ORDER BY score_date", ())]


def retrains_within_cooldown(days: list[date], cooldown_days: int) -> int:
    """How many retrain decisions came within ``cooldown_days`` of the one before: the policy allows none."""
    return sum(1 for before, after in zip(days, days[1:], strict=False) if (after - before).days < cooldown_days)


def running_scoring_runs(url: str, day: date) -> int:
    """Scoring runs of ``day`` recorded as running: a score task between its start and its publish."""
    if not _table(url, "scoring_runs"):
        return 0
    return _one(url, "SELECT count(*) FROM scoring_runs WHERE score_date = %s AND status = 'running'", day)
