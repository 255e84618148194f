"""The per-date drift report: a PNG (PSI per column against its threshold, the score's histogram against the
reference's) and an HTML page around it with the decision and every metric.

Written to ``<reports dir>/score_date=YYYY-MM-DD/`` (``report.png``, ``index.html``), which the Airflow
UI serves (plugins/nightshift_ui.py, Browse > Drift reports) and `nightshift drift show` names.

A model has some thirty inputs, and a reader wants the few that moved: the report, its PNG and the
terminal table show the score, every drifted column and the `TOP_COLUMNS` largest PSIs first; the
rest, all below their thresholds, are folded (a ``<details>`` block in HTML, one summary line in the
terminal unless ``--all``) and left out of the PNG.

Below the drift, the page shows the realized calibration of the months up to the date, once score
dates' labels have matured (nightshift.monitoring.calibration): per month and version, the expected
calibration error (red above the gate's ceiling) and each decile's mean score against its realized churn rate.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from nightshift.monitoring.calibration import MonthCalibration
from nightshift.monitoring.drift import MEAN_SHIFT, NULL_CHANGE, PSI, SCORE, DayDrift
from nightshift.monitoring.policy import Verdict
from nightshift.warehouse.drift import DriftRun, MetricRow

# Columns shown by PSI before the rest is folded (the score and every drifted column are shown anyway).
TOP_COLUMNS = 10


@dataclass(frozen=True)
class AucHistory:
    """ROC AUC of every customer per score date: estimated from the scores the night they were served, realized
    once their labels matured; ``floor`` is the gate's.
    """

    estimated: Sequence[tuple[date, float]]
    realized: Sequence[tuple[date, float]]
    floor: float | None = None


def auc_figure(history: AucHistory, day: date):
    """One chart: estimated and realized ROC AUC over the days, the gate floor, the reported day marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), dpi=100)
    ax = fig.subplots()
    for points, label, style in ((history.estimated, "estimated (scores alone)", "o--"), (history.realized, "realized (labels)", "s-")):
        if points:
            ax.plot([d for d, _ in points], [v for _, v in points], style, markersize=3, label=label)
    if history.floor is not None:
        ax.axhline(history.floor, color="#c0392b", linewidth=1, label=f"gate floor {history.floor:g}")
    ax.axvline(day, color="#7f8c8d", linewidth=0.8, linestyle=":")
    ax.set_ylabel("ROC AUC, every customer")
    ax.set_title("ROC AUC per score date: estimated the night it was scored, realized when its labels matured")
    ax.legend(loc="lower left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def report_dir(reports_root: Path, day: date) -> Path:
    return reports_root / f"score_date={day.isoformat()}"


def shown_columns(psi: Mapping[str, float | None], drifted: set[str], top: int = TOP_COLUMNS) -> tuple[list[str], list[str]]:
    """(shown, folded): the score, drifted columns and the ``top`` largest PSIs first, largest PSI first; the rest after.

    ``psi`` maps every column to its PSI (None when it has none); ``drifted`` holds the columns with any metric flagged.
    """

    def key(column: str) -> tuple[bool, float, str]:
        value = psi.get(column)
        return (column != SCORE, -(value if value is not None and not math.isnan(value) else -1.0), column)

    ordered = sorted(psi, key=key)
    by_psi = [c for c in ordered if c != SCORE][:top]
    keep = {c for c in ordered if c == SCORE or c in drifted or c in by_psi}
    return [c for c in ordered if c in keep], [c for c in ordered if c not in keep]


def _bin_labels(cuts: Sequence[float]) -> list[str]:
    edges = ["-inf", *(f"{c:.3g}" for c in cuts), "inf"]
    return [f"({edges[i]}, {edges[i + 1]}]" for i in range(len(edges) - 1)]


def drift_figure(day: date, drift: DayDrift, score_reference: Mapping[str, Any], title: str):
    """Two panels: PSI of every column (drifted ones red, each threshold marked), the score's bin shares against the reference."""
    import numpy as np
    from matplotlib.figure import Figure

    shown, folded = _day_columns(drift)
    psis = sorted((m for m in drift.metrics if m.metric == PSI and m.column in shown), key=lambda m: m.value or 0.0)
    fig = Figure(figsize=(13, max(5.0, 0.26 * len(psis) + 1.5)), dpi=100)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    y = np.arange(len(psis))
    # PSI spans orders of magnitude between a quiet and a drifted column: cap the bars, print the value.
    cap = max([m.threshold or 0.0 for m in psis] + [0.5]) * 2
    values = [min(m.value or 0.0, cap) for m in psis]
    left.barh(y, values, color=["#c0392b" if m.drifted else "#7f8c8d" for m in psis])
    left.scatter([m.threshold for m in psis], y, marker="|", s=200, color="black", label="threshold")
    for i, m in enumerate(psis):
        left.text(values[i], i, f" {m.value:.3f}", va="center", fontsize=7)
    left.set_yticks(y, [m.column for m in psis], fontsize=7)
    left.set_xlim(0, cap * 1.25)
    left.set_xlabel("PSI (drifted in red)")
    left.set_title("PSI per column" + (f" (drifted and top {TOP_COLUMNS}; {len(folded)} more below threshold)" if folded else ""))
    left.legend(loc="lower right")

    reference = np.asarray(score_reference.get("fractions", []), dtype="float64")
    counts = np.asarray(drift.score_counts, dtype="float64")
    today = counts / counts.sum() if counts.sum() else counts
    x = np.arange(len(reference))
    right.bar(x - 0.2, reference, width=0.4, label="reference", color="#2980b9")
    right.bar(x + 0.2, today[: len(reference)], width=0.4, label=day.isoformat(), color="#e67e22")
    right.set_xticks(x, _bin_labels(score_reference.get("cuts", [])), rotation=60, ha="right", fontsize=7)
    right.set_ylabel("share of rows")
    score_psi = drift.psi_of(SCORE)
    right.set_title(f"score on the reference's bins (PSI {score_psi:.3f})" if score_psi is not None else "score")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _day_columns(drift: DayDrift) -> tuple[list[str], list[str]]:
    psi = {m.column: m.value for m in drift.metrics if m.metric == PSI}
    for m in drift.metrics:
        psi.setdefault(m.column, None)
    return shown_columns(psi, {m.column for m in drift.metrics if m.drifted})


def _rows_html(metrics: Sequence) -> str:
    rows = ""
    for m in metrics:
        style = ' style="color:#c0392b;font-weight:bold"' if m.drifted else ""
        rows += (
            f"<tr{style}><td>{html.escape(m.column)}</td><td>{m.metric}</td><td>{_cell(m.value)}</td>"
            f"<td>{_cell(m.threshold)}</td><td>{'yes' if m.drifted else ''}</td></tr>"
        )
    return rows


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def calibration_html(months: Sequence[MonthCalibration], ece_ceiling: float | None) -> str:
    """The realized calibration section: one row per month and version, ECE and every decile's mean score / realized rate."""
    head = "<h2>Realized calibration per month</h2>"
    if not months:
        return f"{head}<p>None yet: a score date's calibration is measured once its label window has closed.</p>"
    n_bins = max(len(m.deciles) for m in months)
    rows = ""
    for m in months:
        bad = ece_ceiling is not None and m.ece > ece_ceiling
        ece = f'<td style="color:#c0392b;font-weight:bold">{m.ece:.4f}</td>' if bad else f"<td>{m.ece:.4f}</td>"
        cells = "".join(f"<td>{d.mean_score:.3f} / {d.realized_rate:.3f}</td>" for d in m.deciles)
        rows += (
            f"<tr><td>{m.month:%Y-%m}</td><td>{html.escape(m.model_version)}</td><td>{m.dates}</td><td>{m.rows}</td>"
            f"<td>{m.positives}</td><td>{m.mean_score:.4f}</td><td>{m.realized_rate:.4f}</td>{ece}{cells}</tr>"
        )
    ceiling = "" if ece_ceiling is None else f" (red: above the gate's ceiling {ece_ceiling})"
    deciles = "".join(f"<th>bin {b + 1}</th>" for b in range(n_bins))
    return (
        f"{head}<p>Published probabilities against what happened, over each month's score dates whose labels had matured by "
        f"this date. ECE on equal-width probability bins{html.escape(ceiling)}; bins 1 to {n_bins}: each day's scores cut into "
        "equal-count bins (lowest first), pooled over the month, as mean score / realized churn rate.</p>"
        # One line per month: "0.012 / 0.010" cells wrapped over two lines read as two figures.
        '<table style="white-space:nowrap"><tr><th>month</th><th>version</th><th>dates</th><th>customer-days</th><th>churned</th>'
        f"<th>mean score</th><th>realized rate</th><th>ECE</th>{deciles}</tr>{rows}</table>"
    )


def write_report(
    reports_root: Path,
    day: date,
    model: str,
    drift: DayDrift | None,
    score_reference: Mapping[str, Any],
    verdict: Verdict,
    auc: AucHistory | None = None,
    calibration: Sequence[MonthCalibration] = (),
    ece_ceiling: float | None = None,
) -> Path:
    """Write the date's report (PNG and HTML; HTML only for a day too small to measure) and return the HTML path.

    ``auc``: estimated and realized ROC AUC over the days before, drawn on one chart (``performance.png``) when any is known.
    ``calibration``: the realized calibration of the months up to ``day`` (``calibration_html``).
    """
    out = report_dir(reports_root, day)
    out.mkdir(parents=True, exist_ok=True)
    title = f"Drift {day.isoformat()}: {model}, {drift.rows if drift else 0} rows, decision {verdict.decision}"
    image = ""
    rows = ""
    rest = ""
    if drift is not None:
        drift_figure(day, drift, score_reference, title).savefig(out / "report.png")
        image = '<p><img src="report.png" alt="PSI per column and the score histogram" style="max-width:100%"></p>'
        shown, folded = _day_columns(drift)
        order = {c: i for i, c in enumerate(shown + folded)}
        metrics = sorted(drift.metrics, key=lambda m: (order[m.column], m.metric != PSI, m.metric))
        rows = _rows_html([m for m in metrics if m.column in shown])
        if folded:
            rest = (
                f"<details><summary>{len(folded)} more columns below threshold</summary>"
                f"<table><tr><th>column</th><th>metric</th><th>value</th><th>threshold</th><th>drifted</th></tr>"
                f"{_rows_html([m for m in metrics if m.column not in shown])}</table></details>"
            )
    if auc is not None and (auc.estimated or auc.realized):
        auc_figure(auc, day).savefig(out / "performance.png")
        image += '<p><img src="performance.png" alt="estimated and realized ROC AUC per day" style="max-width:100%"></p>'
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 10px;text-align:left}} table{{border-collapse:collapse}}
tr:nth-child(even){{background:#f4f4f4}}</style></head>
<body><p><a href="../">all dates</a></p><h1>{html.escape(title)}</h1>
<p><b>{html.escape(verdict.decision)}</b>: {html.escape(verdict.reason)}</p>
{image}
<table><tr><th>column</th><th>metric</th><th>value</th><th>threshold</th><th>drifted</th></tr>{rows}</table>
{rest}
{calibration_html(calibration, ece_ceiling)}
</body></html>
"""
    (out / "index.html").write_text(page)
    return out / "index.html"


def drift_table(run: DriftRun, metrics: Sequence[MetricRow], show_all: bool = False) -> str:
    """A date's drift as terminal text: the decision and its reason, then one line per column, largest PSI first.

    The score, drifted columns and the `TOP_COLUMNS` largest PSIs are listed; the rest are summed up
    in one line unless ``show_all``.
    """
    by_column: dict[str, dict[str, MetricRow]] = {}
    for m in metrics:
        by_column.setdefault(m.column, {})[m.metric] = m
    score_psi = "-" if run.score_psi is None else f"{run.score_psi:.3f}"
    lines = [
        f"drift on {run.score_date}: {run.model_name} version {run.model_version}, {run.rows} rows, score PSI {score_psi}",
        f"decision  {run.decision}: {run.reason}",
    ]
    if by_column:
        lines += ["", f"{'column':<26} {'psi':>8} {'threshold':>9} {'null chg':>9} {'mean shift sd':>14}  drifted"]

        psi = {c: (row[PSI].value if PSI in row else None) for c, row in by_column.items()}
        shown, folded = shown_columns(psi, {c for c, row in by_column.items() if any(m.drifted for m in row.values())})
        for column in shown + folded if show_all else shown:
            row = by_column[column]
            p, n, s = row.get(PSI), row.get(NULL_CHANGE), row.get(MEAN_SHIFT)
            flags = [name for name, m in (("psi", p), ("nulls", n), ("mean", s)) if m is not None and m.drifted]
            lines.append(
                f"{column:<26} {_fixed(p, 8, 3)} {_fixed(p, 9, 3, 'threshold')} {_fixed(n, 9, 3)} {_fixed(s, 14, 2)}  {','.join(flags)}"
            )
        if folded and not show_all:
            lines.append(f"... {len(folded)} more columns below threshold, --all to show")
    if run.report_path:
        lines += ["", f"report    {run.report_path}   (Airflow UI: Browse > Drift reports)"]
    return "\n".join(lines)


def _fixed(metric: MetricRow | None, width: int, digits: int, field: str = "value") -> str:
    value = None if metric is None else getattr(metric, field)
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width}.{digits}f}" if math.isfinite(value) else f"{value!s:>{width}}"
