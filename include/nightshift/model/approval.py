"""Human approval of a change of `champion`: the proposal, what the approver reads, and the answer applied.

With `rollout.approval: required` in params.yaml, nightshift never moves `champion` (or retires the
`challenger`) on its own. The step that decides (the gate after train_model, the rollout policy on
realized evidence in drift_monitor) returns a `Proposal` instead of applying it; an Airflow
human-in-the-loop task (nightshift.airflow.approval) shows `evidence_markdown` and waits; the answer
(`Answer.from_hitl`) is applied here: Approve applies the verdict as the lifecycle would have (still
compare-and-set against the champion the evidence was about), Reject or no answer within
`rollout.approval_timeout` leaves the aliases. Either way the responder, time and comment are tagged
on the version (`approval.*`) and logged. `nightshift model promote|rollback` stay immediate: the
person typing them is the approval.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nightshift.model.gate import GateDecision, GatePolicy
from nightshift.model.lifecycle import apply_decision, recorded_decision
from nightshift.model.registry import Aliases, model_version, tag_version
from nightshift.model.rollout import apply_rollout
from nightshift.model.rollout_policy import KEEP, PROMOTE, RETIRE, RolloutDecision, RolloutPolicy

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

OFF, REQUIRED = "off", "required"
# The approval task's options, as Airflow's ApprovalOperator names them; Reject is also the timeout's answer.
APPROVE, REJECT = "Approve", "Reject"
APPROVED, REJECTED, TIMED_OUT = "approved", "rejected", "timed_out"
GATE, ROLLOUT = "gate", "rollout"
# gate.outcome of a promotion the gate passed but the approver refused or never answered.
NOT_APPROVED = "not_approved"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, key: str = "rollout.approval_timeout") -> timedelta:
    """`30s`, `15m`, `24h`, `2d` as a timedelta; ValueError naming `key` otherwise."""
    match = _DURATION.match(str(text))
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"params.yaml {key} must be a positive duration like 30s, 15m, 24h or 2d, got {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@dataclass(frozen=True)
class ApprovalSettings:
    required: bool
    timeout: timedelta

    @classmethod
    def from_params(cls, rollout: Mapping[str, Any]) -> ApprovalSettings:
        """From params.yaml's `rollout` section: `approval` (off | required) and `approval_timeout`."""
        mode = rollout.get("approval", OFF)
        # YAML 1.1 reads an unquoted `off` as false: the same choice.
        mode = OFF if mode is False else mode
        if mode not in (OFF, REQUIRED):
            raise ValueError(f"params.yaml rollout.approval must be {OFF!r} or {REQUIRED!r}, got {mode!r}")
        if "approval_timeout" not in rollout:
            raise KeyError("params.yaml rollout.approval_timeout is not set (how long an approval waits before it reads as Reject)")
        return cls(required=mode == REQUIRED, timeout=parse_duration(rollout["approval_timeout"]))


@dataclass(frozen=True)
class Proposal:
    """A change of the registry that waits for a person: what would move, and the evidence it rests on."""

    kind: str  # gate | rollout
    action: str  # promote | retire
    model_name: str
    candidate_version: str
    candidate_run_id: str
    candidate_experiment_id: str
    champion_version: str | None
    champion_run_id: str | None
    champion_experiment_id: str | None
    evidence: dict[str, Any]  # the figures the verdict rests on (see evidence_markdown)
    decision: dict[str, Any]  # the verdict to apply on Approve, as the deciding step returned it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Proposal:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Answer:
    """The approval task's answer: approved, rejected, or timed out (nobody answered; it counts as Reject)."""

    outcome: str  # approved | rejected | timed_out
    responder: str  # the user's name, "" when the timeout answered
    responder_id: str
    responded_at: str  # ISO 8601, UTC
    comment: str

    @property
    def approved(self) -> bool:
        return self.outcome == APPROVED

    @classmethod
    def from_hitl(cls, payload: Mapping[str, Any]) -> Answer:
        """From the human-in-the-loop task's result (chosen_options, params_input, responded_at, responded_by_user)."""
        chosen = list(payload.get("chosen_options") or [])
        if chosen not in ([APPROVE], [REJECT]):
            raise ValueError(f"an approval answers {APPROVE!r} or {REJECT!r}, got {chosen}")
        user = payload.get("responded_by_user")
        at = payload.get("responded_at")
        if at is None:
            raise ValueError(f"the approval's answer has no responded_at: {dict(payload)}")
        # Nobody answered: Airflow applied the default (Reject). Never an approval, whatever was chosen.
        outcome = TIMED_OUT if user is None else APPROVED if chosen == [APPROVE] else REJECTED
        comment = str((payload.get("params_input") or {}).get("comment") or "").strip()
        return cls(
            outcome=outcome,
            responder="" if user is None else str(user.get("name") or ""),
            responder_id="" if user is None else str(user.get("id") or ""),
            responded_at=at.isoformat() if isinstance(at, datetime) else str(at),
            comment=comment,
        )

    def describe(self) -> str:
        if self.outcome == TIMED_OUT:
            return f"no answer by {self.responded_at} (rollout.approval_timeout): not approved"
        said = f": {self.comment!r}" if self.comment else ""
        return f"{self.outcome} by {self.responder} at {self.responded_at}{said}"

    def tags(self, kind: str) -> dict[str, str]:
        """The answer as registry tags on the version it was about."""
        return {
            "approval.kind": kind,
            "approval.outcome": self.outcome,
            "approval.responder": self.responder,
            "approval.responder_id": self.responder_id,
            "approval.responded_at": self.responded_at,
            "approval.comment": self.comment,
        }


