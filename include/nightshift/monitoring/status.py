"""The morning page: for each recent day, what landed, what was scored by which model, and what went wrong.

One table answers the 3 AM questions in one place (which data version and model served a day, when the
problem started, what to run to roll back). It is built from what the pipeline already records: the
landing zone's partitions, ``data_quality_runs`` and acceptances, ``scoring_runs`` (served and shadow),
``churn_scores``' lineage, ``drift_runs``, ``model_performance``, ``deadline_misses``; and, from Airflow,
the day's nightly_scoring run and approvals nobody has answered. The Airflow UI page (Browse > Nightshift
status) and ``nightshift status`` show the same rows: :func:`status_rows` builds them, the two only render.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nightshift.landing import missing_partitions
from nightshift.quality.validation import CUSTOMERS_SUITE, EVENTS_SUITE
from nightshift.warehouse.connection import connect
from nightshift.warehouse.deadlines import DeadlineMiss, read_misses
from nightshift.warehouse.rows import ALL, ROC_AUC

ROLLBACK_COMMAND = "nightshift model rollback --reason '...'"
NONE = "-"


@dataclass(frozen=True)
class AirflowRun:
    """A DAG run as the page links it: which day it worked on, its state, its run id."""

    dag_id: str
    run_id: str
    day: dt.date
    state: str


@dataclass(frozen=True)
class Approval:
    """A task waiting for a person's answer (Airflow human-in-the-loop), with the day its run works on."""

    dag_id: str
    run_id: str
    task_id: str
    subject: str
    day: dt.date | None


@dataclass(frozen=True)
class DayStatus:
    day: dt.date
    landed: str
    validation: str
    rows: int | None
    served: str
    data_version: str
    shadow: str
    drift: str
    auc: float | None
    deadline: str
    approvals: tuple[str, ...]
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class Facts:
    """What the warehouse holds for the days, by day (each reader fills one)."""

    validation: dict[dt.date, str] = field(default_factory=dict)
    accepted_missing: set[dt.date] = field(default_factory=set)
    served: dict[dt.date, dict[str, Any]] = field(default_factory=dict)
    shadow: dict[dt.date, dict[str, Any]] = field(default_factory=dict)
    drift: dict[dt.date, tuple[str, str | None]] = field(default_factory=dict)
    auc: dict[dt.date, float] = field(default_factory=dict)
    misses: list[DeadlineMiss] = field(default_factory=list)


def _rows(cur: Any, table: str, query: str, params: dict[str, Any]) -> list[tuple]:
    """The query's rows, or none when ``table`` does not exist yet (a warehouse no run has reached)."""
    cur.execute("SELECT to_regclass(%s)", (table,))
    if cur.fetchone()[0] is None:
        return []
    cur.execute(query, params)
    return cur.fetchall()


# The newest raw validation of each (day, suite), and whether an acceptance covers it.
_VALIDATION = """
SELECT DISTINCT ON (q.logical_date, q.suite) q.logical_date, q.suite, q.success,
       EXISTS (SELECT 1 FROM data_quality_acceptances a WHERE a.logical_date = q.logical_date AND a.accepted_through >= q.id)
FROM data_quality_runs q WHERE q.logical_date = ANY(%(days)s::date[]) AND q.suite IN %(suites)s
ORDER BY q.logical_date, q.suite, q.id DESC
"""
_ACCEPTED_MISSING = """
SELECT DISTINCT logical_date FROM data_quality_acceptances WHERE logical_date = ANY(%(days)s::date[]) AND missing_partitions IS NOT NULL
"""
# Of each day's succeeded runs per role, the one that published last (as nightshift.warehouse.audit reads it), and its rows' data version.
_PUBLISHED = """
SELECT DISTINCT ON (r.score_date, r.role) r.score_date, r.role, r.model_name, r.model_version, r.run_id, r.rows, r.finished_at,
       (SELECT string_agg(DISTINCT s.data_version, ', ') FROM churn_scores s WHERE s.score_date = r.score_date AND r.role = 'served')
FROM scoring_runs r WHERE r.status = 'succeeded' AND r.score_date = ANY(%(days)s::date[])
ORDER BY r.score_date, r.role, r.finished_at DESC NULLS LAST, r.id DESC
"""
_DRIFT = "SELECT score_date, decision, report_path FROM drift_runs WHERE score_date = ANY(%(days)s::date[])"
_AUC = f"""
SELECT DISTINCT ON (score_date) score_date, value FROM model_performance
WHERE score_date = ANY(%(days)s::date[]) AND segment = '{ALL}' AND metric = '{ROC_AUC}' ORDER BY score_date, computed_at DESC
"""


