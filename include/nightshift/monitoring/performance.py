"""Realized performance: what a day's published scores achieved once its labels are known.

A score date's label window closes when a customers snapshot at least ``label_horizon_days`` later
has landed (the snapshot its labels are read from, as for training). Then the published
probabilities of that date are compared with what happened: ROC AUC, PR AUC, Brier and expected
calibration error, for every customer and within each plan and region, with the very functions
the training gate uses, so a realized figure and a backtest figure mean the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

from nightshift.contract import PLANS, REGIONS
from nightshift.features.point_in_time import label_snapshots
from nightshift.warehouse.rows import ALL, ROC_AUC, PerformanceRow

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

ECE = "expected_calibration_error"


def matured_dates(scored: Sequence[date], snapshots: Sequence[date], day: date, horizon_days: int) -> dict[date, date]:
    """Scored dates whose labels are known on ``day``, each with the snapshot its labels come from.

    Only snapshots landed by ``day`` count: a run for an old day never reads labels from its future.
    """
    landed = [s for s in snapshots if s <= day]
    return label_snapshots(landed, [s for s in scored if s < day], horizon_days)


def segment_masks(frame: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """(segment, row mask) for every customer, each plan and each region: the segments every realized and estimated figure is given for."""
    import pandas as pd

    out = [(ALL, pd.Series(True, index=frame.index))]
    for kind, values in (("plan", PLANS), ("region", REGIONS)):
        out += [(f"{kind}={value}", frame[kind] == value) for value in values]
    return out


def segment_metrics(frame: pd.DataFrame, calibration_bins: int) -> list[tuple[str, str, float, int, int]]:
    """(segment, metric, value, rows, positives) for one model's scores of one date.

    ``frame`` holds label, churn_probability, plan and region per customer. ROC AUC and PR AUC need
    both outcomes in a segment; a segment with one of them has Brier and calibration only (logged),
    never a made-up AUC.
    """
    from nightshift.model.evaluation import calibration_metrics, evaluate

    out = []
    for segment, inside in segment_masks(frame):
        part = frame[inside]
        if part.empty:
            continue
        y, p = part["label"].to_numpy(), part["churn_probability"].to_numpy()
        positives = int(y.sum())
        metrics = calibration_metrics(y, p, calibration_bins)
        if 0 < positives < len(y):
            ranking = evaluate(y, p)
            metrics = {ROC_AUC: ranking["roc_auc"], "pr_auc": ranking["pr_auc"], **metrics}
        else:
            log.info("no ROC/PR AUC for %s: %d rows, all labelled %d", segment, len(y), int(y[0]))
        out += [(segment, metric, float(value), len(part), positives) for metric, value in metrics.items()]
    return out


def realized_rows(score_date: date, model_name: str, frame: pd.DataFrame, calibration_bins: int) -> list[PerformanceRow]:
    """Every row of ``model_performance`` for one date: one set per model version that served it."""
    rows = []
    for version, part in frame.groupby("model_version", sort=True):
        rows += [
            PerformanceRow(score_date, model_name, str(version), segment, metric, value, n, positives)
            for segment, metric, value, n, positives in segment_metrics(part, calibration_bins)
        ]
    return rows


def performance_reason(realized: Sequence[PerformanceRow], champion_version: str | None, floors: Mapping[str, float]) -> str | None:
    """A retrain reason when the champion's newest realized ROC AUC (every customer) is below the gate's floor."""
    floor = floors.get(ROC_AUC)
    mine = [r for r in realized if r.segment == ALL and r.metric == ROC_AUC and r.model_version == champion_version]
    if floor is None or not mine:
        return None
    newest = max(mine, key=lambda r: r.score_date)
    if newest.value >= float(floor):
        return None
    return (
        f"realized ROC AUC {newest.value:.4f} of version {newest.model_version} on {newest.score_date} "
        f"({newest.rows} labelled customers) is below the gate floor {float(floor)}"
    )


def calibration_reason(realized: Sequence[PerformanceRow], champion_version: str | None, ceilings: Mapping[str, float]) -> str | None:
    """A retrain reason when the champion's newest realized expected calibration error (every customer) is above the gate's ceiling.

    The probabilities served are calibrated at training; a model whose matured scores are off by more
    than the gate would let a new version be is as much a reason to retrain as a low realized ROC AUC.
    """
    ceiling = ceilings.get(ECE)
    mine = [r for r in realized if r.segment == ALL and r.metric == ECE and r.model_version == champion_version]
    if ceiling is None or not mine:
        return None
    newest = max(mine, key=lambda r: r.score_date)
    if newest.value <= float(ceiling):
        return None
    return (
        f"realized expected calibration error {newest.value:.4f} of version {newest.model_version} on {newest.score_date} "
        f"({newest.rows} labelled customers) is above the gate ceiling {float(ceiling)}"
    )


def performance_table(rows: Sequence[PerformanceRow]) -> str:
    """One line per date, version and segment: the four metrics side by side (blank where not defined)."""
    metrics = ("roc_auc", "pr_auc", "brier", "expected_calibration_error")
    lines: dict[tuple[date, str, str], dict[str, PerformanceRow]] = {}
    for r in rows:
        lines.setdefault((r.score_date, r.model_version, r.segment), {})[r.metric] = r
    head = f"{'score_date':<11} {'version':<8} {'segment':<16} {'rows':>8} {'churned':>8} " + " ".join(
        f"{name:>8}" for name in ("roc_auc", "pr_auc", "brier", "ece")
    )
    out = [head, "-" * len(head)]
    for (day, version, segment), found in lines.items():
        any_row = next(iter(found.values()))
        values = " ".join(f"{found[m].value:>8.4f}" if m in found else f"{'':>8}" for m in metrics)
        out.append(f"{day.isoformat():<11} {version:<8} {segment:<16} {any_row.rows:>8} {any_row.positives:>8} {values}")
    return "\n".join(out)
