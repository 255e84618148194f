"""
### drift_monitor

Runs when `nightly_scoring` publishes a day (the `churn_scores` Asset): reads the day's date, model
name and version from the triggering event (an asset-triggered run has no logical date, and this DAG
never falls back to today), then compares that day's features and scores, as scoring wrote them
(Parquet), with the reference distributions of the version that scored it:
PSI per input and for the score (categories for plan and region, a bucket for unseen ones), the
null-share change and the mean shift in reference standard deviations.

Stores the date's rows in `drift_metrics` and its decision in `drift_runs` (a rerun replaces the date
atomically), renders a report (Airflow UI: Browse > Drift reports; `nightshift drift show DATE`), and
decides with the policy of `params.yaml` (`drift`): a drifted day, K drifted days in a row, a cooldown
after a drift-triggered retrain, and labels newer than the champion's training data. Each day's ROC AUC,
PR AUC and positive rate are also estimated from its scores alone (`monitor` stores them in
`estimated_performance` the night the day is scored); an estimated ROC AUC under the gate floor on K
days in a row is a retrain reason, and once the day's labels mature its estimation error is stored
(`estimation_error`) and the report charts estimated against realized ROC AUC. Every decision,
"no" included, is stored with its reason. `request_retrain` raises the `churn_drift` Asset (date,
reason, drifted columns), which starts `train_model`, only when the policy says retrain; otherwise
it is skipped and nothing downstream runs.

When a challenger scored in shadow, the matured dates also get the champion/challenger comparison
(`model_comparison`, from the same labels), and `rollout_decision` applies the rollout policy of
`params.yaml` (`rollout`): promote on evidence, keep or retire, recorded as registry tags and an
MLflow run with the plot of both models' daily realized AUC. With `rollout.approval: required`, a promote
or retire waits in `approve_rollout` for a person (the realized comparison and its interval, both MLflow
runs, the latest drift report) and `apply_rollout` applies the answer; Reject or no answer keeps.

Trigger form: `score_date` re-judges a scored day (backfill or rerun) against the version that scored
it; `scores_event` replays a `churn_scores` event's extra as the asset trigger would pass it. Either way,
and for the scheduler's events too, the version and the features and scores folders judged are the ones
`scoring_runs` recorded for the day's published run: an event whose version or folders disagree with
that record, or name folders other than the day's run folders under the work dir, is refused (no retry),
naming the mismatch.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from nightshift.airflow.approval import ChampionApproval
from nightshift.airflow.assets import CHURN_DRIFT, CHURN_SCORES
from nightshift.airflow.context import default_args


@dag(
    dag_id="drift_monitor",
    schedule=[CHURN_SCORES],
    catchup=False,
    # One run at a time: a day's decision reads the decisions of the days before it.
    max_active_runs=1,
    tags=["nightshift", "monitoring"],
    default_args=default_args("drift_monitor"),
    doc_md=__doc__,
    params={
        "score_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Score date",
            description="A scored day to judge again (YYYY-MM-DD). Empty: the days of the churn_scores events that triggered the run.",
        ),
        "scores_event": Param(
            None,
            type=["null", "object"],
            title="Replay a churn_scores event",
            description=(
                "A churn_scores event's extra to judge by hand, as nightly_scoring wrote it "
                '(e.g. {"score_date": "2026-07-14", "model_name": "churn_xgb", "model_version": "3"}); its version and folders '
                "must be those scoring_runs recorded for the day's published run. Empty: the triggering events."
            ),
        ),
    },
)
def drift_monitor():
    def judged_refs(context) -> list:
        from nightshift.airflow.context import asset_event_extras, final_on_bad_data, monitored_days, warehouse_url
        from nightshift.config import work_dir
        from nightshift.monitoring.scored_day import judged_days

        run = context["params"]
        extras = asset_event_extras(context, CHURN_SCORES) or ([run["scores_event"]] if run["scores_event"] else [])
        # Every task checks the events against scoring_runs: the first one refuses a bad event before any work.
        with final_on_bad_data():
            return judged_days(warehouse_url(), monitored_days(extras, run["score_date"]), work_dir())

    # Skips realized_performance (and its Spark session) on the days no label window closed.
    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def matured_labels(**context) -> dict:
        from nightshift.airflow.context import warehouse_url
        from nightshift.config import data_dir, load_params
        from nightshift.monitoring.realized import dates_to_measure

        day = judged_refs(context)[-1].score_date
        todo = dates_to_measure(warehouse_url(), data_dir(), day, int(load_params()["train"]["label_horizon_days"]))
        return {"day": day.isoformat(), "dates": {d.isoformat(): s.isoformat() for d, s in todo.items()}} if todo else {}

    @task.pyspark(conn_id="spark_default")
    def realized_performance(matured: dict, spark=None) -> list:
        from datetime import date

        from nightshift.airflow.context import warehouse_url
        from nightshift.config import data_dir, load_params
        from nightshift.monitoring.realized import measure_realized

        p = load_params()
        todo = {date.fromisoformat(d): date.fromisoformat(s) for d, s in matured["dates"].items()}
        from nightshift.monitoring.comparison import Bootstrap

        horizon, bins = int(p["train"]["label_horizon_days"]), int(p["train"]["calibration_bins"])
        day = date.fromisoformat(matured["day"])
        # The challenger's shadow rows are compared here, on the labels just built for the served rows.
        return measure_realized(spark, warehouse_url(), data_dir(), day, todo, horizon, bins, Bootstrap.from_params(p["rollout"]))

    # Only after new labels matured (skipped with realized_performance otherwise): the evidence changed.
    @task
    def rollout_decision(measured: list, **context) -> dict | None:
        from nightshift.airflow.context import warehouse_url
        from nightshift.config import load_params
        from nightshift.model.approval import ApprovalSettings, rollout_step
        from nightshift.model.registry import Aliases
        from nightshift.model.rollout_policy import RolloutPolicy
        from nightshift.warehouse.comparison import read_comparison

        p = load_params()
        day = judged_refs(context)[-1].score_date
        rows = read_comparison(warehouse_url(), until=day)
        policy, approval = RolloutPolicy.from_params(p["rollout"]), ApprovalSettings.from_params(p["rollout"])
        # With rollout.approval: required, a promote or retire is proposed here and approve_rollout asks a person.
        confidence = float(p["rollout"]["bootstrap"]["confidence"])
        return rollout_step(p["model"]["name"], Aliases.from_params(p["model"]), policy, rows, day, approval, confidence)

    # Skipped with rollout_decision (no new labels) and when nothing was proposed.
    @task(trigger_rule="none_failed")
    def apply_rollout(decided: dict | None, **context) -> dict | None:
        from airflow.sdk.exceptions import AirflowSkipException

        from nightshift.config import load_params
        from nightshift.model.approval import settle_rollout
        from nightshift.model.registry import Aliases

        if decided is None:
            raise AirflowSkipException("no rollout decision this run")
        answer = context["ti"].xcom_pull(task_ids="approve_rollout")
        return settle_rollout(decided, answer, Aliases.from_params(load_params()["model"]))

    # Runs whether or not realized_performance did: the decision reads whatever realized figures are stored.
    @task(trigger_rule="none_failed")
    def monitor(**context) -> dict:
        from nightshift.airflow.context import warehouse_url
        from nightshift.config import data_dir, drift_reports_dir, load_params
        from nightshift.monitoring.estimated import estimate_day
        from nightshift.monitoring.monitor import monitor_day
        from nightshift.quality.bad_days import accepted_gaps

        params, url = load_params(), warehouse_url()
        shortest = min(params["features"]["windows_days"])
        results = []
        # Oldest first: each day's decision reads the days before it. Each day as its published run recorded it.
        for d in judged_refs(context):
            args = (d.model_name, d.model_version, params, data_dir(), d.features_path, d.scores_path, drift_reports_dir())
            gaps = accepted_gaps(url, d.score_date, shortest)
            # The day's performance estimated from its scores alone, before the decision that reads it.
            estimate_day(url, data_dir(), d.score_date)
            results.append(monitor_day(d.score_date, url, *args, accepted_gaps=gaps))
        asked = [r for r in results if r["retrain"]]
        return {"days": results, "retrain": asked[-1] if asked else None}

    @task(outlets=[CHURN_DRIFT])
    def request_retrain(summary: dict, **context) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        asked = summary["retrain"]
        if asked is None:
            said = "; ".join(f"{d['score_date']}: {d['decision']} ({d['reason']})" for d in summary["days"])
            # Skipped, not failed: "no retrain" is the usual answer, and a skipped task raises no Asset event.
            raise AirflowSkipException(f"no retrain asked for: {said}")
        extra = {key: asked[key] for key in ("score_date", "model_name", "model_version", "reason", "drifted_columns", "report")}
        extra["decision"] = asked["decision"]
        context["outlet_events"][CHURN_DRIFT].extra = extra
        return extra

    summary = monitor()
    measured = realized_performance(matured_labels())
    measured >> summary
    decided = rollout_decision(measured)
    approval = ChampionApproval(task_id="approve_rollout", decided=decided)
    applied = apply_rollout(decided)
    approval >> applied
    request_retrain(summary)


drift_monitor()
