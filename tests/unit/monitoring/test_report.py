"""The terminal table of `nightshift drift show`: the decision with its reason, columns by PSI, flags."""

from __future__ import annotations

import math
from datetime import date

import pytest

from nightshift.monitoring.calibration import MonthCalibration, PooledBin
from nightshift.monitoring.report import calibration_html, drift_table
from nightshift.warehouse.drift import DriftRun, MetricRow

pytestmark = pytest.mark.unit


def test_the_table_leads_with_the_decision_and_sorts_columns_by_psi() -> None:
    run = DriftRun(
        date(2026, 7, 14), "churn_xgb", "3", 412, ["monthly_fee"], 0.042, True, "drift_not_persistent", "1 of 2 days", "/r/index.html"
    )
    metrics = [
        MetricRow("tenure_days", "psi", 0.05, 0.25, False),
        MetricRow("monthly_fee", "psi", 2.5, 0.25, True),
        MetricRow("monthly_fee", "mean_shift_sd", math.inf, 0.5, True),
        MetricRow("monthly_fee", "null_fraction_change", 0.0, 0.05, False),
        MetricRow("score", "psi", 0.042, 0.2, False),
        MetricRow("plan_basic", "mean_shift_sd", None, 0.5, False),
    ]
    lines = drift_table(run, metrics).splitlines()
    assert lines[0] == "drift on 2026-07-14: churn_xgb version 3, 412 rows, score PSI 0.042"
    assert lines[1] == "decision  drift_not_persistent: 1 of 2 days"
    assert lines[3].split()[:2] == ["column", "psi"]
    body = [line.split()[0] for line in lines[4:8]]
    assert body == ["score", "monthly_fee", "tenure_days", "plan_basic"]
    fee = lines[5]
    assert "2.500" in fee and "inf" in fee and fee.endswith("psi,mean")
    assert lines[-1].startswith("report    /r/index.html")


def test_a_day_without_metrics_still_shows_its_decision() -> None:
    run = DriftRun(date(2026, 7, 14), "churn_xgb", "3", 12, [], None, False, "not_enough_rows", "12 rows scored", None)
    assert (
        drift_table(run, []) == "drift on 2026-07-14: churn_xgb version 3, 12 rows, score PSI -\ndecision  not_enough_rows: 12 rows scored"
    )


def _wide_day() -> tuple[DriftRun, list[MetricRow]]:
    """25 inputs: two drifted (one by PSI, one only by its mean), the rest below threshold with PSIs 0.001 .. 0.023."""
    run = DriftRun(date(2026, 7, 14), "churn_xgb", "3", 900, ["monthly_fee"], 0.01, False, "no_drift", "quiet", None)
    metrics = [MetricRow("score", "psi", 0.01, 0.2, False)]
    metrics += [MetricRow(f"col_{i:02d}", "psi", 0.001 * (i + 1), 0.25, False) for i in range(23)]
    metrics += [MetricRow("monthly_fee", "psi", 0.9, 0.25, True), MetricRow("tenure_days", "psi", 0.0, 0.25, False)]
    metrics.append(MetricRow("tenure_days", "mean_shift_sd", 0.8, 0.5, True))
    return run, metrics


def test_the_table_shows_drifted_columns_and_the_top_ten_and_folds_the_rest() -> None:
    run, metrics = _wide_day()
    lines = drift_table(run, metrics).splitlines()
    body = [line.split()[0] for line in lines[4:]]
    # The score, then the ten largest PSIs (monthly_fee among them) and tenure_days, the smallest PSI but drifted.
    assert body[:12] == ["score", "monthly_fee", *[f"col_{i:02d}" for i in range(22, 13, -1)], "tenure_days"]
    assert lines[4 + 12] == "... 14 more columns below threshold, --all to show"
    assert len(lines) == 4 + 13
    everything = drift_table(run, metrics, show_all=True).splitlines()
    assert [line.split()[0] for line in everything[4:]] == [*body[:12], *[f"col_{i:02d}" for i in range(13, -1, -1)]]
    assert not any("more columns below threshold" in line for line in everything)


