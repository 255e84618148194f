"""`nightshift features training-set` (the dvc.yaml training_set stage) runs the checks train_model runs.

A raw day whose failed validation is unresolved refuses the build, and a training set that fails
the GX training_set suite fails the command, each with the DAG's message (day, suite, rule).
"""

from __future__ import annotations

import os
import shlex
import shutil
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
    return subprocess.run([sys.executable, "-m", "nightshift.cli", *args], env=env, capture_output=True, text=True)


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


def _stage_command(stage: str) -> list[str]:
    """The command dvc.yaml's `stage` runs, with `nightshift` as this interpreter's module."""
    cmd = shlex.split(yaml.safe_load((project_home() / "dvc.yaml").read_text())["stages"][stage]["cmd"])
    assert cmd[0] == "nightshift", cmd
    return [sys.executable, "-m", "nightshift.cli", *cmd[1:]]


def test_a_stale_landing_zone_stops_the_dvc_training_stages_before_any_work(pg_url: str, tmp_path: Path, zone) -> None:
    # The dvc.yaml stages run in a project folder: data/raw, params.yaml, relative paths.
    shutil.copytree(zone.data_dir, tmp_path / "data" / "raw")
    params = yaml.safe_load((project_home() / "params.yaml").read_text())
    as_of = zone.end_date + timedelta(days=20)
    params["train"].update(as_of=as_of.isoformat(), max_staleness_days=3)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = _env(pg_url, tmp_path, tmp_path / "data" / "raw")
    env.update(MLFLOW_TRACKING_URI=store, NIGHTSHIFT_MLFLOW_ARTIFACTS=str(tmp_path / "art"))
    refusal = (
        f"data freshness guard: the newest landed day {zone.end_date.isoformat()} is 20 days before {as_of.isoformat()}, "
        "the day this run trains as of; train.max_staleness_days allows 3"
    )

    for stage, output in (("training_set", "data/training_set"), ("train", "data/model/model.ubj")):
        done = subprocess.run(_stage_command(stage), cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 1, f"{stage}: {done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        assert refusal in done.stderr, done.stderr
        assert not (tmp_path / output).exists()

    # The train stage's refusal is on record in MLflow; nothing is registered.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store, registry_uri=store)
    assert client.search_registered_models() == []
    (run,) = client.search_runs([client.get_experiment_by_name(params["model"]["name"]).experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["guard"] == "data_freshness"
    assert (run.data.tags["guard.newest_landed_day"], run.data.tags["guard.as_of"]) == (zone.end_date.isoformat(), as_of.isoformat())
    assert run.data.tags["guard.gap_days"] == "20"
    assert refusal in run.data.tags["guard.reason"]
