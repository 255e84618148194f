"""Seeded synthetic landing zone for a subscription business, in the raw data contract.

Each customer carries a hidden churn propensity that drives both its daily hazard of
cancelling and its behaviour (fewer sessions and minutes, more support tickets and
failed payments, and a fading engagement over the weeks before it cancels), so a model
trained on the behavioural features can learn something real.

`drift_from` shifts behaviour from that date on and leaves every day before it exactly as
without drift, for drift monitoring to detect. `drift_kind` says how:

- ``usage`` (the default): usage grows (extra sessions) and fees rise 10 %;
- ``activity_drop``: each customer's daily probability of being active drops by
  `ACTIVITY_DROP` (absolute, 15 points), and customers of `CHURN_RISE_REGION` get a
  daily churn hazard `CHURN_RISE_FACTOR` times higher: a quieter base and one region
  leaving, as a competitor's launch or a broken app release would bring;
- ``churn_rise``: the outcome alone shifts. Every customer's daily churn hazard is
  `OUTCOME_RISE_FACTOR` times higher, and nothing a customer does before cancelling
  changes (no earlier fade): the same inputs, more churn, which no estimate made from
  the scores alone can see.

`true_churn_probabilities` gives each customer's chance of cancelling within a label
horizon as the generator draws it (without drift): what a perfectly calibrated model
that knew the hidden propensity would serve.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nightshift.contract import (
    PLANS,
    REGIONS,
    customers_file_schema,
    customers_partition,
    events_file_schema,
    events_partition,
)

log = logging.getLogger(__name__)

PLAN_FEES = {"basic": 9.99, "standard": 19.99, "premium": 34.99}

USAGE, ACTIVITY_DROP_KIND, CHURN_RISE_KIND = "usage", "activity_drop", "churn_rise"
DRIFT_KINDS = (USAGE, ACTIVITY_DROP_KIND, CHURN_RISE_KIND)
# activity_drop: the fall of the daily probability of being active, and the region whose churn rises and by how much.
ACTIVITY_DROP = 0.15
CHURN_RISE_REGION = "south"
CHURN_RISE_FACTOR = 2.0
# churn_rise: how much higher every customer's daily churn hazard is from the onset on.
OUTCOME_RISE_FACTOR = 2.0


@dataclass(frozen=True)
class GenerateResult:
    data_dir: Path
    start_date: date
    end_date: date
    customers: int
    event_rows: int
    churned: int


def _population(rng: np.random.Generator, n: int):
    """Ids, plan and region indexes and the hidden churn propensity: the simulation's first draws."""
    # Ids are deliberately not 0..n-1: user data has arbitrary keys.
    ids = np.sort(rng.choice(np.arange(100_000, 100_000 + 20 * n), size=n, replace=False)).astype(np.int64)
    plan_idx = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])
    region_idx = rng.choice(4, size=n)
    propensity = rng.normal(0.0, 1.0, size=n) + np.array([0.4, 0.0, -0.4])[plan_idx] + np.array([0.0, 0.2, -0.1, 0.1])[region_idx]
    return ids, plan_idx, region_idx, propensity


def churn_hazard(propensity: np.ndarray) -> np.ndarray:
    """Daily hazard of cancelling: about 5-7 % a month on average, far higher for high propensity."""
    return 1.0 / (1.0 + np.exp(-(-7.2 + 1.3 * propensity)))


def true_churn_probabilities(customers: int, seed: int, horizon_days: int) -> pd.DataFrame:
    """customer_id and the chance that the customer, if active on a day without drift, cancels within ``horizon_days``.

    The daily hazard is constant per customer and each day's draw is independent (a geometric
    cancellation day), so the chance is 1 - (1 - hazard) ** horizon on every day the customer is active.
    The label rule (churn in (d, d + horizon]) draws exactly this Bernoulli outcome.
    """
    ids, _, _, propensity = _population(np.random.default_rng(seed), customers)
    return pd.DataFrame({"customer_id": ids, "probability": 1.0 - (1.0 - churn_hazard(propensity)) ** horizon_days})


