"""The dvc.yaml pipeline on real DVC, in a temporary git copy of the project with a tiny generated dataset.

One `dvc repro` builds it (module fixture); the tests then run in order on that copy: a second
repro does nothing, a forced one rebuilds the same bytes, push/pull round-trips every output,
and an experiment with another tree depth reruns the train stage only and is compared by
`dvc metrics diff` / `dvc exp show`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from nightshift.config import project_home
from nightshift.model.lineage import dvc_md5
from tests.pg_helpers import create_database

pytestmark = pytest.mark.dvc

# Small enough for a few seconds of Spark and XGBoost, big enough for 18 weekly dates with both labels.
TINY = {"customers": 400, "days": 150}
# Settings of the developer's shell that would point a stage somewhere else than the copy.
FOREIGN = (
    "NIGHTSHIFT_DATA_DIR",
    "NIGHTSHIFT_WORK_DIR",
    "NIGHTSHIFT_PARAMS",
    "NIGHTSHIFT_MLFLOW_ARTIFACTS",
    "NIGHTSHIFT_DVC_REMOTE",
    "NIGHTSHIFT_QUARANTINE_DIR",
)


class Project:
    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **env,
            "NIGHTSHIFT_HOME": str(root),
            # The training_set stage's checks and the scores the lineage test traces live here.
            "NIGHTSHIFT_DATABASE_URL": database_url,
            "MLFLOW_TRACKING_URI": f"sqlite:///{root / '.mlflow' / 'mlflow.db'}",
            "PATH": os.pathsep.join([bin_dir, env.get("PATH", os.defpath)]),
        }

    def run(self, *cmd: str) -> str:
        done = subprocess.run(list(cmd), cwd=self.root, env=self.env, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def dvc(self, *args: str) -> str:
        return self.run(sys.executable, "-m", "dvc", *args)

    def lock(self) -> dict:
        return yaml.safe_load((self.root / "dvc.lock").read_text())

    def out_md5(self, stage: str, path: str) -> str:
        return next(o["md5"] for o in self.lock()["stages"][stage]["outs"] if o["path"] == path)

    def model_sha256(self) -> str:
        return hashlib.sha256((self.root / "data" / "model" / "model.ubj").read_bytes()).hexdigest()

    def metrics(self) -> dict:
        return json.loads((self.root / "reports" / "metrics.json").read_text())


def _copy_checkout(source: Path, target: Path) -> None:
    """The project's tracked and new files (what a clone plus work in progress holds), nothing ignored."""
    listed = subprocess.run(
        ["git", "-C", str(source), "ls-files", "-co", "--exclude-standard", "-z"], capture_output=True, text=True, check=True
    ).stdout
    for rel in filter(None, listed.split("\0")):
        if (source / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, target / rel)


@pytest.fixture(scope="module")
def project(tmp_path_factory, pg_url: str) -> Project:
    root = tmp_path_factory.mktemp("dvc-project")
    _copy_checkout(project_home(), root)
    params_file = root / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["generate"].update(TINY)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    p = Project(root, create_database(pg_url, f"dvc_{uuid.uuid4().hex[:12]}"))
    p.run("git", "init", "-q")
    p.run("git", "config", "user.email", "tests@nightshift.invalid")
    p.run("git", "config", "user.name", "nightshift tests")
    p.run("git", "add", "-A")
    p.run("git", "commit", "-qm", "tiny copy")
    out = p.dvc("repro")
    assert "Running stage 'train'" in out
    # The tiny run is the copy's baseline: the commit a forced run records, and what experiments compare with.
    p.run("git", "add", "dvc.lock", "reports")
    p.run("git", "commit", "-qm", "tiny baseline")
    return p


def test_a_second_repro_changes_nothing(project: Project) -> None:
    before = (project.root / "dvc.lock").read_text()
    out = project.dvc("repro")
    assert "Data and pipelines are up to date." in out
    assert (project.root / "dvc.lock").read_text() == before


def test_a_forced_repro_rebuilds_the_same_bytes_and_the_run_records_them(project: Project) -> None:
    lock, model, metrics = project.lock(), project.model_sha256(), project.metrics()
    out = project.dvc("repro", "--force")
    assert out.count("Running stage") == 3
    # Every hash in dvc.lock (data/raw, the training set, the model, params, code) is the same.
    assert project.lock() == lock
    assert project.model_sha256() == model
    assert project.metrics() == metrics

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("churn_xgb")
    newest = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)[0]
    tags = newest.data.tags
    assert tags["dvc.training_set.md5"] == project.out_md5("training_set", "data/training_set")
    assert tags["dvc.raw_data.md5"] == project.out_md5("generate", "data/raw")
    assert tags["git.commit"] == project.run("git", "rev-parse", "HEAD").strip()
    # The forced run rewrote dvc.lock and reports/ with the same bytes: nothing tracked differs from the commit.
    assert tags["git.dirty"] == "false"


def test_push_then_pull_into_an_empty_cache_and_workspace_gives_the_same_hashes(project: Project) -> None:
    lock, model = project.lock(), project.model_sha256()
    project.dvc("push")
    shutil.rmtree(project.root / ".dvc" / "cache")
    for out in ("data/raw", "data/training_set", "data/model"):
        shutil.rmtree(project.root / out)
    project.dvc("pull")
    assert dvc_md5(project.root / "data" / "raw") == project.out_md5("generate", "data/raw")
    assert dvc_md5(project.root / "data" / "training_set") == project.out_md5("training_set", "data/training_set")
    assert project.model_sha256() == model
    assert project.lock() == lock
    assert "Data and pipelines are up to date." in project.dvc("status")


