"""Time split of a training set by snapshot date: train | calibration | gap | evaluation, and the folds inside train.

A row of date d carries a label read up to d + the label horizon, so the dates whose label
window reaches into the evaluation window are dropped (the gap): no label the model trains
on, and none its calibration map is fitted on, sees a day it is judged on. Of the dates
before the gap, the newest `calibration_dates` fit the calibration map
(nightshift.model.calibration): strictly after every training date, strictly before the
evaluation window, and with labels known by the day it starts (d + horizon <= its first
date), so the map is fitted on rows the model never saw, as the days it will score are.
Every older date trains the served model.

The number of trees is chosen by cross-validation inside the training dates, with folds
by customer (`customer_folds`): a customer's rows on every date sit in one fold, so a fold
never validates on a customer whose own history or outcome it trained on. Folds in time
would need a second label gap inside the training dates, which a few months of history
cannot spare; the evaluation window keeps its gap either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame
    evaluation: pd.DataFrame
    calibration: pd.DataFrame

    def date_ranges(self) -> dict[str, str]:
        return {
            f"{name}_dates": f"{part['as_of_date'].min()}..{part['as_of_date'].max()} ({part['as_of_date'].nunique()} dates)"
            for name, part in (("train", self.train), ("calib", self.calibration), ("eval", self.evaluation))
        }


def split_by_time(frame, test_fraction: float):
    """Oldest snapshot dates train, the newest `test_fraction` of dates evaluate."""
    dates = sorted(frame["as_of_date"].unique())
    if len(dates) < 2:
        raise ValueError(f"a time split needs at least two snapshot dates, got {len(dates)}")
    n_test = _n_eval(len(dates), test_fraction)
    cutoff = dates[-n_test]
    return frame[frame["as_of_date"] < cutoff], frame[frame["as_of_date"] >= cutoff]


def _n_eval(n_dates: int, test_fraction: float) -> int:
    return min(max(1, round(n_dates * test_fraction)), n_dates - 1)


def _n_train(n_dates: int, step_days: int, test_fraction: float, horizon_days: int, calibration_dates: int) -> int:
    """Training dates left on a grid of `n_dates` dates `step_days` apart, after the evaluation dates, the gap and the calibration dates."""
    before_eval = n_dates - _n_eval(n_dates, test_fraction)
    # Date i is before the gap when i * step + horizon <= before_eval * step (the first evaluation date).
    return max(0, before_eval - -(-horizon_days // step_days) + 1 - calibration_dates)


def dates_needed(step_days: int, test_fraction: float, horizon_days: int, calibration_dates: int) -> int:
    """The fewest labelled dates `step_days` apart that leave a training date before the calibration dates and the gap."""
    n = 2
    while _n_train(n, step_days, test_fraction, horizon_days, calibration_dates) < 1:
        n += 1
    return n


def split_windows(frame, test_fraction: float, horizon_days: int, step_days: int, *, calibration_dates: int) -> TimeSplit:
    """Train | calibration | gap | evaluation, by snapshot date (see the module docstring).

    `step_days` is how far apart the training set's dates are (train.sample_every_days),
    only used to say how many dates a refused history would need.
    """
    import pandas as pd

    if calibration_dates < 1:
        raise ValueError(f"train.calibration_dates must be 1 or more, got {calibration_dates}")
    dates = sorted(pd.Timestamp(d).date() for d in frame["as_of_date"].unique())
    needed = dates_needed(step_days, test_fraction, horizon_days, calibration_dates)
    if len(dates) < 2:
        raise ValueError(
            f"not enough history: {len(dates)} labelled snapshot date(s), need at least {needed} dates {step_days} days apart; "
            "raise train.window_days or wait for more history"
        )
    older, evaluation = split_by_time(frame, test_fraction)
    eval_start = pd.Timestamp(evaluation["as_of_date"].min())
    before_gap = older[pd.to_datetime(older["as_of_date"]) + pd.Timedelta(days=horizon_days) <= eval_start]
    kept = sorted(before_gap["as_of_date"].unique())
    if len(kept) <= calibration_dates:
        raise ValueError(
            f"not enough history: {len(dates)} labelled snapshot dates ({dates[0]}..{dates[-1]}), need at least {needed} "
            f"dates {step_days} days apart: the newest {_n_eval(len(dates), test_fraction)} evaluate from {eval_start.date()}, and "
            f"a training or calibration date's {horizon_days}-day label window must end by then, which {len(kept)} do "
            f"(the newest allowed is {(eval_start - timedelta(days=horizon_days)).date()}), and the newest "
            f"{calibration_dates} of them fit the calibration map; raise train.window_days, lower "
            "train.test_fraction or train.calibration_dates, or wait for more history"
        )
    calibrates = before_gap["as_of_date"].isin(kept[-calibration_dates:])
    return TimeSplit(train=before_gap[~calibrates], evaluation=evaluation, calibration=before_gap[calibrates])


def customer_folds(customer_ids, n_folds: int) -> np.ndarray:
    """Fold number 0..n_folds-1 of each row, the same for every row of a customer.

    From a fixed hash of the id rather than the id itself, so ids handed out in order
    (by signup date, by region) still spread evenly, and the same customer always lands
    in the same fold: the same data gives the same folds, trees and model.
    """
    import numpy as np
    import pandas as pd

    if n_folds < 2:
        raise ValueError(f"train.cv_folds must be 2 or more, got {n_folds}")
    hashed = pd.util.hash_array(np.asarray(customer_ids, dtype=np.int64))
    return (hashed % np.uint64(n_folds)).astype(np.int64)
