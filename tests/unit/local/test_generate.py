"""The synthetic landing zone honours the raw data contract (nightshift.contract) and behaves like churn data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from nightshift.local.generate import generate, true_churn_probabilities
from tests.contract import CUSTOMERS_FILE_SCHEMA, EVENTS_FILE_SCHEMA

pytestmark = pytest.mark.unit

START = date(2026, 1, 1)
DAYS = 60
CUSTOMERS = 300
SEED = 11


@dataclass(frozen=True)
class Landing:
    root: Path
    days: list[date]
    events: pd.DataFrame  # with event_date taken from the folder name
    customers: pd.DataFrame  # with snapshot_date taken from the folder name


def _partition_date(folder: Path, column: str) -> date:
    key, _, value = folder.name.partition("=")
    assert key == column, folder
    return date.fromisoformat(value)


def _read_zone(root: Path, table: str, column: str) -> pd.DataFrame:
    frames = []
    for folder in sorted((root / table).iterdir()):
        for file in sorted(folder.glob("*.parquet")):
            frame = pq.ParquetFile(file).read().to_pandas()
            frame[column] = _partition_date(folder, column)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _load(root: Path, days: int = DAYS) -> Landing:
    return Landing(
        root=root,
        days=[START + timedelta(days=i) for i in range(days)],
        events=_read_zone(root, "events", "event_date"),
        customers=_read_zone(root, "customers", "snapshot_date"),
    )


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Landing:
    root = tmp_path_factory.mktemp("landing")
    result = generate(root, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED)
    assert result.start_date == START
    assert result.end_date == START + timedelta(days=DAYS - 1)
    return _load(root)


def test_one_hive_partition_folder_per_day(landing: Landing) -> None:
    expected_events = [f"event_date={d.isoformat()}" for d in landing.days]
    expected_customers = [f"snapshot_date={d.isoformat()}" for d in landing.days]
    assert sorted(p.name for p in (landing.root / "events").iterdir()) == expected_events
    assert sorted(p.name for p in (landing.root / "customers").iterdir()) == expected_customers
    for folder in [*(landing.root / "events").iterdir(), *(landing.root / "customers").iterdir()]:
        assert folder.is_dir()
        assert list(folder.glob("*.parquet")), f"{folder} holds no parquet file"


def test_files_carry_contract_dtypes_and_no_date_column(landing: Landing) -> None:
    for table, expected, date_column in (
        ("events", EVENTS_FILE_SCHEMA, "event_date"),
        ("customers", CUSTOMERS_FILE_SCHEMA, "snapshot_date"),
    ):
        files = sorted((landing.root / table).rglob("*.parquet"))
        assert len(files) >= DAYS
        for file in files:
            schema = pq.ParquetFile(file).schema_arrow
            assert date_column not in schema.names, f"{file} repeats the partition column"
            assert schema.equals(expected, check_metadata=False), f"{file}: {schema}"


def test_snapshots_follow_the_contract(landing: Landing) -> None:
    customers = landing.customers
    assert len(customers) > 0
    assert customers["customer_id"].notna().all()
    assert not customers.duplicated(["snapshot_date", "customer_id"]).any()
    assert set(customers["plan"]) <= {"basic", "standard", "premium"}
    assert set(customers["region"]) <= {"north", "south", "east", "west"}
    assert (customers["monthly_fee"] > 0).all()
    assert customers["signup_date"].notna().all()
    assert (customers["signup_date"] <= customers["snapshot_date"]).all()
    churned = customers["churn_date"].notna()
    assert churned.any(), "nobody churns: labels would all be 0"
    assert (customers.loc[churned, "churn_date"] <= customers.loc[churned, "snapshot_date"]).all()
    # Some customers sign up during the data, so later snapshots are larger.
    sizes = customers.groupby("snapshot_date").size()
    assert sizes.iloc[-1] > sizes.iloc[0]


def test_snapshots_are_consistent_over_time(landing: Landing) -> None:
    """A customer once known stays known with the same signup date, and a churn date once set never changes."""
    customers = landing.customers
    first = customers[customers["snapshot_date"] == landing.days[0]].set_index("customer_id")
    last = customers[customers["snapshot_date"] == landing.days[-1]].set_index("customer_id")
    assert set(first.index) <= set(last.index)
    assert (first["signup_date"] == last.loc[first.index, "signup_date"]).all()
    per_customer = customers.dropna(subset=["churn_date"]).groupby("customer_id")["churn_date"].nunique()
    assert (per_customer == 1).all()


def test_events_belong_to_active_customers(landing: Landing) -> None:
    events, customers = landing.events, landing.customers
    assert len(events) > 0
    assert events["customer_id"].notna().all()
    assert not events.duplicated(["event_date", "customer_id"]).any(), "one row per customer per active day"
    for column in ("sessions", "minutes", "support_tickets", "failed_payments"):
        assert (events[column] >= 0).all(), column
    joined = events.merge(
        customers,
        left_on=["event_date", "customer_id"],
        right_on=["snapshot_date", "customer_id"],
        how="left",
        indicator=True,
    )
    assert (joined["_merge"] == "both").all(), "an event's customer is missing from that day's snapshot"
    assert joined["churn_date"].isna().all(), "an event from a customer already churned on that day"
    assert (joined["signup_date"] <= joined["event_date"]).all()
    # Every day has some activity: the generator is not writing empty partitions.
    assert events["event_date"].nunique() == DAYS


def test_same_seed_is_byte_identical_and_another_seed_differs(landing: Landing, tmp_path: Path) -> None:
    again = tmp_path / "again"
    other = tmp_path / "other"
    generate(again, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED)
    generate(other, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED + 1)
    reference = _files(landing.root)
    assert _files(again) == reference
    different = _files(other)
    assert different.keys() == reference.keys()
    assert different != reference
    last_snapshot = f"customers/snapshot_date={landing.days[-1].isoformat()}"
    changed = [k for k in reference if k.startswith(last_snapshot) and reference[k] != different[k]]
    assert changed, "the customer table does not depend on the seed"


def test_rerun_replaces_partitions(tmp_path: Path) -> None:
    """Regenerating into the same folder leaves the same files, not stale extra ones."""
    generate(tmp_path, customers=20, days=3, start_date=START, seed=1)
    (tmp_path / "events" / f"event_date={START.isoformat()}" / "stale.parquet").write_bytes(b"x")
    generate(tmp_path, customers=20, days=3, start_date=START, seed=1)
    assert not (tmp_path / "events" / f"event_date={START.isoformat()}" / "stale.parquet").exists()


@pytest.mark.parametrize(("customers", "days"), [(0, 10), (-5, 10), (10, 0)])
def test_rejects_empty_sizes(tmp_path: Path, customers: int, days: int) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, customers=customers, days=days)
    assert not (tmp_path / "events").exists()


def test_churners_fade_before_cancelling(landing: Landing) -> None:
    """The hidden propensity drives behaviour: churners are far less active in their last 30 days."""
    events, customers = landing.events, landing.customers
    final = customers[customers["snapshot_date"] == landing.days[-1]]
    sessions = events.set_index(["customer_id", "event_date"])["sessions"]

    def daily_sessions(customer_id: int, last_day: date) -> float:
        window = [last_day - timedelta(days=i) for i in range(30)]
        idx = pd.MultiIndex.from_product([[customer_id], window])
        return float(sessions.reindex(idx).fillna(0).sum()) / 30

    def fully_observed(signup: date, last_day: date) -> bool:
        return signup <= last_day - timedelta(days=29)

    churners = [
        daily_sessions(row.customer_id, row.churn_date - timedelta(days=1))
        for row in final.dropna(subset=["churn_date"]).itertuples()
        if fully_observed(row.signup_date, row.churn_date - timedelta(days=1))
    ]
    stayers = [
        daily_sessions(row.customer_id, landing.days[-1])
        for row in final[final["churn_date"].isna()].itertuples()
        if fully_observed(row.signup_date, landing.days[-1])
    ]
    assert len(churners) >= 10 and len(stayers) >= 100
    churner_mean = sum(churners) / len(churners)
    stayer_mean = sum(stayers) / len(stayers)
    assert churner_mean < 0.6 * stayer_mean, (churner_mean, stayer_mean)


def test_drift_raises_sessions_after_the_date(landing: Landing, tmp_path: Path) -> None:
    drift_from = START + timedelta(days=30)
    generate(tmp_path, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED, drift_from=drift_from)
    drifted = _load(tmp_path)

    def mean_sessions(events: pd.DataFrame, after: bool) -> float:
        part = events[(events["event_date"] >= drift_from) == after]
        return float(part["sessions"].mean())

    before_ratio = mean_sessions(drifted.events, after=False) / mean_sessions(landing.events, after=False)
    after_ratio = mean_sessions(drifted.events, after=True) / mean_sessions(landing.events, after=True)
    assert 0.9 < before_ratio < 1.1, before_ratio
    assert after_ratio > 1.3, after_ratio
    # Within the drifted data itself, usage jumps at the date.
    assert mean_sessions(drifted.events, after=True) > 1.3 * mean_sessions(drifted.events, after=False)
    # Drift changes behaviour, not who the customers are or when they churn.
    who = ["snapshot_date", "customer_id", "signup_date", "plan", "region", "churn_date"]
    assert drifted.customers[who].equals(landing.customers[who])


def _files_before(landing: Landing, day: date) -> list[str]:
    """The partition files of the days before ``day``, as keys of `_files`."""
    return [
        f"{table}/{column}={d.isoformat()}/part-0.parquet"
        for d in landing.days
        if d < day
        for table, column in (("events", "event_date"), ("customers", "snapshot_date"))
    ]


def test_drift_leaves_the_days_before_it_untouched(landing: Landing, tmp_path: Path) -> None:
    drift_from = START + timedelta(days=30)
    generate(tmp_path, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED, drift_from=drift_from)
    reference = _files(landing.root)
    drifted = _files(tmp_path)
    before = _files_before(landing, drift_from)
    assert all(key in reference for key in before)
    assert [k for k in before if drifted[k] != reference[k]] == []


def test_drift_raises_fees_after_the_date(landing: Landing, tmp_path: Path) -> None:
    drift_from = START + timedelta(days=30)
    generate(tmp_path, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED, drift_from=drift_from)
    customers = _load(tmp_path).customers
    before = customers[customers["snapshot_date"] == drift_from - timedelta(days=1)].set_index("customer_id")
    after = customers[customers["snapshot_date"] == landing.days[-1]].set_index("customer_id")
    common = before.index.intersection(after.index)
    assert len(common) > 100
    assert after.loc[common, "monthly_fee"].mean() > 1.05 * before.loc[common, "monthly_fee"].mean()
    # The rise starts on the drift date itself, not a day early or late.
    on_day = customers[customers["snapshot_date"] == drift_from].set_index("customer_id")
    assert (on_day.loc[common, "monthly_fee"] > before.loc[common, "monthly_fee"]).all()
    assert (after["monthly_fee"] > 0).all()


def _active_share(landing: Landing, since: date) -> float:
    """Share of the customers signed up and not cancelled on a day who were active that day, over days >= since."""
    customers = landing.customers[landing.customers["snapshot_date"] >= since]
    alive = customers[customers["churn_date"].isna()]
    events = landing.events[landing.events["event_date"] >= since]
    return len(events) / len(alive)


def test_activity_drop_leaves_the_days_before_it_byte_identical(landing: Landing, tmp_path: Path) -> None:
    drift_from = START + timedelta(days=30)
    generate(tmp_path, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED, drift_from=drift_from, drift_kind="activity_drop")
    reference = _files(landing.root)
    drifted = _files(tmp_path)
    before = _files_before(landing, drift_from)
    assert len(before) == 60
    assert [k for k in before if drifted[k] != reference[k]] == []
    # From the drift date on, the days differ.
    assert (
        drifted[f"events/event_date={drift_from.isoformat()}/part-0.parquet"]
        != reference[f"events/event_date={drift_from.isoformat()}/part-0.parquet"]
    )


def test_activity_drop_lowers_the_active_share_by_about_15_points(landing: Landing, tmp_path: Path) -> None:
    drift_from = START + timedelta(days=30)
    generate(tmp_path, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED, drift_from=drift_from, drift_kind="activity_drop")
    drifted = _load(tmp_path)
    clean_after = _active_share(landing, drift_from)
    drifted_after = _active_share(drifted, drift_from)
    assert 0.11 < clean_after - drifted_after < 0.18, (clean_after, drifted_after)
    # No usage drift and no price rise come with it.
    fees = ["snapshot_date", "customer_id", "monthly_fee"]
    merged = drifted.customers[fees].merge(landing.customers[fees], on=["snapshot_date", "customer_id"])
    assert (merged["monthly_fee_x"] == merged["monthly_fee_y"]).all()


def test_activity_drop_raises_churn_in_one_region_from_the_date_only(landing: Landing, tmp_path: Path) -> None:
    drift_from = START + timedelta(days=30)
    generate(tmp_path, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED, drift_from=drift_from, drift_kind="activity_drop")
    last = landing.days[-1]

    def churn_dates(zone: Landing) -> pd.DataFrame:
        final = zone.customers[zone.customers["snapshot_date"] == last]
        return final.set_index("customer_id")[["region", "churn_date"]]

    clean, drifted = churn_dates(landing), churn_dates(drifted_zone := _load(tmp_path))
    changed = drifted[drifted["churn_date"].ne(clean["churn_date"]) & ~(drifted["churn_date"].isna() & clean["churn_date"].isna())]
    assert len(changed) >= 3, changed
    assert set(changed["region"]) == {"south"}
    assert (pd.to_datetime(changed["churn_date"]).dt.date >= drift_from).all()
    assert drifted_zone.customers["churn_date"].notna().sum() > landing.customers["churn_date"].notna().sum()


def test_an_unknown_drift_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="drift_kind must be one of usage, activity_drop"):
        generate(tmp_path, customers=10, days=5, start_date=START, seed=SEED, drift_from=START, drift_kind="price")


def test_churn_rise_moves_the_outcome_and_no_input(landing: Landing, tmp_path: Path) -> None:
    drift_from = START + timedelta(days=30)
    generate(tmp_path, customers=CUSTOMERS, days=DAYS, start_date=START, seed=SEED, drift_from=drift_from, drift_kind="churn_rise")
    drifted = _load(tmp_path)
    reference, after = _files(landing.root), _files(tmp_path)
    assert [k for k in _files_before(landing, drift_from) if after[k] != reference[k]] == []
    last = landing.days[-1]

    def final(zone: Landing) -> pd.Series:
        return zone.customers[zone.customers["snapshot_date"] == last].set_index("customer_id")["churn_date"]

    clean_churn, drifted_churn = final(landing), final(drifted)
    earlier = drifted_churn.notna() & (clean_churn.isna() | (drifted_churn < clean_churn))
    # More cancellations, in every region, each on or after the onset.
    assert earlier.sum() > 0.5 * (clean_churn.notna() & (pd.to_datetime(clean_churn).dt.date >= drift_from)).sum()
    assert (pd.to_datetime(drifted_churn[earlier]).dt.date >= drift_from).all()
    regions = landing.customers.drop_duplicates("customer_id").set_index("customer_id")["region"]
    assert regions[earlier[earlier].index].nunique() >= 3
    # Same inputs: a customer active on a day after the onset in both zones did exactly the same that day.
    keys = ["event_date", "customer_id"]
    both = drifted.events.merge(landing.events, on=keys, suffixes=("", "_clean"))
    assert len(both) > 0.8 * len(drifted.events[drifted.events["event_date"] >= drift_from])
    for column in ("sessions", "minutes", "support_tickets", "failed_payments"):
        assert (both[column] == both[f"{column}_clean"]).all(), column
    # Only customers who cancelled earlier lost days of activity.
    lost = landing.events.merge(drifted.events[keys], on=keys, how="left", indicator=True)
    assert set(lost.loc[lost["_merge"] == "left_only", "customer_id"]) <= set(earlier[earlier].index)


def test_true_churn_probabilities_are_the_generators_customers_and_its_churn_rate(landing: Landing) -> None:
    truth = true_churn_probabilities(CUSTOMERS, SEED, 30)
    assert list(truth["customer_id"]) == sorted(landing.customers["customer_id"].unique())
    assert truth["probability"].between(0, 1).all() and truth["probability"].std() > 0.02
    # Each day's 30-day outcome of the customers active on it, against the chance the generator drew it with.
    last = landing.days[-1]
    churn = landing.customers[landing.customers["snapshot_date"] == last].set_index("customer_id")["churn_date"]
    p = truth.set_index("customer_id")["probability"]
    expected = observed = 0.0
    for day in landing.days[:29]:
        snap = landing.customers[landing.customers["snapshot_date"] == day]
        active = snap[snap["churn_date"].isna()]["customer_id"]
        when = pd.to_datetime(churn[active]).dt.date
        observed += float(((when > day) & (when <= day + timedelta(days=30))).sum())
        expected += float(p[active].sum())
    assert observed == pytest.approx(expected, rel=0.25), (observed, expected)


def test_the_command_line_offers_every_drift_kind() -> None:
    from nightshift.cli.main import build_parser
    from nightshift.local.generate import DRIFT_KINDS

    parser = build_parser()
    assert [parser.parse_args(["generate", "--drift-kind", kind]).drift_kind for kind in DRIFT_KINDS] == list(DRIFT_KINDS)