def _simulate(customers: int, days: int, start: date, seed: int, drift_from: date | None, drift_kind: str = USAGE):
    rng = np.random.default_rng(seed)
    n = customers
    ids, plan_idx, region_idx, propensity = _population(rng, n)

    # Two thirds are already customers when the data starts, the rest sign up during it.
    existing = rng.random(n) < 0.67
    signup_offset = np.where(existing, -rng.integers(30, 720, size=n), rng.integers(0, max(days - 1, 1), size=n))

    hazard = churn_hazard(propensity)
    first_day = np.maximum(signup_offset, 0)
    churn_after = rng.geometric(hazard)  # days after first observed day
    churn_offset = first_day + churn_after
    churn_offset = np.where(churn_offset < days, churn_offset, np.iinfo(np.int32).max)

    day_idx = np.arange(days)
    drifted = None if drift_from is None else day_idx[None, :] >= (drift_from - start).days
    # Engagement fades over the 45 days before cancelling.
    days_to_churn = np.clip(churn_offset[:, None] - day_idx[None, :], 0, 45)
    fade = 0.35 + 0.65 * days_to_churn / 45.0
    active_fade = fade
    if drift_kind == ACTIVITY_DROP_KIND and drift_from is not None:
        # Only activity fades before a new cancellation: usage (sessions, tickets, ...) keeps `fade`, as
        # numpy's Poisson sampler takes more or fewer draws from the stream when its rate moves, and
        # every draw after it, the days before the drift date included, would move with it.
        churn_offset, active_fade = _churn_rise(churn_offset, fade, first_day, region_idx, hazard, (drift_from - start).days, day_idx, seed)
    elif drift_kind == CHURN_RISE_KIND and drift_from is not None:
        # More cancellations and nothing else: the fade keeps the old cancellation day, so no input moves
        # for a customer still active (one who cancelled earlier is simply no longer active).
        everyone = np.ones(n, dtype=bool)
        onset = (drift_from - start).days
        churn_offset = _second_draw(churn_offset, first_day, everyone, hazard * OUTCOME_RISE_FACTOR, onset, days, seed)
    alive = (day_idx[None, :] >= signup_offset[:, None]) & (day_idx[None, :] < churn_offset[:, None])
    base_activity = 1.0 / (1.0 + np.exp(-(0.6 - 0.8 * propensity)))
    p_active = np.clip(base_activity[:, None] * active_fade, 0.02, 0.98)
    if drift_kind == ACTIVITY_DROP_KIND and drifted is not None:
        # The same uniform draws against a lower probability: a customer active before is active less often after.
        p_active = np.where(drifted, np.clip(p_active - ACTIVITY_DROP, 0.0, 1.0), p_active)
    active = alive & (rng.random((n, days)) < p_active)

    lam = np.exp(0.9 - 0.35 * propensity)[:, None] * fade
    sessions = np.maximum(rng.poisson(lam), 1)
    if drift_kind == USAGE and drifted is not None:
        # Extra sessions come from a separate stream, so not one draw before the drift date moves.
        extra = np.random.default_rng(seed + 1).poisson(0.6 * lam)
        sessions = np.where(drifted, sessions + extra, sessions)
    minutes = np.round(sessions * rng.gamma(4.0, 6.0, size=(n, days)) * (1.0 - 0.1 * propensity[:, None]).clip(0.3), 2)
    tickets = rng.poisson(np.clip(0.03 * np.exp(0.7 * propensity), 0, 1)[:, None] * (2.0 - fade))
    failed = rng.poisson(np.clip(0.01 * np.exp(0.9 * propensity), 0, 1)[:, None] * (2.0 - fade))
    minutes = np.maximum(minutes, 0.0)

    fees = np.array([PLAN_FEES[p] for p in PLANS])[plan_idx] * rng.uniform(0.9, 1.1, size=n)
    return ids, plan_idx, region_idx, signup_offset, churn_offset, fees.round(2), active, sessions, minutes, tickets, failed


def _churn_rise(churn_offset, fade, first_day, region_idx, hazard, onset: int, day_idx, seed: int):
    """Churn offsets and fades after a rise of the churn hazard of `CHURN_RISE_REGION` from day `onset` on.

    Each customer of the region not cancelled before the onset draws a second time to cancel, from
    the onset (or its first day, if later) with the higher hazard, from a stream of its own; it
    cancels at the earlier of the two.
    A new cancellation is on or after the onset, and the fade it brings (engagement falling before
    cancelling) is applied from the onset on only: not one value before the onset moves.
    """
    in_region = region_idx == REGIONS.index(CHURN_RISE_REGION)
    new_offset = _second_draw(churn_offset, first_day, in_region, hazard * CHURN_RISE_FACTOR, onset, len(day_idx), seed)
    new_fade = 0.35 + 0.65 * np.clip(new_offset[:, None] - day_idx[None, :], 0, 45) / 45.0
    return new_offset, np.where(day_idx[None, :] >= onset, new_fade, fade)


