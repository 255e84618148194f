"""What drift monitoring judges a day by comes from scoring_runs, in the real embedded PostgreSQL: an event that disagrees is refused."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nightshift.monitoring.scored_day import RefusedEventError, judged_days
from nightshift.warehouse.audit import scoring_run
from nightshift.warehouse.publish import ScoreLineage, publish_score_batches
from nightshift.warehouse.schema import ensure_schema
from tests.pg_helpers import create_database

pytestmark = pytest.mark.integration

MODEL = "churn_xgb"
DAY, OTHER = dt.date(2026, 7, 14), dt.date(2026, 7, 13)


def _folders(work: Path, day: dt.date, name: str) -> dict[str, str]:
    return {f"{kind}_path": str(work / kind / f"score_date={day.isoformat()}" / f"run={name}") for kind in ("features", "scores")}


def _publish(url: str, work: Path, day: dt.date, name: str, version: str = "1") -> dict:
    """A served scoring run of ``day`` recorded with its folders and published; returns the event nightly_scoring would raise."""
    folders = _folders(work, day, name)
    rows = pd.DataFrame({"customer_id": np.arange(20), "churn_probability": np.linspace(0, 1, 20)})
    with scoring_run(url, day, MODEL, version, f"mlflow-{version}", **folders) as run:
        publish_score_batches(url, day, ScoreLineage(MODEL, version, f"mlflow-{version}", "data", dt.datetime.now(dt.UTC)), [rows], run)
    lineage = {"model_name": MODEL, "model_version": version, "run_id": f"mlflow-{version}"}
    return {"score_date": day.isoformat(), **lineage, "rows": 20, **folders}


@pytest.fixture
def scored(pg_url: str, tmp_path: Path) -> dict:
    """DAY scored twice (version 1, then version 2 replaced it), OTHER once: the events each publish raised."""
    url = create_database(pg_url, f"scored_day_{uuid.uuid4().hex[:10]}")
    ensure_schema(url)
    work = (tmp_path / "work").resolve()
    events = {"first": _publish(url, work, DAY, "first"), "other": _publish(url, work, OTHER, "other")}
    events["latest"] = _publish(url, work, DAY, "latest", version="2")
    return {"url": url, "work": work, "events": events}


def test_a_day_given_by_date_is_judged_by_its_published_runs_version_and_folders(scored: dict) -> None:
    (day,) = judged_days(scored["url"], [{"score_date": DAY.isoformat()}], scored["work"])
    latest = scored["events"]["latest"]
    assert (day.score_date, day.model_name, day.model_version) == (DAY, MODEL, "2")
    assert (str(day.features_path), str(day.scores_path)) == (latest["features_path"], latest["scores_path"])


def test_the_event_of_the_published_run_is_judged_as_recorded(scored: dict) -> None:
    days = judged_days(scored["url"], [scored["events"]["other"], scored["events"]["latest"]], scored["work"])
    assert [(d.score_date, d.model_version, d.scores_path.name) for d in days] == [(OTHER, "1", "run=other"), (DAY, "2", "run=latest")]


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"model_version": "1"}, "model_version '1', but 2026-07-14 was published by scoring run"),
        ({"model_version": "7", "model_name": "other_model"}, "model_name 'other_model', but 2026-07-14 was published by scoring run"),
        ({"scores_path": "/etc"}, "scores_path /etc is not a run folder of 2026-07-14 (expected "),
        ({"features_path": "{work}/features/score_date=2026-07-13/run=other"}, "2026-07-13/run=other is not a run folder of 2026-07-14"),
        ({"scores_path": "{work}/scores/score_date=2026-07-14/run=latest/../../score_date=2026-07-13/run=other"}, "is not a run folder of"),
        ({"scores_path": "{work}/scores/score_date=2026-07-14/run=first"}, "is another run's: 2026-07-14's published scoring run"),
    ],
    ids=["version-that-did-not-publish", "other-model", "outside-work-dir", "other-days-folder", "dot-dot", "superseded-run"],
)
def test_a_replayed_event_that_disagrees_with_the_record_is_refused_naming_the_mismatch(scored: dict, change: dict, refusal: str) -> None:
    work = str(scored["work"])
    event = {**scored["events"]["latest"], **{k: v.format(work=work) for k, v in change.items()}}
    with pytest.raises(RefusedEventError, match="refusing the churn_scores event for 2026-07-14: ") as refused:
        judged_days(scored["url"], [event], scored["work"])
    assert refusal.format(work=work) in str(refused.value)


def test_a_day_nobody_published_is_refused_naming_the_day(scored: dict) -> None:
    with pytest.raises(LookupError, match="2026-07-15 has no succeeded scoring run in scoring_runs"):
        judged_days(scored["url"], [{"score_date": "2026-07-15", "model_version": "2"}], scored["work"])
