"""The `features` suite's column-mean bands: from the serving model's own training data, not from constants.

A day's features are only as plausible as the data the champion learned from. Its reference
(``reference/distributions.json``, logged at training on the newest evaluation date) holds each
input's mean and standard deviation; a day passes when the mean of every column listed in
params.yaml ``quality.features.mean_columns`` lies within that mean ± ``mean_band_sd`` of the
column's SDs. So a team's own history, of any era and activity level, sets its own bands; the
contract's hard rules (types, ranges, keys) stay in the suite.

The band is in SDs of the column, not in standard errors of a day's mean: the standard error
(SD/sqrt(rows)) only covers sampling noise, and real days move more than that with seasons and
ageing. See params.yaml for why 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

# Spark and numpy add up the same values in different orders: a constant reference column
# (SD 0) must still accept its own value, whatever the last bits of either mean. Any move beyond
# that is refused: the model never saw the column vary.
_ROUNDING = 1e-9
# Bands are shown and stored with this many significant digits, rounded outwards.
_DIGITS = 6


@dataclass(frozen=True)
class MeanBand:
    """The allowed range of one column's mean over a day, and the reference it came from."""

    column: str
    low: float
    high: float
    reference_mean: float
    reference_sd: float


@dataclass(frozen=True)
class ReferenceBands:
    """The mean bands of one model version, ready to hand to the `features` suite."""

    model_name: str
    model_version: str
    run_id: str
    band_sd: float
    bands: tuple[MeanBand, ...]

    def suite_parameters(self) -> dict[str, float]:
        """The suite's ``$PARAMETER`` values: ``mean_<column>_min`` and ``mean_<column>_max``."""
        out: dict[str, float] = {}
        for band in self.bands:
            out[f"mean_{band.column}_min"] = band.low
            out[f"mean_{band.column}_max"] = band.high
        return out

    def describe(self) -> str:
        """Where the bands come from, for the gate's failure message."""
        return (
            f"mean bands from the reference of {self.model_name} version {self.model_version} (run {self.run_id}): "
            f"its mean ± {self.band_sd:g} SD of each column"
        )


def _outwards(value: float, up: bool) -> float:
    if value == 0.0 or not math.isfinite(value):
        return value
    exact = Decimal(repr(value))
    step = Decimal(1).scaleb(exact.adjusted() - _DIGITS + 1)
    return float(exact.quantize(step, rounding=ROUND_CEILING if up else ROUND_FLOOR))


def mean_band(column: str, reference: Mapping[str, Any], band_sd: float) -> MeanBand:
    """The band of one column from its reference distribution (needs its ``mean`` and ``std``)."""
    if "mean" not in reference or "std" not in reference:
        raise ValueError(f"has no mean and std for {column!r} (it holds {sorted(reference)})")
    mean, sd = float(reference["mean"]), float(reference["std"])
    if not (math.isfinite(mean) and math.isfinite(sd) and sd >= 0):
        raise ValueError(f"has mean {mean} and std {sd} for {column!r}: not a usable distribution")
    half = max(band_sd * sd, _ROUNDING * max(1.0, abs(mean)))
    return MeanBand(column, _outwards(mean - half, up=False), _outwards(mean + half, up=True), mean, sd)


def mean_bands(features: Mapping[str, Mapping[str, Any]], columns: Sequence[str], band_sd: float, source: str) -> tuple[MeanBand, ...]:
    """The bands of ``columns`` from a reference's ``features`` section; ``source`` names the reference in errors."""
    if not (math.isfinite(band_sd) and band_sd > 0):
        raise ValueError(f"params.yaml quality.features.mean_band_sd must be a positive number of SDs, got {band_sd!r}")
    missing = [c for c in columns if c not in features]
    if missing:
        raise ValueError(
            f"{source} has no distribution for {missing} (quality.features.mean_columns): it was trained on other features; "
            "retrain it or change mean_columns"
        )
    bands = []
    for column in columns:
        try:
            bands.append(mean_band(column, features[column], band_sd))
        except ValueError as exc:
            raise ValueError(f"{source} {exc}: retrain it to log a complete reference") from exc
    return tuple(bands)


def reference_bands(
    model_name: str, version: str, run_id: str, distributions: Mapping[str, Any], quality: Mapping[str, Any]
) -> ReferenceBands:
    """The bands of a version's reference (``distributions.json``) for params.yaml's ``quality.features``."""
    settings = quality["features"]
    band_sd = float(settings["mean_band_sd"])
    source = f"the reference of {model_name} version {version} (run {run_id})"
    bands = mean_bands(distributions.get("features", {}), list(settings["mean_columns"]), band_sd, source)
    return ReferenceBands(model_name, version, run_id, band_sd, bands)
