"""Time split of a training set by snapshot date: train | gap | validation | gap | evaluation.

A row of date d carries a label read up to d + the label horizon, so dates whose label
window reaches into the next window are dropped (a gap): no label of a training row sees
a day of the validation or evaluation window, and no customer's future leaks backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame
    validation: pd.DataFrame
    evaluation: pd.DataFrame

    def date_ranges(self) -> dict[str, str]:
        return {
            f"{name}_dates": f"{part['as_of_date'].min()}..{part['as_of_date'].max()} ({part['as_of_date'].nunique()} dates)"
            for name, part in (("train", self.train), ("validation", self.validation), ("eval", self.evaluation))
        }


def split_by_time(frame, test_fraction: float):
    """Oldest snapshot dates train, the newest `test_fraction` of dates evaluate."""
    dates = sorted(frame["as_of_date"].unique())
    if len(dates) < 2:
        raise ValueError(f"a time split needs at least two snapshot dates, got {len(dates)}")
    n_test = min(max(1, round(len(dates) * test_fraction)), len(dates) - 1)
    cutoff = dates[-n_test]
    return frame[frame["as_of_date"] < cutoff], frame[frame["as_of_date"] >= cutoff]


def _labels_end_before(frame, start, horizon_days: int):
    """Rows whose label window (d, d + horizon] ends on or before `start` (the next window's first date)."""
    import pandas as pd

    label_end = pd.to_datetime(frame["as_of_date"]) + pd.Timedelta(days=horizon_days)
    return frame[label_end <= pd.Timestamp(start)]


def split_windows(frame, test_fraction: float, validation_fraction: float, horizon_days: int) -> TimeSplit:
    """Train | gap | validation | gap | evaluation, by snapshot date (see the module docstring)."""
    older, evaluation = split_by_time(frame, test_fraction)
    eval_start = evaluation["as_of_date"].min()
    before_eval = _labels_end_before(older, eval_start, horizon_days)
    if before_eval["as_of_date"].nunique() < 2:
        raise ValueError(
            f"not enough history: after the {evaluation['as_of_date'].nunique()} evaluation dates from {eval_start} and a "
            f"{horizon_days}-day label gap, {before_eval['as_of_date'].nunique()} dates remain (need 2 or more for "
            "training and validation); raise train.window_days or lower train.test_fraction"
        )
    older, validation = split_by_time(before_eval, validation_fraction)
    train = _labels_end_before(older, validation["as_of_date"].min(), horizon_days)
    if train.empty:
        raise ValueError(
            f"not enough history: no training dates end their {horizon_days}-day label window before the validation "
            f"window starts on {validation['as_of_date'].min()}; raise train.window_days or lower train.validation_fraction"
        )
    return TimeSplit(train=train, validation=validation, evaluation=evaluation)
