"""Champion against challenger on what really happened: the same customers, the same labels.

For a matured score date the champion's served rows and the challenger's shadow rows of the same
customers are compared, for every customer and within each plan and region, with the gate's own
metric functions (ROC AUC, PR AUC, Brier, expected calibration error), and the challenger's ROC AUC
minus the champion's gets a paired bootstrap interval: customers are resampled, each resample
scores both models on the same draw, so what the two share (the day's difficulty) cancels out.

The bootstrap is tie-aware and never re-sorts: scores are ranked once, and a resample is a vector of
integer weights (how often each customer was drawn), so each resample's AUC is a few ``bincount``
and ``cumsum`` calls over the rows, O(n) instead of O(n log n).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from nightshift.monitoring.performance import ALL, ROC_AUC, segment_masks, segment_metrics

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

METRICS = ("roc_auc", "pr_auc", "brier", "expected_calibration_error")
PROMOTE, KEEP, RETIRE = "promote", "keep", "retire"


@dataclass(frozen=True)
class Bootstrap:
    resamples: int
    seed: int
    confidence: float

    def __post_init__(self) -> None:
        if self.resamples < 100 or not 0.5 < self.confidence < 1:
            raise ValueError(f"params.yaml rollout.bootstrap needs resamples >= 100 and confidence in (0.5, 1), got {self}")

    @classmethod
    def from_params(cls, rollout: Mapping[str, Any]) -> Bootstrap:
        b = rollout["bootstrap"]
        return cls(int(b["resamples"]), int(b["seed"]), float(b["confidence"]))


class _Ranked:
    """One model's scores ranked once: each row's tie group, in ascending score order."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray) -> None:
        _, groups = np.unique(scores, return_inverse=True)
        self.groups = groups.ravel()
        self.size = int(self.groups.max()) + 1 if len(self.groups) else 0
        # One bincount per resample: positives of group g at 2g + 1, negatives at 2g.
        self.slots = 2 * self.groups + labels.astype(np.int64)

    def auc(self, weights: np.ndarray) -> float:
        """ROC AUC of the rows counted ``weights`` times: P(score of a positive > a negative's), ties half."""
        counts = np.bincount(self.slots, weights=weights, minlength=2 * self.size).reshape(-1, 2)
        neg, pos = counts[:, 0], counts[:, 1]
        below = np.cumsum(neg) - neg
        total = pos.sum() * neg.sum()
        return float(np.dot(pos, below + 0.5 * neg) / total) if total > 0 else float("nan")


