"""
### nightly_scoring

For the run's day (the day that ended; the trigger form's `score_date` picks any landed day):
waits for that day's events and customers partitions to land (late data is waited for, up to
`scoring.wait_for_data` in `params.yaml`; a day that has not ended, or one before the first
landed day, fails at once, naming the landed range), validates the day's raw events and
customers snapshot with Great Expectations, builds the day's features with Spark and
validates them in Spark, scores every active customer with the registry's `champion` and
replaces that date's rows in PostgreSQL `churn_scores`. The `churn_scores` Asset event carries the
date, model name and version, row count and the run's features and scores folders in its extra, for `drift_monitor`.

Days are independent: each run writes its features and scores under folders of its own
(`<work>/features/score_date=D/run=<run id>-<random>/`, likewise `scores/`, new per attempt), recorded in `scoring_runs`, so
a rerun or backfill of a day never rewrites the files another run published or `drift_monitor` reads,
and up to `scoring.max_active_runs` runs go at once (no day waits for another day's late data); two
runs of one day publish one after the other. `clean_run_folders` then deletes run folders older than
`scoring.keep_run_folders_days`, never the ones a day's published run names.

When the registry has a `challenger` other than the champion, it scores every customer in the same
Spark pass and its rows go to `churn_scores_shadow` (served to nobody); with `rollout.canary_fraction`
above 0 a fixed slice of customers is served the challenger's score (`model_version` per row). A
challenger that fails is logged and recorded as a failed `shadow` run in `scoring_runs`; the
champion's rows are published all the same.

A failed validation fails the run at once (no retries: bad data stays bad), names the
suite, each failed expectation and example values (or the raw file that is unreadable or of
the wrong column type), records the run in `data_quality_runs`, then copies the data to the
quarantine folder with the validation result (best effort: a failed copy is recorded with the
run); the published scores are untouched. Every validation renders into the GX data docs
(Airflow UI: Browse > Data docs). `build_features` also refuses, without retries, while any
day its feature window reads (the longest of `features.windows_days`) has a failed validation
nobody fixed or accepted (`nightshift quality validate|accept DATE`), or has not landed and
nobody accepted it as a day of no activity (`nightshift quality accept DATE --missing`).

Runs nightly just after midnight UTC for the day that ended. A run not succeeded `scoring.publish_by` after
its day began (06:00 UTC the next morning by default) is a deadline miss: a row in `deadline_misses`, an
ERROR in the triggerer's log, and the team's notifier or webhook when params.yaml names one.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AsyncCallback, CronDataIntervalTimetable, DeadlineAlert, DeadlineReference, Param, PokeReturnValue, dag, task

from nightshift.airflow.assets import CHURN_SCORES, DAY_FEATURES
from nightshift.airflow.context import default_args, in_airflow_dags_test
from nightshift.config import max_active_scoring_runs, publish_by, wait_for_data

POKE_SECONDS, WAIT_SECONDS = wait_for_data()


@dag(
    dag_id="nightly_scoring",
    # Interval timetable: the run for day D has logical date D and starts once D is over.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    catchup=False,
    # Runs of different days write their own folders and wait for their own data; the per-date lock of the
    # publish keeps two runs of one day from publishing at once.
    max_active_runs=max_active_scoring_runs(),
    tags=["nightshift", "scoring"],
    default_args=default_args("nightly_scoring"),
    doc_md=__doc__,
    # The morning deadline: a run not succeeded by then (late day, slow task, failed run) is recorded in
    # deadline_misses and logged at ERROR by the triggerer. A path, not the function: nothing imported to parse.
    # None in `airflow dags test` (no scheduler to check it; see in_airflow_dags_test).
    deadline=None
    if in_airflow_dags_test()
    else DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=publish_by(),
        callback=AsyncCallback("nightshift.airflow.deadline.deadline_missed"),
        name="publish_by",
    ),
    params={
        "score_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Score date",
            description="The day to score (YYYY-MM-DD), any day that has landed. Empty: the run's day (the day that ended).",
        ),
    },
)
def nightly_scoring():
    # Reschedule mode: a late day holds no worker slot while it is waited for.
    @task.sensor(poke_interval=POKE_SECONDS, timeout=WAIT_SECONDS, mode="reschedule")
    def wait_for_day(**context) -> PokeReturnValue:
        from nightshift.airflow.context import final_on_bad_data, scored_day
        from nightshift.config import data_dir, load_params
        from nightshift.landing import day_has_landed

        # Waits for the scored day; also names the days of its feature window that have not landed.
        window = max(load_params()["features"]["windows_days"])
        with final_on_bad_data():
            return PokeReturnValue(is_done=day_has_landed(data_dir(), scored_day(context), pendulum.now("UTC").date(), window))

    @task
    def validate_raw(**context) -> dict:
        from nightshift.airflow.context import final_on_bad_data, scored_day, warehouse_url
        from nightshift.config import data_dir, load_params, quarantine_dir
        from nightshift.quality.gate import gate_raw_day

        with final_on_bad_data():
            return gate_raw_day(scored_day(context), data_dir(), warehouse_url(), quarantine_dir(), load_params()["quality"]["row_count"])

    @task.pyspark(conn_id="spark_default", outlets=[DAY_FEATURES])
    def build_features(spark=None, **context) -> dict:
        from nightshift.airflow.context import final_on_bad_data, run_folder_name, scored_day, warehouse_url
        from nightshift.config import data_dir, day_features_dir, load_params, quarantine_dir
        from nightshift.features.jobs import scoring_features
        from nightshift.monitoring.reference import champion_bands
        from nightshift.quality.gate import gate_parquet

        p = load_params()
        day = scored_day(context)
        out = day_features_dir(day, run_folder_name(context))
        # The day's column means are judged against the champion's own training data (fails when none serves).
        bands = champion_bands(p)
        windows = p["features"]["windows_days"]
        with final_on_bad_data():
            # Refuses a window holding a failed raw day nobody fixed or accepted: a bad-data failure, no retry.
            result = scoring_features(spark, data_dir(), day, out, windows, warehouse_url())
            gate_parquet(
                "features", spark, out, day, bands.suite_parameters(), warehouse_url(), quarantine_dir(), windows, bands.describe()
            )
        return result

    @task.pyspark(conn_id="spark_default", outlets=[CHURN_SCORES])
    def score(features: dict, spark=None, **context) -> dict:
        from pathlib import Path

        from nightshift.airflow.context import run_folder_name, scored_day, warehouse_url
        from nightshift.config import day_scores_dir, load_params
        from nightshift.model.registry import Aliases
        from nightshift.score_reasons import reasons_mode
        from nightshift.scoring.rollout import Canary
        from nightshift.scoring.shadow import score_day_with_challenger

        p = load_params()
        day = scored_day(context)
        # The challenger (if any) scores in shadow and serves the canary; it can never fail the champion's publish.
        result = score_day_with_challenger(
            spark,
            Path(features["path"]),
            day,
            warehouse_url(),
            p["model"]["name"],
            p["features"]["windows_days"],
            day_scores_dir(day, run_folder_name(context)),
            Aliases.from_params(p["model"]),
            Canary.from_params(p["rollout"]),
            reasons_mode(p["scoring"]["reasons"]),
        )
        # drift_monitor runs on this event and has no logical date: the extra tells it which day, which
        # version scored it and where the day's features and scores are.
        context["outlet_events"][CHURN_SCORES].extra = {
            "score_date": result["score_date"],
            "model_name": result["model_name"],
            "model_version": result["model_version"],
            "rows": result["rows"],
            "run_id": result["run_id"],
            "features_path": features["path"],
            "scores_path": result["scores_path"],
        }
        return result

    # Last, after this run's publish is recorded; a failed run deletes nothing, its files stay for diagnosis.
    @task
    def clean_run_folders() -> dict:
        from nightshift.airflow.context import warehouse_url
        from nightshift.config import load_params, work_dir
        from nightshift.scoring.run_folders import clean_scoring_folders

        keep_days = float(load_params()["scoring"]["keep_run_folders_days"])
        return clean_scoring_folders(warehouse_url(), work_dir(), keep_days).as_dict()

    features = build_features()
    wait_for_day() >> validate_raw() >> features
    score(features) >> clean_run_folders()


nightly_scoring()
