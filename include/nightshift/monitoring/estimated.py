"""Estimated performance: what a day's served scores will achieve, estimated from the scores alone.

Labels mature ``label_horizon_days`` after a score; the estimate is there the night the day is scored.
It is confidence-based performance estimation: a calibrated probability p is the chance its customer
churns, so each row counts as p of a positive and 1 - p of a negative. At every threshold the expected
true and false positives are the sums of p and of 1 - p over the rows at or above it, and the expected
ROC curve and precision-recall curve follow; their areas are computed by the very scikit-learn
functions realized performance uses (``roc_auc_score``, ``average_precision_score``), on each row
entered twice (once as a positive weighted p, once as a negative weighted 1 - p). The expected positive
rate is the mean of p.

Blind spot: the estimate only knows the probabilities. A shift in the inputs moves the probabilities
and so the estimate; a shift in the outcome alone (the same customers, behaving the same, churning
more) leaves the probabilities and the estimate where they were: only realized performance, a
horizon later, sees it. Miscalibrated probabilities bias the estimate as much as they are off.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nightshift.monitoring.performance import segment_masks
from nightshift.warehouse.estimated import EstimateRow
from nightshift.warehouse.rows import ALL, ROC_AUC

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

PR_AUC, POSITIVE_RATE = "pr_auc", "positive_rate"
ESTIMATED_METRICS = (ROC_AUC, PR_AUC, POSITIVE_RATE)


def expected_metrics(probabilities: np.ndarray | Sequence[float]) -> dict[str, float]:
    """Expected ROC AUC, PR AUC (average precision) and positive rate of rows whose churn chances are ``probabilities``.

    The AUCs need some expected positives and negatives: all-zero or all-one probabilities give the
    positive rate only.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    p = np.asarray(probabilities, dtype="float64")
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"an estimate needs a non-empty 1-d array of probabilities, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("an estimate needs probabilities in [0, 1]; got values outside it or not finite")
    out = {POSITIVE_RATE: float(p.mean())}
    if 0 < p.sum() < len(p):
        # Each row twice: a positive weighted p and a negative weighted 1 - p, both scored p.
        labels = np.concatenate([np.ones(len(p)), np.zeros(len(p))])
        scores = np.concatenate([p, p])
        weights = np.concatenate([p, 1.0 - p])
        out[ROC_AUC] = float(roc_auc_score(labels, scores, sample_weight=weights))
        out[PR_AUC] = float(average_precision_score(labels, scores, sample_weight=weights))
    return out


def estimated_rows(score_date: date, model_name: str, frame: pd.DataFrame) -> list[EstimateRow]:
    """Every row of ``estimated_performance`` for one date: per model version that served it, every customer, plan and region.

    ``frame`` holds churn_probability, model_version, plan and region per served customer (plan and
    region null for a customer the day's snapshot does not know: counted under every customer only).
    """
    rows = []
    for version, part in frame.groupby("model_version", sort=True):
        for segment, inside in segment_masks(part):
            p = part.loc[inside, "churn_probability"].to_numpy(dtype="float64")
            if len(p) == 0:
                continue
            expected = float(p.sum())
            rows += [
                EstimateRow(score_date, model_name, str(version), segment, metric, value, len(p), expected)
                for metric, value in expected_metrics(p).items()
            ]
    return rows


def estimate_reason(
    estimated: Sequence[EstimateRow], champion_version: str | None, floors: Mapping[str, float], day: date, persist_days: int
) -> str | None:
    """A retrain reason when the champion's estimated ROC AUC (every customer) is below the gate's floor on each of the
    ``persist_days`` calendar days ending at ``day``; a day without an estimate breaks the run.
    """
    floor = floors.get(ROC_AUC)
    if floor is None or champion_version is None:
        return None
    by_date = {r.score_date: r.value for r in estimated if r.segment == ALL and r.metric == ROC_AUC and r.model_version == champion_version}
    days = [day - timedelta(days=i) for i in range(persist_days)]
    if not all(d in by_date and by_date[d] < float(floor) for d in days):
        return None
    shown = ", ".join(f"{d}: {by_date[d]:.4f}" for d in reversed(days))
    return (
        f"estimated ROC AUC of version {champion_version} (from the scores alone, labels not matured) is below the gate "
        f"floor {float(floor)} on {persist_days} consecutive day(s) ({shown})"
    )


def estimate_day(url: str, data_dir: Path, day: date) -> dict[str, Any]:
    """Estimate and store the performance of ``day``'s published scores; a summary (rows, estimated ROC AUC per version).

    Plan and region are the customer's on the day, from the day's customers snapshot, as for realized
    performance; the snapshot has landed, since the day was scored from it.
    """
    import pandas as pd

    from nightshift.contract import customers_partition
    from nightshift.warehouse.estimated import write_estimated
    from nightshift.warehouse.performance import published_scores

    scores = published_scores(url, day)
    if scores.empty:
        raise ValueError(f"no published scores for {day} in churn_scores: nothing to estimate (was the day scored and published?)")
    snapshot = pd.read_parquet(customers_partition(data_dir, day), columns=["customer_id", "plan", "region"])
    frame = scores.merge(snapshot, on="customer_id", how="left")
    rows = estimated_rows(day, str(frame["model_name"].iloc[0]), frame)
    write_estimated(url, day, rows)
    auc = {r.model_version: round(r.value, 4) for r in rows if r.segment == ALL and r.metric == ROC_AUC}
    log.info("%s: %d published customers; estimated ROC AUC %s", day, len(scores), auc)
    return {"score_date": day.isoformat(), "scored": len(scores), "roc_auc": auc}


def auc_series(rows: Sequence[Any]) -> list[tuple[date, float]]:
    """(date, ROC AUC of every customer) per date, from estimated or realized rows: on a date several versions served
    (a canary), the figure of the one that served the most customers.
    """
    best: dict[date, Any] = {}
    for r in rows:
        if r.segment == ALL and r.metric == ROC_AUC and (r.score_date not in best or r.rows > best[r.score_date].rows):
            best[r.score_date] = r
    return [(d, best[d].value) for d in sorted(best)]