def _second_draw(churn_offset, first_day, who, raised_hazard, onset: int, days: int, seed: int):
    """Churn offsets after customers ``who`` not cancelled before ``onset`` draw again with ``raised_hazard`` from it on.

    The second draw comes from a stream of its own (``seed + 2``); a customer cancels at the earlier of the two.
    """
    raised = np.clip(raised_hazard, 0.0, 1.0)
    # As the first draw: a cancellation is at least a day after the first observed day.
    second = np.maximum(onset - 1, first_day) + np.random.default_rng(seed + 2).geometric(raised, size=len(churn_offset))
    earlier = who & (churn_offset > onset) & (second < churn_offset) & (second < days)
    return np.where(earlier, second, churn_offset)


def _write_partition(table: pa.Table, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-0.parquet")


def _write_events(data_dir: Path, day: date, ids, active, sessions, minutes, tickets, failed) -> int:
    """One day's events partition: a row per customer active that day; the number of rows."""
    rows = np.nonzero(active)[0]
    events = pa.table(
        {
            "customer_id": ids[rows],
            "sessions": sessions[rows].astype(np.int32),
            "minutes": minutes[rows].astype(np.float64),
            "support_tickets": tickets[rows].astype(np.int32),
            "failed_payments": failed[rows].astype(np.int32),
        },
        schema=events_file_schema(),
    )
    _write_partition(events, events_partition(data_dir, day))
    return len(rows)


def generate(
    data_dir: Path,
    customers: int = 5000,
    days: int = 180,
    start_date: date = date(2026, 1, 1),
    seed: int = 7,
    drift_from: date | None = None,
    drift_kind: str = USAGE,
) -> GenerateResult:
    """Write `days` daily partitions of events and customer snapshots under `data_dir` (drift: see the module docstring)."""
    if customers < 1 or days < 1:
        raise ValueError(f"customers and days must be >= 1 (got customers={customers}, days={days})")
    if drift_kind not in DRIFT_KINDS:
        raise ValueError(f"drift_kind must be one of {', '.join(DRIFT_KINDS)}, got {drift_kind!r}")
    (ids, plan_idx, region_idx, signup_offset, churn_offset, fees, active, sessions, minutes, tickets, failed) = _simulate(
        customers, days, start_date, seed, drift_from, drift_kind
    )
    base = np.datetime64(start_date.isoformat(), "D")
    signup = base + signup_offset.astype("timedelta64[D]")
    churned_ever = churn_offset < days
    churn = np.where(churned_ever, base + np.where(churned_ever, churn_offset, 0).astype("timedelta64[D]"), np.datetime64("NaT"))
    plan = np.array(PLANS, dtype=object)[plan_idx]
    region = np.array(REGIONS, dtype=object)[region_idx]

    event_rows = 0
    for d in range(days):
        day = start_date + timedelta(days=d)
        event_rows += _write_events(data_dir, day, ids, active[:, d], sessions[:, d], minutes[:, d], tickets[:, d], failed[:, d])

        known = signup_offset <= d
        churn_known = churned_ever & (churn_offset <= d)
        # A price rise from the drift date on.
        fee_factor = 1.1 if drift_kind == USAGE and drift_from is not None and day >= drift_from else 1.0
        snapshot = pd.DataFrame(
            {
                "customer_id": ids[known],
                "signup_date": signup[known],
                "plan": plan[known],
                "region": region[known],
                "monthly_fee": (fees[known] * fee_factor).round(2),
                "churn_date": np.where(churn_known[known], churn[known], np.datetime64("NaT")),
            }
        )
        _write_partition(
            pa.Table.from_pandas(snapshot, schema=customers_file_schema(), preserve_index=False),
            customers_partition(data_dir, day),
        )

    result = GenerateResult(
        data_dir=data_dir,
        start_date=start_date,
        end_date=start_date + timedelta(days=days - 1),
        customers=customers,
        event_rows=event_rows,
        churned=int(churned_ever.sum()),
    )
    log.info("generated %s", result)
    return result
