"""The rows of the warehouse's model tables (``model_performance``, ``model_comparison``, ``model_calibration``), as plain values.

Monitoring computes them and the model's rollout policy reads them; the warehouse stores and reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The segment of every customer, and the metric every verdict on realized performance reads.
ALL = "all"
ROC_AUC = "roc_auc"
# The metrics compared per model, in the order of model_comparison's columns.
METRICS = ("roc_auc", "pr_auc", "brier", "expected_calibration_error")


@dataclass(frozen=True)
class PerformanceRow:
    score_date: date
    model_name: str
    model_version: str
    segment: str  # "all", "plan=basic", "region=north", ...
    metric: str
    value: float
    rows: int
    positives: int


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


# The binnings of model_calibration: equal-width probability bins (those of the expected calibration
# error) and quantile bins of a date's scores (deciles with train.calibration_bins = 10).
WIDTH = "width"
QUANTILE = "quantile"


@dataclass(frozen=True)
class CalibrationBinRow:
    """One bin of one model version's published scores of a matured date: sums that add up over dates."""

    score_date: date
    model_name: str
    model_version: str
    binning: str  # WIDTH or QUANTILE
    bin: int  # 0 = the lowest scores
    rows: int
    score_sum: float  # sum of the published churn probabilities in the bin
    positives: int  # customers of the bin who churned
