"""What asset-triggered runs read from their events (nightshift.airflow.context): never the clock."""

from __future__ import annotations

import json
from datetime import date, datetime
from types import SimpleNamespace

import pytest

from nightshift.airflow.assets import CHURN_DRIFT, CHURN_SCORES
from nightshift.airflow.context import asset_event_extras, drift_trigger, monitored_days, training_date, trigger_tags

pytestmark = pytest.mark.unit


def _event(extra: dict, hour: int) -> SimpleNamespace:
    return SimpleNamespace(extra=extra, timestamp=datetime(2026, 7, 14, hour))


class _Events(dict):
    """Keyed like Airflow's triggering_asset_events: an Asset gives its events, an absent one raises KeyError."""


def _context(events: dict | None = None, params: dict | None = None, run_type: str = "asset_triggered") -> dict:
    return {
        "triggering_asset_events": _Events(events or {}),
        "params": params or {},
        "dag_run": SimpleNamespace(run_type=run_type, run_after=datetime(2030, 1, 1)),
        "logical_date": None,
    }


def test_event_extras_come_oldest_first_and_other_assets_give_none() -> None:
    context = _context({CHURN_SCORES: [_event({"score_date": "2026-07-14"}, 5), _event({"score_date": "2026-07-13"}, 2)]})
    assert [e["score_date"] for e in asset_event_extras(context, CHURN_SCORES)] == ["2026-07-13", "2026-07-14"]
    assert asset_event_extras(context, CHURN_DRIFT) == []
    assert asset_event_extras({"params": {}}, CHURN_SCORES) == []


def test_every_scored_day_is_judged_once_oldest_first_and_a_rerun_event_wins() -> None:
    extras = [
        {"score_date": "2026-07-14", "model_version": "1"},
        {"score_date": "2026-07-13", "model_version": "1"},
        {"score_date": "2026-07-14", "model_version": "2"},  # the day was scored again, by version 2
    ]
    days = monitored_days(extras, None)
    assert [(d["score_date"], d["model_version"]) for d in days] == [("2026-07-13", "1"), ("2026-07-14", "2")]


def test_a_manual_run_takes_its_score_date_and_without_one_refuses_rather_than_use_today() -> None:
    assert monitored_days([], "2026-07-02") == [{"score_date": "2026-07-02"}]
    with pytest.raises(ValueError, match="never falls back to today"):
        monitored_days([], None)
    with pytest.raises(ValueError, match="without a score_date"):
        monitored_days([{"model_version": "1"}], None)


def test_a_drift_triggered_training_run_trains_as_of_the_events_day_and_is_tagged_with_it() -> None:
    extra = {"score_date": "2026-07-14", "reason": "score drifted; 2 consecutive days", "drifted_columns": ["score", "monthly_fee"]}
    context = _context({CHURN_DRIFT: [_event(extra, 6)]})
    trigger = drift_trigger(context, CHURN_DRIFT)
    # Not the run's run_after (2030): the event's day.
    assert training_date(context, trigger) == date(2026, 7, 14)
    tags = trigger_tags(context, trigger)
    assert tags["trigger"] == "churn_drift" and tags["trigger.source"] == "asset_event"
    assert tags["drift.score_date"] == "2026-07-14" and tags["drift.columns"] == "score,monthly_fee"
    assert json.loads(tags["drift.event"]) == extra


def test_a_replayed_drift_event_is_tagged_as_a_replay() -> None:
    context = _context(params={"drift_event": {"score_date": "2026-07-14", "reason": "by hand"}}, run_type="manual")
    trigger = drift_trigger(context, CHURN_DRIFT)
    assert trigger_tags(context, trigger)["trigger.source"] == "replay"
    assert training_date(context, trigger) == date(2026, 7, 14)
    with pytest.raises(ValueError, match="needs a score_date"):
        drift_trigger(_context(params={"drift_event": {"reason": "x"}}), CHURN_DRIFT)


def test_scheduled_and_manual_runs_say_so() -> None:
    assert trigger_tags(_context(run_type="scheduled"), None) == {"trigger": "schedule"}
    assert trigger_tags(_context(run_type="manual"), None) == {"trigger": "manual"}