def test_the_html_report_folds_the_columns_below_threshold(tmp_path) -> None:
    from nightshift.monitoring.drift import DayDrift, Metric
    from nightshift.monitoring.policy import Verdict
    from nightshift.monitoring.report import write_report

    _, rows = _wide_day()
    drift = DayDrift(900, [Metric(m.column, m.metric, m.value, m.threshold, m.drifted) for m in rows], score_counts=[90] * 10)
    page = write_report(
        tmp_path,
        date(2026, 7, 14),
        "churn_xgb version 3",
        drift,
        {"cuts": [0.1 * i for i in range(1, 10)], "fractions": [0.1] * 10},
        Verdict("no_drift", "quiet", False),
    ).read_text()
    shown, folded = page.split("<details>")
    assert "14 more columns below threshold" in folded
    for column in ("score", "monthly_fee", "tenure_days", "col_22", "col_14"):
        assert f"<td>{column}</td>" in shown and f"<td>{column}</td>" not in folded
    for column in ("col_13", "col_00"):
        assert f"<td>{column}</td>" in folded and f"<td>{column}</td>" not in shown
    assert (tmp_path / "score_date=2026-07-14" / "report.png").stat().st_size > 0


def test_the_report_charts_estimated_and_realized_auc_when_either_is_known(tmp_path) -> None:
    from datetime import timedelta

    from nightshift.monitoring.policy import Verdict
    from nightshift.monitoring.report import AucHistory, write_report

    day = date(2026, 7, 14)
    estimated = [(day - timedelta(days=i), 0.8 - 0.01 * i) for i in range(40)]
    realized = [(d, v - 0.01) for d, v in estimated if d <= day - timedelta(days=31)]
    history = AucHistory(estimated, realized, floor=0.7)
    page = write_report(tmp_path, day, "churn_xgb version 3", None, {}, Verdict("not_enough_rows", "tiny", False), history).read_text()
    assert '<img src="performance.png"' in page
    assert (tmp_path / "score_date=2026-07-14" / "performance.png").stat().st_size > 0
    # Nothing estimated nor realized yet: no empty chart.
    other = day + timedelta(days=1)
    empty = write_report(tmp_path, other, "m", None, {}, Verdict("not_enough_rows", "tiny", False), AucHistory([], [])).read_text()
    assert "performance.png" not in empty and not (tmp_path / f"score_date={other}" / "performance.png").exists()


def _month(month: date, ece: float) -> MonthCalibration:
    deciles = [PooledBin(500, 0.01 * (b + 1), 0.012 * (b + 1)) for b in range(10)]
    return MonthCalibration(month, "3", 30, 5_000, 300, 0.055, ece, deciles)


def test_the_calibration_section_shows_each_month_and_flags_an_ece_above_the_ceiling() -> None:
    page = calibration_html([_month(date(2026, 5, 1), 0.012), _month(date(2026, 6, 1), 0.071)], 0.05)
    assert page.count("<tr>") == 3 and page.count("<th>bin ") == 10
    may, june = page.split("<tr>")[2:]
    assert may.startswith("<td>2026-05</td><td>3</td><td>30</td><td>5000</td><td>300</td><td>0.0550</td><td>0.0600</td><td>0.0120</td>")
    assert '<td style="color:#c0392b;font-weight:bold">0.0710</td>' in june and "color:#c0392b" not in may
    # Every decile as mean score / realized rate, lowest first.
    assert "<td>0.010 / 0.012</td>" in may and may.endswith("<td>0.100 / 0.120</td></tr>")
    assert june.endswith("<td>0.100 / 0.120</td></tr></table>")
    assert "above the gate&#x27;s ceiling 0.05" in page


def test_without_matured_labels_the_section_says_so() -> None:
    assert "None yet: a score date's calibration is measured once its label window has closed." in calibration_html([], 0.05)
