"""Population stability index (PSI) and the PSI that sampling noise alone reaches.

PSI compares two distributions over the same bins: sum over bins of (a - e) * ln(a / e), with e the
reference share and a the day's share. Shares are floored (``floor``) before the log, so a bin that
is empty on either side adds a large but finite term instead of infinity.

PSI of two samples of one distribution is not 0: with B bins, n rows in the day and m in the
reference, it is roughly (1/n + 1/m) times a chi-square with B - 1 degrees of freedom. A fixed
threshold like the conventional 0.25 is therefore crossed by noise alone on small days;
`noise_threshold` is the PSI that noise stays under with a chosen probability (simulated from the
reference's own shares), and a column's threshold is the larger of the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# The bucket of categories the reference never saw.
UNSEEN = "__unseen__"
# Simulated samples behind a noise threshold, and their fixed seed (a threshold must not change between reruns).
NOISE_DRAWS = 10_000
NOISE_SEED = 20_240_601


def shares(counts: Sequence[float]) -> np.ndarray:
    """Counts as shares summing to 1; an all-zero count has no distribution and is refused."""
    c = np.asarray(counts, dtype="float64")
    total = c.sum()
    if total <= 0:
        raise ValueError("no rows to compute a distribution from")
    return c / total


def psi(
    expected: Sequence[float],
    actual: Sequence[float],
    floor: float = 1e-4,
    expected_rows: int | None = None,
    actual_rows: int | None = None,
) -> float:
    """PSI of ``actual`` shares against ``expected`` shares over the same bins, each share floored at ``floor``.

    With a side's row count, its floor is at least half a row (0.5 / rows): a sample of n rows cannot
    tell a share of 1e-4 from 0, and flooring an empty bin at half a row keeps a small day's chance
    empty bin from weighing like a vanished category.
    """
    e = np.asarray(expected, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    if e.shape != a.shape or e.ndim != 1 or e.size == 0:
        raise ValueError(f"PSI needs two share vectors of the same non-zero length, got {e.shape} and {a.shape}")
    if floor <= 0:
        raise ValueError(f"the empty-bin floor must be positive (a zero share would make PSI infinite), got {floor}")
    e = np.maximum(e, max(floor, 0.5 / expected_rows) if expected_rows else floor)
    a = np.maximum(a, max(floor, 0.5 / actual_rows) if actual_rows else floor)
    return float(np.sum((a - e) * np.log(a / e)))


def bin_counts(values: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """Counts of non-NaN ``values`` in the bins (-inf, c1], (c1, c2], ..., (ck, inf) of the reference (model.evaluation).

    With a few cuts (deciles), one vectorised ``values <= c`` count per cut is about eight times faster
    than a binary search per value (``searchsorted`` on unsorted data mispredicts every branch); with
    many cuts the search wins again.
    """
    edges = np.asarray(cuts, dtype="float64")
    missing = np.isnan(values)
    n_missing = int(np.count_nonzero(missing))
    if len(edges) > 32:
        present = values[~missing] if n_missing else values
        return np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    # NaN <= c is False: NaNs never count below a cut, and are taken off the open last bin.
    at_most = np.array([np.count_nonzero(values <= c) for c in edges], dtype="int64")
    return np.diff(np.concatenate([[0], at_most, [values.size - n_missing]]))


def reference_shares_with_nulls(fractions: Sequence[float], null_fraction: float) -> np.ndarray:
    """Reference bin shares of all rows: the present-value bins scaled by (1 - null share), then a null bin.

    A null bin makes PSI see a column that empties out, which bins of present values alone cannot.
    """
    present = np.asarray(fractions, dtype="float64") * (1.0 - null_fraction)
    return np.append(present, null_fraction)


def categorical_psi(
    reference: Mapping[str, float], counts: Mapping[str, int], floor: float = 1e-4, reference_rows: int | None = None
) -> float:
    """PSI over categories: ``reference`` maps category to share, ``counts`` the day's rows per category.

    Categories the reference never saw go to one `UNSEEN` bucket, whose reference share is whatever the
    reference's shares leave of 1 (usually 0, floored): a new plan showing up counts as drift.
    """
    seen = [c for c in reference if c != UNSEEN]
    day = {c: 0 for c in seen}
    day[UNSEEN] = 0
    for category, n in counts.items():
        day[category if category in day and category != UNSEEN else UNSEEN] += int(n)
    expected = [float(reference[c]) for c in seen]
    expected.append(max(0.0, 1.0 - sum(expected)) if UNSEEN not in reference else float(reference[UNSEEN]))
    day_counts = [day[c] for c in [*seen, UNSEEN]]
    return psi(shares(expected), shares(day_counts), floor, expected_rows=reference_rows, actual_rows=int(sum(day_counts)))


def psi_rows(expected: np.ndarray, actual: np.ndarray, floor: float, expected_rows: int, actual_rows: int) -> np.ndarray:
    """`psi` of many (expected, actual) share pairs at once, one pair per row of the two arrays."""
    e = np.maximum(expected, max(floor, 0.5 / expected_rows))
    a = np.maximum(actual, max(floor, 0.5 / actual_rows))
    return np.sum((a - e) * np.log(a / e), axis=-1)


def noise_threshold(
    expected: Sequence[float], day_rows: int, reference_rows: int, quantile: float, floor: float = 1e-4, draws: int = NOISE_DRAWS
) -> float:
    """The PSI that two samples of the reference distribution itself stay under with probability ``quantile``.

    Simulated, not approximated: ``draws`` pairs of a reference sample (``reference_rows``) and a day
    sample (``day_rows``) are drawn from the reference shares, and the PSI of each pair computed with
    the same floors. The chi-square approximation ((1/n + 1/m) * chi2(bins - 1)) holds for large days
    only; on a few hundred rows PSI's log term gives it a heavier tail. Seeded: same inputs, same threshold.
    """
    if day_rows < 1 or reference_rows < 1:
        raise ValueError(f"a noise threshold needs rows on both sides, got {day_rows} and {reference_rows}")
    p = shares(expected)
    if (p > 0).sum() < 2:
        return 0.0  # one bin holds everything: every sample has the same shares, PSI is 0
    rng = np.random.default_rng(NOISE_SEED)
    reference_draws = rng.multinomial(reference_rows, p, size=draws) / reference_rows
    day_draws = rng.multinomial(day_rows, p, size=draws) / day_rows
    return float(np.quantile(psi_rows(reference_draws, day_draws, floor, reference_rows, day_rows), quantile))


def column_threshold(base: float, expected: Sequence[float], day_rows: int, reference_rows: int, quantile: float, floor: float) -> float:
    """A column's PSI threshold: the conventional ``base``, raised to the noise floor on small samples.

    The simulation is skipped when even four times the chi-square approximation of the noise floor
    stays under ``base`` (large days against a large reference): it could not raise the threshold.
    """
    from scipy.stats import chi2

    bins = int((np.asarray(expected, dtype="float64") > 0).sum())
    if bins < 2 or 4 * chi2.ppf(quantile, bins - 1) * (1 / max(day_rows, 1) + 1 / max(reference_rows, 1)) < base:
        return base
    return max(base, noise_threshold(expected, day_rows, reference_rows, quantile, floor))
