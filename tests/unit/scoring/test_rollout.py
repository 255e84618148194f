"""The canary split: stable per customer, the configured share of customers, validated settings."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from nightshift.scoring.rollout import Canary, in_canary

pytestmark = pytest.mark.unit

IDS = np.arange(1, 100_001, dtype=np.int64)


@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.2, 0.5])
def test_the_canary_holds_the_configured_share_of_100k_customers(fraction: float) -> None:
    share = in_canary(IDS, Canary(fraction, "s")).mean()
    # Binomial standard deviation at n = 100k is at most 0.0016: four of them.
    assert abs(share - fraction) < 4 * np.sqrt(fraction * (1 - fraction) / len(IDS))


def test_the_same_customers_whatever_their_order_or_batching() -> None:
    canary = Canary(0.1, "nightshift")
    whole = in_canary(IDS, canary)
    order = np.random.default_rng(0).permutation(len(IDS))
    np.testing.assert_array_equal(in_canary(IDS[order], canary), whole[order])
    batched = np.concatenate([in_canary(part, canary) for part in np.array_split(IDS, 7)])
    np.testing.assert_array_equal(batched, whole)


def test_the_rule_is_the_documented_hash() -> None:
    # First 8 bytes of sha256(salt + decimal id), big-endian, over 2**64, below the fraction.
    canary = Canary(0.3, "salt-")
    expected = [int.from_bytes(hashlib.sha256(f"salt-{i}".encode()).digest()[:8], "big") / 2**64 < 0.3 for i in IDS[:2000]]
    assert in_canary(IDS[:2000], canary).tolist() == expected


def test_a_larger_fraction_keeps_every_customer_of_a_smaller_one_and_another_salt_draws_others() -> None:
    small, large = in_canary(IDS, Canary(0.05, "a")), in_canary(IDS, Canary(0.2, "a"))
    assert not (small & ~large).any()
    other = in_canary(IDS, Canary(0.05, "b"))
    assert (small & other).sum() < 0.2 * small.sum()


def test_fraction_zero_is_nobody() -> None:
    assert not in_canary(IDS, Canary(0.0, "s")).any()


@pytest.mark.parametrize("bad", [-0.1, 0.51, 1, "0.1", None, True])
def test_a_fraction_outside_0_to_0_5_is_refused_by_name(bad) -> None:
    with pytest.raises(ValueError, match=r"rollout\.canary_fraction must be a number from 0 to 0.5"):
        Canary(bad, "s")


def test_settings_come_from_params_and_a_missing_one_is_an_error() -> None:
    assert Canary.from_params({"canary_fraction": 0.1, "salt": "x"}) == Canary(0.1, "x")
    with pytest.raises(KeyError, match="canary_fraction"):
        Canary.from_params({"salt": "x"})
    with pytest.raises(ValueError, match="rollout.salt"):
        Canary.from_params({"canary_fraction": 0.1, "salt": ""})
