"""Drift monitoring against real PostgreSQL and a real MLflow store: the tables, an atomic rerun, the decision over days."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import psycopg2
import pytest

from nightshift.config import load_params
from nightshift.monitoring.monitor import monitor_day, newest_labelled
from nightshift.warehouse.drift import (
    DriftRun,
    MetricRow,
    ensure_drift_schema,
    read_drift_metrics,
    read_drift_run,
    write_drift,
)
from tests.pg_helpers import create_database, query
from tests.unit.monitoring._days import features, reference, scores, write_day

pytestmark = pytest.mark.integration

MODEL = "churn_xgb"
DAY = dt.date(2026, 7, 13)


@pytest.fixture
def db(pg_url: str) -> str:
    """A database of its own: drift history is per date, and other tests' dates must not leak into it."""
    return create_database(pg_url, f"drift_{uuid.uuid4().hex[:10]}")


def _run(day: dt.date, decision: str = "no_drift", rows: int = 300) -> DriftRun:
    return DriftRun(day, MODEL, "1", rows, ["monthly_fee"], 0.01, decision == "retrain", decision, f"because {decision}", None)


def test_a_rerun_replaces_the_dates_rows_and_leaves_other_dates(db: str) -> None:
    ensure_drift_schema(db)
    other = DAY + dt.timedelta(days=1)
    write_drift(db, _run(other), [MetricRow("tenure_days", "psi", 0.02, 0.25, False)])
    write_drift(db, _run(DAY), [MetricRow(c, "psi", 0.5, 0.25, True) for c in ("a", "b", "c")])
    write_drift(
        db, _run(DAY, "retrain", rows=310), [MetricRow("a", "psi", 0.1, 0.25, False), MetricRow("a", "mean_shift_sd", None, 0.5, False)]
    )

    assert [(m.column, m.metric, m.value) for m in read_drift_metrics(db, DAY)] == [("a", "mean_shift_sd", None), ("a", "psi", 0.1)]
    run = read_drift_run(db, DAY)
    assert run is not None and run.decision == "retrain" and run.rows == 310 and run.drifted_columns == ["monthly_fee"]
    assert query(db, "SELECT count(*) FROM drift_runs WHERE score_date = %s", (DAY,)) == [(1,)]
    assert [m.column for m in read_drift_metrics(db, other)] == ["tenure_days"]


def test_a_failed_rerun_leaves_the_date_as_it_was(db: str) -> None:
    ensure_drift_schema(db)
    write_drift(db, _run(DAY), [MetricRow("a", "psi", 0.5, 0.25, True)])
    # A NULL column name violates the table's NOT NULL after the delete ran: the transaction must roll back whole.
    with pytest.raises(psycopg2.IntegrityError):
        write_drift(db, _run(DAY, "retrain"), [MetricRow("b", "psi", 0.1, 0.25, False), MetricRow(None, "psi", 0.1, 0.25, False)])
    assert [(m.column, m.value) for m in read_drift_metrics(db, DAY)] == [("a", 0.5)]
    assert read_drift_run(db, DAY).decision == "no_drift"


