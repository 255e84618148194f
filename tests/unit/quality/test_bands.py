"""The features suite's mean bands come from a model's reference distributions (nightshift.quality.bands)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nightshift.config import load_params
from nightshift.model.evaluation import reference_distributions
from nightshift.quality.bands import mean_bands, reference_bands
from nightshift.quality.suites import feature_suites, suite_parameters

pytestmark = pytest.mark.unit

QUALITY = {"features": {"mean_columns": ["sessions_30d", "tenure_days"], "mean_band_sd": 1.0}}
# A tiny reference, as distributions.json holds it (other keys of a column do not matter here).
REFERENCE = {
    "rows": 4,
    "features": {
        "sessions_30d": {"rows": 4, "mean": 2.0, "std": 0.5, "cuts": [1.5, 2.5], "fractions": [0.25, 0.5, 0.25]},
        "tenure_days": {"rows": 4, "mean": 400.0, "std": 100.0, "cuts": [350.0], "fractions": [0.5, 0.5]},
        "monthly_fee": {"rows": 4, "mean": 20.0, "std": 5.0, "cuts": [], "fractions": [1.0]},
    },
}


def _edges(bands) -> dict[str, tuple[float, float]]:
    return {b.column: (b.low, b.high) for b in bands}


def test_the_band_is_the_reference_mean_plus_minus_band_sd_reference_sds() -> None:
    bands = reference_bands("churn", "3", "abc", REFERENCE, QUALITY)
    assert _edges(bands.bands) == {"sessions_30d": (1.5, 2.5), "tenure_days": (300.0, 500.0)}
    assert bands.suite_parameters() == {
        "mean_sessions_30d_min": 1.5,
        "mean_sessions_30d_max": 2.5,
        "mean_tenure_days_min": 300.0,
        "mean_tenure_days_max": 500.0,
    }
    wider = reference_bands("churn", "3", "abc", REFERENCE, {"features": {**QUALITY["features"], "mean_band_sd": 2.0}})
    assert _edges(wider.bands)["sessions_30d"] == (1.0, 3.0)
    assert bands.describe() == "mean bands from the reference of churn version 3 (run abc): its mean ± 1 SD of each column"


def test_bands_of_a_reference_built_as_training_builds_it_hold_that_data_whatever_its_level() -> None:
    # Customers far less active than any constant fitted to the bundled generator would allow.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sessions_30d": rng.poisson(2.2, 500).astype(float), "tenure_days": rng.uniform(10, 200, 500)})
    reference = reference_distributions(frame, list(frame.columns), rng.random(500))
    [sessions, tenure] = mean_bands(reference["features"], ["sessions_30d", "tenure_days"], 1.0, "ref")
    for band, column in ((sessions, "sessions_30d"), (tenure, "tenure_days")):
        mean, sd = frame[column].mean(), frame[column].std(ddof=0)
        assert band.low == pytest.approx(mean - sd, rel=1e-5) and band.high == pytest.approx(mean + sd, rel=1e-5)
        assert band.low <= mean - sd and band.high >= mean + sd  # rounded outwards, never inwards
    assert sessions.high < 5.0  # the old generator-fitted floor of sessions_30d's mean


def test_a_constant_reference_column_accepts_its_own_value_however_it_is_summed() -> None:
    values = [9.99] * 1000
    reference = reference_distributions(pd.DataFrame({"monthly_fee": values}), ["monthly_fee"], np.zeros(1000))
    [band] = mean_bands(reference["features"], ["monthly_fee"], 1.0, "ref")
    for mean in (sum(values) / len(values), math.fsum(values) / len(values), float(np.mean(values))):
        assert band.low <= mean <= band.high
    assert band.high - band.low < 1e-4  # any real move of a column the model never saw vary is refused


def test_a_reference_without_a_column_or_its_mean_and_sd_is_refused_naming_both() -> None:
    quality = {"features": {"mean_columns": ["sessions_30d", "minutes_30d"], "mean_band_sd": 1.0}}
    with pytest.raises(ValueError, match=r"reference of churn version 3 \(run abc\) has no distribution for \['minutes_30d'\]"):
        reference_bands("churn", "3", "abc", REFERENCE, quality)
    partial = {"features": {"sessions_30d": {"rows": 4, "cuts": [1.0], "fractions": [0.5, 0.5]}}}
    with pytest.raises(ValueError, match=r"version 3 \(run abc\) has no mean and std for 'sessions_30d'"):
        reference_bands("churn", "3", "abc", partial, {"features": {"mean_columns": ["sessions_30d"], "mean_band_sd": 1.0}})
    with pytest.raises(ValueError, match="mean_band_sd must be a positive number of SDs, got 0.0"):
        reference_bands("churn", "3", "abc", REFERENCE, {"features": {**QUALITY["features"], "mean_band_sd": 0.0}})


def test_params_yaml_holds_no_fitted_mean_bounds_and_the_suite_takes_them_as_parameters() -> None:
    params = load_params()
    assert "mean_bounds" not in params["quality"]["features"]
    assert "features" not in suite_parameters(params["quality"])
    means = [r for r in feature_suites(params)["features"] if r["type"] == "expect_column_mean_to_be_between"]
    assert [r["kwargs"]["column"] for r in means] == params["quality"]["features"]["mean_columns"]
    assert all(isinstance(r["kwargs"]["min_value"], dict) and "$PARAMETER" in r["kwargs"]["max_value"] for r in means)
