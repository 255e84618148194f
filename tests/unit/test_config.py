"""Deployment settings: project-local defaults locally, an error naming the setting in a deployment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from nightshift.config import (
    MissingSettingError,
    data_dir,
    dvc_repo_dir,
    execution_timeout,
    mlflow_artifact_root,
    mlflow_tracking_uri,
    quarantine_dir,
    work_dir,
)

pytestmark = pytest.mark.unit

SETTINGS = (
    "NIGHTSHIFT_DATA_DIR",
    "NIGHTSHIFT_WORK_DIR",
    "NIGHTSHIFT_QUARANTINE_DIR",
    "MLFLOW_TRACKING_URI",
    "NIGHTSHIFT_MLFLOW_ARTIFACTS",
    "NIGHTSHIFT_DVC_REPO",
)


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NIGHTSHIFT_HOME", str(tmp_path))
    monkeypatch.delenv("NIGHTSHIFT_LOCAL_DEFAULTS", raising=False)
    return monkeypatch


def test_locally_a_missing_setting_takes_its_project_local_default(bare_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert data_dir() == tmp_path / "data" / "raw"
    assert work_dir() == tmp_path / "data" / "work"
    assert dvc_repo_dir() == tmp_path
    assert mlflow_tracking_uri() == f"sqlite:///{tmp_path / '.mlflow' / 'mlflow.db'}"


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (data_dir, "NIGHTSHIFT_DATA_DIR"),
        (work_dir, "NIGHTSHIFT_WORK_DIR"),
        (quarantine_dir, "NIGHTSHIFT_QUARANTINE_DIR"),
        (mlflow_tracking_uri, "MLFLOW_TRACKING_URI"),
        (dvc_repo_dir, "NIGHTSHIFT_DVC_REPO"),
    ],
)
def test_a_deployment_without_local_defaults_refuses_a_missing_setting_by_name(bare_env: pytest.MonkeyPatch, setting, name: str) -> None:
    bare_env.setenv("NIGHTSHIFT_LOCAL_DEFAULTS", "off")
    with pytest.raises(MissingSettingError, match=f"{name} .* is not set.*NIGHTSHIFT_LOCAL_DEFAULTS=off"):
        setting()


def test_a_deployment_without_local_defaults_takes_what_is_set(bare_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bare_env.setenv("NIGHTSHIFT_LOCAL_DEFAULTS", "off")
    bare_env.setenv("NIGHTSHIFT_DATA_DIR", str(tmp_path / "landing"))
    bare_env.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert data_dir() == tmp_path / "landing"
    assert mlflow_tracking_uri() == "http://mlflow:5000"


def test_a_tracking_server_keeps_the_artifacts_it_serves(bare_env: pytest.MonkeyPatch) -> None:
    # A local folder would be written inside whichever container logged the model, out of the server's reach.
    bare_env.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert mlflow_artifact_root() is None
    bare_env.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", "s3://models/nightshift")
    assert mlflow_artifact_root() == "s3://models/nightshift"


def test_a_local_store_keeps_its_artifacts_beside_it(bare_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert mlflow_artifact_root() == (tmp_path / ".mlflow" / "artifacts").as_uri()


def _params_file(tmp_path: Path, airflow: object) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"airflow": airflow}))
    return path


def test_execution_timeout_is_the_dags_own_entry_else_the_default(tmp_path: Path) -> None:
    path = _params_file(tmp_path, {"execution_timeout_minutes": {"default": 60, "train_model": 180}})
    assert execution_timeout("train_model", path) == timedelta(hours=3)
    assert execution_timeout("nightly_scoring", path) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("airflow", "error", "match"),
    [
        (None, KeyError, r"airflow.execution_timeout_minutes.default is not set"),
        ({"execution_timeout_minutes": {"train_model": 180}}, KeyError, r"execution_timeout_minutes.default is not set"),
        ({"execution_timeout_minutes": {"default": 60, "nightly_scoring": 0}}, ValueError, r"minutes.nightly_scoring .* must be > 0"),
    ],
)
def test_execution_timeout_refuses_a_missing_or_unbounded_limit(tmp_path: Path, airflow: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        execution_timeout("nightly_scoring", _params_file(tmp_path, airflow))


def test_each_scoring_run_has_its_own_folders_under_its_day(bare_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from datetime import date

    from nightshift.config import day_features_dir, day_runs_dir, day_scores_dir

    day = date(2026, 7, 14)
    work = tmp_path / "data" / "work"
    assert day_features_dir(day, "r1") == work / "features" / "score_date=2026-07-14" / "run=r1"
    assert day_scores_dir(day, "r1").parent == day_runs_dir("scores", day) == work / "scores" / "score_date=2026-07-14"
    assert day_scores_dir(day, "r1") != day_scores_dir(day, "r2")
    with pytest.raises(ValueError, match="not 'models'"):
        day_runs_dir("models", day)


def test_nightly_scoring_runs_several_days_at_once_as_params_yaml_says(tmp_path: Path) -> None:
    import yaml

    from nightshift.config import load_params, max_active_scoring_runs

    assert max_active_scoring_runs() == load_params()["scoring"]["max_active_runs"] > 1
    params = load_params()
    params["scoring"]["max_active_runs"] = 0
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ValueError, match="scoring.max_active_runs in .* must be at least 1, got 0"):
        max_active_scoring_runs(path)