# ---- proposals ---------------------------------------------------------------------------------


def _run_of(client: MlflowClient, name: str, version: str | None) -> tuple[str | None, str | None]:
    """The MLflow run id and experiment id of `name` `version` (None, None for no version)."""
    if version is None:
        return None, None
    run_id = model_version(client, name, version).run_id
    return run_id, client.get_run(run_id).info.experiment_id if run_id else None


def gate_proposal(client: MlflowClient, name: str, decision: GateDecision, policy: GatePolicy) -> Proposal:
    """The gate's passing verdict on a new version, as a proposal to make it `champion`."""
    run_id, experiment_id = _run_of(client, name, decision.version)
    champion_run_id, champion_experiment_id = _run_of(client, name, decision.champion_version)
    evidence = {
        "metric": decision.metric,
        "candidate_value": decision.challenger_value,
        "champion_value": decision.champion_value,
        "min_improvement": policy.min_improvement,
        "outcome": decision.outcome,
        "reason": decision.reason,
    }
    return Proposal(
        GATE,
        PROMOTE,
        name,
        decision.version,
        run_id or "",
        experiment_id or "",
        decision.champion_version,
        champion_run_id,
        champion_experiment_id,
        evidence,
        decision.as_dict(),
    )


def rollout_proposal(client: MlflowClient, name: str, decision: RolloutDecision, policy: RolloutPolicy, confidence: float) -> Proposal:
    """The rollout policy's promote or retire on realized evidence, as a proposal."""
    run_id, experiment_id = _run_of(client, name, decision.challenger_version)
    champion_run_id, champion_experiment_id = _run_of(client, name, decision.champion_version)
    evidence = {
        "days": decision.days,
        "dates": f"{decision.first_date}..{decision.last_date}" if decision.first_date else "",
        "auc_diff": decision.auc_diff,
        "auc_diff_low": decision.auc_diff_low,
        "auc_diff_high": decision.auc_diff_high,
        "confidence": confidence,
        "min_auc_margin": policy.min_auc_margin,
        "min_matured_days": policy.min_matured_days,
        "reason": decision.reason,
    }
    as_dict = {**asdict(decision), "first_date": _iso(decision.first_date), "last_date": _iso(decision.last_date)}
    return Proposal(
        ROLLOUT,
        decision.action,
        name,
        decision.challenger_version,
        run_id or "",
        experiment_id or "",
        decision.champion_version,
        champion_run_id,
        champion_experiment_id,
        evidence,
        as_dict,
    )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


# ---- what the approver reads -------------------------------------------------------------------


def latest_drift_report(root: Path) -> str | None:
    """The newest score date with a finished drift report under `root` (drift_monitor's folder), or None."""
    days = sorted(p.name.split("=", 1)[1] for p in root.glob("score_date=*") if (p / "index.html").exists())
    return days[-1] if days else None


