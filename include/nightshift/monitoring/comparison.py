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

from nightshift.monitoring.performance import segment_masks, segment_metrics
from nightshift.warehouse.rows import METRICS, ComparisonRow

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


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
