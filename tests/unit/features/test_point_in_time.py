"""Point-in-time features (nightshift.features.point_in_time.build_features) on hand-built frames."""

from __future__ import annotations

from datetime import date

import pytest

from nightshift.feature_list import feature_columns
from nightshift.features.point_in_time import build_features
from tests.unit._frames import by_key, customer, customers_frame, day, event, events_frame

pytestmark = pytest.mark.unit

D = date(2026, 4, 30)

# Customer 1: one event on each side of every window edge. The values differ per column so
# that a sum taken from the wrong column, or over the wrong window, shows.
EDGE_AGES = (0, 6, 7, 29, 30, 89, 90)


def _edge_events() -> list[tuple]:
    rows = []
    for i, age in enumerate(EDGE_AGES):
        rows.append(event(1, day(D, -age), sessions=2**i, minutes=100.0 * 2**i, tickets=10 * (i + 1), failed=2))
    return rows


def _events() -> list[tuple]:
    return [
        *_edge_events(),
        event(2, day(D, -6), sessions=5, minutes=2.5, tickets=1, failed=0),
        event(3, day(D, -90), sessions=7, minutes=7.0, tickets=1, failed=1),
        event(3, day(D, -200), sessions=7, minutes=7.0, tickets=1, failed=1),
        event(5, day(D, -40), sessions=4, minutes=12.0, tickets=0, failed=0),
        event(6, day(D, -1), sessions=3, minutes=3.0),
        event(7, day(D, -20), sessions=3, minutes=3.0),
        event(8, day(D, -1), sessions=3, minutes=3.0),
        event(9, day(D, -1), sessions=3, minutes=3.0),
        event(99, day(D, -1), sessions=3, minutes=3.0),  # unknown customer
    ]


def _customers() -> list[tuple]:
    return [
        customer(D, 1, day(D, -100), plan="premium", region="east", monthly_fee=34.99),
        customer(D, 2, D, plan="standard", region="south", monthly_fee=19.99),
        customer(D, 3, day(D, -400), plan="basic", region="west", monthly_fee=9.5),
        customer(D, 4, day(D, -10), plan="basic", region="north", monthly_fee=9.99),
        customer(D, 5, day(D, -50), plan="standard", region="north", monthly_fee=20.0),
        customer(D, 6, day(D, -300), churn_date=D),  # churned on d
        customer(D, 7, day(D, -300), churn_date=day(D, -10)),  # churned before d
        customer(D, 8, day(D, 1)),  # signs up after d
        customer(day(D, -1), 9, day(D, -30)),  # only in the previous snapshot
    ]


ACTIVE = {1, 2, 3, 4, 5}


# Spark actions cost about a second each: the main frame is built and collected once per module.
@pytest.fixture(scope="module")
def features_frame(spark):
    return build_features(events_frame(spark, _events()), customers_frame(spark, _customers()), [D])


@pytest.fixture(scope="module")
def features(features_frame) -> dict[int, dict]:
    rows = by_key(features_frame)
    assert {k[0] for k in rows} == {D}
    return {k[1]: v for k, v in rows.items()}


def test_output_columns_and_types(features_frame) -> None:
    frame = features_frame
    assert frame.columns == ["as_of_date", "customer_id", *feature_columns()]
    types = dict(frame.dtypes)
    assert types["as_of_date"] == "date"
    assert types["customer_id"] == "bigint"
    assert {c: types[c] for c in feature_columns()} == {c: "double" for c in feature_columns()}


def test_feature_columns_default_names() -> None:
    cols = feature_columns()
    assert len(cols) == len(set(cols)) == 3 * 5 + 5 + 3 + 4
    for w in (7, 30, 90):
        for stem in ("sessions", "minutes", "active_days", "tickets", "failed_payments"):
            assert f"{stem}_{w}d" in cols
    assert cols[-7:] == [
        "plan_basic",
        "plan_standard",
        "plan_premium",
        "region_north",
        "region_south",
        "region_east",
        "region_west",
    ]
    assert {"days_since_last_active", "sessions_trend_7_30", "minutes_trend_30_90", "tenure_days", "monthly_fee"} <= set(cols)


