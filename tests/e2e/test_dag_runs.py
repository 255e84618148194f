"""Both DAGs run for real with `airflow dags test` on a tiny landing zone, into real PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import psycopg2
import pytest

from nightshift.local.airflow_env import dag_test
from nightshift.warehouse.readers import read_scores

pytestmark = pytest.mark.e2e


def _active_on(data_dir: Path, day: date) -> set[int]:
    snap = pd.read_parquet(data_dir / "customers" / f"snapshot_date={day.isoformat()}")
    churn = pd.to_datetime(snap["churn_date"])
    active = (pd.to_datetime(snap["signup_date"]) <= pd.Timestamp(day)) & (churn.isna() | (churn > pd.Timestamp(day)))
    return set(snap.loc[active, "customer_id"].astype(int))


def test_train_then_score_lands_every_active_customer(trained, pg_url: str, monkeypatch) -> None:
    stack = trained
    day, env = stack["day"], stack["env"]
    dag_test("nightly_scoring", day, env, stack["root"] / "logs" / "nightly_scoring.log")

    scores = read_scores(pg_url, day)
    assert set(scores["customer_id"].astype(int)) == _active_on(stack["root"] / "raw", day)
    assert scores["churn_probability"].between(0, 1).all()
    assert set(scores["model_name"]) == {"churn_xgb"}
    assert set(scores["model_version"]) == {"1"}

    # The registry really holds a champion, and it is the version the rows carry.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    from nightshift.model.registry import serving_model

    champion = serving_model("churn_xgb")
    assert champion.version == "1"
    assert set(scores["run_id"]) == {champion.run_id}

    # The clean day passed every gate on its way, and each pass is on record.
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT suite, success FROM data_quality_runs WHERE logical_date = %s", (day,))
        recorded = set(cur.fetchall())
    assert {("raw_events", True), ("raw_customers", True), ("features", True), ("training_set", True)} <= recorded


def _succeeded_runs(url: str, day: date) -> list[int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM scoring_runs WHERE score_date = %s AND status = 'succeeded' ORDER BY id", (day,))
        return [row[0] for row in cur.fetchall()]


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the sha256 of its bytes."""
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def _published_folders(url: str, day: date) -> tuple[str, str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT features_path, scores_path FROM scoring_runs WHERE score_date = %s AND status = 'succeeded' AND role = 'served'"
            " ORDER BY finished_at DESC LIMIT 1",
            (day,),
        )
        return cur.fetchone()


def test_rerun_of_a_date_replaces_its_rows(trained, pg_url: str) -> None:
    stack = trained
    day, env = stack["day"], stack["env"]
    before = read_scores(pg_url, day)
    runs_before = _succeeded_runs(pg_url, day)
    assert len(before) > 0 and runs_before, "runs after test_train_then_score_lands_every_active_customer"
    work = stack["root"] / "work"
    files_before = _files(work)
    assert any(f"score_date={day.isoformat()}" in name for name in files_before)
    dag_test("nightly_scoring", day, env, stack["root"] / "logs" / "nightly_scoring_rerun.log")
    after = read_scores(pg_url, day)
    runs_after = _succeeded_runs(pg_url, day)

    # The rerun wrote folders of its own: every file the earlier runs wrote (which a reader of their publish
    # may hold) is there byte for byte, and the date's record names the rerun's folders, where its rows came from.
    files_after = _files(work)
    assert {name: files_after.get(name) for name in files_before} == files_before
    features, scores = _published_folders(pg_url, day)
    for path, kind in ((features, "features"), (scores, "scores")):
        assert Path(path).parent == work / kind / f"score_date={day.isoformat()}" and Path(path).name.startswith("run=manual__")
        assert not any(name.startswith(str(Path(path).relative_to(work))) for name in files_before), f"{path} existed before the rerun"
    stored = after.set_index("customer_id")["churn_probability"].sort_index()
    written = pd.read_parquet(scores).set_index("customer_id")["churn_probability"].sort_index()
    assert (stored == written).all() and len(stored) == len(written)

    # One more succeeded scoring run for the date, and every row is that run's: written again, not left alone.
    assert len(runs_after) == len(runs_before) + 1
    assert after["scored_at"].nunique() == 1
    assert after["scored_at"].iloc[0] > before["scored_at"].max()
    # Same data, same champion: the same customers with the same probabilities, once each.
    assert len(after) == len(before) == after["customer_id"].nunique()
    merged = before.merge(after, on="customer_id", suffixes=("_before", "_after"))
    assert len(merged) == len(before)
    assert (merged["churn_probability_before"] == merged["churn_probability_after"]).all()


def test_a_trained_model_records_dvc_hashes_its_training_set_is_restored_by(trained, monkeypatch) -> None:
    import shutil
    import subprocess
    import sys

    from nightshift.model.lineage import dvc_md5

    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["env"]["MLFLOW_TRACKING_URI"])
    from mlflow.tracking import MlflowClient

    from nightshift.model.registry import serving_model

    tags = MlflowClient().get_run(serving_model("churn_xgb").run_id).data.tags
    assert tags["dvc.raw_data.md5"] == dvc_md5(trained["root"] / "raw")
    assert tags["dvc.training_set.md5"] == dvc_md5(Path(tags["training_set"]))
    assert tags["dvc.training_set.remote"] == "local"
    # Restorable by that md5 alone: no cache, no workspace copy, only the remote.
    repo = Path(trained["env"]["NIGHTSHIFT_DVC_REPO"])
    shutil.rmtree(repo / ".dvc" / "cache")
    (repo / "restored.dvc").write_text(f"outs:\n- md5: {tags['dvc.training_set.md5']}\n  hash: md5\n  path: restored\n")
    subprocess.run([sys.executable, "-m", "dvc", "pull", "restored.dvc"], cwd=repo, check=True, capture_output=True)
    assert dvc_md5(repo / "restored") == tags["dvc.training_set.md5"]
