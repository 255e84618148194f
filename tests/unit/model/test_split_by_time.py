"""split_by_time of nightshift.model.split: the newest dates evaluate."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from nightshift.model.split import split_by_time

pytestmark = pytest.mark.unit

START = date(2026, 1, 5)


def _frame(n_dates: int, rows_per_date: int = 3) -> pd.DataFrame:
    # Rows deliberately not in date order: the split must sort by date, not by position.
    dates = [START + timedelta(days=7 * i) for i in range(n_dates)]
    rows = [{"as_of_date": d, "customer_id": c, "label": c % 2} for c in range(rows_per_date) for d in reversed(dates)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("n_dates", "fraction", "n_eval"), [(8, 0.25, 2), (4, 0.25, 1), (2, 0.5, 1), (5, 0.0, 1), (5, 1.0, 4), (10, 0.3, 3)]
)
def test_train_dates_strictly_before_eval_dates(n_dates: int, fraction: float, n_eval: int) -> None:
    frame = _frame(n_dates)
    train, test = split_by_time(frame, fraction)
    train_dates, test_dates = set(train["as_of_date"]), set(test["as_of_date"])
    assert train_dates and test_dates, "both sides need at least one date"
    assert max(train_dates) < min(test_dates)
    assert not train_dates & test_dates
    assert len(train) + len(test) == len(frame)
    assert len(test_dates) == n_eval
    # The newest dates evaluate.
    assert sorted(test_dates) == sorted(frame["as_of_date"].unique())[-n_eval:]
    # Every row is kept whole: a date's rows are all on one side.
    assert len(test) == n_eval * 3


def test_split_works_on_timestamps_too() -> None:
    frame = _frame(6)
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"])
    train, test = split_by_time(frame, 0.34)
    assert train["as_of_date"].max() < test["as_of_date"].min()
    assert test["as_of_date"].nunique() == 2


@pytest.mark.parametrize("n_dates", [0, 1])
def test_split_needs_two_dates(n_dates: int) -> None:
    frame = _frame(n_dates) if n_dates else pd.DataFrame({"as_of_date": [], "label": []})
    with pytest.raises(ValueError):
        split_by_time(frame, 0.25)
