"""PSI against hand-computed values, the empty-bin floor, categories the reference never saw, the noise floor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nightshift.monitoring.psi import (
    UNSEEN,
    bin_counts,
    categorical_psi,
    column_threshold,
    noise_threshold,
    psi,
    reference_shares_with_nulls,
)

pytestmark = pytest.mark.unit


def test_psi_matches_the_hand_computed_value() -> None:
    # (0.75 - 0.5) ln(0.75 / 0.5) + (0.25 - 0.5) ln(0.25 / 0.5) = 0.25 ln 1.5 + 0.25 ln 2
    assert psi([0.5, 0.5], [0.75, 0.25]) == pytest.approx(0.25 * math.log(1.5) + 0.25 * math.log(2), rel=1e-12)


def test_psi_of_identical_shares_is_zero() -> None:
    assert psi([0.1, 0.2, 0.7], [0.1, 0.2, 0.7]) == 0.0


def test_an_empty_bin_is_floored_so_psi_stays_finite() -> None:
    # The empty bin counts as 1e-4: 0.5 ln 2 + (1e-4 - 0.5) ln(1e-4 / 0.5).
    value = psi([0.5, 0.5], [1.0, 0.0], floor=1e-4)
    assert math.isfinite(value)
    assert value == pytest.approx(0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5), rel=1e-12)


def test_psi_refuses_mismatched_bins_and_a_zero_floor() -> None:
    with pytest.raises(ValueError, match="same non-zero length"):
        psi([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="floor must be positive"):
        psi([0.5, 0.5], [1.0, 0.0], floor=0)


def test_bins_follow_the_reference_convention_right_closed() -> None:
    # Bins (-inf, 1], (1, 2], (2, inf): a value equal to a cut falls in the bin the cut closes; NaN is not counted.
    counts = bin_counts(np.array([0.5, 1.0, 1.5, 2.0, 2.5, np.nan]), [1.0, 2.0])
    assert counts.tolist() == [2, 2, 1]


def test_reference_shares_get_a_null_bin() -> None:
    assert reference_shares_with_nulls([0.5, 0.5], 0.2).tolist() == pytest.approx([0.4, 0.4, 0.2])


def test_a_category_the_reference_never_saw_goes_to_the_unseen_bucket() -> None:
    value = categorical_psi({"basic": 0.5, "standard": 0.5}, {"basic": 50, "standard": 30, "enterprise": 20})
    # Day shares basic .5, standard .3, unseen .2 against .5, .5 and a floored 0.
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.2 - 1e-4) * math.log(0.2 / 1e-4)
    assert value == pytest.approx(expected, rel=1e-12)
    # The same day without the new category: no unseen term, much smaller.
    assert categorical_psi({"basic": 0.5, "standard": 0.5}, {"basic": 50, "standard": 30, UNSEEN: 0}) < 0.1


def test_categorical_psi_of_an_empty_day_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError, match="no rows"):
        categorical_psi({"basic": 1.0}, {"basic": 0})


def test_noise_threshold_shrinks_with_sample_size() -> None:
    deciles = [0.1] * 10
    small, large = noise_threshold(deciles, 100, 5000, 0.999), noise_threshold(deciles, 10_000, 5000, 0.999)
    assert small > 0.25 > large
    # The conventional threshold holds on large days; the noise floor takes over on small ones.
    assert column_threshold(0.25, deciles, 10_000, 5000, 0.999, 1e-4) == 0.25
    assert column_threshold(0.25, deciles, 100, 5000, 0.999, 1e-4) == pytest.approx(small)
    # Seeded: the same inputs give the same threshold (a rerun of a date must judge it the same way).
    assert noise_threshold(deciles, 100, 5000, 0.999) == small


def test_a_single_bin_has_no_noise() -> None:
    assert noise_threshold([1.0], 10, 100, 0.999) == 0.0


def test_noise_threshold_bounds_psi_of_samples_from_one_distribution() -> None:
    # 300 days of 150 rows drawn from the reference's own distribution: noise stays under the 0.999 floor.
    rng = np.random.default_rng(3)
    reference = rng.normal(size=5000)
    cuts = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    expected = bin_counts(reference, cuts) / reference.size
    threshold = noise_threshold(expected, 150, 5000, 0.999)
    values = [psi(expected, bin_counts(rng.normal(size=150), cuts) / 150, expected_rows=5000, actual_rows=150) for _ in range(300)]
    assert max(values) < threshold
    # And it is not vacuous: a shift of half a standard deviation crosses it.
    assert psi(expected, bin_counts(rng.normal(0.5, 1, size=150), cuts) / 150, expected_rows=5000, actual_rows=150) > threshold
