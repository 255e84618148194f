"""Churn labels (build_labels) and training snapshot dates (labelled_dates)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nightshift.features.point_in_time import build_labels, labelled_dates
from tests.unit._frames import customer, customers_frame, day

pytestmark = pytest.mark.unit

D = date(2026, 3, 1)
HORIZON = 30
NEWEST = day(D, 31)  # the newest snapshot: labels known for D and D+1, not for D+2

# customer: (signup, churn, in the newest snapshot)
TRUTH = {
    1: (day(D, -200), day(D, 1), True),
    2: (day(D, -200), day(D, 30), True),
    3: (day(D, -200), day(D, 31), True),
    4: (day(D, -200), None, True),
    5: (day(D, -200), D, True),  # churned on d: not active on d
    6: (day(D, -200), day(D, -5), True),  # churned before d
    7: (day(D, -200), None, False),  # active on d, gone from the newest snapshot
    8: (day(D, 1), None, True),  # signs up after d
}
SNAPSHOTS = (D, day(D, 1), day(D, 2), NEWEST)


def _snapshot_rows() -> list[tuple]:
    """Snapshots as the contract writes them: churn_date shows only once it has happened."""
    rows = []
    for snap in SNAPSHOTS:
        for cid, (signup, churn, in_newest) in TRUTH.items():
            if signup > snap or (snap == NEWEST and not in_newest):
                continue
            rows.append(customer(snap, cid, signup, churn_date=churn if churn is not None and churn <= snap else None))
    return rows


@pytest.fixture(scope="module")
def labels(spark) -> dict[date, dict[int, int]]:
    frame = build_labels(customers_frame(spark, _snapshot_rows()), [D, day(D, 1), day(D, 2)], HORIZON)
    assert dict(frame.dtypes) == {"as_of_date": "date", "customer_id": "bigint", "label": "int"}
    out: dict[date, dict[int, int]] = {}
    for row in frame.collect():
        per_date = out.setdefault(row["as_of_date"], {})
        assert row["customer_id"] not in per_date, "duplicate label row"
        per_date[row["customer_id"]] = row["label"]
    return out


def test_label_horizon_edges(labels) -> None:
    assert labels[D][1] == 1  # churn at d + 1
    assert labels[D][2] == 1  # churn at d + 30
    assert labels[D][3] == 0  # churn at d + 31: outside the horizon
    assert labels[D][4] == 0  # never churns


def test_only_active_customers_with_a_known_outcome(labels) -> None:
    # 5 and 6 churned on or before d, 7 is missing from the newest snapshot, 8 signs up after d.
    assert set(labels[D]) == {1, 2, 3, 4}


def test_next_day_reads_the_same_newest_snapshot(labels) -> None:
    # d + 1 is exactly horizon days before the newest snapshot: still known.
    # 1 churned on d + 1 (no longer active), 3's churn at d + 31 is now inside the horizon,
    # 8 signed up on d + 1 and never churns.
    assert labels[day(D, 1)] == {2: 1, 3: 1, 4: 0, 8: 0}


def test_dates_without_a_late_enough_snapshot_have_no_rows(labels) -> None:
    # d + 2 + 30 is after the newest snapshot: unknown, so no rows at all (not label 0).
    assert day(D, 2) not in labels
    assert set(labels) == {D, day(D, 1)}


def test_nothing_known_gives_an_empty_typed_frame(spark) -> None:
    customers = customers_frame(spark, _snapshot_rows())
    frame = build_labels(customers, [day(D, 2), NEWEST], HORIZON)
    assert frame.count() == 0
    assert dict(frame.dtypes) == {"as_of_date": "date", "customer_id": "bigint", "label": "int"}


# labelled_dates is pure Python.
S = date(2026, 1, 1)
DAILY = [S + timedelta(days=i) for i in range(100)]  # S .. S+99


def _days(*offsets: int) -> list[date]:
    return [S + timedelta(days=o) for o in offsets]


def test_labelled_dates_step_back_from_newest_labelled() -> None:
    # Newest snapshot S+99, horizon 30: S+69 is the newest date with a known label.
    got = labelled_dates(DAILY, as_of=day(S, 99), horizon_days=30, every_days=7, window_days=30)
    assert sorted(got) == _days(41, 48, 55, 62, 69)
    assert got == sorted(got)


def test_labelled_dates_ignore_snapshots_after_as_of() -> None:
    got = labelled_dates(DAILY, as_of=day(S, 60), horizon_days=30, every_days=7, window_days=30)
    assert sorted(got) == _days(2, 9, 16, 23, 30)
    assert all(d <= day(S, 60) - timedelta(days=30) for d in got)


def test_labelled_dates_window_limits_history() -> None:
    assert sorted(labelled_dates(DAILY, day(S, 99), 30, 7, 8)) == _days(62, 69)
    assert sorted(labelled_dates(DAILY, day(S, 99), 30, 7, 1)) == _days(69)
    # A window longer than the history stops at the first snapshot.
    everything = labelled_dates(DAILY, day(S, 99), 30, 7, 1000)
    assert sorted(everything) == _days(*range(69 % 7, 70, 7))
    assert min(everything) >= S


def test_labelled_dates_only_existing_snapshots() -> None:
    # A gap: nothing between S+51 and S+89. S+90 is the newest snapshot, so S+60 would be
    # the newest labelled day, but it does not exist: S+50 is.
    snapshots = _days(*range(51), 90)
    got = labelled_dates(snapshots, day(S, 120), 30, 7, 30)
    assert sorted(got) == _days(22, 29, 36, 43, 50)
    assert set(got) <= set(snapshots)


def test_labelled_dates_unsorted_duplicate_input() -> None:
    shuffled = list(reversed(DAILY)) + DAILY[:10]
    assert labelled_dates(shuffled, day(S, 99), 30, 7, 30) == labelled_dates(DAILY, day(S, 99), 30, 7, 30)


@pytest.mark.parametrize(
    ("snapshots", "as_of"),
    [
        (DAILY, day(S, 29)),  # 30 days of history: nothing labelled yet
        (DAILY, day(S, -1)),  # as_of before every snapshot
        ([], day(S, 99)),  # no snapshots
        (_days(0, 10, 20), day(S, 99)),  # span shorter than the horizon
    ],
)
def test_labelled_dates_empty_when_nothing_is_labelled(snapshots, as_of) -> None:
    assert labelled_dates(snapshots, as_of, 30, 7, 120) == []


def test_labelled_dates_first_known_boundary() -> None:
    # as_of S+30 with horizon 30: S itself just became labelled.
    assert labelled_dates(DAILY, day(S, 30), 30, 7, 120) == [S]
