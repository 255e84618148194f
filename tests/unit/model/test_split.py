"""The train | calibration | gap | evaluation split, the history it needs, and the customer folds inside train."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from nightshift.model.split import customer_folds, dates_needed, split_by_time, split_windows

pytestmark = pytest.mark.unit

START = date(2026, 1, 3)
HORIZON = 30
CALIBRATION = 2  # train.calibration_dates


def _frame(n_dates: int, every: int = 7, rows_per_date: int = 3) -> pd.DataFrame:
    dates = [START + timedelta(days=every * i) for i in range(n_dates)]
    rows = [{"as_of_date": d, "customer_id": c, "label": c % 2} for d in reversed(dates) for c in range(rows_per_date)]
    return pd.DataFrame(rows)


def _dates(part: pd.DataFrame) -> list:
    return sorted(pd.to_datetime(part["as_of_date"]).unique())


@pytest.mark.parametrize(("n_dates", "every", "test_fraction"), [(20, 7, 0.25), (9, 7, 0.25), (26, 7, 0.2), (120, 1, 0.1), (13, 7, 0.5)])
def test_every_date_whose_label_ends_before_evaluation_trains_or_calibrates(n_dates: int, every: int, test_fraction: float) -> None:
    frame = _frame(n_dates, every)
    split = split_windows(frame, test_fraction, HORIZON, every, calibration_dates=CALIBRATION)
    train, calibration, evaluation = _dates(split.train), _dates(split.calibration), _dates(split.evaluation)
    gap = pd.Timedelta(days=HORIZON)
    # No training or calibration label (read up to d + 30) sees a day of the evaluation window...
    assert calibration[-1] + gap <= evaluation[0]
    # ...every date that satisfies this trains or calibrates: only the gap is dropped...
    assert train + calibration == [d for d in _dates(frame) if d + gap <= evaluation[0]]
    # ...and the calibration dates are the newest of them, strictly after every training date.
    assert len(calibration) == CALIBRATION and train[-1] < calibration[0]
    assert len(split.train) == 3 * len(train) and len(split.calibration) == 3 * CALIBRATION


def test_evaluation_window_is_the_newest_dates_untouched() -> None:
    frame = _frame(20)
    split = split_windows(frame, 0.25, HORIZON, 7, calibration_dates=CALIBRATION)
    _, expected = split_by_time(frame, 0.25)
    assert split.evaluation.equals(expected)
    assert len(split.evaluation) == 5 * 3


def test_train_calibration_and_evaluation_share_no_rows() -> None:
    split = split_windows(_frame(20), 0.25, HORIZON, 7, calibration_dates=CALIBRATION)
    keys = [set(zip(p["as_of_date"], p["customer_id"], strict=True)) for p in (split.train, split.calibration, split.evaluation)]
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]


def test_a_daily_training_set_gets_a_gap_of_thirty_days() -> None:
    split = split_windows(_frame(120, every=1), 0.1, HORIZON, 1, calibration_dates=CALIBRATION)
    assert _dates(split.evaluation)[0] - _dates(split.calibration)[-1] == pd.Timedelta(days=HORIZON)
    assert _dates(split.calibration)[0] - _dates(split.train)[-1] == pd.Timedelta(days=1)


def test_date_ranges_describe_each_window() -> None:
    ranges = split_windows(_frame(20), 0.25, HORIZON, 7, calibration_dates=CALIBRATION).date_ranges()
    assert set(ranges) == {"train_dates", "calib_dates", "eval_dates"}
    assert ranges["eval_dates"].endswith("(5 dates)")
    # 11 dates before the gap: the last is 70 days after the first, 30 days before the first evaluation date;
    # the newest two calibrate.
    assert ranges["train_dates"] == "2026-01-03..2026-02-28 (9 dates)"
    assert ranges["calib_dates"] == "2026-03-07..2026-03-14 (2 dates)"


@pytest.mark.parametrize(
    ("every", "test_fraction", "calibration", "needed"),
    [(7, 0.25, 2, 9), (1, 0.1, 2, 36), (14, 0.25, 2, 7), (7, 0.5, 2, 13), (7, 0.25, 1, 8)],
)
def test_dates_needed_is_the_shortest_history_that_splits(every: int, test_fraction: float, calibration: int, needed: int) -> None:
    assert dates_needed(every, test_fraction, HORIZON, calibration) == needed
    assert not split_windows(_frame(needed, every), test_fraction, HORIZON, every, calibration_dates=calibration).train.empty
    with pytest.raises(ValueError, match="not enough history"):
        split_windows(_frame(needed - 1, every), test_fraction, HORIZON, every, calibration_dates=calibration)


@pytest.mark.parametrize("n_dates", [1, 6, 8])
def test_too_little_history_names_the_dates_it_has_and_needs(n_dates: int) -> None:
    message = rf"not enough history: {n_dates} labelled snapshot date.*need at least 9 dates 7 days apart.*window_days"
    with pytest.raises(ValueError, match=message):
        split_windows(_frame(n_dates), 0.25, HORIZON, 7, calibration_dates=CALIBRATION)


def test_no_calibration_dates_is_refused() -> None:
    with pytest.raises(ValueError, match="train.calibration_dates must be 1 or more, got 0"):
        split_windows(_frame(20), 0.25, HORIZON, 7, calibration_dates=0)


def test_customer_folds_keep_a_customer_in_one_fold() -> None:
    # Ids handed out in order, every customer on three dates.
    ids = np.tile(np.arange(100_000, 103_000, dtype=np.int64), 3)
    folds = customer_folds(ids, 5)
    assert folds.shape == ids.shape and set(np.unique(folds)) == {0, 1, 2, 3, 4}
    per_customer = pd.Series(folds).groupby(ids).nunique()
    assert (per_customer == 1).all()
    # Roughly even, and the same every time.
    sizes = np.bincount(folds) / len(folds)
    assert sizes.min() > 0.15 and sizes.max() < 0.25
    assert np.array_equal(customer_folds(pd.Series(ids), 5), folds)


def test_customer_folds_need_two_folds() -> None:
    with pytest.raises(ValueError, match="cv_folds must be 2 or more"):
        customer_folds([1, 2, 3], 1)
