"""Promotion on evidence: the rollout policy's decision applied to the registry, and its record in MLflow.

The decision (``nightshift.model.rollout_policy.decide_rollout``) is on the challenger's matured
days against the current champion. Promotion is the lifecycle's own compare-and-set
(``set_champion`` with the champion the evidence was gathered against, so a champion moved by hand
in between is never replaced on evidence about another) and keeps the champion history, so
``nightshift model rollback`` undoes it. Retiring removes the `challenger` alias, so nightly scoring
stops spending a pass on it. Every decision, keep included, is written as ``rollout.*`` tags on the
challenger; promote and retire also set ``gate.outcome`` (``promoted_on_evidence``,
``retired_on_evidence``) and ``gate.reason``, keeping the backtest verdict in ``rollout.backtest_outcome``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from nightshift.model.registry import (
    Aliases,
    ChampionMovedError,
    model_version,
    registry_client,
    remove_alias,
    set_champion,
    tag_version,
    version_by_alias,
)
from nightshift.model.rollout_policy import KEEP, PROMOTE, RETIRE, RolloutDecision, RolloutPolicy, daily_auc, decide_rollout

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow.tracking import MlflowClient

    from nightshift.warehouse.rows import ComparisonRow

log = logging.getLogger(__name__)

PROMOTED_ON_EVIDENCE = "promoted_on_evidence"
RETIRED_ON_EVIDENCE = "retired_on_evidence"


def apply_rollout(client: MlflowClient, name: str, aliases: Aliases, decision: RolloutDecision) -> RolloutDecision:
    """Move the aliases as ``decision`` says (compare-and-set), then tag the challenger; return what was applied."""
    version = decision.challenger_version
    if decision.action == PROMOTE:
        try:
            set_champion(client, name, version, aliases, f"rollout: {PROMOTED_ON_EVIDENCE}", expected=decision.champion_version)
        except ChampionMovedError as moved:
            decision = replace(
                decision,
                action=KEEP,
                reason=f"not promoted: {moved}; the evidence was against version {decision.champion_version}. {decision.reason}",
            )
    elif decision.action == RETIRE:
        current = version_by_alias(client, name, aliases.challenger)
        if current is not None and str(current.version) == version:
            remove_alias(client, name, aliases.challenger)
        else:
            decision = replace(
                decision,
                action=KEEP,
                reason=f"not retired: {aliases.challenger} moved to {None if current is None else current.version}. {decision.reason}",
            )
    tags = decision.tags()
    if decision.action in (PROMOTE, RETIRE):
        before = model_version(client, name, version).tags.get("gate.outcome", "")
        tags |= {
            "rollout.backtest_outcome": before,
            "gate.outcome": PROMOTED_ON_EVIDENCE if decision.action == PROMOTE else RETIRED_ON_EVIDENCE,
            "gate.reason": decision.reason,
        }
    tag_version(client, name, version, tags)
    level = logging.WARNING if decision.action != KEEP else logging.INFO
    log.log(level, "%s challenger version %s: %s (%s)", name, version, decision.action, decision.reason)
    return decision


def daily_auc_figure(rows: Sequence[ComparisonRow]) -> Figure:
    """Both models' realized ROC AUC per score date (every customer)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    for label, points in daily_auc(rows).items():
        ax.plot([d for d, _ in points], [v for _, v in points], marker="o", label=label)
    ax.set_title("realized ROC AUC per score date, same customers")
    ax.set_xlabel("score date")
    ax.set_ylabel("ROC AUC")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def decide_and_apply(
    name: str, aliases: Aliases, policy: RolloutPolicy, rows: Sequence[ComparisonRow], day: date, defer: bool = False
) -> dict[str, Any] | None:
    """Judge the registry's challenger on its comparison rows, apply the verdict, log the evidence to MLflow.

    None when there is no challenger other than the champion. The MLflow run (in the model's
    experiment, tagged ``nightshift.kind=rollout``) holds the figures and ``plots/daily_auc.png``.
    With ``defer`` (approval required), a promote or retire is logged but not applied (``pending``,
    ``decision`` says what a person is asked; nightshift.model.approval applies the answer); keep is applied.
    """
    import mlflow

    from nightshift.model.registry import ensure_experiment

    client = registry_client()
    champion = version_by_alias(client, name, aliases.champion)
    challenger = version_by_alias(client, name, aliases.challenger)
    if champion is None or challenger is None or str(champion.version) == str(challenger.version):
        log.info("%s has no challenger besides the champion: no rollout decision", name)
        return None
    champion_version, challenger_version = str(champion.version), str(challenger.version)
    decision = decide_rollout(rows, champion_version, challenger_version, policy)
    pending = defer and decision.action != KEEP
    if not pending:
        decision = apply_rollout(client, name, aliases, decision)
    pair = [r for r in rows if r.champion_version == champion_version and r.challenger_version == challenger_version]
    ensure_experiment(name)
    with mlflow.start_run(run_name=f"rollout v{challenger_version} vs v{champion_version} as of {day}") as run:
        approval = {"rollout.approval": "pending"} if pending else {}
        mlflow.set_tags({"nightshift.kind": "rollout", "rollout.as_of": day.isoformat(), **decision.tags(), **approval})
        mlflow.log_params({"champion_version": champion_version, "challenger_version": challenger_version, **policy.__dict__})
        for key in ("auc_diff", "auc_diff_low", "auc_diff_high"):
            if getattr(decision, key) is not None:
                mlflow.log_metric(key, getattr(decision, key))
        mlflow.log_metric("matured_days", decision.days)
        if pair:
            mlflow.log_figure(daily_auc_figure(pair), "plots/daily_auc.png")
        tag_version(client, name, challenger_version, {"rollout.mlflow_run": run.info.run_id})
    return {
        "action": decision.action,
        "reason": decision.reason,
        "champion_version": champion_version,
        "challenger_version": challenger_version,
        "days": decision.days,
        "auc_diff": decision.auc_diff,
        "mlflow_run": run.info.run_id,
        "pending": pending,
        "decision": decision,
    }
