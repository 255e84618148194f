"""The demo summary's calibration line."""

from __future__ import annotations

import pytest

from nightshift.local.demo import calibration_line

pytestmark = pytest.mark.unit


def test_a_calibrated_champion_shows_its_ece_before_and_after_the_map() -> None:
    assert calibration_line({"ece_before": 0.01662, "ece_after": 0.00461}) == "ECE 0.0166 before the map, 0.0046 served"


def test_a_champion_from_before_calibration_says_so_instead_of_nan() -> None:
    line = calibration_line({"roc_auc": 0.907})
    assert "nan" not in line and "trained before calibration" in line