def _verdict(suites: dict[str, tuple[bool, bool]]) -> str:
    """A day's validation verdict from its raw suites' newest (success, accepted)."""
    failed = sorted(s for s, (ok, accepted) in suites.items() if not ok and not accepted)
    accepted = sorted(s for s, (ok, acc) in suites.items() if not ok and acc)
    if failed:
        return "FAILED: " + ", ".join(failed)
    if accepted:
        return "accepted: " + ", ".join(accepted)
    return "passed" if suites else NONE


def read_facts(url: str, days: Sequence[dt.date]) -> Facts:
    """Everything the warehouse says about ``days``, read in one session."""
    facts, params = Facts(), {"days": list(days), "suites": (EVENTS_SUITE, CUSTOMERS_SUITE)}
    with connect(url) as conn, conn.cursor() as cur:
        suites: dict[dt.date, dict[str, tuple[bool, bool]]] = {}
        for day, suite, ok, accepted in _rows(cur, "data_quality_runs", _VALIDATION, params):
            suites.setdefault(day, {})[suite] = (ok, accepted)
        facts.validation = {day: _verdict(s) for day, s in suites.items()}
        facts.accepted_missing = {r[0] for r in _rows(cur, "data_quality_acceptances", _ACCEPTED_MISSING, params)}
        for day, role, name, version, run_id, rows, finished, data_version in _rows(cur, "scoring_runs", _PUBLISHED, params):
            found = {"model": f"{name} v{version}", "run_id": run_id, "rows": rows, "finished_at": finished, "data_version": data_version}
            (facts.served if role == "served" else facts.shadow)[day] = found
        facts.drift = {r[0]: (r[1], r[2]) for r in _rows(cur, "drift_runs", _DRIFT, params)}
        facts.auc = {r[0]: float(r[1]) for r in _rows(cur, "model_performance", _AUC, params)}
    facts.misses = read_misses(url, days)
    return facts


def _landed(root: Path, day: dt.date, accepted_missing: set[dt.date]) -> str:
    missing = [p.parent.name for p in missing_partitions(root, day)]
    if not missing:
        return "yes"
    return f"accepted missing ({', '.join(missing)})" if day in accepted_missing else f"NO: {', '.join(missing)}"


def _deadline(day: dt.date, misses: list[DeadlineMiss], served: dict[str, Any] | None) -> str:
    mine = [m for m in misses if m.score_date == day]
    if mine:
        miss = mine[-1]
        still = "; ".join(miss.unfinished) or f"run {miss.run_state}"
        return f"MISSED {miss.deadline_at:%m-%d %H:%M} UTC ({still})"
    return "met" if served else NONE


def _links(
    day: dt.date, run: AirflowRun | None, served: dict[str, Any] | None, drift: tuple[str, str | None] | None, mlflow_ui: str
) -> dict[str, str]:
    links = {"data docs": "/data-docs/index.html"}
    if run is not None:
        links["DAG run"] = f"/dags/{run.dag_id}/runs/{run.run_id}"
    if drift is not None:
        links["drift report"] = f"/drift-reports/score_date={day.isoformat()}/index.html"
    if served and served.get("run_id"):
        links["MLflow run"] = f"{mlflow_ui.rstrip('/')}/#/runs/{served['run_id']}"
    return links


def status_rows(
    days: Sequence[dt.date], root: Path, facts: Facts, runs: Sequence[AirflowRun], approvals: Sequence[Approval], mlflow_ui: str
) -> list[DayStatus]:
    """One row per day, newest first: pure, from the landing zone ``root``, the warehouse's ``facts`` and Airflow's runs and approvals."""
    newest_run = {r.day: r for r in runs}  # runs come oldest first: the last of a day wins
    out = []
    for day in sorted(days, reverse=True):
        served, shadow, drift = facts.served.get(day), facts.shadow.get(day), facts.drift.get(day)
        out.append(
            DayStatus(
                day=day,
                landed=_landed(root, day, facts.accepted_missing),
                validation=facts.validation.get(day, NONE),
                rows=served["rows"] if served else None,
                served=served["model"] if served else NONE,
                data_version=(served or {}).get("data_version") or NONE,
                shadow=shadow["model"] if shadow else NONE,
                drift=drift[0] if drift else NONE,
                auc=facts.auc.get(day),
                deadline=_deadline(day, facts.misses, served),
                approvals=tuple(f"{a.dag_id}.{a.task_id}: {a.subject}" for a in approvals if a.day == day),
                links=_links(day, newest_run.get(day), served, drift, mlflow_ui),
            )
        )
    return out