def run_url(mlflow_ui: str, experiment_id: str | None, run_id: str | None) -> str | None:
    """The MLflow UI's page of a run."""
    if not run_id or not experiment_id:
        return None
    return f"{mlflow_ui.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def proposal_subject(proposal: Proposal) -> str:
    if proposal.action == RETIRE:
        return f"Retire {proposal.model_name} challenger version {proposal.candidate_version}?"
    return f"Make {proposal.model_name} version {proposal.candidate_version} champion?"


def _number(value: float | None, signed: bool = False) -> str:
    return "n/a" if value is None else f"{value:+.4f}" if signed else f"{value:.4f}"


def _link(label: str, url: str | None) -> str:
    return f"[{label}]({url})" if url else f"{label} (no run)"


def _gate_lines(e: Mapping[str, Any]) -> list[str]:
    return [
        "**Gate** (backtest, both models on the candidate's evaluation window):",
        f"- {e['metric']}: candidate {_number(e['candidate_value'])}, champion {_number(e['champion_value'])}, "
        f"required improvement {e['min_improvement']}",
        f"- verdict `{e['outcome']}`: {e['reason']}",
    ]


def _rollout_lines(e: Mapping[str, Any]) -> list[str]:
    return [
        "**Realized comparison** (shadow scores, same customers, labels matured):",
        f"- ROC AUC challenger minus champion {_number(e['auc_diff'], True)}, "
        f"{e['confidence']:.0%} interval [{_number(e['auc_diff_low'], True)}, {_number(e['auc_diff_high'], True)}]",
        f"- over {e['days']} matured days ({e['dates']}); policy: at least {e['min_matured_days']} days and a margin of "
        f"{e['min_auc_margin']}",
        f"- {e['reason']}",
    ]


def evidence_markdown(proposal: Proposal, mlflow_ui: str, drift_report: str | None, timeout: timedelta) -> str:
    """The approval form's body: what would change, both MLflow runs, the figures, the newest drift report."""
    p = proposal
    champion = "none" if p.champion_version is None else f"version {p.champion_version}"
    if p.action == RETIRE:
        change = (
            f"Remove `challenger` from version {p.candidate_version}: nightly scoring stops scoring it in shadow. "
            f"Champion stays {champion}."
        )
    else:
        change = f"Move `champion` of **{p.model_name}** from {champion} to version **{p.candidate_version}**."
    still = "there is still no `champion`" if p.champion_version is None else f"`champion` is still {champion}"
    candidate_url = run_url(mlflow_ui, p.candidate_experiment_id, p.candidate_run_id)
    champion_url = run_url(mlflow_ui, p.champion_experiment_id, p.champion_run_id)
    report = (
        f"[drift report of {drift_report}](/drift-reports/score_date={drift_report}/index.html)"
        if drift_report
        else "none yet ([drift reports](/drift-reports/))"
    )
    lines = [
        change,
        "",
        "| | version | MLflow run |",
        "|---|---|---|",
        f"| candidate | {p.candidate_version} | {_link(p.candidate_run_id or 'run', candidate_url)} |",
        f"| champion | {p.champion_version or 'none'} | {_link(p.champion_run_id or 'run', champion_url)} |",
        "",
        *(_gate_lines(p.evidence) if p.kind == GATE else _rollout_lines(p.evidence)),
        "",
        f"**Latest drift report**: {report}",
        "",
        f"**{APPROVE}** applies it, only if {still} (a champion moved meanwhile is never replaced). "
        f"**{REJECT}**, or no answer within {timeout}, leaves the registry as it is. "
        "Your name, the time and the comment are recorded on the version's tags.",
    ]
    return "\n".join(lines)


# ---- the answer applied ------------------------------------------------------------------------


def apply_gate_answer(client: MlflowClient, name: str, aliases: Aliases, proposal: Proposal, answer: Answer) -> GateDecision:
    """The gate's verdict applied as the answer says: promoted (compare-and-set) on Approve, `not_approved` otherwise."""
    version = proposal.candidate_version
    decision = recorded_decision(model_version(client, name, version))
    if decision is None:
        decision = GateDecision(**{f.name: proposal.decision[f.name] for f in fields(GateDecision)})
        if not answer.approved:
            reason = f"{answer.describe()}; the gate said {decision.outcome}: {decision.reason}"
            decision = replace(decision, outcome=NOT_APPROVED, reason=reason)
        decision = apply_decision(client, name, decision, aliases)
    else:
        log.info("%s version %s: the answer was applied already (%s)", name, version, decision.outcome)
    tag_version(client, name, version, answer.tags(GATE))
    _log_answer(name, version, proposal, answer, decision.outcome)
    return decision


