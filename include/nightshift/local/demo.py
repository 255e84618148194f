"""The quick-start job: data, a trained champion and a scored day, through real DAG runs."""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path

from nightshift.config import data_dir, load_params, mlflow_tracking_uri, project_home
from nightshift.local.airflow_env import airflow_env, dag_test, migrate

log = logging.getLogger(__name__)


def _step(what: str) -> float:
    print(f"==> {what}", flush=True)
    return time.monotonic()


def _done(started: float) -> None:
    print(f"    done in {time.monotonic() - started:.1f} s", flush=True)


def _run_dag(dag_id: str, day: date, env: dict[str, str], logs: Path) -> None:
    t = _step(f"airflow dags test {dag_id} {day}  (output: {logs / (dag_id + '.log')})")
    dag_test(dag_id, day, env, logs / f"{dag_id}.log")
    _done(t)


def run_demo(logs: Path | None = None) -> dict:
    from mlflow.tracking import MlflowClient

    from nightshift.local.database import database_url
    from nightshift.local.generate import generate
    from nightshift.model.lifecycle import list_versions
    from nightshift.model.registry import serving_model
    from nightshift.warehouse.connection import redact_url
    from nightshift.warehouse.readers import count_scores

    params = load_params()
    logs = logs or project_home() / "data" / "logs"
    gen = params["generate"]

    t = _step(f"generating {gen['customers']} customers x {gen['days']} days into {data_dir()}")
    result = generate(data_dir(), gen["customers"], gen["days"], date.fromisoformat(str(gen["start_date"])), gen["seed"])
    _done(t)

    t = _step("starting the warehouse (embedded PostgreSQL unless the warehouse connection or NIGHTSHIFT_DATABASE_URL is set)")
    url = database_url()
    env = airflow_env(url)
    migrate(env)
    _done(t)

    day = result.end_date
    _run_dag("train_model", day, env, logs)
    # A version the gate refused leaves nothing to score with: stop here with its reason and the ways forward.
    model = serving_model(params["model"]["name"], params["model"]["champion_alias"])
    _run_dag("nightly_scoring", day, env, logs)

    metrics = MlflowClient().get_run(model.run_id).data.metrics
    newest = list_versions(model.name)[0]
    rows = count_scores(url, day)
    summary = {
        "score_date": day.isoformat(),
        "rows": rows,
        "model": model.name,
        "version": model.version,
        "roc_auc": metrics.get("roc_auc"),
        "ece_before": metrics.get("ece_before"),
        "ece_after": metrics.get("ece_after"),
    }
    home = project_home()
    print(
        f"""
nightshift demo finished
  scored          {rows} customers for {day} into churn_scores at {redact_url(url)}
  champion        {model.name} version {model.version} (run {model.run_id})
  ROC AUC         {metrics.get("roc_auc", float("nan")):.3f}   PR AUC {metrics.get("pr_auc", float("nan")):.3f}   (held-out snapshots)
  calibration     {calibration_line(metrics)}
  gate            version {newest.version}: {newest.gate}   (.venv/bin/nightshift model list)

  scores table    .venv/bin/nightshift scores {day}
  MLflow UI       .venv/bin/mlflow ui --backend-store-uri {mlflow_tracking_uri()} --port 5000
  Airflow UI      .venv/bin/nightshift airflow standalone     (then http://localhost:8080)
  project         {home}
""",
        flush=True,
    )
    return summary


def calibration_line(metrics: dict[str, float]) -> str:
    """The summary's calibration: ECE before and after the champion's map, or why there is none to show."""
    if "ece_after" not in metrics:
        # A champion registered before training fitted maps serves its raw probabilities (scoring warns too).
        return "no map: the champion was trained before calibration and serves raw probabilities"
    return f"ECE {metrics['ece_before']:.4f} before the map, {metrics['ece_after']:.4f} served"