def paired_auc_difference(
    labels: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    bootstrap: Bootstrap,
    clusters: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """(challenger AUC - champion AUC, interval low, interval high): seeded paired bootstrap, percentile interval.

    ``clusters`` (one integer per row, 0..k-1) resamples groups of rows together, e.g. a customer's
    rows over several days; by default every row is its own cluster.
    """
    y = np.asarray(labels).astype(np.int64)
    if not (0 < y.sum() < len(y)):
        raise ValueError(f"an AUC difference needs both outcomes: {len(y)} rows, {int(y.sum())} positive")
    ranked = (_Ranked(np.asarray(champion, dtype=np.float64), y), _Ranked(np.asarray(challenger, dtype=np.float64), y))
    ones = np.ones(len(y))
    diff = ranked[1].auc(ones) - ranked[0].auc(ones)
    index = np.arange(len(y)) if clusters is None else np.asarray(clusters, dtype=np.int64)
    k = int(index.max()) + 1
    rng = np.random.default_rng(bootstrap.seed)
    diffs = np.empty(bootstrap.resamples)
    for b in range(bootstrap.resamples):
        drawn = np.bincount(rng.integers(0, k, k), minlength=k).astype(np.float64)
        weights = drawn[index]
        diffs[b] = ranked[1].auc(weights) - ranked[0].auc(weights)
    diffs = diffs[~np.isnan(diffs)]  # a resample that drew one outcome only has no AUC
    tail = (1 - bootstrap.confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return float(diff), float(low), float(high)


@dataclass(frozen=True)
class ComparisonRow:
    score_date: date
    model_name: str
    champion_version: str
    challenger_version: str
    segment: str
    rows: int
    positives: int
    champion: dict[str, float]  # metric -> value; AUCs absent where a segment has one outcome only
    challenger: dict[str, float]
    auc_diff: float | None
    auc_diff_low: float | None
    auc_diff_high: float | None


def compare_day(
    score_date: date,
    model_name: str,
    champion_version: str,
    challenger_version: str,
    frame: pd.DataFrame,
    calibration_bins: int,
    bootstrap: Bootstrap,
) -> list[ComparisonRow]:
    """Every segment's comparison for one date.

    ``frame`` has one row per customer both models scored: label, plan, region, ``champion`` and
    ``challenger`` (their probabilities).
    """
    if frame.empty:
        return []
    own = {
        model: {
            (segment, metric): value
            for segment, metric, value, _, _ in segment_metrics(
                frame[["label", "plan", "region"]].assign(churn_probability=frame[model]), calibration_bins
            )
        }
        for model in ("champion", "challenger")
    }
    out = []
    for segment, inside in segment_masks(frame):
        part = frame[inside]
        if part.empty:
            continue
        y = part["label"].to_numpy()
        diff = low = high = None
        if 0 < y.sum() < len(y):
            diff, low, high = paired_auc_difference(y, part["champion"].to_numpy(), part["challenger"].to_numpy(), bootstrap)

        def metrics(model: str, seg: str = segment) -> dict[str, float]:
            return {m: own[model][(seg, m)] for m in METRICS if (seg, m) in own[model]}

        out.append(
            ComparisonRow(
                score_date,
                model_name,
                champion_version,
                challenger_version,
                segment,
                len(part),
                int(y.sum()),
                metrics("champion"),
                metrics("challenger"),
                diff,
                low,
                high,
            )
        )
    return out


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


def comparison_table(rows: Sequence[ComparisonRow]) -> str:
    """One line per date, challenger and segment: both models' four metrics and the AUC difference."""
    short = {"roc_auc": "auc", "pr_auc": "pr_auc", "brier": "brier", "expected_calibration_error": "ece"}
    head = (
        f"{'score_date':<11} {'champ':>5} {'chall':>5} {'segment':<16} {'rows':>7} {'churned':>7} "
        + " ".join(f"{'c.' + short[m]:>8} {'x.' + short[m]:>8}" for m in METRICS)
        + f" {'auc_diff':>9} {'interval':>19}"
    )
    out = [head, "-" * len(head)]
    for r in rows:

        def cell(values: dict[str, float], m: str) -> str:
            return f"{values[m]:>8.4f}" if m in values else f"{'':>8}"

        metrics = " ".join(f"{cell(r.champion, m)} {cell(r.challenger, m)}" for m in METRICS)
        diff = f"{r.auc_diff:>+9.4f} [{r.auc_diff_low:+.4f}, {r.auc_diff_high:+.4f}]" if r.auc_diff is not None else f"{'':>9} {'':>19}"
        out.append(
            f"{r.score_date.isoformat():<11} {r.champion_version:>5} {r.challenger_version:>5} {r.segment:<16} "
            f"{r.rows:>7} {r.positives:>7} {metrics} {diff}"
        )
    return "\n".join(out)


def daily_auc(rows: Sequence[ComparisonRow]) -> dict[str, list[tuple[date, float]]]:
    """Both models' realized ROC AUC (every customer) per day, for the plot."""
    out: dict[str, list[tuple[date, float]]] = {}
    for r in sorted((r for r in rows if r.segment == ALL), key=lambda r: r.score_date):
        for label, values in ((f"champion v{r.champion_version}", r.champion), (f"challenger v{r.challenger_version}", r.challenger)):
            if ROC_AUC in values:
                out.setdefault(label, []).append((r.score_date, values[ROC_AUC]))
    return out
