"""Deployment settings: environment variables with project-local defaults.

Tunables live in params.yaml (`load_params`); secrets only in Airflow Connections or a
git-ignored .env. Nothing here reads a network or a database.

A deployment turns the project-local defaults off with NIGHTSHIFT_LOCAL_DEFAULTS=off (the
project image does): a setting it misses is then an error naming the variable, never a quiet
folder or SQLite file inside one container.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

LOCAL_DEFAULTS_VAR = "NIGHTSHIFT_LOCAL_DEFAULTS"


class MissingSettingError(RuntimeError):
    """A deployment without project-local defaults misses a setting."""


def local_defaults_allowed() -> bool:
    """False when NIGHTSHIFT_LOCAL_DEFAULTS is off (also false, no, 0): every setting must then be set."""
    return os.environ.get(LOCAL_DEFAULTS_VAR, "on").strip().lower() not in {"off", "false", "no", "0"}


def _setting(name: str, what: str, local_default: Path) -> Path:
    value = os.environ.get(name)
    if value:
        return Path(value).resolve()
    if not local_defaults_allowed():
        raise MissingSettingError(f"{name} ({what}) is not set, and this deployment has no local default ({LOCAL_DEFAULTS_VAR}=off)")
    return local_default.resolve()


def project_home() -> Path:
    """The project root: NIGHTSHIFT_HOME, else the checkout this package lives in, else cwd."""
    env = os.environ.get("NIGHTSHIFT_HOME")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "params.yaml").exists():
        return checkout
    return Path.cwd().resolve()


def data_dir() -> Path:
    """The raw landing zone (the data contract's root)."""
    return _setting("NIGHTSHIFT_DATA_DIR", "the raw landing zone", project_home() / "data" / "raw")


def work_dir() -> Path:
    """Where jobs write intermediate outputs (feature sets, training sets)."""
    return _setting("NIGHTSHIFT_WORK_DIR", "the jobs' intermediate outputs", project_home() / "data" / "work")


# What a nightly_scoring run writes of its day, each kind under work/<kind>/score_date=D/run=<name>/.
FEATURES, SCORES = "features", "scores"
RUN_PREFIX = "run="


def day_runs_dir(kind: str, day: date, work: Path | None = None) -> Path:
    """The folder of ``day``'s nightly_scoring runs under ``work`` (`work_dir`): each writes its ``kind`` in a run=<name> folder here."""
    if kind not in (FEATURES, SCORES):
        raise ValueError(f"a scoring run writes {FEATURES!r} or {SCORES!r}, not {kind!r}")
    return (work or work_dir()) / kind / f"score_date={day.isoformat()}"


def day_features_dir(day: date, run: str) -> Path:
    """Where the nightly_scoring run named ``run`` writes the features of ``day``.

    A folder per run: a rerun or backfill never rewrites files another run published or drift monitoring reads.
    """
    return day_runs_dir(FEATURES, day) / f"{RUN_PREFIX}{run}"


def day_scores_dir(day: date, run: str) -> Path:
    """Where the nightly_scoring run named ``run`` writes the scores of ``day`` (Parquet), beside no other run's."""
    return day_runs_dir(SCORES, day) / f"{RUN_PREFIX}{run}"


def drift_reports_dir() -> Path:
    """Where drift monitoring writes its per-date reports, served by the Airflow UI plugin."""
    return Path(os.environ.get("NIGHTSHIFT_DRIFT_REPORTS_DIR", work_dir() / "drift_reports")).resolve()


def quarantine_dir() -> Path:
    """Where data that failed a quality gate is copied, with its validation result."""
    return _setting("NIGHTSHIFT_QUARANTINE_DIR", "the quarantine for data that failed a gate", project_home() / "data" / "quarantine")


def dvc_repo_dir() -> Path:
    """The DVC repository whose cache and remote keep every training set restorable: NIGHTSHIFT_DVC_REPO, else the project."""
    return _setting("NIGHTSHIFT_DVC_REPO", "the DVC repository that keeps every training set restorable", project_home())


def params_path() -> Path:
    return Path(os.environ.get("NIGHTSHIFT_PARAMS", project_home() / "params.yaml")).resolve()


def mlflow_tracking_uri() -> str:
    """MLflow tracking and registry store: MLFLOW_TRACKING_URI, else a local SQLite file."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    if not local_defaults_allowed():
        raise MissingSettingError(
            f"MLFLOW_TRACKING_URI (the MLflow tracking and registry server) is not set, and this deployment has no local "
            f"default ({LOCAL_DEFAULTS_VAR}=off)"
        )
    store = project_home() / ".mlflow"
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def mlflow_ui_url() -> str:
    """Where people open MLflow in a browser (Browse link, approval forms, status page): NIGHTSHIFT_MLFLOW_UI_URL."""
    return os.environ.get("NIGHTSHIFT_MLFLOW_UI_URL", "http://localhost:5000")


def mlflow_artifact_root() -> str | None:
    """Where new experiments keep their artifacts: NIGHTSHIFT_MLFLOW_ARTIFACTS, else beside a local store.

    None for a tracking server (http or https): the server chooses (its `--serve-artifacts`
    destination), since a local folder would land in whichever container logged the model.
    """
    root = os.environ.get("NIGHTSHIFT_MLFLOW_ARTIFACTS")
    if root is None:
        if mlflow_tracking_uri().startswith(("http://", "https://")):
            return None
        root = str(project_home() / ".mlflow" / "artifacts")
    return Path(root).resolve().as_uri() if "://" not in root else root


def load_params(path: Path | None = None) -> dict[str, Any]:
    """params.yaml: the pipeline's tunables, sectioned per stage."""
    import yaml

    p = path or params_path()
    if not p.exists():
        raise FileNotFoundError(f"params file not found: {p} (set NIGHTSHIFT_PARAMS or run from the project root)")
    with p.open() as fh:
        return yaml.safe_load(fh)


def wait_for_data(path: Path | None = None) -> tuple[float, float]:
    """How often nightly_scoring looks for a late day's partitions and how long it waits, in seconds.

    Read when the DAG is parsed (the sensor's arguments), from params.yaml `scoring.wait_for_data`.
    """
    wait = load_params(path)["scoring"]["wait_for_data"]
    poke, timeout = float(wait["poke_interval_seconds"]), float(wait["timeout_hours"]) * 3600
    if poke <= 0 or timeout < poke:
        raise ValueError(
            f"scoring.wait_for_data in {path or params_path()}: need poke_interval_seconds > 0 and a timeout of at least one poke"
        )
    return poke, timeout


def execution_timeout(dag_id: str, path: Path | None = None) -> timedelta:
    """Longest one try of a task of ``dag_id`` may run: params.yaml ``airflow.execution_timeout_minutes``.

    The DAG's own entry, else ``default``. Read when the DAG is parsed (its default_args).
    """
    source = path or params_path()
    minutes = (load_params(path).get("airflow") or {}).get("execution_timeout_minutes") or {}
    if "default" not in minutes:
        raise KeyError(f"{source}: airflow.execution_timeout_minutes.default is not set (every task needs a time limit)")
    key = dag_id if dag_id in minutes else "default"
    value = float(minutes[key])
    if value <= 0:
        raise ValueError(f"{source}: airflow.execution_timeout_minutes.{key} (for {dag_id}) must be > 0 minutes, got {value}")
    return timedelta(minutes=value)


def max_active_scoring_runs(path: Path | None = None) -> int:
    """How many nightly_scoring runs may run at once (params.yaml `scoring.max_active_runs`), read when the DAG is parsed."""
    runs = int(load_params(path)["scoring"]["max_active_runs"])
    if runs < 1:
        raise ValueError(f"scoring.max_active_runs in {path or params_path()} must be at least 1, got {runs}")
    return runs


def publish_by(path: Path | None = None) -> timedelta:
    """How long after the scored day's 00:00 UTC its scores are due: params.yaml ``scoring.publish_by.hours_after_day_start``.

    Read when nightly_scoring is parsed (its deadline alert).
    """
    hours = float(load_params(path)["scoring"]["publish_by"]["hours_after_day_start"])
    if hours <= 0:
        raise ValueError(f"scoring.publish_by.hours_after_day_start in {path or params_path()} must be > 0 hours, got {hours}")
    return timedelta(hours=hours)