def test_lineage_leads_from_a_score_to_its_run_dvc_hashes_and_commands_that_restore_the_training_set(
    project: Project, spark, monkeypatch, tmp_path
) -> None:
    from mlflow.tracking import MlflowClient

    from nightshift.features.jobs import scoring_features
    from nightshift.model.provenance import model_record, reproduce
    from nightshift.scoring.score import score_day
    from nightshift.warehouse.readers import read_scores

    # One day scored into churn_scores by the newest version the pipeline trained (the forced repro's).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", project.env["MLFLOW_TRACKING_URI"])
    params = yaml.safe_load((project.root / "params.yaml").read_text())
    windows = params["features"]["windows_days"]
    day = date.fromisoformat(str(params["generate"]["start_date"])) + timedelta(days=params["generate"]["days"] - 1)
    features = scoring_features(spark, project.root / "data" / "raw", day, tmp_path / "features", windows)
    url = project.env["NIGHTSHIFT_DATABASE_URL"]
    scored = score_day(spark, Path(features["path"]), day, url, "churn_xgb", windows, tmp_path / "scores", alias="challenger")
    customer = int(read_scores(url, day)["customer_id"].iloc[0])

    cli = (sys.executable, "-m", "nightshift.cli", "lineage")
    facts = json.loads(project.run(*cli, day.isoformat(), str(customer), "--json"))
    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    run = client.get_run(scored["run_id"])
    assert facts["served"]["customer_id"] == customer and facts["served"]["data_version"] == scored["data_version"]
    assert facts["model"]["version"] == scored["model_version"] and "challenger" in facts["model"]["aliases"]
    assert facts["run"]["run_id"] == run.info.run_id and facts["run"]["trigger"] == {"dvc.stage": "train"}
    assert (
        facts["data"]["training_set_md5"] == run.data.tags["dvc.training_set.md5"] == project.out_md5("training_set", "data/training_set")
    )
    assert facts["data"]["raw_data_md5"] == run.data.tags["dvc.raw_data.md5"] == project.out_md5("generate", "data/raw")
    assert facts["data"]["training_set_fingerprint"] == run.data.params["data.sha256"]
    assert facts["code"] == {"commit": run.data.tags["git.commit"], "dirty": "false"}
    assert facts["unknown"] == {} and facts["warnings"] == []

    # The printed commands, as printed, from an empty cache: the training set comes back from the remote by its md5.
    *restore, rebuild = facts["reproduce"]
    assert restore[0] == f"git checkout {run.data.tags['git.commit']}" and rebuild == "dvc repro"
    project.dvc("push")  # already there after the push/pull test; pushed here so this test does not lean on it
    shutil.rmtree(project.root / ".dvc" / "cache")
    branch = project.run("git", "rev-parse", "--abbrev-ref", "HEAD").strip()
    try:
        for command in restore:
            project.run("bash", "-c", command)
        assert dvc_md5(project.root / facts["data"]["restore_to"]) == facts["data"]["training_set_md5"]
        # Had train_model trained it, the rebuild would retrain from the restored set: that command works too,
        # and the new run sees the same training set (md5 and fingerprint) and scores it the same.
        record = model_record(client, "churn_xgb", scored["model_version"])
        by_airflow = {**record, "run_tags": {k: v for k, v in record["run_tags"].items() if k != "dvc.stage"}}
        retrain = reproduce(by_airflow)[-1]
        assert retrain.startswith(f"nightshift model train --training-set {facts['data']['restore_to']} ")
        retrained = client.get_run(re.search(r"\(run (\w+)\)", project.run("bash", "-c", retrain)).group(1))
        assert retrained.data.tags["dvc.training_set.md5"] == facts["data"]["training_set_md5"]
        assert retrained.data.params["data.sha256"] == facts["data"]["training_set_fingerprint"]
        assert retrained.data.metrics["roc_auc"] == run.data.metrics["roc_auc"]
        # With that commit's outputs pulled too, its pipeline is what dvc.lock says: `dvc repro` has nothing to do
        # (the forced-repro test above shows that rebuilding it gives the same bytes).
        project.dvc("pull")
        assert "Data and pipelines are up to date." in project.run("bash", "-c", rebuild)
    finally:
        project.run("git", "checkout", "-q", branch)

    per_date = project.run(*cli, "--score-date", day.isoformat())
    assert f"churn_scores of {day}: {scored['rows']} rows from 1 model version(s)" in per_date
    # The retrain above took the challenger alias: aliases are read as they are now.
    assert f"  model    churn_xgb version {scored['model_version']} [no alias now]" in per_date


def test_an_experiment_reruns_only_the_stage_that_reads_the_param_and_compares_with_the_baseline(project: Project) -> None:
    baseline = project.metrics()
    out = project.dvc("exp", "run", "-S", "train.xgboost.max_depth=2", "--name", "depth2")
    assert "Stage 'generate' didn't change, skipping" in out
    assert "Stage 'training_set' didn't change, skipping" in out
    assert "Running stage 'train'" in out
    experiment = project.metrics()
    assert experiment != baseline

    diff = json.loads(project.dvc("metrics", "diff", "--json"))["reports/metrics.json"]
    assert diff["roc_auc"] == {
        "old": baseline["roc_auc"],
        "new": experiment["roc_auc"],
        "diff": pytest.approx(experiment["roc_auc"] - baseline["roc_auc"]),
    }

    rows = list(csv.DictReader(io.StringIO(project.dvc("exp", "show", "--csv"))))
    depth = {row["Experiment"] or row["rev"]: row["train.xgboost.max_depth"] for row in rows}
    committed = next(row["rev"] for row in rows if row["typ"] == "baseline" and row["rev"] != "workspace")
    assert depth["depth2"] == "2"
    assert depth[committed] == "4"
