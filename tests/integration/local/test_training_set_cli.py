"""`nightshift features training-set` (the dvc.yaml training_set stage) runs the checks train_model runs.

A raw day whose failed validation is unresolved refuses the build, and a training set that fails
the GX training_set suite fails the command, each with the DAG's message (day, suite, rule).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from nightshift.config import project_home
from nightshift.local.badinput import corrupt_day
from nightshift.local.generate import generate
from tests.pg_helpers import create_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def zone(tmp_path_factory):
    # 50 days: two weekly snapshot dates with a 30-day label window behind the newest day.
    return generate(tmp_path_factory.mktemp("raw") / "raw", customers=80, days=50, start_date=date(2026, 3, 1), seed=8)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nightshift.local.cli", *args], env=env, capture_output=True, text=True)


def _env(pg_url: str, tmp_path: Path, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NIGHTSHIFT_DATABASE_URL": create_database(pg_url, f"cli_tset_{uuid.uuid4().hex[:12]}"),
        "NIGHTSHIFT_DATA_DIR": str(data),
        "NIGHTSHIFT_QUARANTINE_DIR": str(tmp_path / "quarantine"),
    }


def test_a_failed_raw_day_in_the_window_fails_the_stage_naming_day_suite_and_rule(pg_url: str, tmp_path: Path, zone) -> None:
    data = tmp_path / "raw"
    subprocess.run(["cp", "-r", str(zone.data_dir), str(data)], check=True)
    bad = zone.start_date + timedelta(days=5)  # inside the feature window of the first training date
    corrupt_day(data, bad, "negative_minutes")
    env = _env(pg_url, tmp_path, data)
    validated = _cli(env, "quality", "validate", bad.isoformat())
    assert validated.returncode == 1, validated.stdout

    built = _cli(env, "features", "training-set", "--out", str(tmp_path / "training_set"))
    assert built.returncode == 1, built.stdout
    assert "Traceback" not in built.stderr
    assert "refusing to build the training set as of" in built.stderr
    assert f"{bad.isoformat()} raw_events: expect_column_values_to_be_between(column=minutes)" in built.stderr
    assert f"quarantined copy: {tmp_path / 'quarantine'}" in built.stderr
    assert not (tmp_path / "training_set").exists()


def test_a_training_set_failing_its_suite_fails_the_stage_naming_the_rule(pg_url: str, tmp_path: Path, zone) -> None:
    params = yaml.safe_load((project_home() / "params.yaml").read_text())
    params["quality"]["training_set"]["min_rows"] = 1_000_000
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    env = _env(pg_url, tmp_path, zone.data_dir)

    built = _cli(env, "features", "training-set", "--out", str(tmp_path / "training_set"), "--params", str(params_file))
    assert built.returncode == 1, built.stdout
    assert "Traceback" not in built.stderr
    assert "training_set" in built.stderr and "table_row_count_to_be_between" in built.stderr
    assert (tmp_path / "quarantine" / "training_set").is_dir()
