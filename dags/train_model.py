"""
### train_model

Builds a point-in-time training set (weekly snapshots whose 30-day churn label is
known by the run's logical date) with Spark, validates it with the GX `training_set` suite
in Spark (label rate, uniqueness, nulls; a failure stops the run and quarantines it), trains XGBoost on the older dates,
evaluates on the newest, logs everything to MLflow and registers a version. The first
version ever registered becomes `champion`.

Runs weekly and on demand. Tunables: `params.yaml` (`train`, `features`).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from nightshift.assets import CHAMPION_MODEL, TRAINING_SET
from nightshift.runtime import default_args


@dag(
    dag_id="train_model",
    schedule="0 3 * * 0",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nightshift", "training"],
    default_args=default_args(),
    doc_md=__doc__,
)
def train_model():
    @task.pyspark(conn_id="spark_default", outlets=[TRAINING_SET])
    def build_training_set(spark=None, **context) -> dict:
        from pathlib import Path

        from nightshift.config import data_dir, quarantine_dir, work_dir
        from nightshift.jobs import training_set
        from nightshift.params import load_params
        from nightshift.quality_gate import gate_parquet, suite_parameters
        from nightshift.runtime import final_on_bad_data, run_date, warehouse_url

        p = load_params()
        as_of = run_date(context)
        result = training_set(
            spark,
            data_dir(),
            as_of,
            work_dir() / "training_set" / f"as_of={as_of.isoformat()}",
            p["features"]["windows_days"],
            p["train"]["label_horizon_days"],
            p["train"]["sample_every_days"],
            p["train"]["window_days"],
        )
        with final_on_bad_data():
            params = suite_parameters(p["quality"])["training_set"]
            gate_parquet("training_set", spark, Path(result["path"]), as_of, params, warehouse_url(), quarantine_dir())
        return result

    @task(outlets=[CHAMPION_MODEL])
    def train(training: dict, **context) -> dict:
        from pathlib import Path

        from nightshift.params import load_params
        from nightshift.train import train_model as fit

        p = load_params()
        tags = {"airflow.dag_run_id": context["run_id"], "training_set": training["path"]}
        return fit(Path(training["path"]), p, p["model"]["name"], p["model"]["champion_alias"], tags).as_dict()

    train(build_training_set())


train_model()
