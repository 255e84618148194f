"""A short season on the real scheduler: the stale train, late, missing, bad and drift nights, invariants after each.

`run_season` raises on the night an invariant breaks (rows for the day = its active customers, no duplicate
key, every publish from its own Airflow run, a drift decision stored, nothing published for a refused day);
what it returns is the season as a whole.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.season.season import run_season

pytestmark = pytest.mark.season


def test_a_short_season_loses_nothing_and_retrains_on_drift() -> None:
    figures = run_season(Path(tempfile.mkdtemp(prefix="nightshift-season-")), nights=10)
    assert figures["nights"] >= 10, figures
    assert figures["faults"] >= 4, f"stale train, late, missing and bad nights expected: {figures}"
    assert figures["lost_rows"] == 0
    assert figures["duplicate_rows"] == 0
    assert figures["stale_trains"] == 0
    assert figures["false_drift_days"] == 0, figures
    assert figures["retrains_within_cooldown"] == 0, figures
    assert figures["retrain_lag_nights"] is not None and figures["retrain_lag_nights"] <= 3, figures
    assert figures["drift_retrains"] >= 1, f"no train_model run started by the churn_drift Asset: {figures}"
    assert figures["drift_retrains_succeeded"] == figures["drift_retrains"], figures
