"""The champion/challenger gate's verdict, pure: metrics in, decision out, no registry.

A newly trained version passes when it meets the absolute floors and ceilings of
`params.yaml` (`gate`) and beats the current champion on the same evaluation window by
at least `gate.min_improvement`; the first version of a model passes on the floors alone.
`nightshift.model.lifecycle` applies the verdict to the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from nightshift.model.evaluation import HIGHER_IS_BETTER

PROMOTED, REJECTED, FORCED, FIRST = "promoted", "rejected", "forced", "first_champion"
# Not the gate's own verdict: the lifecycle's, when `champion` moved after the gate read it.
CHAMPION_MOVED = "champion_moved"


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
    outcome: str  # promoted | rejected | forced | first_champion (| champion_moved, from the lifecycle)
    reason: str
    metric: str
    challenger_value: float | None
    champion_version: str | None = None
    champion_value: float | None = None

    @property
    def promoted(self) -> bool:
        return self.outcome in (PROMOTED, FORCED, FIRST)

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
