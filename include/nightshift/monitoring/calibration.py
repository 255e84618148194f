"""Realized calibration: how well the published probabilities matched what happened, per score date and per month.

When a score date's labels mature, its published scores are binned per serving version in two ways
and each bin's customers, summed probability and churners are stored (``model_calibration``):

- equal-width probability bins, those of the expected calibration error (``train.calibration_bins``),
  so the ECE of any set of dates is exact from the stored sums: each bin's sums added up over the
  dates, then the sum over bins of ``|score_sum - positives|`` divided by the customers, the very
  figure ``nightshift.model.evaluation.calibration_metrics`` gives on the pooled rows;
- quantile bins of the date's scores (deciles with 10 bins): a month's decile k pools the customers
  who were in decile k of their own day, and compares their mean score with their realized churn rate.

Sums, not figures, are stored so a month is any number of matured dates added up, whichever of its
dates have matured so far. The drift report shows the months (``monthly_calibration``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from nightshift.warehouse.rows import QUANTILE, WIDTH, CalibrationBinRow

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def width_bins(probabilities, bins: int) -> np.ndarray:
    """Equal-width bin of each probability: [b/bins, (b+1)/bins), 1.0 in the last; as the expected calibration error bins them."""
    import numpy as np

    p = np.asarray(probabilities, dtype="float64")
    return np.minimum((p * bins).astype(int), bins - 1)


def quantile_bins(probabilities, bins: int) -> np.ndarray:
    """Quantile bin of each probability among its own rows: as many rows in each bin as can be (ties split in row order)."""
    import numpy as np

    p = np.asarray(probabilities, dtype="float64")
    order = np.argsort(p, kind="stable")
    out = np.empty(len(p), dtype=int)
    out[order] = np.arange(len(p)) * bins // max(len(p), 1)
    return out


def calibration_rows(score_date: date, model_name: str, frame: pd.DataFrame, bins: int) -> list[CalibrationBinRow]:
    """Every ``model_calibration`` row of one date: per serving version, both binnings, the bins that hold customers.

    ``frame`` holds customer_id, churn_probability, label and model_version per labelled customer.
    """
    import numpy as np

    if bins < 1:
        raise ValueError(f"calibration needs at least one bin, got {bins}")
    out = []
    for version, part in frame.sort_values("customer_id", kind="stable").groupby("model_version", sort=True):
        p, y = part["churn_probability"].to_numpy(dtype="float64"), part["label"].to_numpy(dtype="int64")
        for binning, index in ((WIDTH, width_bins(p, bins)), (QUANTILE, quantile_bins(p, bins))):
            rows, scores, positives = (np.bincount(index, weights=w, minlength=bins) for w in (None, p, y))
            out += [
                CalibrationBinRow(score_date, model_name, str(version), binning, b, int(rows[b]), float(scores[b]), int(positives[b]))
                for b in range(bins)
                if rows[b] > 0
            ]
    return out


@dataclass(frozen=True)
class PooledBin:
    rows: int
    mean_score: float
    realized_rate: float


@dataclass(frozen=True)
class MonthCalibration:
    """One model version's calibration over the matured score dates of one calendar month."""

    month: date  # its first day
    model_version: str
    dates: int  # matured score dates pooled
    rows: int  # labelled customer-days
    positives: int
    mean_score: float
    ece: float
    deciles: list[PooledBin]  # quantile bins (deciles with 10), lowest scores first

    @property
    def realized_rate(self) -> float:
        return self.positives / self.rows


def month_of(day: date) -> date:
    return day.replace(day=1)


def monthly_calibration(rows: Sequence[CalibrationBinRow]) -> list[MonthCalibration]:
    """The stored bins added up per calendar month and version, oldest month first (see the module docstring)."""
    groups: dict[tuple[date, str], list[CalibrationBinRow]] = {}
    for r in rows:
        groups.setdefault((month_of(r.score_date), r.model_version), []).append(r)
    out = []
    for (month, version), found in sorted(groups.items()):
        stored = [r for r in found if r.binning == WIDTH]
        n = sum(r.rows for r in stored)
        if n == 0:
            continue
        width = _pooled(found, WIDTH)
        out.append(
            MonthCalibration(
                month=month,
                model_version=version,
                dates=len({r.score_date for r in stored}),
                rows=n,
                positives=sum(r.positives for r in stored),
                mean_score=sum(r.score_sum for r in stored) / n,
                # Per bin over the month's dates, then the row-weighted gap: the pooled rows' ECE.
                ece=sum(d.rows * abs(d.mean_score - d.realized_rate) for d in width) / n,
                deciles=_pooled(found, QUANTILE),
            )
        )
    return out


def _pooled(rows: Sequence[CalibrationBinRow], binning: str) -> list[PooledBin]:
    """The bins of ``binning`` added up over their dates, lowest bin first."""
    sums: dict[int, list[float]] = {}
    for r in rows:
        if r.binning == binning:
            n, s, y = sums.setdefault(r.bin, [0, 0.0, 0])
            sums[r.bin] = [n + r.rows, s + r.score_sum, y + r.positives]
    return [PooledBin(int(n), s / n, y / n) for n, s, y in (sums[b] for b in sorted(sums))]
