"""
### nightly_scoring

For the run's logical date (the day being scored): validates that day's raw events and
customers snapshot with Great Expectations, builds the day's features with Spark and
validates them in Spark, scores every active customer with the registry's `champion` and
replaces that date's rows in PostgreSQL `churn_scores`.

A failed validation fails the run at once (no retries: bad data stays bad), names the
suite, each failed expectation and example values, copies the data to the quarantine
folder with the validation result, and records the run in `data_quality_runs`; the
published scores are untouched. Every validation renders into the GX data docs
(Airflow UI: Browse > Data docs).

Runs nightly just after midnight UTC for the day that ended.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

from nightshift.airflow.assets import CHURN_SCORES, DAY_FEATURES
from nightshift.airflow.context import default_args


@dag(
    dag_id="nightly_scoring",
    # Interval timetable: the run for day D has logical date D and starts once D is over.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nightshift", "scoring"],
    default_args=default_args(),
    doc_md=__doc__,
)
def nightly_scoring():
    @task
    def validate_raw(**context) -> dict:
        from nightshift.airflow.context import final_on_bad_data, run_date, warehouse_url
        from nightshift.config import data_dir, load_params, quarantine_dir
        from nightshift.quality.gate import gate_raw_day

        with final_on_bad_data():
            return gate_raw_day(run_date(context), data_dir(), warehouse_url(), quarantine_dir(), load_params()["quality"]["row_count"])

    @task.pyspark(conn_id="spark_default", outlets=[DAY_FEATURES])
    def build_features(spark=None, **context) -> dict:
        from nightshift.airflow.context import final_on_bad_data, run_date, warehouse_url
        from nightshift.config import data_dir, load_params, quarantine_dir, work_dir
        from nightshift.features.jobs import scoring_features
        from nightshift.quality.gate import gate_parquet
        from nightshift.quality.suites import suite_parameters

        p = load_params()
        day = run_date(context)
        out = work_dir() / "features" / f"score_date={day.isoformat()}"
        result = scoring_features(spark, data_dir(), day, out, p["features"]["windows_days"])
        with final_on_bad_data():
            params = suite_parameters(p["quality"])["features"]
            gate_parquet("features", spark, out, day, params, warehouse_url(), quarantine_dir(), p["features"]["windows_days"])
        return result

    @task.pyspark(conn_id="spark_default", outlets=[CHURN_SCORES])
    def score(features: dict, spark=None, **context) -> dict:
        from pathlib import Path

        from nightshift.airflow.context import run_date, warehouse_url
        from nightshift.config import load_params, work_dir
        from nightshift.scoring.score import score_day

        p = load_params()
        day = run_date(context)
        return score_day(
            spark,
            Path(features["path"]),
            day,
            warehouse_url(),
            p["model"]["name"],
            p["features"]["windows_days"],
            work_dir() / "scores" / f"score_date={day.isoformat()}",
            p["model"]["champion_alias"],
        )

    features = build_features()
    validate_raw() >> features
    score(features)


nightly_scoring()