def test_only_active_customers_get_rows(features: dict[int, dict]) -> None:
    # 6 churned on d, 7 before d, 8 signs up after d, 9 is not in d's snapshot, 99 is unknown.
    assert set(features) == ACTIVE


def test_window_sums_respect_edges(features: dict[int, dict]) -> None:
    row = features[1]
    # ages 0 and 6 are inside 7 days; 7 and 29 join at 30 days; 30 and 89 at 90 days; 90 is outside.
    assert row["sessions_7d"] == 1 + 2
    assert row["sessions_30d"] == 1 + 2 + 4 + 8
    assert row["sessions_90d"] == 1 + 2 + 4 + 8 + 16 + 32
    assert row["minutes_7d"] == pytest.approx(300.0)
    assert row["minutes_30d"] == pytest.approx(1500.0)
    assert row["minutes_90d"] == pytest.approx(6300.0)
    assert (row["active_days_7d"], row["active_days_30d"], row["active_days_90d"]) == (2, 4, 6)
    assert (row["tickets_7d"], row["tickets_30d"], row["tickets_90d"]) == (30, 100, 210)
    assert (row["failed_payments_7d"], row["failed_payments_30d"], row["failed_payments_90d"]) == (4, 8, 12)


def test_recency_and_tenure(features: dict[int, dict]) -> None:
    assert features[1]["days_since_last_active"] == 0
    assert features[2]["days_since_last_active"] == 6
    assert features[5]["days_since_last_active"] == 40
    assert features[1]["tenure_days"] == 100
    assert features[2]["tenure_days"] == 0  # signed up on d itself
    assert features[3]["tenure_days"] == 400
    assert features[1]["monthly_fee"] == pytest.approx(34.99)
    assert features[3]["monthly_fee"] == pytest.approx(9.5)


@pytest.mark.parametrize("customer_id", [3, 4])
def test_customer_without_events_in_window_gets_zeros(features: dict[int, dict], customer_id: int) -> None:
    # 3 has events only at ages 90 and 200 (outside the longest window), 4 has none at all.
    row = features[customer_id]
    for w in (7, 30, 90):
        for stem in ("sessions", "minutes", "active_days", "tickets", "failed_payments"):
            assert row[f"{stem}_{w}d"] == 0.0, f"{stem}_{w}d"
    assert row["days_since_last_active"] == 90
    assert row["sessions_trend_7_30"] == 1.0
    assert row["minutes_trend_30_90"] == 1.0


def test_trend_ratios(features: dict[int, dict]) -> None:
    # Rates per day: (short sum / short) / (mid sum / mid), (mid sum / mid) / (long sum / long).
    assert features[1]["sessions_trend_7_30"] == pytest.approx((3 / 7) / (15 / 30))
    assert features[1]["minutes_trend_30_90"] == pytest.approx((1500 / 30) / (6300 / 90))
    assert features[2]["sessions_trend_7_30"] == pytest.approx(30 / 7)
    assert features[2]["minutes_trend_30_90"] == pytest.approx(3.0)
    # 5 is active only 40 days ago: 0/0 over 7-vs-30 is neutral, 0/x over 30-vs-90 is 0.
    assert features[5]["sessions_trend_7_30"] == 1.0
    assert features[5]["minutes_trend_30_90"] == 0.0


def test_one_hot_plan_and_region(features: dict[int, dict]) -> None:
    expected = {
        1: ("premium", "east"),
        2: ("standard", "south"),
        3: ("basic", "west"),
        4: ("basic", "north"),
        5: ("standard", "north"),
    }
    for cid, (plan, region) in expected.items():
        row = features[cid]
        assert {p: row[f"plan_{p}"] for p in ("basic", "standard", "premium")} == {
            p: float(p == plan) for p in ("basic", "standard", "premium")
        }
        assert {r: row[f"region_{r}"] for r in ("north", "south", "east", "west")} == {
            r: float(r == region) for r in ("north", "south", "east", "west")
        }


