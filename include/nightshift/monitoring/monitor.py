"""Monitor one scoring date end to end: measure its drift, decide, store the date atomically, render its report.

Inputs are references, as ``scoring_runs`` recorded the date's published run (``scored_day``): the date,
the model name and version that scored it, where scoring wrote its features and scores. The decision is written with its
reason whatever it is; the caller raises the ``churn_drift`` Asset only when it says retrain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from nightshift.contract import CUSTOMERS, CUSTOMERS_PARTITION
from nightshift.landing import landed_days
from nightshift.monitoring.calibration import MonthCalibration, month_of, monthly_calibration
from nightshift.monitoring.drift import PSI, SCORE, DayDrift, DriftSettings, NotEnoughRowsError, measure_day
from nightshift.monitoring.estimated import auc_series, estimate_reason
from nightshift.monitoring.performance import calibration_reason, performance_reason
from nightshift.monitoring.policy import DriftPolicy, PastDay, Verdict, decide, not_enough_rows
from nightshift.monitoring.reference import champion_date_max, load_reference
from nightshift.monitoring.report import AucHistory, write_report
from nightshift.warehouse.calibration import ensure_calibration_schema, read_calibration
from nightshift.warehouse.drift import DriftRun, MetricRow, ensure_drift_schema, read_drift_runs, write_drift
from nightshift.warehouse.estimated import read_estimated
from nightshift.warehouse.performance import ensure_performance_schema, read_performance

log = logging.getLogger(__name__)

# Days of estimated and realized ROC AUC the report's chart shows (three label horizons).
REPORT_DAYS = 90
# Calendar months of realized calibration the drift report shows, the day's own month included.
REPORT_MONTHS = 6


def newest_labelled(snapshots: list[date], day: date, horizon_days: int) -> date | None:
    """The newest snapshot date whose label is known on ``day``: at least ``horizon_days`` older than the newest landed by then."""
    landed = [d for d in snapshots if d <= day]
    if not landed:
        return None
    known = [d for d in landed if (landed[-1] - d).days >= horizon_days]
    return known[-1] if known else None


def metric_rows(drift: DayDrift | None) -> list[MetricRow]:
    return [] if drift is None else [MetricRow(m.column, m.metric, m.value, m.threshold, m.drifted) for m in drift.metrics]


@dataclass(frozen=True)
class _Context:
    """What the decision weighs besides the day's drift: the champion, recent decisions, labels, realized performance."""

    champion_version: str | None
    champion_max: date | None
    history: list[PastDay]
    labelled: date | None
    underperforming: str | None
    # Days of the day's shortest feature window accepted as missing (policy: drift over them is no retrain).
    accepted_gaps: tuple[date, ...] = ()


def monitor_day(
    day: date,
    database_url: str,
    model_name: str,
    model_version: str,
    params: dict[str, Any],
    data_dir: Path,
    features_path: Path,
    scores_path: Path,
    reports_root: Path,
    accepted_gaps: list[date] | None = None,
) -> dict[str, Any]:
    """Measure, decide, store and report ``day``; returns the summary (decision, reason, drifted columns, report path).

    ``accepted_gaps``: days of the day's shortest feature window accepted as missing (policy: not a retrain).
    """
    drift_params = params["drift"]
    settings = DriftSettings.from_params(drift_params)
    policy = DriftPolicy.from_params(drift_params)
    ensure_drift_schema(database_url)
    reference = load_reference(model_name, model_version)
    context = replace(_context(day, database_url, model_name, params, data_dir, policy), accepted_gaps=tuple(accepted_gaps or ()))
    drift, rows, verdict = _measure_and_decide(day, features_path, scores_path, reference.distributions, settings, policy, context)
    log.info("drift of %s (%s version %s): %s: %s", day, model_name, model_version, verdict.decision, verdict.reason)

    auc = auc_history(database_url, day, (params["gate"].get("floors") or {}).get("roc_auc"))
    months = calibration_months(database_url, day, REPORT_MONTHS)
    title = f"{model_name} version {model_version}"
    ceiling = (params["gate"].get("ceilings") or {}).get("expected_calibration_error")
    report = write_report(
        reports_root, day, title, drift, reference.distributions["score"], verdict, auc=auc, calibration=months, ece_ceiling=ceiling
    )
    drifted_columns = ([SCORE] if drift.score_drifted else []) + drift.drifted_inputs if drift else []
    run = DriftRun(
        score_date=day,
        model_name=model_name,
        model_version=str(model_version),
        rows=rows,
        drifted_columns=drifted_columns,
        score_psi=drift.psi_of(SCORE) if drift else None,
        drifted=verdict.drifted,
        decision=verdict.decision,
        reason=verdict.reason,
        report_path=str(report),
    )
    write_drift(database_url, run, metric_rows(drift))
    return _summary(run, verdict, drift, context.champion_version)


