"""The champion/challenger gate's verdicts (nightshift.model.gate.decide), without a registry."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nightshift.config import load_params
from nightshift.model.gate import CHAMPION_MOVED, FIRST, FORCED, PROMOTED, REJECTED, GatePolicy, decide

pytestmark = pytest.mark.unit

POLICY = GatePolicy(
    metric="roc_auc", min_improvement=0.01, floors={"roc_auc": 0.7, "pr_auc": 0.1}, ceilings={"expected_calibration_error": 0.05}
)
GOOD = {"roc_auc": 0.85, "pr_auc": 0.3, "log_loss": 0.12, "expected_calibration_error": 0.01}


def test_policy_of_params_yaml_is_valid() -> None:
    policy = GatePolicy.from_params(load_params()["gate"])
    assert policy.metric in {"roc_auc", "pr_auc", "log_loss", "brier", "expected_calibration_error"}
    assert policy.floors.get("roc_auc", 0) > 0.5, "a floor below chance would let a useless model serve"
    assert policy.min_improvement >= 0


@pytest.mark.parametrize(
    "gate",
    [{"metric": "accuracy"}, {"metric": "roc_auc", "floors": {"f1": 0.5}}, {"metric": "roc_auc", "min_improvement": -0.1}],
)
def test_policy_refuses_unknown_metrics_and_negative_margins(gate) -> None:
    with pytest.raises(ValueError):
        GatePolicy.from_params(gate)


def test_first_version_passing_the_floors_becomes_champion() -> None:
    decision = decide("1", GOOD, POLICY)
    assert decision.outcome == FIRST and decision.promoted
    assert decision.champion_version is None


@pytest.mark.parametrize(
    ("metrics", "says"),
    [
        ({**GOOD, "roc_auc": 0.65}, "roc_auc 0.6500 < floor 0.7"),
        ({**GOOD, "pr_auc": 0.05}, "pr_auc 0.0500 < floor 0.1"),
        ({**GOOD, "expected_calibration_error": 0.2}, "expected_calibration_error 0.2000 > ceiling 0.05"),
        ({k: v for k, v in GOOD.items() if k != "pr_auc"}, "pr_auc was not computed"),
    ],
)
def test_first_version_failing_a_floor_is_refused_with_the_reason(metrics, says) -> None:
    decision = decide("1", metrics, POLICY)
    assert decision.outcome == REJECTED and not decision.promoted
    assert says in decision.reason


def test_a_challenger_failing_a_floor_is_refused_even_if_it_beats_the_champion() -> None:
    decision = decide("3", {**GOOD, "roc_auc": 0.69}, POLICY, "2", {**GOOD, "roc_auc": 0.6})
    assert decision.outcome == REJECTED
    assert "floor" in decision.reason


def test_a_better_challenger_is_promoted() -> None:
    decision = decide("3", {**GOOD, "roc_auc": 0.86}, POLICY, "2", {**GOOD, "roc_auc": 0.84})
    assert decision.outcome == PROMOTED and decision.promoted
    assert (decision.challenger_value, decision.champion_value, decision.champion_version) == (0.86, 0.84, "2")


@pytest.mark.parametrize("champion_auc", [0.85, 0.845, 0.9])
def test_an_equal_marginally_better_or_worse_challenger_is_refused(champion_auc: float) -> None:
    decision = decide("3", GOOD, POLICY, "2", {**GOOD, "roc_auc": champion_auc})
    assert decision.outcome == REJECTED
    assert "champion version 2" in decision.reason and "below the required 0.01" in decision.reason


def test_zero_margin_still_needs_a_strict_improvement() -> None:
    policy = GatePolicy(metric="roc_auc", min_improvement=0.0)
    assert decide("3", GOOD, policy, "2", GOOD).outcome == REJECTED
    assert decide("3", {**GOOD, "roc_auc": 0.8501}, policy, "2", GOOD).outcome == PROMOTED


def test_lower_is_better_metrics_compare_the_other_way() -> None:
    policy = GatePolicy(metric="log_loss", min_improvement=0.005)
    assert decide("3", {**GOOD, "log_loss": 0.10}, policy, "2", {**GOOD, "log_loss": 0.12}).outcome == PROMOTED
    assert decide("3", {**GOOD, "log_loss": 0.14}, policy, "2", {**GOOD, "log_loss": 0.12}).outcome == REJECTED


def test_a_champion_that_cannot_be_compared_keeps_serving() -> None:
    problem = "champion version 2 cannot score this evaluation window: it lacks inputs ['x']"
    decision = decide("3", GOOD, POLICY, "2", None, champion_problem=problem)
    assert decision.outcome == REJECTED
    assert decision.reason == problem


def test_force_promotes_and_keeps_what_the_gate_would_have_said() -> None:
    decision = decide("3", {**GOOD, "roc_auc": 0.6}, POLICY, "2", GOOD, force=True)
    assert decision.outcome == FORCED and decision.promoted
    assert "would have refused" in decision.reason and "floor" in decision.reason
    clean = decide("3", {**GOOD, "roc_auc": 0.9}, POLICY, "2", GOOD, force=True)
    assert clean.outcome == FORCED and clean.reason == "forced promotion"


def test_decision_serialises_for_xcom() -> None:
    data = decide("3", GOOD, POLICY, "2", {**GOOD, "roc_auc": 0.8}).as_dict()
    assert data["promoted"] is True and data["outcome"] == PROMOTED
    assert set(data) >= {"version", "reason", "metric", "challenger_value", "champion_version", "champion_value"}


def test_a_verdict_overtaken_by_a_champion_move_is_not_a_promotion() -> None:
    passed = decide("3", GOOD, POLICY, "2", {**GOOD, "roc_auc": 0.8})
    moved = replace(passed, outcome=CHAMPION_MOVED)
    assert passed.promoted and not moved.promoted and moved.as_dict()["promoted"] is False
