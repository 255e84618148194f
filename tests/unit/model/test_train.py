"""Training settings of nightshift.model.train: trigger-form overrides, monotone constraints, the number of trees."""

from __future__ import annotations

import pytest

from nightshift.config import load_params
from nightshift.feature_list import feature_columns
from nightshift.model.train import choose_n_trees, effective_params, monotone_constraints

pytestmark = pytest.mark.unit


def test_effective_params_apply_overrides_without_touching_the_file_values() -> None:
    params = load_params()
    original = params["train"]["window_days"], params["gate"]["min_improvement"]
    out = effective_params(params, window_days=200, min_improvement=0.01)
    assert out["train"]["window_days"] == 200 and out["gate"]["min_improvement"] == 0.01
    assert (params["train"]["window_days"], params["gate"]["min_improvement"]) == original
    assert effective_params(params) == params


def test_monotone_constraints_cover_every_window_of_a_prefix() -> None:
    columns = feature_columns([7, 30, 90])
    constraints = monotone_constraints(columns, ["failed_payments", "tickets"])
    assert set(constraints) == {f"{kind}_{w}d" for kind in ("failed_payments", "tickets") for w in (7, 30, 90)}
    assert set(constraints.values()) == {1}
    assert monotone_constraints(columns, []) == {}
    with pytest.raises(ValueError, match="names no feature"):
        monotone_constraints(columns, ["refunds"])


def _frame(signal: float, n_customers: int = 600, n_dates: int = 3):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = n_customers * n_dates
    x = rng.normal(size=n)
    label = (signal * x + rng.normal(size=n) > 1.5).astype(int)
    return pd.DataFrame(
        {"customer_id": np.tile(np.arange(n_customers) * 7 + 1000, n_dates), "x": x, "noise": rng.normal(size=n), "label": label}
    )


def test_cross_validation_keeps_few_trees_on_noise_and_more_on_signal() -> None:
    params = load_params()["train"]
    params = {**params, "monotone_increasing": [], "xgboost": {**params["xgboost"], "n_estimators": 200}}
    on_noise = choose_n_trees(_frame(signal=0.0), ["x", "noise"], params)
    on_signal = choose_n_trees(_frame(signal=2.0), ["x", "noise"], params)
    # Noise: every tree after the first few only fits the training folds, so the folds' log loss stops improving.
    assert 1 <= on_noise < 40
    assert on_noise < on_signal <= 200
    assert choose_n_trees(_frame(signal=2.0), ["x", "noise"], params) == on_signal
