"""Realized performance on real Spark and PostgreSQL: labels from the landing zone, scores as published."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from nightshift.local.generate import generate
from nightshift.model.evaluation import calibration_metrics
from nightshift.monitoring.calibration import monthly_calibration
from nightshift.monitoring.realized import dates_to_measure, measure_realized
from nightshift.warehouse.audit import scoring_run
from nightshift.warehouse.calibration import read_calibration
from nightshift.warehouse.performance import read_performance
from nightshift.warehouse.publish import ScoreLineage, publish_score_batches
from nightshift.warehouse.schema import ensure_schema
from tests.integration.monitoring.test_monitor import db  # noqa: F401  (fixture: a database of its own)
from tests.pg_helpers import query

pytestmark = pytest.mark.integration

START = dt.date(2026, 3, 1)
SCORED = dt.date(2026, 3, 20)  # labels from the snapshot of 2026-04-19
LATER = dt.date(2026, 4, 24)  # not matured by MONITORED
MONITORED = dt.date(2026, 5, 1)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("realized") / "raw"
    generate(root, customers=400, days=75, start_date=START, seed=5)
    return root


def _snapshot(raw: Path, day: dt.date) -> pd.DataFrame:
    return pd.read_parquet(raw / "customers" / f"snapshot_date={day.isoformat()}")


def expected_labels(raw: Path, day: dt.date) -> pd.DataFrame:
    """The label rule written out by hand: active on day, churn_date in (day, day + 30] as the day + 30 snapshot says."""
    now = _snapshot(raw, day)
    churned_by_then = pd.to_datetime(now["churn_date"]).dt.date <= day
    active = now[(pd.to_datetime(now["signup_date"]).dt.date <= day) & ~(now["churn_date"].notna() & churned_by_then)]
    later = _snapshot(raw, day + dt.timedelta(days=30)).set_index("customer_id")["churn_date"]
    churn = pd.to_datetime(active["customer_id"].map(later)).dt.date
    label = churn.notna() & (churn > day) & (churn <= day + dt.timedelta(days=30))
    return pd.DataFrame({"customer_id": active["customer_id"].to_numpy(), "label": label.astype(int).to_numpy()})


def _publish(url: str, day: dt.date, frame: pd.DataFrame, version: str) -> None:
    ensure_schema(url)
    lineage = ScoreLineage("churn_xgb", version, f"run-{version}", "data-1", dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    with scoring_run(url, day, "churn_xgb", version, f"run-{version}") as run:
        publish_score_batches(url, day, lineage, [frame[["customer_id", "churn_probability"]]], scoring_run=run)


def _scores(labels: pd.DataFrame, signal: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = np.clip(signal * labels["label"].to_numpy() + rng.uniform(0, 1 - signal, len(labels)), 0, 1)
    return pd.DataFrame({"customer_id": labels["customer_id"], "churn_probability": p})


def test_published_scores_are_measured_against_their_labels_once_the_window_closes(db: str, raw: Path, spark) -> None:  # noqa: F811
    labels = expected_labels(raw, SCORED)
    assert 0 < labels["label"].sum() < len(labels)
    scores = _scores(labels, 0.3, seed=1)
    _publish(db, SCORED, scores, "1")
    _publish(db, LATER, _scores(expected_labels(raw, LATER - dt.timedelta(days=35)), 0.3, 2).head(50), "1")

    # Only snapshots landed by the monitored day count, though the landing zone holds later ones.
    assert dates_to_measure(db, raw, SCORED + dt.timedelta(days=29), 30) == {}
    todo = dates_to_measure(db, raw, MONITORED, 30)
    assert todo == {SCORED: SCORED + dt.timedelta(days=30)}

    (summary,) = measure_realized(spark, db, raw, MONITORED, todo, 30, 10)
    assert summary["labelled"] == summary["scored"] == len(labels)
    rows = {(r.segment, r.metric): r for r in read_performance(db, SCORED, SCORED)}
    expected = roc_auc_score(labels["label"], scores["churn_probability"])
    assert rows[("all", "roc_auc")].value == pytest.approx(expected)
    assert (rows[("all", "roc_auc")].rows, rows[("all", "roc_auc")].positives) == (len(labels), int(labels["label"].sum()))
    assert rows[("all", "roc_auc")].model_version == "1"
    # Plan on the score date splits the customers: the segments' rows add up to all of them.
    plans = [r.rows for (segment, metric), r in rows.items() if segment.startswith("plan=") and metric == "brier"]
    assert sum(plans) == len(labels)
    assert query(db, "SELECT DISTINCT label_snapshot FROM model_performance") == [(SCORED + dt.timedelta(days=30),)]

    # The date's calibration bins are stored with it: its month's ECE is the labelled rows' own, by the training's function.
    (march,) = monthly_calibration(read_calibration(db, SCORED, SCORED))
    scored = labels.merge(scores, on="customer_id")
    ece = calibration_metrics(scored["label"], scored["churn_probability"], 10)["expected_calibration_error"]
    assert (march.month, march.model_version, march.dates, march.rows) == (dt.date(2026, 3, 1), "1", 1, len(labels))
    assert march.ece == pytest.approx(ece) and march.positives == int(labels["label"].sum())
    assert len(march.deciles) == 10 and sum(d.rows for d in march.deciles) == len(labels)
    # Labels read from a snapshot the asking day had not seen yet are left out.
    assert read_calibration(db, SCORED, SCORED, known_by=SCORED + dt.timedelta(days=29)) == []

    # Measured dates are not measured again; a recomputation replaces the date's rows rather than adding to them.
    assert dates_to_measure(db, raw, MONITORED, 30) == {}
    _publish(db, SCORED, _scores(labels, 0.0, seed=3), "2")
    measure_realized(spark, db, raw, MONITORED, todo, 30, 10)
    again = read_performance(db, SCORED, SCORED)
    assert {r.model_version for r in again} == {"2"} and len(again) == len(rows)
    assert next(r for r in again if (r.segment, r.metric) == ("all", "roc_auc")).value < 0.65
    assert {r.model_version for r in read_calibration(db, SCORED, SCORED)} == {"2"}
