"""A short season on the real scheduler: the late, missing, bad and drift nights, invariants after each."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.season.season import run_season

pytestmark = pytest.mark.season


def test_a_short_season_loses_nothing_and_retrains_on_drift() -> None:
    figures = run_season(Path(tempfile.mkdtemp(prefix="nightshift-season-")), nights=10)
    assert figures["lost_rows"] == 0
    assert figures["duplicate_rows"] == 0
    assert figures["stale_trains"] == 0
    assert figures["faults"] >= 3, figures
    assert figures["drift_retrains"] >= 1, f"no train_model run started by the churn_drift Asset: {figures}"
