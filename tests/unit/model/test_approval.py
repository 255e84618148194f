"""The pure parts of approval: settings, the answer read from the human-in-the-loop task, the evidence shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nightshift.model.approval import (
    APPROVE,
    REJECT,
    Answer,
    ApprovalSettings,
    Proposal,
    evidence_markdown,
    latest_drift_report,
    parse_duration,
    proposal_subject,
)

pytestmark = pytest.mark.unit

AT = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
UI = "http://mlflow.example:5000"


def test_the_options_are_airflows_approval_options() -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    assert (APPROVE, REJECT) == (ApprovalOperator.APPROVE, ApprovalOperator.REJECT)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("24h", 86400), ("2d", 172800), ("1.5h", 5400)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["24", "0h", "-1h", "1w", "soon", ""])
def test_a_bad_duration_names_the_key(text: str) -> None:
    with pytest.raises(ValueError, match="rollout.approval_timeout"):
        parse_duration(text)


def test_settings_default_off_and_required() -> None:
    assert ApprovalSettings.from_params({"approval_timeout": "24h"}) == ApprovalSettings(False, timedelta(hours=24))
    required = ApprovalSettings.from_params({"approval": "required", "approval_timeout": "30s"})
    assert required == ApprovalSettings(True, timedelta(seconds=30))
    # An unquoted `off` in YAML 1.1 is false: the same choice.
    assert ApprovalSettings.from_params({"approval": False, "approval_timeout": "1h"}).required is False


def test_bad_settings_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="rollout.approval must be 'off' or 'required', got 'yes please'"):
        ApprovalSettings.from_params({"approval": "yes please", "approval_timeout": "1h"})
    with pytest.raises(KeyError, match="approval_timeout is not set"):
        ApprovalSettings.from_params({"approval": "required"})


def _hitl(option: str, user: dict | None, comment: str | None = "fine") -> dict:
    return {
        "chosen_options": [option],
        "params_input": {} if comment is None else {"comment": comment},
        "responded_at": AT,
        "responded_by_user": user,
    }


def test_the_answer_of_a_person() -> None:
    admin = {"id": "admin", "name": "Ada"}
    approved = Answer.from_hitl(_hitl(APPROVE, admin, " ship it "))
    assert approved == Answer("approved", "Ada", "admin", AT.isoformat(), "ship it")
    assert approved.approved
    rejected = Answer.from_hitl(_hitl(REJECT, admin, None))
    assert (rejected.outcome, rejected.comment, rejected.approved) == ("rejected", "", False)
    assert rejected.tags("gate") == {
        "approval.kind": "gate",
        "approval.outcome": "rejected",
        "approval.responder": "Ada",
        "approval.responder_id": "admin",
        "approval.responded_at": "2026-07-01T09:30:00+00:00",
        "approval.comment": "",
    }
    assert rejected.describe() == "rejected by Ada at 2026-07-01T09:30:00+00:00"


def test_no_answer_is_a_timeout_and_never_an_approval() -> None:
    # The scheduler answers with the default (Reject) and no user; even an Approve without a person is not one.
    for option in (REJECT, APPROVE):
        answer = Answer.from_hitl(_hitl(option, None, ""))
        assert (answer.outcome, answer.responder, answer.approved) == ("timed_out", "", False)
    assert "no answer by" in answer.describe()


def test_an_answer_that_is_no_option_is_refused() -> None:
    with pytest.raises(ValueError, match="'Approve' or 'Reject'"):
        Answer.from_hitl({**_hitl(APPROVE, {"id": "1", "name": "x"}), "chosen_options": ["Approve", "Reject"]})


def _gate_proposal(champion: str | None = "4") -> Proposal:
    return Proposal(
        kind="gate",
        action="promote",
        model_name="churn_xgb",
        candidate_version="5",
        candidate_run_id="run5",
        candidate_experiment_id="1",
        champion_version=champion,
        champion_run_id=None if champion is None else "run4",
        champion_experiment_id=None if champion is None else "1",
        evidence={
            "metric": "roc_auc",
            "candidate_value": 0.81234,
            "champion_value": None if champion is None else 0.8,
            "min_improvement": 0.002,
            "outcome": "promoted",
            "reason": "roc_auc 0.8123 beats champion version 4 0.8000 by at least 0.002",
        },
        decision={},
    )


def test_the_gate_evidence_names_both_runs_the_margin_and_the_newest_drift_report() -> None:
    proposal = _gate_proposal()
    body = evidence_markdown(proposal, UI + "/", "2026-06-30", timedelta(hours=24))
    assert proposal_subject(proposal) == "Make churn_xgb version 5 champion?"
    assert "from version 4 to version **5**" in body
    assert f"[run5]({UI}/#/experiments/1/runs/run5)" in body and f"[run4]({UI}/#/experiments/1/runs/run4)" in body
    assert "roc_auc: candidate 0.8123, champion 0.8000, required improvement 0.002" in body
    assert "[drift report of 2026-06-30](/drift-reports/score_date=2026-06-30/index.html)" in body
    assert "only if `champion` is still version 4" in body and "1 day, 0:00:00" in body
    # Round trip through the XCom dict.
    assert Proposal.from_dict(proposal.as_dict()) == proposal


def test_a_first_champion_and_no_drift_report_yet() -> None:
    body = evidence_markdown(_gate_proposal(champion=None), UI, None, timedelta(minutes=5))
    assert "from none to version **5**" in body and "| champion | none | run (no run) |" in body
    assert "champion n/a" in body and "none yet ([drift reports](/drift-reports/))" in body


def test_the_realized_evidence_shows_the_interval() -> None:
    proposal = Proposal(
        kind="rollout",
        action="retire",
        model_name="churn_xgb",
        candidate_version="6",
        candidate_run_id="run6",
        candidate_experiment_id="1",
        champion_version="5",
        champion_run_id="run5",
        champion_experiment_id="1",
        evidence={
            "days": 7,
            "dates": "2026-06-01..2026-06-07",
            "auc_diff": -0.031,
            "auc_diff_low": -0.05,
            "auc_diff_high": -0.012,
            "confidence": 0.95,
            "min_auc_margin": 0.005,
            "min_matured_days": 7,
            "reason": "worse than champion 5",
        },
        decision={},
    )
    body = evidence_markdown(proposal, UI, None, timedelta(hours=1))
    assert proposal_subject(proposal) == "Retire churn_xgb challenger version 6?"
    assert "Remove `challenger` from version 6" in body and "Champion stays version 5" in body
    assert "ROC AUC challenger minus champion -0.0310, 95% interval [-0.0500, -0.0120]" in body
    assert "over 7 matured days (2026-06-01..2026-06-07)" in body


def test_the_latest_drift_report_is_the_newest_finished_one(tmp_path: Path) -> None:
    assert latest_drift_report(tmp_path) is None
    for day, finished in (("2026-06-01", True), ("2026-06-03", True), ("2026-06-04", False)):
        (tmp_path / f"score_date={day}").mkdir()
        if finished:
            (tmp_path / f"score_date={day}" / "index.html").write_text("x")
    assert latest_drift_report(tmp_path) == "2026-06-03"
