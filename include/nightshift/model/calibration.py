"""The calibration map served with a churn model: Platt scaling of the booster's log-odds.

Fitted by `fit_platt` on the calibration dates of the time split (nightshift.model.split: after every
training date, before the evaluation window, labels known by its first day), so the evaluation window
judges the calibrated probabilities on rows neither the model nor the map has seen.

Platt rather than isotonic regression: it is a logistic regression on the booster's margin,
``p = sigmoid(slope * margin + intercept)``. With a positive slope it is strictly increasing, so the
ranking (ROC AUC, PR AUC, the gate's comparison with the champion, the order a CRM calls customers in)
is exactly the booster's; isotonic regression is a step function that ties every customer of a step
and lowered the evaluation ROC AUC on the demo data (docs/model.md). Two parameters are estimated
well from a fortnight of rows with a few hundred churners, where isotonic's steps follow the noise;
and what time shifts in churn do to a booster (the base rate moves, the scores grow over- or
under-confident) is an intercept and a slope on the log-odds, which is what Platt fits.

The map travels inside the model: a booster attribute (`ATTRIBUTE`) holding a small JSON object, saved
with the booster in every copy of it (the MLflow model, the raw bytes scoring broadcasts to Spark, the
DVC output `data/model/model.ubj`), so scoring, shadow scoring and the gate's champion scoring apply
the map of the very version they score and nothing else has to be passed along. Applying it needs
numpy alone (`PlattMap.apply`): the Spark scoring worker loads neither pandas nor scikit-learn.
A booster without the attribute (a version trained before calibration) serves its raw probabilities.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# The booster attribute holding the map.
ATTRIBUTE = "calibration"
PLATT = "platt"


@dataclass(frozen=True)
class PlattMap:
    """``p = sigmoid(slope * margin + intercept)`` on the booster's margin (log-odds), and what it was fitted on."""

    slope: float
    intercept: float
    rows: int
    positives: int
    fitted_on: str  # the calibration dates, "first..last (n dates)"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.slope) and math.isfinite(self.intercept)):
            raise ValueError(f"a calibration map needs a finite slope and intercept, got {self.slope} and {self.intercept}")
        if self.slope <= 0:
            # Zero or negative would flatten or reverse the model's ranking.
            raise ValueError(
                f"calibration slope {self.slope:.4f} <= 0 on {self.fitted_on}: the model does not rank the calibration dates' "
                "customers, so no increasing map exists; check the training set, or widen train.calibration_dates"
            )

    def apply(self, margin) -> np.ndarray:
        """Calibrated probabilities of the booster's margins (float64), computed without overflow at any margin."""
        import numpy as np

        z = self.slope * np.asarray(margin, dtype=np.float64) + self.intercept
        # sigmoid(z) = exp(-log(1 + exp(-z))), with the log computed stably for any z.
        return np.exp(-np.logaddexp(0.0, -z))

    def to_attribute(self) -> str:
        # repr of a float round-trips: the same map is the same text, and the same model file bytes.
        return json.dumps({"method": PLATT, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_attribute(cls, text: str) -> PlattMap:
        """The map a booster attribute holds; ValueError naming what is wrong with it."""
        try:
            found: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the model's {ATTRIBUTE!r} attribute is not JSON: {exc}") from exc
        method = found.pop("method", None)
        if method != PLATT:
            raise ValueError(f"the model's calibration method is {method!r}; this version of nightshift applies only {PLATT!r}")
        expected = {"slope", "intercept", "rows", "positives", "fitted_on"}
        if set(found) != expected:
            raise ValueError(f"the model's calibration map has keys {sorted(found)}, expected {sorted(expected)}")
        return cls(float(found["slope"]), float(found["intercept"]), int(found["rows"]), int(found["positives"]), str(found["fitted_on"]))


def fit_platt(margins, labels, fitted_on: str) -> PlattMap:
    """Platt scaling of ``margins`` (the booster's log-odds) to ``labels``: scikit-learn's unpenalized logistic regression."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(margins, dtype=np.float64).reshape(-1, 1)
    y = np.asarray(labels)
    positives = int(y.sum())
    if len(x) != len(y) or not 0 < positives < len(y):
        raise ValueError(
            f"the calibration dates {fitted_on} need both outcomes ({len(y)} rows, {positives} churned); widen train.calibration_dates"
        )
    # C=inf: no penalty, two parameters from thousands of rows need none.
    fitted = LogisticRegression(C=np.inf).fit(x, y)
    return PlattMap(float(fitted.coef_[0][0]), float(fitted.intercept_[0]), len(y), positives, fitted_on)


def booster_calibration(booster) -> PlattMap | None:
    """The map an XGBoost booster carries, or None when it has none (trained before calibration)."""
    text = booster.attr(ATTRIBUTE)
    return None if text is None else PlattMap.from_attribute(text)


def attach(model, calibration: PlattMap) -> None:
    """Store ``calibration`` in the model's booster, so every copy of the model carries it."""
    model.get_booster().set_attr(**{ATTRIBUTE: calibration.to_attribute()})


def served_probabilities(model, frame) -> np.ndarray:
    """What scoring serves for ``frame`` from an XGBClassifier: the calibrated churn probabilities, or the raw ones without a map."""
    import numpy as np

    calibration = booster_calibration(model.get_booster())
    if calibration is None:
        return np.asarray(model.predict_proba(frame)[:, 1], dtype=np.float64)
    return calibration.apply(model.predict(frame, output_margin=True))
