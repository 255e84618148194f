"""How good a churn model is on a labelled window, and what its inputs and scores looked like there.

Metrics cover ranking (ROC AUC, PR AUC), probability quality (log loss, Brier score,
expected calibration error) and fairness across segments (ROC AUC per plan and per
region), so a model that ranks well overall but fails one segment or is badly
calibrated shows it. The reference distributions are what drift monitoring compares a
scoring day against (`training_reference`: one day, the newest evaluation date).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from nightshift.contract import PLANS, REGIONS

log = logging.getLogger(__name__)

# Whether a larger value of a metric is better: the gate compares in that direction.
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "pr_auc": True,
    "log_loss": False,
    "brier": False,
    "expected_calibration_error": False,
}


def evaluate(labels, probabilities) -> dict[str, float]:
    """Ranking and log loss: ROC AUC, PR AUC (average precision), log loss."""
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "log_loss": float(log_loss(labels, probabilities, labels=[0, 1])),
    }


def calibration_metrics(labels, probabilities, bins: int = 10) -> dict[str, float]:
    """Brier score and expected calibration error over `bins` equal-width probability bins.

    ECE is the row-weighted mean gap between the mean predicted probability and the
    observed churn rate of each bin: a score of 0.2 should mean one customer in five churns.
    """
    import numpy as np

    if bins < 1:
        raise ValueError(f"calibration needs at least one bin, got {bins}")
    y = np.asarray(labels, dtype="float64")
    p = np.asarray(probabilities, dtype="float64")
    if len(y) == 0 or len(y) != len(p):
        raise ValueError(f"calibration needs as many labels as probabilities, and some (got {len(y)} and {len(p)})")
    # Bin b holds p in [b/bins, (b+1)/bins); p == 1.0 goes into the last bin.
    index = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            ece += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return {"brier": float(np.mean((p - y) ** 2)), "expected_calibration_error": float(ece)}


def segment_roc_auc(frame, labels, probabilities) -> dict[str, float]:
    """ROC AUC within each plan and each region (from the one-hot feature columns).

    A segment whose rows are all one label has no AUC and is left out (logged), rather
    than reported as a made-up number.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels)
    p = np.asarray(probabilities)
    out: dict[str, float] = {}
    for kind, values in (("plan", PLANS), ("region", REGIONS)):
        for value in values:
            column = f"{kind}_{value}"
            if column not in frame.columns:
                continue
            inside = frame[column].to_numpy() == 1
            if len(np.unique(y[inside])) < 2:
                log.info("no ROC AUC for %s=%s: %d rows, a single label value", kind, value, int(inside.sum()))
                continue
            out[f"roc_auc_{kind}_{value}"] = float(roc_auc_score(y[inside], p[inside]))
    return out


def evaluation_metrics(frame, labels, probabilities, calibration_bins: int = 10) -> dict[str, float]:
    """Every metric of a labelled window: overall, calibration and per segment."""
    return {
        **evaluate(labels, probabilities),
        **calibration_metrics(labels, probabilities, calibration_bins),
        **segment_roc_auc(frame, labels, probabilities),
    }


def distribution(values, quantiles: int = 10) -> dict[str, Any]:
    """A column's reference distribution: quantile cut points and the share of rows in each bin.

    Bins are (-inf, c1], (c1, c2], ..., (ck, inf) over the distinct interior cut points,
    so a drift check can bin new data with the same cuts whatever its range, and compare
    shares bin by bin (PSI). Few-valued columns (one-hot flags) get fewer cuts.
    """
    import numpy as np

    x = np.asarray(values, dtype="float64")
    missing = np.isnan(x)
    present = x[~missing]
    if present.size == 0:
        return {"rows": int(x.size), "null_fraction": 1.0, "cuts": [], "fractions": []}
    # Cut at observed values, not interpolated ones: a 0/1 flag gets the cuts 0 and 1, not 0.4 and 0.8.
    cuts = np.unique(np.quantile(present, np.linspace(0, 1, quantiles + 1)[1:-1], method="lower"))
    counts = np.bincount(np.searchsorted(cuts, present, side="left"), minlength=len(cuts) + 1)
    return {
        "rows": int(x.size),
        "null_fraction": float(missing.mean()),
        "mean": float(present.mean()),
        "std": float(present.std()),
        "min": float(present.min()),
        "max": float(present.max()),
        "cuts": [float(c) for c in cuts],
        "fractions": [float(c) / present.size for c in counts],
    }


def reference_distributions(frame, columns: Sequence[str], scores, quantiles: int = 10) -> dict[str, Any]:
    """Distributions of every model input and of the score on one window (see `distribution`)."""
    return {
        "rows": int(len(frame)),
        "quantiles": quantiles,
        "features": {c: distribution(frame[c], quantiles) for c in columns},
        "score": distribution(scores, quantiles),
    }


def newest_date_rows(frame, date_column: str = "as_of_date"):
    """A boolean mask of the rows of the newest ``date_column`` value in ``frame``."""
    dates = frame[date_column]
    return (dates == dates.max()).to_numpy()


def training_reference(evaluation, columns: Sequence[str], scores, quantiles: int = 10) -> dict[str, Any]:
    """The reference distributions drift monitoring judges a scoring day against: the newest evaluation date alone.

    A scoring day is one snapshot date, so its reference is one snapshot date too. Pooling the whole
    evaluation window (several weekly dates) made a reference no single day looks like: the base
    ages between the dates (tenure grows, the churners of the early dates are gone, the 90-day
    windows of the first dates may not be full), and a column like ``active_days_90d`` was flagged on
    every clean day (bench/drift_detection.py). The newest date is the closest day with the new
    model's scores that is labelled and never trained on. A single day has fewer rows, which raises
    the PSI noise floor (monitoring.psi), but on a day of a few thousand customers it stays far under
    the thresholds. ``window`` names the date it covers, as ``first..last (n dates)``.
    """
    import numpy as np

    day = newest_date_rows(evaluation)
    newest = evaluation["as_of_date"].max()
    reference = reference_distributions(evaluation[day], columns, np.asarray(scores)[day], quantiles)
    return {**reference, "window": f"{newest}..{newest} (1 dates)"}
