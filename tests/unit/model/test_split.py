"""The train | gap | validation | gap | evaluation split, run-time overrides and monotone constraints."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from nightshift.model.split import split_by_time, split_windows

pytestmark = pytest.mark.unit

START = date(2026, 1, 3)
HORIZON = 30


def _frame(n_dates: int, every: int = 7, rows_per_date: int = 3) -> pd.DataFrame:
    dates = [START + timedelta(days=every * i) for i in range(n_dates)]
    rows = [{"as_of_date": d, "customer_id": c, "label": c % 2} for d in reversed(dates) for c in range(rows_per_date)]
    return pd.DataFrame(rows)


def _dates(part: pd.DataFrame) -> list:
    return sorted(pd.to_datetime(part["as_of_date"]).unique())


@pytest.mark.parametrize(("n_dates", "test_fraction", "validation_fraction"), [(20, 0.25, 0.2), (13, 0.25, 0.2), (26, 0.2, 0.3)])
def test_no_label_window_reaches_into_a_later_window(n_dates: int, test_fraction: float, validation_fraction: float) -> None:
    split = split_windows(_frame(n_dates), test_fraction, validation_fraction, HORIZON)
    train, validation, evaluation = _dates(split.train), _dates(split.validation), _dates(split.evaluation)
    assert train and validation and evaluation
    gap = pd.Timedelta(days=HORIZON)
    # A training label is read up to d + 30: that day is still before validation starts, and so on.
    assert train[-1] + gap <= validation[0]
    assert validation[-1] + gap <= evaluation[0]
    # The dates inside a gap are dropped, not moved elsewhere.
    dropped = set(_dates(_frame(n_dates))) - set(train) - set(validation) - set(evaluation)
    assert all(train[-1] < d < validation[0] or validation[-1] < d < evaluation[0] for d in dropped)


def test_evaluation_window_is_the_newest_dates_untouched() -> None:
    frame = _frame(20)
    split = split_windows(frame, 0.25, 0.2, HORIZON)
    _, expected = split_by_time(frame, 0.25)
    assert split.evaluation.equals(expected)
    assert len(split.evaluation) == 5 * 3


def test_windows_do_not_share_rows() -> None:
    split = split_windows(_frame(20), 0.25, 0.2, HORIZON)
    keys = [set(zip(p["as_of_date"], p["customer_id"], strict=True)) for p in (split.train, split.validation, split.evaluation)]
    assert not keys[0] & keys[1] and not keys[1] & keys[2] and not keys[0] & keys[2]


def test_a_daily_training_set_gets_a_gap_of_thirty_dates() -> None:
    split = split_windows(_frame(120, every=1), 0.1, 0.1, HORIZON)
    gap = _dates(split.evaluation)[0] - _dates(split.validation)[-1]
    assert gap == pd.Timedelta(days=HORIZON)


def test_date_ranges_describe_each_window() -> None:
    ranges = split_windows(_frame(20), 0.25, 0.2, HORIZON).date_ranges()
    assert set(ranges) == {"train_dates", "validation_dates", "eval_dates"}
    assert ranges["eval_dates"].endswith("(5 dates)")


@pytest.mark.parametrize("n_dates", [6, 9])
def test_too_little_history_is_refused_with_a_hint(n_dates: int) -> None:
    with pytest.raises(ValueError, match="not enough history.*window_days"):
        split_windows(_frame(n_dates), 0.25, 0.2, HORIZON)