def auc_history(database_url: str, day: date, floor: float | None) -> AucHistory:
    """The report's chart: estimated and realized ROC AUC of every customer over the `REPORT_DAYS` up to ``day``."""
    since = day - timedelta(days=REPORT_DAYS)
    estimated = auc_series(read_estimated(database_url, since, day))
    realized = auc_series(read_performance(database_url, since, day))
    return AucHistory(estimated, realized, None if floor is None else float(floor))


def _context(day: date, database_url: str, model_name: str, params: dict[str, Any], data_dir: Path, policy: DriftPolicy) -> _Context:
    champion_version, champion_max = champion_date_max(model_name, params["model"]["champion_alias"])
    lookback = max(policy.consecutive_days, policy.cooldown_days) + 1
    history = [PastDay(r.score_date, r.drifted, r.decision) for r in read_drift_runs(database_url, day, lookback)]
    horizon = int(params["train"]["label_horizon_days"])
    labelled = newest_labelled(landed_days(data_dir, CUSTOMERS, CUSTOMERS_PARTITION), day, horizon)
    # The champion's newest realized figure, if its label window closed recently: an older one is stale.
    ensure_performance_schema(database_url)
    realized = read_performance(database_url, day - timedelta(days=horizon + policy.cooldown_days), day)
    gate = params["gate"]
    floors = gate.get("floors") or {}
    # The estimate from the scores alone under the floor on `consecutive_days` days in a row: a month before labels can tell.
    estimated = read_estimated(database_url, day - timedelta(days=policy.consecutive_days), day)
    reasons = (
        performance_reason(realized, champion_version, floors),
        calibration_reason(realized, champion_version, gate.get("ceilings") or {}),
        estimate_reason(estimated, champion_version, floors, day, policy.consecutive_days),
    )
    underperforming = "; ".join(r for r in reasons if r) or None
    return _Context(champion_version, champion_max, history, labelled, underperforming)


def calibration_months(database_url: str, day: date, months: int) -> list[MonthCalibration]:
    """Realized calibration of the ``months`` calendar months up to ``day``'s, from labels landed by ``day`` only.

    Only what was known on ``day``: a rerun of an old day's report shows what that day's showed.
    """
    first = month_of(day)
    for _ in range(months - 1):
        first = month_of(first - timedelta(days=1))
    ensure_calibration_schema(database_url)
    return monthly_calibration(read_calibration(database_url, first, day, known_by=day))


def _measure_and_decide(
    day: date,
    features_path: Path,
    scores_path: Path,
    distributions: dict[str, Any],
    settings: DriftSettings,
    policy: DriftPolicy,
    context: _Context,
) -> tuple[DayDrift | None, int, Verdict]:
    """The day's drift (None when too few rows to measure), its row count and the policy's verdict."""
    try:
        drift = measure_day(features_path, scores_path, distributions, settings)
    except NotEnoughRowsError as exc:
        return None, exc.rows, not_enough_rows(str(exc))
    verdict = decide(
        day,
        drift.score_drifted,
        drift.drifted_inputs,
        context.history,
        context.labelled,
        context.champion_max,
        policy,
        severe_inputs=drift.severe_inputs(settings.severe_psi),
        performance_reason=context.underperforming,
        accepted_gaps=context.accepted_gaps,
    )
    return drift, drift.rows, verdict


def _summary(run: DriftRun, verdict: Verdict, drift: DayDrift | None, champion_version: str | None) -> dict[str, Any]:
    return {
        "score_date": run.score_date.isoformat(),
        "model_name": run.model_name,
        "model_version": run.model_version,
        "champion_version": champion_version,
        "rows": run.rows,
        "drifted": verdict.drifted,
        "decision": verdict.decision,
        "reason": verdict.reason,
        "retrain": verdict.retrain,
        "drifted_columns": run.drifted_columns,
        "score_psi": run.score_psi,
        "psi": {m.column: m.value for m in (drift.metrics if drift else []) if m.metric == PSI},
        "report": run.report_path,
    }
