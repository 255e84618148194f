"""The rollout verdict: promote, keep or retire the challenger on its matured days of realized comparison.

Beside the gate (nightshift.model.gate), which judges a new version on its backtest: this judges it on
what its shadow scores achieved against the champion's on the same customers (``model_comparison``
rows, nightshift.monitoring.comparison). Pure: nightshift.model.rollout applies the verdict to the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from nightshift.warehouse.rows import ALL, ROC_AUC, ComparisonRow

PROMOTE, KEEP, RETIRE = "promote", "keep", "retire"


@dataclass(frozen=True)
class RolloutPolicy:
    min_matured_days: int
    min_auc_margin: float

    def __post_init__(self) -> None:
        if self.min_matured_days < 1 or not 0 <= self.min_auc_margin < 0.5:
            raise ValueError(f"params.yaml rollout needs min_matured_days >= 1 and min_auc_margin in [0, 0.5), got {self}")

    @classmethod
    def from_params(cls, rollout: Mapping[str, Any]) -> RolloutPolicy:
        return cls(int(rollout["min_matured_days"]), float(rollout["min_auc_margin"]))


@dataclass(frozen=True)
class RolloutDecision:
    action: str  # promote | keep | retire
    reason: str
    champion_version: str
    challenger_version: str
    days: int
    first_date: date | None
    last_date: date | None
    auc_diff: float | None
    auc_diff_low: float | None
    auc_diff_high: float | None

    def tags(self) -> dict[str, str]:
        """The figures as registry tags on the challenger."""

        def number(x: float | None) -> str:
            return "" if x is None else f"{x:.6f}"

        return {
            "rollout.decision": self.action,
            "rollout.reason": self.reason,
            "rollout.champion_version": self.champion_version,
            "rollout.days": str(self.days),
            "rollout.dates": f"{self.first_date}..{self.last_date}" if self.first_date else "",
            "rollout.auc_diff": number(self.auc_diff),
            "rollout.auc_diff_low": number(self.auc_diff_low),
            "rollout.auc_diff_high": number(self.auc_diff_high),
        }


def decide_rollout(
    daily: Sequence[ComparisonRow], champion_version: str, challenger_version: str, policy: RolloutPolicy
) -> RolloutDecision:
    """Promote, keep or retire the challenger on its matured days against this champion.

    Over the days with an AUC difference (segment ``all``): the difference is the mean of the daily
    differences, the interval the mean of the daily bounds. The same customers are scored every day,
    so the days are not independent; the averaged interval is never narrower than the interval of
    the mean would be (its spread is at most the mean of the daily spreads), so the policy errs
    towards keeping. Promote when at least ``min_matured_days`` days are in, the interval lies above
    0 and the difference reaches ``min_auc_margin``; retire when the interval lies below 0 and the
    difference is ``min_auc_margin`` or more below; keep otherwise.
    """
    days = sorted(
        (
            r
            for r in daily
            if r.segment == ALL
            and r.auc_diff is not None
            and r.champion_version == champion_version
            and r.challenger_version == challenger_version
        ),
        key=lambda r: r.score_date,
    )

    def verdict(action: str, reason: str, diff=None, low=None, high=None) -> RolloutDecision:
        first, last = (days[0].score_date, days[-1].score_date) if days else (None, None)
        return RolloutDecision(action, reason, champion_version, challenger_version, len(days), first, last, diff, low, high)

    if len(days) < policy.min_matured_days:
        return verdict(
            KEEP,
            f"{len(days)} matured day(s) of challenger {challenger_version} against champion {champion_version}, "
            f"need {policy.min_matured_days}",
        )
    diff = float(np.mean([r.auc_diff for r in days]))
    low = float(np.mean([r.auc_diff_low for r in days]))
    high = float(np.mean([r.auc_diff_high for r in days]))
    figures = (
        f"ROC AUC difference {diff:+.4f} [{low:+.4f}, {high:+.4f}] over {len(days)} matured days "
        f"({days[0].score_date}..{days[-1].score_date})"
    )
    margin = policy.min_auc_margin
    if low > 0 and diff >= margin:
        return verdict(
            PROMOTE, f"{figures}: better than champion {champion_version} by at least {margin}, interval above 0", diff, low, high
        )
    if high < 0 and diff <= -margin:
        return verdict(RETIRE, f"{figures}: worse than champion {champion_version} by at least {margin}, interval below 0", diff, low, high)
    return verdict(
        KEEP, f"{figures}: not conclusive (promote needs the interval above 0 and +{margin}, retire below 0 and -{margin})", diff, low, high
    )


def daily_auc(rows: Sequence[ComparisonRow]) -> dict[str, list[tuple[date, float]]]:
    """Both models' realized ROC AUC (every customer) per day, for the plot."""
    out: dict[str, list[tuple[date, float]]] = {}
    for r in sorted((r for r in rows if r.segment == ALL), key=lambda r: r.score_date):
        for label, values in ((f"champion v{r.champion_version}", r.champion), (f"challenger v{r.challenger_version}", r.challenger)):
            if ROC_AUC in values:
                out.setdefault(label, []).append((r.score_date, values[ROC_AUC]))
    return out
