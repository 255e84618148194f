"""Training settings of nightshift.model.train: trigger-form overrides and monotone constraints."""

from __future__ import annotations

import pytest

from nightshift.config import load_params
from nightshift.features.columns import feature_columns
from nightshift.model.train import effective_params, monotone_constraints

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