def test_future_data_never_changes_features(spark, features: dict[int, dict]) -> None:
    future_events = [
        event(cid, day(D, offset), sessions=50, minutes=500.0, tickets=5, failed=5)
        for cid in (1, 2, 3, 4, 5, 6, 8, 10)
        for offset in (1, 2, 7, 30)
    ]
    # Later snapshots: 1 churns, 4 changes plan, 10 is new; none of it is known on d.
    future_customers = [
        customer(day(D, 1), 1, day(D, -100), plan="premium", region="east", monthly_fee=34.99, churn_date=day(D, 1)),
        customer(day(D, 1), 4, day(D, -10), plan="premium", region="west", monthly_fee=99.0),
        customer(day(D, 1), 10, day(D, 1)),
    ]
    frame = build_features(
        events_frame(spark, _events() + future_events),
        customers_frame(spark, _customers() + future_customers),
        [D],
    )
    assert {k[1]: v for k, v in by_key(frame).items()} == features


def test_many_dates_at_once_equal_one_at_a_time(spark) -> None:
    # Overlapping windows: one event counts towards both dates.
    d2, d3 = day(D, -10), D
    truth = {  # customer: (signup, churn, plan, region)
        1: (day(D, -500), None, "basic", "north"),
        2: (day(D, -120), day(D, -5), "standard", "south"),
        3: (day(D, -50), None, "premium", "east"),
        4: (day(D, -300), day(D, -60), "basic", "west"),
        5: (day(D, -10), None, "standard", "north"),
    }
    customers = []
    for snap in (day(D, -11), d2, d3):
        for cid, (signup, churn, plan, region) in truth.items():
            if signup <= snap:
                customers.append(customer(snap, cid, signup, plan, region, 10.0 + cid, churn if churn and churn <= snap else None))
    events = [
        event(cid, day(D, offset), sessions=(cid + offset) % 5, minutes=float((cid * offset) % 17), tickets=offset % 2, failed=cid % 2)
        for cid, (signup, churn, _, _) in truth.items()
        for offset in range(-200, 6, 3)
        if signup <= day(D, offset) and (churn is None or day(D, offset) < churn)
    ]
    ev = events_frame(spark, events)
    cu = customers_frame(spark, customers)

    together = by_key(build_features(ev, cu, [d3, d2]))
    # One Spark action for both single-date frames (by_key fails on duplicate keys).
    one_by_one = by_key(build_features(ev, cu, [d2]).unionByName(build_features(ev, cu, [d3])))
    assert together == one_by_one
    assert {k[0] for k in together} == {d2, d3}
    # d2 sees 1, 2, 3 and not 4 (churned) or 5 (signs up on d2 itself: tenure 0, included).
    assert {k[1] for k in together if k[0] == d2} == {1, 2, 3, 5}
    assert {k[1] for k in together if k[0] == d3} == {1, 3, 5}
    # The same customer on two dates gets different windows, not one shared row.
    assert together[(d2, 1)]["tenure_days"] == 490 and together[(d3, 1)]["tenure_days"] == 500


def test_custom_windows(spark) -> None:
    windows = (14, 3, 60)  # any order: short/mid/long come from sorting
    frame = build_features(events_frame(spark, _events()), customers_frame(spark, _customers()), [D], windows)
    assert set(frame.columns) == {"as_of_date", "customer_id", *feature_columns(windows)}
    assert "sessions_trend_3_14" in frame.columns and "minutes_trend_14_60" in frame.columns
    rows = {k[1]: v for k, v in by_key(frame).items()}
    assert rows[1]["sessions_3d"] == 1
    assert rows[1]["sessions_14d"] == 1 + 2 + 4
    assert rows[1]["sessions_60d"] == 1 + 2 + 4 + 8 + 16
    assert rows[5]["days_since_last_active"] == 40
    assert rows[4]["days_since_last_active"] == 60


@pytest.mark.parametrize(
    "windows",
    [(7, 30), (7, 30, 90, 180), (7, 7, 30), (30, 30, 30), (0, 7, 30), (-7, 7, 30), ()],
)
def test_windows_must_be_three_distinct_positive_values(windows) -> None:
    with pytest.raises(ValueError):
        feature_columns(windows)


def test_build_features_rejects_bad_arguments(spark) -> None:
    ev = events_frame(spark, _events())
    cu = customers_frame(spark, _customers())
    with pytest.raises(ValueError):
        build_features(ev, cu, [D], (7, 7, 30))
    with pytest.raises(ValueError):
        build_features(ev, cu, [])
