"""Registry operations of the model lifecycle: applying the gate's verdict, scoring the champion on a
challenger's window, and what `nightshift model list|promote|rollback|lineage` do.

A newly trained version becomes `challenger`; the gate (`nightshift.model.gate`, pure) decides on
what the version's run logged (`gate_version`, once per version, so a retry does not gate twice),
and `apply_decision` moves `champion` if it passed, by compare-and-set, and tags the verdict.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC
from typing import TYPE_CHECKING, Any

from nightshift.model.calibration import served_probabilities
from nightshift.model.evaluation import evaluation_metrics
from nightshift.model.gate import CHAMPION_MOVED, GateDecision, GatePolicy, decide
from nightshift.model.registry import (
    Aliases,
    ChampionMovedError,
    aliases_by_version,
    all_versions,
    champion_history,
    model_version,
    registry_client,
    rollback_champion,
    set_challenger,
    set_champion,
    tag_version,
)

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)


# Tags on a training's MLflow run, set before its version is registered: the champion the gate
# compares it with ("none" when there was none) and why that champion could not be scored, so a
# retry gates the registered version exactly as the attempt that registered it would have.
COMPARED_TAG = "gate.champion_compared"
PROBLEM_TAG = "gate.champion_problem"
NO_CHAMPION = "none"


def apply_decision(client: MlflowClient, name: str, decision: GateDecision, aliases: Aliases) -> GateDecision:
    """Move `champion` if the verdict says so, then write the verdict as tags on the version; return it.

    The move is a compare-and-set against the champion the gate compared with: if `champion`
    moved since (a rollback or promotion by hand while the version trained), the version is not
    promoted over a model it was never compared with, and the verdict says so (`champion_moved`).
    The tags come last, so a version with a recorded outcome had its verdict applied in full.
    """
    if decision.promoted:
        try:
            set_champion(client, name, decision.version, aliases, f"gate: {decision.outcome}", expected=decision.champion_version)
        except ChampionMovedError as moved:
            decision = replace(
                decision,
                outcome=CHAMPION_MOVED,
                reason=(
                    f"not promoted: {moved} (by hand, while version {decision.version} trained) and the gate compared it with "
                    f"{'no champion' if moved.expected is None else f'version {moved.expected}'} only; "
                    f"`nightshift model promote {decision.version}` or a new train_model run decides. "
                    f"Verdict against the champion it read: {decision.outcome}: {decision.reason}"
                ),
            )
    tags = {
        "gate.outcome": decision.outcome,
        "gate.reason": decision.reason,
        "gate.metric": decision.metric,
        "gate.challenger_value": "" if decision.challenger_value is None else f"{decision.challenger_value:.6f}",
        "gate.champion_version": decision.champion_version or "",
        "gate.champion_value": "" if decision.champion_value is None else f"{decision.champion_value:.6f}",
    }
    tag_version(client, name, decision.version, tags)
    if not decision.promoted:
        log.warning("%s version %s stays %s: %s", name, decision.version, aliases.challenger, decision.reason)
    return decision


def recorded_decision(version: ModelVersion) -> GateDecision | None:
    """The verdict already applied to `version` (from its tags), or None if it was never gated."""
    tags = version.tags
    if not tags.get("gate.outcome"):
        return None

    def number(key: str) -> float | None:
        return float(tags[key]) if tags.get(key) else None

    return GateDecision(
        version=str(version.version),
        outcome=tags["gate.outcome"],
        reason=tags.get("gate.reason", ""),
        metric=tags.get("gate.metric", ""),
        challenger_value=number("gate.challenger_value"),
        champion_version=tags.get("gate.champion_version") or None,
        champion_value=number("gate.champion_value"),
    )


def gate_version(
    client: MlflowClient, name: str, version: str, policy: GatePolicy, aliases: Aliases, force: bool, defer_promotion: bool = False
) -> GateDecision:
    """Make a registered version `challenger` and put it through the gate, once.

    Judged on what its run logged (its metrics, the champion's metrics on the same rows, which
    champion that was), not on anything recomputed, so the attempt that registered it and a
    retry reach the same verdict. A version already gated returns its recorded verdict.
    With `defer_promotion` (approval required), a passing verdict is returned unapplied and
    untagged: a person decides (nightshift.model.approval); a refusal is applied as always.
    """
    registered = model_version(client, name, version)
    recorded = recorded_decision(registered)
    if recorded is not None:
        log.info("%s version %s was already gated: %s", name, version, recorded.outcome)
        return recorded
    run = client.get_run(registered.run_id)
    compared = run.data.tags.get(COMPARED_TAG)
    if compared is None:
        raise LookupError(f"run {registered.run_id} of {name} version {version} does not record the champion it was compared with")
    metrics = run.data.metrics
    own = {k: v for k, v in metrics.items() if not k.startswith("champion_")}
    champion = {k.removeprefix("champion_"): v for k, v in metrics.items() if k.startswith("champion_")}
    decision = decide(
        str(version),
        own,
        policy,
        champion_version=None if compared == NO_CHAMPION else compared,
        champion=champion or None,
        champion_problem=run.data.tags.get(PROBLEM_TAG),
        force=force,
    )
    set_challenger(client, name, str(version), aliases)
    if defer_promotion and decision.promoted:
        log.info("%s version %s passed the gate (%s): its promotion waits for approval", name, version, decision.outcome)
        return decision
    return apply_decision(client, name, decision, aliases)


def champion_label_overlap(client: MlflowClient, champion: ModelVersion, eval_start, horizon_days: int) -> str | None:
    """Why the champion cannot be judged fairly on an evaluation window from `eval_start`, or None.

    A champion whose training or calibration labels reach into the window has seen its outcomes (a
    backfill run, or a champion trained before the gap existed) and would win unfairly.
    """
    import pandas as pd

    params = client.get_run(champion.run_id).data.params if champion.run_id else {}
    # The newest date whose label it learned from: its calibration dates' (after every training date), else its training dates'.
    newest = params.get("calib_dates") or params.get("train_dates", "")
    match = re.search(r"\.\.(\d{4}-\d{2}-\d{2})", newest)
    if match is None:
        log.warning("champion version %s does not record its training dates: compared without the overlap check", champion.version)
        return None
    labels_end = pd.Timestamp(match.group(1)) + pd.Timedelta(days=horizon_days)
    if labels_end > pd.Timestamp(eval_start):
        return (
            f"champion version {champion.version} trained on labels up to {labels_end.date()}, inside this evaluation "
            f"window from {pd.Timestamp(eval_start).date()}: it cannot be compared fairly"
        )
    return None


def champion_probabilities(name: str, version: str, frame) -> tuple[Any, str | None]:
    """The champion's churn probabilities for `frame` as scoring serves them (its calibration map applied, if it has one),
    or None and why it cannot score it.

    The champion reads the inputs of its own signature, so a challenger that adds a
    feature can still be compared; a champion that needs a column the frame lacks cannot.
    """
    import mlflow

    uri = f"models:/{name}/{version}"
    signature = mlflow.models.get_model_info(uri).signature
    if signature is None:
        return None, f"champion version {version} has no signature: its inputs are unknown"
    inputs = signature.inputs.input_names()
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        return None, f"champion version {version} cannot score this evaluation window: it lacks inputs {missing}"
    model = mlflow.xgboost.load_model(uri)
    return served_probabilities(model, frame[inputs]), None


def champion_on_window(
    client: MlflowClient, name: str, champion: ModelVersion, frame, horizon_days: int, calibration_bins: int
) -> tuple[dict[str, float] | None, str | None]:
    """The champion's metrics on the challenger's labelled evaluation window, or None and why not."""
    problem = champion_label_overlap(client, champion, frame["as_of_date"].min(), horizon_days)
    if problem is not None:
        return None, problem
    scores, problem = champion_probabilities(name, str(champion.version), frame)
    if scores is None:
        return None, problem
    return evaluation_metrics(frame, frame["label"], scores, calibration_bins), None


# ---- `nightshift model ...`: list, promote, rollback, lineage ----------------------------

KEY_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "expected_calibration_error")


@dataclass(frozen=True)
class VersionRow:
    version: str
    aliases: list[str]
    run_id: str
    created: str
    gate: str
    metrics: dict[str, float]


def _utc(millis: int | None) -> str:
    from datetime import datetime

    return "" if millis is None else datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def list_versions(name: str) -> list[VersionRow]:
    """Every version, newest first, with its aliases, gate outcome and key metrics."""
    client = registry_client()
    aliases = aliases_by_version(client, name)
    rows = []
    for v in all_versions(client, name):
        metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
        rows.append(
            VersionRow(
                version=str(v.version),
                aliases=aliases.get(str(v.version), []),
                run_id=v.run_id or "",
                created=_utc(v.creation_timestamp),
                gate=v.tags.get("gate.outcome", ""),
                metrics={k: metrics[k] for k in KEY_METRICS if k in metrics},
            )
        )
    return rows


def promote(name: str, version: str, aliases: Aliases, reason: str) -> str | None:
    """Make `version` champion by hand (no gate); returns the version it replaced."""
    client = registry_client()
    previous = set_champion(client, name, str(version), aliases, reason)
    if previous != str(version):
        tag_version(client, name, str(version), {"champion.manual": "true"})
    return previous


@dataclass(frozen=True)
class Rollback:
    from_version: str
    to_version: str
    seconds: float  # the registry calls only: no model is loaded, copied or retrained


def rollback(name: str, aliases: Aliases, reason: str) -> Rollback:
    """Move `champion` back to the previous champion, timed."""
    client = registry_client()
    started = time.monotonic()
    from_version, to_version = rollback_champion(client, name, aliases, reason)
    return Rollback(from_version, to_version, time.monotonic() - started)


def lineage(name: str, version: str) -> dict[str, Any]:
    """Where a version came from: run, data fingerprint, git commit, params, gate verdict."""
    client = registry_client()
    v = model_version(client, name, version)
    run = client.get_run(v.run_id)
    params = run.data.params
    data = {k.removeprefix("data."): val for k, val in params.items() if k.startswith("data.")}
    return {
        "model": name,
        "version": str(v.version),
        "aliases": aliases_by_version(client, name).get(str(v.version), []),
        "was_champion": str(v.version) in champion_history(client, name),
        "run_id": v.run_id,
        "experiment_id": run.info.experiment_id,
        "run_started_utc": _utc(run.info.start_time),
        "source": v.source,
        "data": data,
        "git": {"commit": run.data.tags.get("git.commit", "unknown"), "dirty": run.data.tags.get("git.dirty", "unknown")},
        "training_set": run.data.tags.get("training_set", ""),
        "params": {k: val for k, val in sorted(params.items()) if not k.startswith("data.")},
        "gate": {k.removeprefix("gate."): val for k, val in sorted(v.tags.items()) if k.startswith("gate.")},
        "champion_tags": {k: val for k, val in sorted(v.tags.items()) if k.startswith("champion.")},
        # Who approved or rejected its promotion, when and why (rollout.approval: required).
        "approval": {k.removeprefix("approval."): val for k, val in sorted(v.tags.items()) if k.startswith("approval.")},
        "metrics": {k: run.data.metrics[k] for k in KEY_METRICS if k in run.data.metrics},
    }
