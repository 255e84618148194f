"""A challenger in shadow, for real: nightly_scoring publishes its rows beside the champion's, drift_monitor
compares the two once the date's labels mature and records the rollout decision in the registry.

The challenger here is the champion's own model registered again under a new version number, so what it
must score is known exactly (the champion's probabilities) and the comparison must find no difference.
The multi-week run that promotes a better challenger and retires a worse one is
tests/e2e/test_rollout_loop.py, in the slow tier.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

from nightshift.local.airflow_env import dag_run_state, dag_test, dag_test_command
from nightshift.warehouse.performance import ensure_performance_schema
from nightshift.warehouse.readers import count_scores
from tests.pg_helpers import query

pytestmark = pytest.mark.e2e

MODEL = "churn_xgb"
# The raw-data gates have their own e2e tests; features and scores here are real.
SKIP_GATES = "^(wait_for_day|validate_raw)$"


def test_shadow_rows_appear_and_are_compared_once_labels_mature(trained, pg_url: str, monkeypatch, capsys) -> None:
    stack = trained
    env, day, logs = stack["env"], stack["day"], stack["root"] / "logs"
    scored = day - timedelta(days=31)  # a date no other e2e test scores; its labels are known by `day`
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    monkeypatch.setenv("NIGHTSHIFT_DATABASE_URL", pg_url)
    from nightshift.model.registry import registry_client

    client = registry_client()
    champion = client.get_model_version_by_alias(MODEL, "champion")
    twin = client.create_model_version(MODEL, source=champion.source, run_id=champion.run_id)
    client.set_registered_model_alias(MODEL, "challenger", twin.version)
    try:
        proc = subprocess.run(
            [*dag_test_command("nightly_scoring", scored), "--mark-success-pattern", SKIP_GATES], env=env, capture_output=True, text=True
        )
        (logs / f"nightly_scoring_shadow_{scored}.log").write_text(proc.stdout + proc.stderr)
        assert dag_run_state(proc.stdout + proc.stderr) == "success", proc.stdout[-3000:]

        served = dict(query(pg_url, "SELECT customer_id, churn_probability FROM churn_scores WHERE score_date = %s", (scored,)))
        shadow = query(
            pg_url, "SELECT customer_id, churn_probability, model_version FROM churn_scores_shadow WHERE score_date = %s", (scored,)
        )
        assert len(shadow) == len(served) > 0
        assert {v for _, _, v in shadow} == {str(twin.version)}
        assert set(query(pg_url, "SELECT DISTINCT model_version FROM churn_scores WHERE score_date = %s", (scored,))) == {
            (str(champion.version),)
        }
        assert all(served[c] == p for c, p, _ in shadow)  # the same booster, in the same pass
        runs = query(pg_url, "SELECT role, model_version, status FROM scoring_runs WHERE score_date = %s ORDER BY id", (scored,))
        assert runs[-2:] == [("served", str(champion.version), "succeeded"), ("shadow", str(twin.version), "succeeded")]

        if count_scores(pg_url, day) == 0:  # drift_monitor judges `day`; other e2e tests usually scored it already
            dag_test("nightly_scoring", day, env, logs / f"nightly_scoring_{day}.log")
        ensure_performance_schema(pg_url)
        query(pg_url, "DELETE FROM model_performance WHERE score_date = %s", (scored,))  # measured afresh, shadow included
        dag_test("drift_monitor", day, env, logs / "drift_monitor_shadow.log", conf={"score_date": day.isoformat()})

        (everyone,) = query(
            pg_url,
            "SELECT champion_version, challenger_version, rows, champion_roc_auc, challenger_roc_auc, auc_diff, auc_diff_low, auc_diff_high"
            " FROM model_comparison WHERE score_date = %s AND segment = 'all'",
            (scored,),
        )
        assert everyone[:3] == (str(champion.version), str(twin.version), len(served))
        assert 0.5 < everyone[3] == everyone[4] and everyone[5:] == (0.0, 0.0, 0.0)
        assert query(pg_url, "SELECT count(*) FROM model_comparison WHERE score_date = %s", (scored,))[0][0] == 8

        tags = client.get_model_version(MODEL, twin.version).tags
        assert tags["rollout.decision"] == "keep" and "need 7" in tags["rollout.reason"], tags
        assert client.get_model_version_by_alias(MODEL, "challenger").version == twin.version
        run = client.get_run(tags["rollout.mlflow_run"])
        assert "plots/daily_auc.png" in {a.path for a in client.list_artifacts(run.info.run_id, "plots")}

        from nightshift.cli.main import main

        assert main(["model", "compare", "--since", scored.isoformat(), "--until", scored.isoformat()]) == 0
        printed = capsys.readouterr().out
        assert "plan=premium" in printed and f"challenger {twin.version}: keep" in printed
    finally:
        client.delete_registered_model_alias(MODEL, "challenger")
