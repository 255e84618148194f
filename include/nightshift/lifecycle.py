"""The champion/challenger gate and the registry operations behind `nightshift model ...`.

A newly trained version becomes `challenger`. The gate promotes it to `champion` only if
it passes the absolute floors and ceilings of `params.yaml` (`gate`) and beats the
current champion on the same evaluation window by at least `gate.min_improvement`;
otherwise the champion stays and the reason is written as tags on the version. The first
version of a model becomes champion if it passes the floors.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nightshift.evaluation import HIGHER_IS_BETTER, evaluation_metrics
from nightshift.registry import Aliases, champion_history, model_version, registry_client, rollback_champion, set_champion

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

PROMOTED, REJECTED, FORCED, FIRST = "promoted", "rejected", "forced", "first_champion"


def _direction(metric: str) -> bool:
    # Segment metrics (roc_auc_plan_basic, ...) follow their base metric.
    for base, higher in HIGHER_IS_BETTER.items():
        if metric == base or metric.startswith(f"{base}_"):
            return higher
    raise ValueError(f"unknown metric {metric!r} in the gate; known: {sorted(HIGHER_IS_BETTER)} and their segment variants")


@dataclass(frozen=True)
class GatePolicy:
    """What a challenger must achieve: floors (at least), ceilings (at most), and a margin over the champion."""

    metric: str = "roc_auc"
    min_improvement: float = 0.0
    floors: dict[str, float] = field(default_factory=dict)
    ceilings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for metric in [self.metric, *self.floors, *self.ceilings]:
            _direction(metric)
        if self.min_improvement < 0:
            raise ValueError(f"gate.min_improvement must be >= 0, got {self.min_improvement}")

    @classmethod
    def from_params(cls, gate: Mapping[str, Any]) -> GatePolicy:
        return cls(
            metric=str(gate.get("metric", "roc_auc")),
            min_improvement=float(gate.get("min_improvement", 0.0)),
            floors={k: float(v) for k, v in (gate.get("floors") or {}).items()},
            ceilings={k: float(v) for k, v in (gate.get("ceilings") or {}).items()},
        )


@dataclass(frozen=True)
class GateDecision:
    version: str
    outcome: str  # promoted | rejected | forced | first_champion
    reason: str
    metric: str
    challenger_value: float | None
    champion_version: str | None = None
    champion_value: float | None = None

    @property
    def promoted(self) -> bool:
        return self.outcome != REJECTED

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "promoted": self.promoted}


def floor_failures(metrics: Mapping[str, float], policy: GatePolicy) -> list[str]:
    """Why `metrics` miss the absolute bounds; empty when they pass."""
    failures = []
    for metric, floor in policy.floors.items():
        value = metrics.get(metric)
        if value is None:
            failures.append(f"{metric} was not computed (floor {floor})")
        elif value < floor:
            failures.append(f"{metric} {value:.4f} < floor {floor}")
    for metric, ceiling in policy.ceilings.items():
        value = metrics.get(metric)
        if value is None:
            failures.append(f"{metric} was not computed (ceiling {ceiling})")
        elif value > ceiling:
            failures.append(f"{metric} {value:.4f} > ceiling {ceiling}")
    return failures


def decide(
    version: str,
    challenger: Mapping[str, float],
    policy: GatePolicy,
    champion_version: str | None = None,
    champion: Mapping[str, float] | None = None,
    champion_problem: str | None = None,
    force: bool = False,
) -> GateDecision:
    """The gate's verdict on a challenger (pure: no registry access).

    `champion` holds the champion's metrics on the challenger's evaluation window;
    `champion_problem` says why there are none although a champion exists (it cannot
    score this window, e.g. its inputs changed): then only a forced promotion passes.
    """
    metric = policy.metric
    value = challenger.get(metric)
    champion_value = champion.get(metric) if champion else None
    problems = floor_failures(challenger, policy)
    if champion_version is not None and not problems:
        if champion_value is None:
            problems.append(champion_problem or f"champion version {champion_version} has no {metric} on this window")
        elif value is None:
            problems.append(f"challenger has no {metric}")
        else:
            gain = value - champion_value if _direction(metric) else champion_value - value
            if gain <= 0 or gain < policy.min_improvement:
                problems.append(
                    f"{metric} {value:.4f} vs champion version {champion_version} {champion_value:.4f}: "
                    f"improvement {gain:+.4f} is below the required {policy.min_improvement}"
                )

    def verdict(outcome: str, reason: str) -> GateDecision:
        return GateDecision(version, outcome, reason, metric, value, champion_version, champion_value)

    if force:
        return verdict(FORCED, "forced promotion" + (f"; the gate would have refused: {'; '.join(problems)}" if problems else ""))
    if problems:
        return verdict(REJECTED, "; ".join(problems))
    if champion_version is None:
        return verdict(FIRST, f"first champion: passes the floors ({metric} {value:.4f})")
    return verdict(
        PROMOTED,
        f"{metric} {value:.4f} beats champion version {champion_version} {champion_value:.4f} by at least {policy.min_improvement}",
    )


def apply_decision(client: MlflowClient, name: str, decision: GateDecision, aliases: Aliases) -> None:
    """Write the verdict as tags on the version and move `champion` if it passed."""
    tags = {
        "gate.outcome": decision.outcome,
        "gate.reason": decision.reason,
        "gate.metric": decision.metric,
        "gate.challenger_value": "" if decision.challenger_value is None else f"{decision.challenger_value:.6f}",
        "gate.champion_version": decision.champion_version or "",
        "gate.champion_value": "" if decision.champion_value is None else f"{decision.champion_value:.6f}",
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, decision.version, key, value)
    if decision.promoted:
        set_champion(client, name, decision.version, aliases, f"gate: {decision.outcome}")
    else:
        log.warning("%s version %s stays %s: %s", name, decision.version, aliases.challenger, decision.reason)


def champion_label_overlap(client: MlflowClient, champion: ModelVersion, eval_start, horizon_days: int) -> str | None:
    """Why the champion cannot be judged fairly on an evaluation window from `eval_start`, or None.

    A champion whose training labels reach into the window has seen its outcomes (a
    backfill run, or a champion trained before the gap existed) and would win unfairly.
    """
    import pandas as pd

    train_dates = client.get_run(champion.run_id).data.params.get("train_dates", "") if champion.run_id else ""
    match = re.search(r"\.\.(\d{4}-\d{2}-\d{2})", train_dates)
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
    """The champion's churn probabilities for `frame`, or None and why it cannot score it.

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
    return model.predict_proba(frame[inputs])[:, 1], None


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


def _versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        raise LookupError(f"no versions of model {name!r} in the registry: run the train_model DAG first")
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def _aliases_by_version(client: MlflowClient, name: str) -> dict[str, list[str]]:
    # search_model_versions leaves ModelVersion.aliases empty; the registered model has them all.
    out: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(name).aliases.items():
        out.setdefault(str(version), []).append(alias)
    return {version: sorted(names) for version, names in out.items()}


def _utc(millis: int | None) -> str:
    from datetime import datetime, timezone

    return "" if millis is None else datetime.fromtimestamp(millis / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")


def list_versions(name: str) -> list[VersionRow]:
    """Every version, newest first, with its aliases, gate outcome and key metrics."""
    client = registry_client()
    aliases = _aliases_by_version(client, name)
    rows = []
    for v in _versions(client, name):
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
        client.set_model_version_tag(name, str(version), "champion.manual", "true")
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
        "aliases": _aliases_by_version(client, name).get(str(v.version), []),
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
        "metrics": {k: run.data.metrics[k] for k in KEY_METRICS if k in run.data.metrics},
    }

