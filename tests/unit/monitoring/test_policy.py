"""The retrain policy: a drifted day, persistence, cooldown, label freshness, and a reason for every decision."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nightshift.config import load_params
from nightshift.monitoring.policy import (
    ACCEPTED_GAP,
    COOLDOWN,
    NO_DRIFT,
    NO_NEW_LABELS,
    NOT_PERSISTENT,
    RETRAIN,
    DriftPolicy,
    PastDay,
    decide,
    streak,
)

pytestmark = pytest.mark.unit

POLICY = DriftPolicy(min_drifted_inputs=3, consecutive_days=2, cooldown_days=7)
DAY = date(2026, 7, 14)
FRESH = {"newest_labelled": date(2026, 6, 14), "champion_date_max": date(2026, 5, 29)}


def past(offset: int, drifted: bool = True, decision: str = NOT_PERSISTENT) -> PastDay:
    return PastDay(DAY - timedelta(days=offset), drifted, decision)


def test_params_yaml_holds_every_number_of_the_policy() -> None:
    assert DriftPolicy.from_params(load_params()["drift"]) == DriftPolicy(min_drifted_inputs=1, consecutive_days=2, cooldown_days=7)


def test_a_quiet_day_is_no_drift_with_its_reason() -> None:
    verdict = decide(DAY, False, ["monthly_fee"], [past(1)], policy=POLICY, **FRESH)
    assert verdict.decision == NO_DRIFT and not verdict.retrain and not verdict.drifted
    assert "1 input(s) drifted (monthly_fee); 3 make a drifted day" in verdict.reason


def test_enough_inputs_or_the_score_or_one_severe_input_make_a_drifted_day() -> None:
    assert decide(DAY, False, ["a", "b", "c"], [], policy=POLICY, **FRESH).drifted
    assert decide(DAY, True, [], [], policy=POLICY, **FRESH).drifted
    severe = decide(DAY, False, ["monthly_fee"], [], policy=POLICY, severe_inputs=["monthly_fee"], **FRESH)
    assert severe.drifted and "severe drift of monthly_fee" in severe.reason


def test_one_drifted_day_is_not_persistent() -> None:
    verdict = decide(DAY, True, [], [past(1, drifted=False, decision=NO_DRIFT)], policy=POLICY, **FRESH)
    assert verdict.decision == NOT_PERSISTENT and not verdict.retrain
    assert "drifted 1 consecutive day(s), 2 needed" in verdict.reason


def test_two_drifted_days_in_a_row_with_new_labels_retrain() -> None:
    verdict = decide(DAY, True, [], [past(1)], policy=POLICY, **FRESH)
    assert verdict.decision == RETRAIN and verdict.retrain and verdict.streak == 2
    assert "labels up to 2026-06-14, newer than the champion's 2026-05-29" in verdict.reason


def test_a_missing_day_breaks_the_run() -> None:
    # Drifted two days ago, nothing recorded yesterday: today starts a new run.
    assert streak(DAY, True, [past(2)]) == 1
    assert decide(DAY, True, [], [past(2)], policy=POLICY, **FRESH).decision == NOT_PERSISTENT


def test_the_day_itself_in_history_does_not_count_twice() -> None:
    # A rerun of a date finds its own earlier row: it must not extend its own streak.
    assert streak(DAY, True, [past(0), past(2)]) == 1


def test_cooldown_blocks_a_second_retrain_within_its_days() -> None:
    history = [past(3, decision=RETRAIN), past(2), past(1)]
    verdict = decide(DAY, True, [], history, policy=POLICY, **FRESH)
    assert verdict.decision == COOLDOWN and not verdict.retrain
    assert "retraining was asked for on 2026-07-11, 3 day(s) ago, within the 7-day cooldown" in verdict.reason
    # Once the cooldown is over, the same drift asks again.
    history = [past(7, decision=RETRAIN), past(1)]
    assert decide(DAY, True, [], history, policy=POLICY, **FRESH).decision == RETRAIN


def test_no_labels_newer_than_the_champion_records_drift_no_new_labels() -> None:
    verdict = decide(DAY, True, [], [past(1)], date(2026, 5, 29), date(2026, 5, 29), POLICY)
    assert verdict.decision == NO_NEW_LABELS and not verdict.retrain and verdict.drifted
    assert "drift, no new labels" in verdict.reason and "2026-05-29" in verdict.reason
    assert decide(DAY, True, [], [past(1)], None, date(2026, 5, 29), POLICY).decision == NO_NEW_LABELS


def test_a_performance_reason_retrains_without_persistence_but_through_the_other_guards() -> None:
    reason = "realized ROC AUC 0.61 below the gate floor 0.70"
    verdict = decide(DAY, False, [], [], policy=POLICY, performance_reason=reason, **FRESH)
    assert verdict.decision == RETRAIN and reason in verdict.reason
    blocked = decide(DAY, False, [], [past(2, decision=RETRAIN)], policy=POLICY, performance_reason=reason, **FRESH)
    assert blocked.decision == COOLDOWN


def test_out_of_range_policy_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="consecutive_days >= 1"):
        DriftPolicy.from_params({"min_drifted_inputs": 3, "consecutive_days": 0, "cooldown_days": 7})


def test_drift_over_a_day_accepted_as_missing_is_recorded_but_never_asks_for_a_retrain() -> None:
    # The day after an accepted gap: drifted on the day before too, which would make a run of two.
    gap = DAY - timedelta(days=2)
    verdict = decide(DAY, True, [], [past(1)], policy=POLICY, accepted_gaps=[gap], **FRESH)
    assert verdict.decision == ACCEPTED_GAP and verdict.drifted and not verdict.retrain
    assert "2026-07-12, accepted as missing and read as no activity" in verdict.reason


def test_an_accepted_gap_day_breaks_a_run_of_drifted_days() -> None:
    assert streak(DAY, True, [past(1, decision=ACCEPTED_GAP), past(2)]) == 1
    after_gap = decide(DAY, True, [], [past(1, decision=ACCEPTED_GAP)], policy=POLICY, **FRESH)
    assert after_gap.decision == NOT_PERSISTENT


def test_a_quiet_day_over_an_accepted_gap_is_no_drift_and_a_realized_auc_under_the_floor_still_retrains() -> None:
    gap = [DAY - timedelta(days=1)]
    assert decide(DAY, False, [], [], policy=POLICY, accepted_gaps=gap, **FRESH).decision == NO_DRIFT
    poor = decide(DAY, True, [], [], policy=POLICY, accepted_gaps=gap, performance_reason="realized ROC AUC 0.61 < 0.70", **FRESH)
    assert poor.decision == RETRAIN