def test_newest_labelled_snapshot_is_a_horizon_behind_the_newest_landed() -> None:
    days = [dt.date(2026, 6, 1) + dt.timedelta(days=i) for i in range(60)]
    assert newest_labelled(days, dt.date(2026, 7, 15), 30) == dt.date(2026, 6, 15)
    assert newest_labelled(days, dt.date(2026, 6, 20), 30) is None
    assert newest_labelled(days, dt.date(2026, 5, 1), 30) is None


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real MLflow store holding version 1 of the model, champion, with a reference and a training window."""
    import mlflow

    from nightshift.model.registry import ensure_experiment, registry_client

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(tmp_path / "artifacts"))
    client = registry_client()
    ensure_experiment(MODEL)
    client.create_registered_model(MODEL)

    def register(ref: dict, date_max: str, champion: bool) -> str:
        with mlflow.start_run() as run:
            mlflow.log_param("data.date_max", date_max)
            mlflow.log_dict(ref, "reference/distributions.json")
        version = client.create_model_version(MODEL, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id).version
        if champion:
            client.set_registered_model_alias(MODEL, "champion", version)
        return str(version)

    return register


def _landing_zone(root: Path, first: dt.date, days: int) -> Path:
    for i in range(days):
        (root / "customers" / f"snapshot_date={(first + dt.timedelta(days=i)).isoformat()}").mkdir(parents=True)
    return root


def test_days_are_judged_against_the_version_that_scored_them_and_drift_asks_for_a_retrain(db: str, registry, tmp_path: Path) -> None:
    params = load_params()
    base = features(3000, seed=1)
    v1 = registry(reference(base), "2026-05-29", champion=True)
    data = _landing_zone(tmp_path / "raw", dt.date(2026, 3, 1), 140)
    reports = tmp_path / "reports"

    def run_day(offset: int, fee_factor: float, version: str = v1) -> dict:
        day = DAY + dt.timedelta(days=offset)
        frame = features(600, seed=10 + offset, fee_factor=fee_factor)
        f, s = write_day(tmp_path / day.isoformat(), frame, scores(frame))
        return monitor_day(day, db, MODEL, version, params, data, f, s, reports)

    clean = run_day(-1, 1.0)
    assert clean["decision"] == "no_drift" and not clean["retrain"]
    first = run_day(0, 1.1)
    assert first["decision"] == "drift_not_persistent" and first["drifted_columns"] == ["monthly_fee"]
    assert "severe drift of monthly_fee" in first["reason"]

    # A new champion trained on the price rise: day 2 was still scored by version 1, so it is judged against version 1.
    registry(reference(features(3000, seed=1, fee_factor=1.1)), "2026-06-05", champion=True)
    second = run_day(1, 1.1)
    assert second["decision"] == "retrain" and second["retrain"]
    assert second["model_version"] == v1 and second["champion_version"] == "2"
    assert "labels up to 2026-06-14, newer than the champion's 2026-06-05" in second["reason"]

    # The day is on record: every input and the score, PSI with its threshold; the report is on disk.
    day2 = DAY + dt.timedelta(days=1)
    metrics = read_drift_metrics(db, day2)
    psis = {m.column: m for m in metrics if m.metric == "psi"}
    assert {"monthly_fee", "plan", "region", "score", "tenure_days"} <= set(psis) and psis["monthly_fee"].drifted
    # Every metric has a row: the drifted columns and the top ten by PSI in the table, the rest folded with a header of their own.
    page = Path(second["report"]).read_text()
    assert page.count("<tr") == len(metrics) + 2 and "more columns below threshold</summary>" in page
    assert (Path(second["report"]).parent / "report.png").stat().st_size > 10_000

    # A rerun of the date replaces its rows and decides the same (its own earlier row does not extend the streak).
    again = run_day(1, 1.1)
    assert again["decision"] == "retrain"
    assert query(db, "SELECT count(*) FROM drift_metrics WHERE score_date = %s", (day2,)) == [(len(metrics),)]
    assert query(db, "SELECT count(*) FROM drift_runs") == [(3,)]

    # The next drifted day is inside the cooldown of the retrain just asked for.
    third = run_day(2, 1.1)
    assert third["decision"] == "drift_cooldown" and not third["retrain"]


def test_a_tiny_day_is_recorded_as_not_enough_rows(db: str, registry, tmp_path: Path) -> None:
    v1 = registry(reference(features(3000, seed=1)), "2026-05-29", champion=True)
    frame = features(20, seed=3)
    f, s = write_day(tmp_path / "day", frame, scores(frame))
    result = monitor_day(DAY, db, MODEL, v1, load_params(), _landing_zone(tmp_path / "raw", DAY, 1), f, s, tmp_path / "reports")
    assert result["decision"] == "not_enough_rows" and result["rows"] == 20 and not result["retrain"]
    assert "20 rows scored, fewer than drift.min_rows=200" in result["reason"]
    run = read_drift_run(db, DAY)
    assert run.decision == "not_enough_rows" and run.rows == 20 and run.score_psi is None
    assert read_drift_metrics(db, DAY) == []


def test_drift_show_prints_the_date_and_says_when_there_is_none(db: str) -> None:
    import os
    import subprocess
    import sys

    ensure_drift_schema(db)
    write_drift(db, _run(DAY, "retrain"), [MetricRow("monthly_fee", "psi", 2.5, 0.25, True)])
    env = {**os.environ, "NIGHTSHIFT_DATABASE_URL": db}
    cli = [sys.executable, "-m", "nightshift.cli", "drift", "show"]
    shown = subprocess.run([*cli, DAY.isoformat()], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "decision  retrain: because retrain" in shown.stdout
    assert [line.split()[:2] for line in shown.stdout.splitlines() if line.startswith("monthly_fee")] == [["monthly_fee", "2.500"]]
    missing = subprocess.run([*cli, "2026-01-01"], env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("nightshift drift: no drift recorded for 2026-01-01")


def test_a_realized_auc_below_the_floor_asks_for_a_retrain_on_a_clean_day_through_the_guards(db: str, registry, tmp_path: Path) -> None:
    from nightshift.warehouse.performance import ensure_performance_schema, write_performance
    from nightshift.warehouse.rows import PerformanceRow

    params = load_params()
    base = features(3000, seed=1)
    v1 = registry(reference(base), "2026-05-29", champion=True)
    data = _landing_zone(tmp_path / "raw", dt.date(2026, 3, 1), 140)
    matured = DAY - dt.timedelta(days=31)
    ensure_performance_schema(db)
    write_performance(db, matured, DAY - dt.timedelta(days=1), [PerformanceRow(matured, MODEL, v1, "all", "roc_auc", 0.61, 800, 50)])

    def run_day(offset: int) -> dict:
        day = DAY + dt.timedelta(days=offset)
        frame = features(600, seed=10 + offset)
        f, s = write_day(tmp_path / day.isoformat(), frame, scores(frame))
        return monitor_day(day, db, MODEL, v1, params, data, f, s, tmp_path / "reports")

    first = run_day(0)
    assert first["decision"] == "retrain" and not first["drifted"], first
    expected = f"realized ROC AUC 0.6100 of version {v1} on {matured} (800 labelled customers) is below the gate floor 0.7"
    assert first["reason"].startswith(expected)
    # Still below the floor the next day, but a retrain was asked for yesterday: the cooldown holds.
    assert run_day(1)["decision"] == "drift_cooldown"


def test_a_realized_ece_above_the_ceiling_asks_for_a_retrain_and_the_report_shows_each_months_calibration(
    db: str, registry, tmp_path: Path
) -> None:
    import pandas as pd

    from nightshift.monitoring.calibration import calibration_rows
    from nightshift.monitoring.performance import realized_rows
    from nightshift.warehouse.calibration import write_calibration
    from nightshift.warehouse.performance import ensure_performance_schema, write_performance

    params = load_params()
    v1 = registry(reference(features(3000, seed=1)), "2026-05-29", champion=True)
    data = _landing_zone(tmp_path / "raw", dt.date(2026, 3, 1), 140)
    ensure_performance_schema(db)
    # Two matured dates of June, ranked perfectly (ROC AUC 1) but off: the tenth who churned were scored 0.3, the rest 0.1.
    # ECE (|450 x 0.1 - 0| + |50 x 0.3 - 50|) / 500 = 0.16, over three times the ceiling.
    for matured in (dt.date(2026, 6, 10), dt.date(2026, 6, 11)):
        churned = [int(i % 10 == 0) for i in range(500)]
        frame = pd.DataFrame({"customer_id": range(500), "churn_probability": [0.1 + 0.2 * c for c in churned], "label": churned})
        frame = frame.assign(model_version=v1, plan="basic", region="north")
        label_snapshot = matured + dt.timedelta(days=30)
        write_calibration(db, matured, label_snapshot, calibration_rows(matured, MODEL, frame, 10))
        write_performance(db, matured, label_snapshot, realized_rows(matured, MODEL, frame, 10))

    clean = features(600, seed=10)
    f, s = write_day(tmp_path / "day", clean, scores(clean))
    result = monitor_day(DAY, db, MODEL, v1, params, data, f, s, tmp_path / "reports")
    assert result["decision"] == "retrain" and not result["drifted"], result
    expected = (
        f"realized expected calibration error 0.1600 of version {v1} on 2026-06-11 (500 labelled customers) is above the gate ceiling 0.05"
    )
    assert result["reason"].startswith(expected)
    # The report's month: both dates pooled, its ECE flagged red, each decile's mean score against its churn rate.
    page = Path(result["report"]).read_text()
    assert "<h2>Realized calibration per month</h2>" in page
    june = page.split("<td>2026-06</td>")[1]
    assert june.startswith(f"<td>{v1}</td><td>2</td><td>1000</td><td>100</td><td>0.1200</td><td>0.1000</td>")
    assert '<td style="color:#c0392b;font-weight:bold">0.1600</td>' in june
    assert june.count("<td>0.100 / 0.000</td>") == 9 and "<td>0.300 / 1.000</td></tr>" in june
    # A report of a day before those labels landed shows what was known then: nothing.
    early = monitor_day(dt.date(2026, 7, 9), db, MODEL, v1, params, data, f, s, tmp_path / "reports")
    assert "None yet" in Path(early["report"]).read_text()
