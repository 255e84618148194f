"""Approval answers applied to a real MLflow registry: approve (compare-and-set), reject, timeout, a champion moved meanwhile."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from nightshift.model.approval import (
    Answer,
    ApprovalSettings,
    apply_gate_answer,
    apply_rollout_answer,
    gate_proposal,
    rollout_proposal,
    rollout_step,
    settle_training,
)
from nightshift.model.gate import FIRST, PROMOTED, GateDecision, GatePolicy
from nightshift.model.lifecycle import COMPARED_TAG, NO_CHAMPION, gate_version
from nightshift.model.registry import Aliases
from nightshift.model.rollout_policy import RolloutPolicy, decide_rollout
from nightshift.warehouse.rows import ComparisonRow

pytestmark = pytest.mark.integration

NAME = "churn_xgb_approval_test"
ALIASES = Aliases()
POLICY = GatePolicy(metric="roc_auc", min_improvement=0.002, floors={"roc_auc": 0.6})
ROLLOUT = RolloutPolicy(min_matured_days=3, min_auc_margin=0.005)
APPROVED = Answer("approved", "Ada", "ada", "2026-07-01T09:30:00+00:00", "ship it")
REJECTED = Answer("rejected", "Bo", "bo", "2026-07-01T09:31:00+00:00", "calibration is off")
TIMED_OUT = Answer("timed_out", "", "", "2026-07-02T09:30:00+00:00", "")


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory) -> Path:
    """Three versions, each with a run: 1 champion, 2 challenger; nothing is loaded, only aliases and tags move.

    Built once (an MLflow store's schema takes seconds to create); each test works on a copy.
    """
    root = tmp_path_factory.mktemp("approval-registry")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(root / "artifacts"))
        from nightshift.model.registry import ensure_experiment, registry_client, set_champion

        c = registry_client()
        experiment = ensure_experiment(NAME)
        c.create_registered_model(NAME)
        for _ in range(3):
            run = c.create_run(experiment)
            c.create_model_version(NAME, source=str(root / "model"), run_id=run.info.run_id)
        set_champion(c, NAME, "1", ALIASES, "first")
        c.set_registered_model_alias(NAME, "challenger", "2")
    return root / "mlflow.db"


@pytest.fixture
def client(registry_template: Path, tmp_path, monkeypatch):
    shutil.copy(registry_template, tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(registry_template.parent / "artifacts"))
    from nightshift.model.registry import registry_client

    return registry_client()


def aliases(client) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model(NAME).aliases.items()}


def passed(version: str = "2") -> GateDecision:
    return GateDecision(version, PROMOTED, "roc_auc 0.8100 beats champion version 1 0.8000", "roc_auc", 0.81, "1", 0.80)


def test_approve_moves_champion_by_compare_and_set_and_records_who(client) -> None:
    proposal = gate_proposal(client, NAME, passed(), POLICY)
    assert proposal.champion_run_id == client.get_model_version(NAME, "1").run_id
    assert proposal.candidate_experiment_id == client.get_run(proposal.candidate_run_id).info.experiment_id
    applied = apply_gate_answer(client, NAME, ALIASES, proposal, APPROVED)
    assert applied.promoted and aliases(client) == {"champion": "2", "previous_champion": "1"}
    tags = client.get_model_version(NAME, "2").tags
    assert tags["gate.outcome"] == PROMOTED and tags["approval.outcome"] == "approved"
    recorded = (tags["approval.responder"], tags["approval.responded_at"], tags["approval.comment"])
    assert recorded == ("Ada", APPROVED.responded_at, "ship it")
    from nightshift.model.lifecycle import lineage

    assert lineage(NAME, "2")["approval"]["outcome"] == "approved"
    # A retry of the apply step finds the verdict recorded and moves nothing again.
    assert apply_gate_answer(client, NAME, ALIASES, proposal, APPROVED).outcome == PROMOTED
    assert aliases(client)["champion"] == "2"


@pytest.mark.parametrize(("answer", "said"), [(REJECTED, "rejected by Bo"), (TIMED_OUT, "no answer by")])
def test_reject_or_no_answer_leaves_champion_and_records_it(client, answer: Answer, said: str) -> None:
    applied = apply_gate_answer(client, NAME, ALIASES, gate_proposal(client, NAME, passed(), POLICY), answer)
    assert not applied.promoted and aliases(client) == {"champion": "1", "challenger": "2"}
    tags = client.get_model_version(NAME, "2").tags
    assert tags["gate.outcome"] == "not_approved" and said in tags["gate.reason"] and "the gate said promoted" in tags["gate.reason"]
    assert tags["approval.outcome"] == answer.outcome and tags["approval.responder"] == answer.responder


def test_a_champion_moved_while_the_request_waited_is_never_replaced(client) -> None:
    from nightshift.model.lifecycle import promote

    proposal = gate_proposal(client, NAME, passed(), POLICY)
    promote(NAME, "3", ALIASES, "by hand while the approval waited")
    applied = apply_gate_answer(client, NAME, ALIASES, proposal, APPROVED)
    assert applied.outcome == "champion_moved" and aliases(client)["champion"] == "3"
    assert client.get_model_version(NAME, "2").tags["approval.outcome"] == "approved"


def test_the_gate_defers_a_passing_version_and_applies_a_refusal(client) -> None:
    # Version 3's run as a training logs it: its metrics and the champion it was compared with.
    run_id = client.get_model_version(NAME, "3").run_id
    client.log_metric(run_id, "roc_auc", 0.9)
    client.set_tag(run_id, COMPARED_TAG, NO_CHAMPION)
    deferred = gate_version(client, NAME, "3", POLICY, ALIASES, force=False, defer_promotion=True)
    assert deferred.outcome == FIRST and deferred.promoted
    assert aliases(client) == {"champion": "1", "challenger": "3"} and "gate.outcome" not in client.get_model_version(NAME, "3").tags
    # A version the gate refuses is refused on the spot, approval or not.
    client.log_metric(client.get_model_version(NAME, "2").run_id, "roc_auc", 0.5)
    client.set_tag(client.get_model_version(NAME, "2").run_id, COMPARED_TAG, NO_CHAMPION)
    refused = gate_version(client, NAME, "2", POLICY, ALIASES, force=False, defer_promotion=True)
    assert refused.outcome == "rejected" and client.get_model_version(NAME, "2").tags["gate.outcome"] == "rejected"


def test_settling_a_training_without_a_proposal_changes_nothing(client) -> None:
    result = {"model_version": "2", "champion": False, "proposal": None, "gate": {"reason": "refused"}}
    assert settle_training(result, None, ALIASES) == result
    with pytest.raises(ValueError, match="proposed for champion but its approval has no answer"):
        settle_training({**result, "proposal": gate_proposal(client, NAME, passed(), POLICY).as_dict()}, None, ALIASES)


def days(diff: float, low: float, high: float, n: int = 3) -> list[ComparisonRow]:
    start = date(2026, 5, 1)
    return [
        ComparisonRow(start + timedelta(days=i), NAME, "1", "2", "all", 900, 60, {"roc_auc": 0.8}, {"roc_auc": 0.8 + diff}, diff, low, high)
        for i in range(n)
    ]


def test_a_rollout_promotion_waits_then_applies_on_approve(client) -> None:
    required = ApprovalSettings(True, timedelta(hours=1))
    done = rollout_step(NAME, ALIASES, ROLLOUT, days(0.02, 0.01, 0.03), date(2026, 6, 5), required, 0.95)
    assert done["pending"] and done["action"] == "promote" and done["proposal"]["evidence"]["auc_diff_low"] == pytest.approx(0.01)
    assert aliases(client) == {"champion": "1", "challenger": "2"}
    assert client.get_run(done["mlflow_run"]).data.tags["rollout.approval"] == "pending"
    from nightshift.model.approval import settle_rollout

    hitl = {"chosen_options": ["Approve"], "params_input": {"comment": "ok"}, "responded_at": "t1"}
    hitl["responded_by_user"] = {"id": "a", "name": "A"}
    settled = settle_rollout(done, hitl, ALIASES)
    assert settled["action"] == "promote" and aliases(client)["champion"] == "2"
    tags = client.get_model_version(NAME, "2").tags
    assert tags["gate.outcome"] == "promoted_on_evidence" and tags["approval.outcome"] == "approved" and tags["approval.kind"] == "rollout"


def test_a_rejected_retirement_keeps_the_challenger(client) -> None:
    decision = decide_rollout(days(-0.03, -0.05, -0.01), "1", "2", ROLLOUT)
    proposal = rollout_proposal(client, NAME, decision, ROLLOUT, 0.95)
    applied = apply_rollout_answer(client, NAME, ALIASES, proposal, REJECTED)
    assert applied.action == "keep" and applied.reason.startswith("not retired: rejected by Bo")
    assert aliases(client) == {"champion": "1", "challenger": "2"}
    tags = client.get_model_version(NAME, "2").tags
    assert tags["rollout.decision"] == "keep" and tags["approval.outcome"] == "rejected"
    assert tags["approval.comment"] == "calibration is off"


def test_approval_off_applies_the_rollout_as_before(client) -> None:
    done = rollout_step(NAME, ALIASES, ROLLOUT, days(0.02, 0.01, 0.03), date(2026, 6, 5), ApprovalSettings(False, timedelta(hours=1)), 0.95)
    assert not done["pending"] and "proposal" not in done and aliases(client)["champion"] == "2"
