"""The rollout verdict on a challenger's matured days (nightshift.model.rollout_policy): promote, keep or retire."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nightshift.model.rollout_policy import KEEP, PROMOTE, RETIRE, RolloutPolicy, decide_rollout
from nightshift.warehouse.rows import ComparisonRow

pytestmark = pytest.mark.unit


def day(i: int, diff: float, low: float, high: float, champion: str = "1", challenger: str = "2") -> ComparisonRow:
    return ComparisonRow(date(2026, 5, 1) + timedelta(days=i), "m", champion, challenger, "all", 1000, 100, {}, {}, diff, low, high)


POLICY = RolloutPolicy(min_matured_days=3, min_auc_margin=0.005)


def test_too_few_matured_days_keep_the_challenger() -> None:
    decision = decide_rollout([day(0, 0.05, 0.03, 0.07), day(1, 0.05, 0.03, 0.07)], "1", "2", POLICY)
    assert decision.action == KEEP and "2 matured day(s)" in decision.reason


def test_better_by_the_margin_with_the_interval_above_zero_promotes() -> None:
    decision = decide_rollout([day(i, 0.02, 0.01, 0.03) for i in range(3)], "1", "2", POLICY)
    assert decision.action == PROMOTE
    assert decision.auc_diff == pytest.approx(0.02) and decision.auc_diff_low == pytest.approx(0.01)
    assert decision.tags()["rollout.decision"] == "promote" and decision.tags()["rollout.days"] == "3"


def test_an_interval_touching_zero_or_a_gain_under_the_margin_keeps() -> None:
    assert decide_rollout([day(i, 0.02, -0.001, 0.04) for i in range(3)], "1", "2", POLICY).action == KEEP
    assert decide_rollout([day(i, 0.004, 0.001, 0.007) for i in range(3)], "1", "2", POLICY).action == KEEP


def test_clearly_worse_retires() -> None:
    decision = decide_rollout([day(i, -0.03, -0.05, -0.01) for i in range(4)], "1", "2", POLICY)
    assert decision.action == RETIRE and "worse than champion 1" in decision.reason


def test_days_against_another_champion_or_challenger_do_not_count() -> None:
    rows = [day(i, 0.02, 0.01, 0.03, champion="0") for i in range(3)] + [day(i, 0.02, 0.01, 0.03, challenger="3") for i in range(3)]
    assert decide_rollout(rows, "1", "2", POLICY).days == 0


@pytest.mark.parametrize("bad", [{"min_matured_days": 0, "min_auc_margin": 0.01}, {"min_matured_days": 3, "min_auc_margin": -0.1}])
def test_bad_policy_values_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="params.yaml rollout"):
        RolloutPolicy.from_params(bad)
