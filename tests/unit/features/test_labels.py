"""Churn labels (build_labels, label_snapshots) and training snapshot dates (labelled_dates)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nightshift.features.point_in_time import build_labels, label_snapshots, labelled_dates
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


def _collect(frame) -> dict[date, dict[int, int]]:
    out: dict[date, dict[int, int]] = {}
    for row in frame.collect():
        out.setdefault(row["as_of_date"], {})[row["customer_id"]] = row["label"]
    return out


# Daily snapshots D-1 .. D+60 of customers whose record changes after d:
#   11 cancels on D+5 and is purged from the snapshots from D+12 on
#   12 cancels on D+10; from the snapshot of D+45 on its churn_date is revised to D+40
#   13 never cancels
#   14 vanishes from the snapshots from D+18 on without a churn_date ever recorded
LATER = [day(D, i) for i in range(-1, 61)]


def _later_rows() -> list[tuple]:
    rows = []
    for snap in LATER:
        offset = (snap - D).days
        if offset < 12:
            rows.append(customer(snap, 11, day(D, -100), churn_date=day(D, 5) if offset >= 5 else None))
        churn_12 = None if offset < 10 else day(D, 10) if offset < 45 else day(D, 40)
        rows.append(customer(snap, 12, day(D, -100), churn_date=churn_12))
        rows.append(customer(snap, 13, day(D, -100)))
        if offset < 18:
            rows.append(customer(snap, 14, day(D, -100)))
    return rows


@pytest.fixture(scope="module")
def later_customers(spark):
    return customers_frame(spark, _later_rows())


def test_a_purged_churner_keeps_its_positive_label(later_customers) -> None:
    labels = _collect(build_labels(later_customers, [D], HORIZON))
    # 11 is missing from the label snapshot D+30 (and the newest): its last record says D+5.
    assert labels[D][11] == 1
    assert labels[D][13] == 0
    # 14 left with no churn_date: its outcome is unknown, not 0.
    assert 14 not in labels[D]


def test_a_revised_churn_date_leaves_old_labels_as_they_were(later_customers) -> None:
    from pyspark.sql import functions as F

    # The first run that can label D sees snapshots up to D+30, a later one up to D+60,
    # where 12's churn_date moved from D+10 to D+40 (outside D's horizon).
    first = _collect(build_labels(later_customers.where(F.col("snapshot_date") <= F.lit(day(D, 30))), [D], HORIZON))
    later = _collect(build_labels(later_customers, [D], HORIZON))
    assert first[D][12] == later[D][12] == 1
    assert first == later


# Snapshots with the label day D+30 missing; D+31 is the first after it.
GAPPY = (D, day(D, 29), day(D, 31), day(D, 33))


def test_label_snapshots_take_the_first_snapshot_on_or_after_the_horizon() -> None:
    assert label_snapshots(GAPPY, [D, day(D, 1), day(D, 3), day(D, 4)], HORIZON) == {
        D: day(D, 31),  # D+30 is missing
        day(D, 1): day(D, 31),  # exactly D+1+30
        day(D, 3): day(D, 33),
        # D+4 + 30 is after every snapshot: no label snapshot, unknown
    }
    assert label_snapshots([], [D], HORIZON) == {}


def test_a_missing_label_day_reads_the_next_snapshot_but_keeps_the_horizon(spark) -> None:
    rows = []
    for snap in GAPPY:
        rows.append(customer(snap, 21, day(D, -100), churn_date=day(D, 31) if snap >= day(D, 31) else None))
        rows.append(customer(snap, 22, day(D, -100), churn_date=day(D, 30) if snap >= day(D, 30) else None))
        rows.append(customer(snap, 23, day(D, -100)))
    labels = _collect(build_labels(customers_frame(spark, rows), list(GAPPY), HORIZON))
    # Read from D+31, but churn on D+31 is outside (D, D+30]; churn on D+30 is inside.
    assert labels == {D: {21: 0, 22: 1, 23: 0}}
    # labelled_dates offers exactly the dates build_labels can label.
    assert labelled_dates(GAPPY, day(D, 33), HORIZON, 1, 100) == [D]


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
