"""The calibration map: Platt scaling fitted with scikit-learn, applied with numpy, carried in the booster."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from nightshift.model.calibration import (
    ATTRIBUTE,
    PlattMap,
    attach,
    booster_calibration,
    fit_platt,
    served_probabilities,
)
from nightshift.model.evaluation import calibration_metrics

pytestmark = pytest.mark.unit

FITTED_ON = "2026-03-07..2026-03-14 (2 dates)"


def _map(slope: float = 2.0, intercept: float = -1.0) -> PlattMap:
    return PlattMap(slope, intercept, rows=100, positives=7, fitted_on=FITTED_ON)


def test_the_map_is_a_sigmoid_of_slope_times_margin_plus_intercept_by_hand() -> None:
    got = _map().apply([0.0, 0.5, 3.0])
    expected = [1 / (1 + math.exp(1.0)), 0.5, 1 / (1 + math.exp(-5.0))]
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    assert got.dtype == np.float64


def test_the_map_is_finite_and_silent_at_any_margin() -> None:
    # Underflow to 0 is the right answer; an overflow, a division by zero or a NaN would not be.
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        got = _map().apply(np.array([-1000.0, -40.0, 40.0, 1000.0], dtype=np.float32))
    assert got[0] == 0.0 and got[-1] == 1.0
    assert 0 < got[1] < 1e-30 and got[2] == pytest.approx(1.0)


def _shifted(n: int = 200_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Booster margins whose true log-odds are 0.8 * margin - 0.4: over-confident and too high."""
    rng = np.random.default_rng(seed)
    margins = rng.normal(-3.0, 1.5, n)
    labels = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.8 * margins - 0.4)))).astype(int)
    return margins, labels


def test_platt_recovers_the_true_slope_and_intercept_and_keeps_the_ranking() -> None:
    margins, labels = _shifted()
    fitted = fit_platt(margins, labels, FITTED_ON)
    assert fitted.slope == pytest.approx(0.8, abs=0.03) and fitted.intercept == pytest.approx(-0.4, abs=0.06)
    assert (fitted.rows, fitted.positives, fitted.fitted_on) == (len(labels), int(labels.sum()), FITTED_ON)
    raw = 1 / (1 + np.exp(-margins))
    calibrated = fitted.apply(margins)
    before = calibration_metrics(labels, raw)["expected_calibration_error"]
    after = calibration_metrics(labels, calibrated)["expected_calibration_error"]
    assert before > 0.01 and after < before / 5
    # Increasing: the same order of customers, the same ROC AUC.
    assert roc_auc_score(labels, calibrated) == pytest.approx(roc_auc_score(labels, raw), abs=1e-12)


def test_a_slice_with_one_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match=r"need both outcomes \(3 rows, 0 churned\); widen train.calibration_dates"):
        fit_platt([0.1, 0.2, 0.3], [0, 0, 0], FITTED_ON)


@pytest.mark.parametrize("slope", [0.0, -0.5])
def test_a_map_that_would_flatten_or_reverse_the_ranking_is_refused(slope: float) -> None:
    with pytest.raises(ValueError, match="the model does not rank the calibration dates' customers"):
        _map(slope=slope)


def test_the_attribute_round_trips_and_bad_ones_are_named() -> None:
    fitted = fit_platt(*_shifted(5_000), FITTED_ON)
    assert PlattMap.from_attribute(fitted.to_attribute()) == fitted
    with pytest.raises(ValueError, match="'calibration' attribute is not JSON"):
        PlattMap.from_attribute("{slope")
    with pytest.raises(ValueError, match="calibration method is 'isotonic'; this version of nightshift applies only 'platt'"):
        PlattMap.from_attribute('{"method": "isotonic", "x": [0, 1], "y": [0, 1]}')
    with pytest.raises(ValueError, match=r"has keys \['intercept', 'slope'\]"):
        PlattMap.from_attribute('{"method": "platt", "slope": 1.0, "intercept": 0.0}')


def test_the_booster_carries_the_map_into_its_raw_bytes_and_served_probabilities_apply_it() -> None:
    import xgboost as xgb

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + rng.normal(size=400) > 1).astype(int)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=2, nthread=1).fit(x, y)
    raw = model.predict_proba(x)[:, 1]
    # Without a map: the booster's own probabilities.
    assert booster_calibration(model.get_booster()) is None
    np.testing.assert_array_equal(served_probabilities(model, x), raw.astype(np.float64))

    attach(model, _map(0.5, -0.25))
    copy = xgb.Booster(model_file=bytearray(model.get_booster().save_raw("ubj")))
    assert booster_calibration(copy) == _map(0.5, -0.25)
    assert ATTRIBUTE in copy.attributes()
    served = served_probabilities(model, x)
    margins = model.predict(x, output_margin=True).astype(np.float64)
    np.testing.assert_allclose(served, 1 / (1 + np.exp(-(0.5 * margins - 0.25))), rtol=1e-12)
    assert not np.allclose(served, raw)