def apply_rollout_answer(client: MlflowClient, name: str, aliases: Aliases, proposal: Proposal, answer: Answer) -> RolloutDecision:
    """The rollout verdict applied on Approve (compare-and-set), or kept with the answer as its reason."""
    version = proposal.candidate_version
    d = proposal.decision
    decision = RolloutDecision(
        **{**d, "first_date": _day(d["first_date"]), "last_date": _day(d["last_date"])},
    )
    tags = model_version(client, name, version).tags
    if tags.get("approval.responded_at") == answer.responded_at and tags.get("approval.kind") == ROLLOUT:
        log.info("%s version %s: the answer was applied already (%s)", name, version, tags.get("rollout.decision"))
        return replace(decision, action=tags.get("rollout.decision", decision.action), reason=tags.get("rollout.reason", decision.reason))
    if not answer.approved:
        decision = replace(decision, action=KEEP, reason=f"not {_past(decision.action)}: {answer.describe()}. {decision.reason}")
    decision = apply_rollout(client, name, aliases, decision)
    # Last: a version with the answer's tags had the answer applied in full.
    tag_version(client, name, version, answer.tags(ROLLOUT))
    _log_answer(name, version, proposal, answer, decision.action)
    return decision


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _past(action: str) -> str:
    return {PROMOTE: "promoted", RETIRE: "retired"}.get(action, action)


def _log_answer(name: str, version: str, proposal: Proposal, answer: Answer, applied: str) -> None:
    log.warning(
        "%s version %s, proposed %s (%s): %s; applied: %s", name, version, proposal.action, proposal.kind, answer.describe(), applied
    )


def rollout_step(
    name: str, aliases: Aliases, policy: RolloutPolicy, rows, day: date, settings: ApprovalSettings, confidence: float
) -> dict[str, Any] | None:
    """drift_monitor's rollout decision: applied as today with approval off; a promote or retire proposed with it on.

    The result is drift_monitor's XCom: the decision's figures, and `proposal` when a person must answer.
    """
    from nightshift.model.registry import registry_client
    from nightshift.model.rollout import decide_and_apply

    done = decide_and_apply(name, aliases, policy, rows, day, defer=settings.required)
    if done is None:
        return None
    decision: RolloutDecision = done.pop("decision")
    if done["pending"]:
        done["proposal"] = rollout_proposal(registry_client(), name, decision, policy, confidence).as_dict()
        log.warning("%s challenger version %s: %s proposed, waiting for approval", name, decision.challenger_version, decision.action)
    return done


def settle_training(result: Mapping[str, Any], hitl: Mapping[str, Any] | None, aliases: Aliases) -> dict[str, Any]:
    """train_model's result once the approval (if any) is answered: the proposal applied as the answer says.

    Without a proposal (approval off, or the gate refused) the result is returned as it is.
    """
    from nightshift.model.registry import registry_client

    if not result.get("proposal"):
        return dict(result)
    if hitl is None:
        raise ValueError(f"version {result['model_version']} was proposed for champion but its approval has no answer")
    proposal, answer = Proposal.from_dict(result["proposal"]), Answer.from_hitl(hitl)
    decision = apply_gate_answer(registry_client(), proposal.model_name, aliases, proposal, answer)
    return {**result, "champion": decision.promoted, "gate": decision.as_dict(), "approval": asdict(answer)}


def settle_rollout(done: Mapping[str, Any] | None, hitl: Mapping[str, Any] | None, aliases: Aliases) -> dict[str, Any] | None:
    """drift_monitor's rollout decision once the approval (if any) is answered; None when nothing was decided."""
    from nightshift.model.registry import registry_client

    if done is None or not done.get("proposal"):
        return None if done is None else dict(done)
    if hitl is None:
        raise ValueError(f"challenger version {done['challenger_version']}: {done['action']} was proposed but its approval has no answer")
    proposal, answer = Proposal.from_dict(done["proposal"]), Answer.from_hitl(hitl)
    decision = apply_rollout_answer(registry_client(), proposal.model_name, aliases, proposal, answer)
    return {**done, "action": decision.action, "reason": decision.reason, "pending": False, "approval": asdict(answer)}
