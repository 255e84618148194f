"""A reason for every score: the features that pushed a customer's churn probability up, and by how much.

The contributions are XGBoost's own tree contributions, computed in the scoring pass from the same rows
and the same booster as the probability, by the attribution params.yaml ``scoring.reasons`` names:

- ``exact``: TreeSHAP (``Booster.predict(pred_contribs=True)``), the SHAP values: consistent (a feature the
  model relies on more never gets less credit) and exact. About 100x a prediction's cost per row at 400 trees.
- ``approx``: the per-path contributions (``pred_contribs=True, approx_contribs=True``), the Saabas
  attribution: each split's change in the expected leaf value goes to the feature it splits on, along
  the row's own path only. About 3-4x a prediction's cost; not consistent, so a feature's rank can differ.
- ``off``: no reasons; the reason columns are NULL.

Both are in log-odds and add up, with the model's bias, to the logit of the row's probability, so a
reason with contribution 0.7 multiplied the customer's odds of churning by e^0.7 (about 2) against the average.

Shared by scoring (which picks the reasons) and the warehouse (which stores them); numpy only, so a Spark
Python worker imports nothing else for it.
"""

from __future__ import annotations

import numpy as np

TOP_REASONS = 3
# Per reason: the feature's name (text) and its contribution in log-odds (double precision); both NULL
# when fewer than TOP_REASONS features pushed the probability up.
REASON_PAIRS: tuple[tuple[str, str], ...] = tuple((f"reason_{k}", f"reason_{k}_contribution") for k in range(1, TOP_REASONS + 1))
REASON_COLUMNS: tuple[str, ...] = tuple(column for pair in REASON_PAIRS for column in pair)
# The code of "no reason" in the codes top_reasons returns.
NO_REASON = -1
EXACT, APPROX, OFF = "exact", "approx", "off"
REASON_MODES: tuple[str, ...] = (EXACT, APPROX, OFF)


def reasons_mode(value: object) -> str:
    """``value`` if it names an attribution of params.yaml ``scoring.reasons``; else a ValueError naming the key."""
    if not isinstance(value, str) or value not in REASON_MODES:
        raise ValueError(f"params.yaml scoring.reasons must be one of {', '.join(REASON_MODES)}; got {value!r}")
    return value


def top_reasons(contributions: np.ndarray, k: int = TOP_REASONS) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` features with the largest positive contributions, largest first.

    ``contributions`` is rows x features (the bias column already dropped). Returns the features' column
    indexes (int32, ``NO_REASON`` where fewer than ``k`` contributions are above zero) and their
    contributions (float64, NaN there). Equal contributions go to the feature earlier in the model's order,
    so the same scores always give the same reasons.
    """
    n, features = contributions.shape
    codes = np.full((n, k), NO_REASON, dtype=np.int32)
    values = np.full((n, k), np.nan, dtype=np.float64)
    take = min(k, features)
    if n == 0 or take == 0:
        return codes, values
    if take < features:
        # The k largest of each row, unordered: linear in the features, where a full sort is not.
        picked = np.argpartition(-contributions, take - 1, axis=1)[:, :take]
    else:
        picked = np.broadcast_to(np.arange(features), (n, features)).copy()
    picked_values = np.take_along_axis(contributions, picked, axis=1)
    # Largest first; among equal values, the earlier feature first.
    order = np.lexsort((picked, -picked_values), axis=1)
    picked = np.take_along_axis(picked, order, axis=1)
    picked_values = np.take_along_axis(picked_values, order, axis=1)
    if take < features:
        # A tie at the last place: argpartition chose among the tied features arbitrarily, so sort those rows stably.
        tied = (contributions >= picked_values[:, take - 1 : take]).sum(axis=1) > take
        if tied.any():
            picked[tied] = np.argsort(-contributions[tied], axis=1, kind="stable")[:, :take]
            picked_values[tied] = np.take_along_axis(contributions[tied], picked[tied], axis=1)
    pushed_up = picked_values > 0
    codes[:, :take] = np.where(pushed_up, picked, NO_REASON)
    values[:, :take] = np.where(pushed_up, picked_values.astype(np.float64), np.nan)
    return codes, values
