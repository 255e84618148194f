"""
### train_model

First checks that its data is fresh (`check_data_freshness`, before any Spark work): when the newest day
holding both events and a customers snapshot is more than `train.max_staleness_days` before the day the
run trains as of, the run fails there, with no retry, naming both days and the gap; nothing is trained
or registered, and an MLflow run (status FAILED, tagged `guard=data_freshness`) records the refusal.

Then builds a point-in-time training set (weekly snapshots whose 30-day churn label is
known by the day it trains as of) with Spark, validates it with the GX `training_set` suite
in Spark (label rate, uniqueness, nulls; a failure stops the run and quarantines it; a raw day
it reads whose failed validation nobody fixed or accepted, or that never landed and nobody
accepted as a day of no activity, refuses it before it is built), then
commits it to the DVC cache and pushes it to the DVC remote (restorable by the md5 the
MLflow run records), then trains XGBoost on every date before the evaluation window's 30-day label gap (customer-fold
cross-validation inside those dates picks the number of trees), evaluates on the newest
dates (the gap keeps their outcomes out of every training label), logs
metrics, plots, lineage and reference distributions to MLflow and registers the version
as `challenger`.

The gate promotes it to `champion` only if it passes the floors of `params.yaml` (`gate`)
and beats the champion on the same evaluation window; otherwise the reason is tagged on
the version. If `champion` was moved by hand while the run trained, the new version is not
promoted over a model it was never compared with (`champion_moved`). A retry of `train` does
not train or register again: it gates the version this run already registered.
With `rollout.approval: required` in `params.yaml`, a version that passes the gate is not made champion
by `train`: `approve_promotion` asks a person in the Airflow UI (Required Actions), showing both versions,
the gate's metric and margin, links to both MLflow runs and the latest drift report, and waits (holding no
worker slot) for Approve or Reject, or `rollout.approval_timeout` (then it reads as Reject).
`apply_promotion` applies the answer (Approve: the same compare-and-set) and tags the version with who
answered, when and why (`approval.*`). With approval off, `approve_promotion` is skipped.
`publish_champion` raises the `churn_model` Asset only when champion changed
(it is skipped otherwise). Roll back with `nightshift model rollback`.

Trigger form: `as_of` (the day to train as of, any landed day), `window_days` (training history),
`min_improvement` (gate margin), `force_promote` (skip the gate). Empty values keep the run's day and `params.yaml`.

Runs weekly (Sunday 03:00 UTC, as of Saturday, the last whole day), on the `churn_drift` Asset
(drift_monitor's policy asked for a retrain: as of the event's day, through the same gate, the MLflow
run tagged `trigger=churn_drift` with the event), and on demand (as of `as_of`, else the logical date the
trigger chose; `drift_event` replays a drift event by hand). Tunables: `params.yaml` (`train`, `features`, `gate`).
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable, Param, dag, task

from nightshift.airflow.approval import ChampionApproval
from nightshift.airflow.assets import CHAMPION_MODEL, CHURN_DRIFT, TRAINING_SET
from nightshift.airflow.context import default_args


@dag(
    dag_id="train_model",
    # Weekly or on drift, one DAG: the interval timetable's week ending Sunday 03:00 is over when the run
    # starts, and it trains as of that week's last whole day (Saturday), never a day still landing; a
    # churn_drift event (drift_monitor's policy asked for a retrain) trains as of the event's day.
    schedule=AssetOrTimeSchedule(timetable=CronDataIntervalTimetable("0 3 * * 0", timezone="UTC"), assets=[CHURN_DRIFT]),
    # No start_date: a run for any day creates its tasks (a start_date after it would create none, and the run would
    # succeed without training). With catchup=False the first run after unpausing is the latest week's only.
    catchup=False,
    max_active_runs=1,
    tags=["nightshift", "training"],
    default_args=default_args("train_model"),
    doc_md=__doc__,
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Train as of",
            description=(
                "The day to train as of (YYYY-MM-DD), any landed day: labels known by then, nothing after it read. "
                "Empty: the run's day (a scheduled run's Saturday, a manual run's logical date)."
            ),
        ),
        "window_days": Param(
            None,
            type=["null", "integer"],
            # The evaluation dates and their 30-day label gap take 7 of 13 weekly dates: 13 weeks leave 6 to train on.
            minimum=91,
            maximum=730,
            title="Training window (days)",
            description="How far back from the newest labelled snapshot to train, 91 to 730. Empty: train.window_days of params.yaml.",
        ),
        "min_improvement": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=0.2,
            title="Gate margin",
            description=(
                "How much the challenger must beat the champion by on the gate metric, 0 to 0.2. "
                "Empty: gate.min_improvement of params.yaml."
            ),
        ),
        "drift_event": Param(
            None,
            type=["null", "object"],
            title="Replay a drift event",
            description=(
                'A churn_drift event\'s extra to answer by hand, e.g. {"score_date": "2026-07-14", "reason": "..."}: '
                "trains as of its score_date and is tagged as drift-triggered. Empty: a scheduled or plain manual run."
            ),
        ),
        "force_promote": Param(
            False,
            type="boolean",
            title="Force promotion",
            description="Make the new version champion whatever the gate says (the gate's verdict is still tagged on it).",
        ),
    },
)
def train_model():
    @task
    def check_data_freshness(**context) -> dict:
        from nightshift.airflow.context import drift_trigger, final_on_bad_data, training_date, trigger_tags
        from nightshift.config import data_dir, load_params
        from nightshift.model.guard import require_fresh_training
        from nightshift.model.registry import RUN_KEY_TAG

        # A drift-triggered run has no logical date: it trains as of the day the drift event names.
        trigger = drift_trigger(context, CHURN_DRIFT)
        as_of = training_date(context, trigger)
        tags = {**trigger_tags(context, trigger), RUN_KEY_TAG: context["run_id"]}
        # Before any Spark work: a landing zone that stopped weeks ago fails here, no retry, nothing registered.
        with final_on_bad_data():
            return require_fresh_training(data_dir(), as_of, load_params(), tags).as_dict()

    @task.pyspark(conn_id="spark_default", outlets=[TRAINING_SET])
    def build_training_set(fresh: dict, spark=None, **context) -> dict:
        from datetime import date
        from pathlib import Path

        from nightshift.airflow.context import final_on_bad_data, run_folder_name, warehouse_url
        from nightshift.config import data_dir, load_params, quarantine_dir, work_dir
        from nightshift.features.jobs import training_set
        from nightshift.model.train import effective_params
        from nightshift.quality.gate import gate_parquet
        from nightshift.quality.suites import suite_parameters

        p = effective_params(load_params(), window_days=context["params"]["window_days"])
        as_of = date.fromisoformat(fresh["as_of"])
        with final_on_bad_data():
            # Refuses history holding a failed raw day nobody fixed or accepted: a bad-data failure, no retry.
            result = training_set(
                spark,
                data_dir(),
                as_of,
                # A folder per run: a rerun as of the same day never rewrites the set an earlier model's lineage names.
                work_dir() / "training_set" / f"as_of={as_of.isoformat()}" / f"run={run_folder_name(context)}",
                p["features"]["windows_days"],
                p["train"]["label_horizon_days"],
                p["train"]["sample_every_days"],
                p["train"]["window_days"],
                warehouse_url(),
            )
            params = suite_parameters(p["quality"])["training_set"]
            gate_parquet(
                "training_set", spark, Path(result["path"]), as_of, params, warehouse_url(), quarantine_dir(), p["features"]["windows_days"]
            )
        return result

    @task
    def version_training_set(training: dict) -> dict:
        from pathlib import Path

        from nightshift.config import dvc_repo_dir
        from nightshift.model.data_store import store

        # Before training: no version is registered whose training set cannot be restored by its DVC md5.
        # DVC's object layer, outside the workspace lock: runs beside each other and beside `dvc repro`.
        stored = store(Path(training["path"]), dvc_repo_dir())
        return {**training, "dvc_md5": stored.md5, "dvc_remote": stored.remote}

    @task
    def train(training: dict, **context) -> dict:
        from pathlib import Path

        from nightshift.airflow.context import drift_trigger, trigger_tags
        from nightshift.config import data_dir, load_params
        from nightshift.model.approval import ApprovalSettings
        from nightshift.model.train import effective_params, train_model

        run = context["params"]
        p = effective_params(load_params(), window_days=run["window_days"], min_improvement=run["min_improvement"])
        # rollout.approval: required: a version that passes the gate is proposed, and approve_promotion asks a person.
        approval = ApprovalSettings.from_params(p["rollout"])
        # What started the run (schedule, manual, or the churn_drift event and its reason) is on the MLflow run.
        trigger = trigger_tags(context, drift_trigger(context, CHURN_DRIFT))
        tags = {"training_set": training["path"], "dvc.training_set.remote": training["dvc_remote"], **trigger}
        # Keyed on the run: a retry gates the version an earlier attempt registered instead of training again.
        result = train_model(
            Path(training["path"]),
            p,
            tags,
            force_promote=run["force_promote"],
            run_key=context["run_id"],
            raw_data_dir=data_dir(),
            defer_promotion=approval.required,
        )
        # The result carries the gate's verdict: outcome, reason, both versions' metric.
        return result.as_dict()

    # Runs whether approve_promotion asked or was skipped (nothing proposed): the gate's result, settled.
    @task(trigger_rule="none_failed")
    def apply_promotion(result: dict, **context) -> dict:
        from nightshift.config import load_params
        from nightshift.model.approval import settle_training
        from nightshift.model.registry import Aliases

        answer = context["ti"].xcom_pull(task_ids="approve_promotion")
        # Compare-and-set on Approve: a champion moved while the request waited is never replaced.
        return settle_training(result, answer, Aliases.from_params(load_params()["model"]))

    @task(outlets=[CHAMPION_MODEL])
    def publish_champion(result: dict) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        # Skipped, not failed: a refused challenger is a normal outcome, and a skipped task
        # raises no Asset event, so nothing downstream reacts to an unchanged champion.
        if not result["champion"]:
            raise AirflowSkipException(f"champion unchanged, version {result['model_version']} refused: {result['gate']['reason']}")
        return {key: result[key] for key in ("model_name", "model_version", "run_id")}

    trained = train(version_training_set(build_training_set(check_data_freshness())))
    # With rollout.approval: required, a passing version waits here for Approve or Reject (no worker slot held).
    approval = ChampionApproval(task_id="approve_promotion", decided=trained)
    settled = apply_promotion(trained)
    approval >> settled
    publish_champion(settled)


train_model()