COLUMNS = ("day", "landed", "validation", "rows", "served", "data version", "shadow", "drift", "AUC", "deadline", "approvals")


def cells(row: DayStatus) -> list[str]:
    rows = NONE if row.rows is None else f"{row.rows:,}"
    auc = NONE if row.auc is None else f"{row.auc:.3f}"
    approvals = "; ".join(row.approvals) or NONE
    return [
        row.day.isoformat(),
        row.landed,
        row.validation,
        rows,
        row.served,
        row.data_version,
        row.shadow,
        row.drift,
        auc,
        row.deadline,
        approvals,
    ]


def render_text(rows: Sequence[DayStatus], approvals: Sequence[Approval], airflow_note: str = "") -> str:
    """The table as ``nightshift status`` prints it: aligned columns, then open approvals and the rollback command."""
    table = [list(COLUMNS), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in table]
    lines += ["", f"open approvals: {len(approvals)}"] + [f"  {a.dag_id} {a.run_id} {a.task_id}: {a.subject}" for a in approvals]
    if airflow_note:
        lines.append(airflow_note)
    lines.append(f"roll back the served model: {ROLLBACK_COMMAND}")
    return "\n".join(lines)


def render_html(rows: Sequence[DayStatus], approvals: Sequence[Approval]) -> str:
    """The Airflow UI page: the same cells, each day's links, the open approvals and the rollback command."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in (*COLUMNS, "links"))
    body = ""
    for row in rows:
        bad = any(v.startswith(("NO", "FAILED", "MISSED")) for v in (row.landed, row.validation, row.deadline))
        links = " ".join(f'<a href="{esc(href)}">{esc(name)}</a>' for name, href in row.links.items())
        tds = "".join(f"<td>{esc(v)}</td>" for v in cells(row))
        body += f'<tr class="{"bad" if bad else "ok"}">{tds}<td>{links}</td></tr>'
    waiting = "".join(
        f'<li><a href="/dags/{esc(a.dag_id)}/runs/{esc(a.run_id)}">{esc(a.dag_id)} {esc(a.run_id)}</a> '
        f"{esc(a.task_id)}: {esc(a.subject)}</li>"
        for a in approvals
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Nightshift status</title><style>"
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
        "th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}th{background:#eee}"
        "td:first-child{white-space:nowrap}"
        "tr.bad td{background:#fde2e2}code{background:#f4f4f4;padding:2px 4px}</style></head><body>"
        f"<h1>Nightshift status</h1><p>Newest day first. Roll back the served model: <code>{esc(ROLLBACK_COMMAND)}</code></p>"
        f"<table id='status'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<h2>Open approvals ({len(approvals)})</h2><ul>{waiting or '<li>none</li>'}</ul></body></html>"
    )


def recent_days(root: Path, newest_recorded: dt.date | None, today: dt.date, count: int) -> list[dt.date]:
    """The ``count`` days the page shows, newest last.

    A live landing zone (a day landed in the past week) ends at yesterday, so a day that has not landed
    shows as such; replayed history (the demo's data) ends at the newest day landed or recorded (scored or missed).
    """
    from nightshift.contract import EVENTS, EVENTS_PARTITION
    from nightshift.landing import landed_days

    if count < 1:
        raise ValueError(f"the status covers at least one day, got {count}")
    landed = landed_days(root, EVENTS, EVENTS_PARTITION)[-1:]
    yesterday = today - dt.timedelta(days=1)
    if not landed or landed[0] >= today - dt.timedelta(days=7):
        end = yesterday
    else:
        end = max(d for d in (landed[0], newest_recorded) if d is not None)
    return [end - dt.timedelta(days=i) for i in reversed(range(count))]


# The newest day a run published or missed its deadline for.
_NEWEST = {
    "scoring_runs": "SELECT max(score_date) FROM scoring_runs WHERE status = 'succeeded'",
    "deadline_misses": "SELECT max(score_date) FROM deadline_misses",
}


def newest_recorded_day(url: str) -> dt.date | None:
    with connect(url) as conn, conn.cursor() as cur:
        found = [row[0] for table, query in _NEWEST.items() for row in _rows(cur, table, query, {}) if row[0] is not None]
    return max(found, default=None)
