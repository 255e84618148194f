"""The model lifecycle against a real MLflow store (SQLite and artifacts in a temporary folder).

One small landing zone, one Spark-built training set, four trainings into one registry:
  v1 weak settings     -> first champion (passes the floors)
  v2 params.yaml       -> beats v1 by the margin: promoted
  v3 weak settings     -> worse than v2: refused, stays challenger
  v4 params.yaml again -> identical to v2, so not better: refused
Tests that move aliases work on a copy of the registry database, so none depends on another.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from nightshift.config import load_params
from nightshift.feature_list import feature_columns
from nightshift.features.jobs import scoring_features, training_set
from nightshift.local.generate import generate
from nightshift.model.gate import FIRST, PROMOTED, REJECTED
from nightshift.model.lifecycle import champion_label_overlap, lineage, list_versions, promote, rollback
from nightshift.model.lineage import data_fingerprint
from nightshift.model.registry import HISTORY_TAG, Aliases, registry_client, serving_model
from nightshift.model.train import TrainResult, train_model

pytestmark = pytest.mark.integration

NAME = "churn_xgb_test"
WINDOWS = [7, 30, 90]
COLUMNS = feature_columns(WINDOWS)
# The outcome tagged when champion moved under a training, spelled as the registry holds it.
MOVED = "champion_moved"
# A start no other test uses, so the scored date's rows in the shared warehouse are this module's own.
START = date(2025, 3, 1)


def _params(**xgboost) -> dict:
    params = copy.deepcopy(load_params())
    params["model"]["name"] = NAME
    params["train"]["xgboost"].update(xgboost)
    params["gate"] = {"metric": "roc_auc", "min_improvement": 0.005, "floors": {"roc_auc": 0.6}, "ceilings": {}}
    return params


# Two stumps: ranks on one or two features, far worse than the tuned model, but above the floor.
WEAK = {"max_depth": 1, "n_estimators": 2, "learning_rate": 0.3}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("lifecycle")
    return generate(root / "raw", customers=800, days=150, start_date=START, seed=21)


@pytest.fixture(scope="module")
def training_path(spark, landing, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("training") / "set"
    training_set(spark, landing.data_dir, landing.end_date, out, WINDOWS, 30, 7, 140)
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mlflow")


def _use_store(mp: pytest.MonkeyPatch, root: Path, db: str = "mlflow.db") -> None:
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / db}")
    mp.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(root / "artifacts"))


@pytest.fixture(scope="module")
def trained(store: Path, training_path: Path, landing) -> dict[str, TrainResult]:
    with pytest.MonkeyPatch.context() as mp:
        _use_store(mp, store)
        return {
            "v1": train_model(training_path, _params(**WEAK), {"test": "weak"}, raw_data_dir=landing.data_dir),
            "v2": train_model(training_path, _params(), {"test": "tuned"}, raw_data_dir=landing.data_dir),
            "v3": train_model(training_path, _params(**WEAK), {"test": "weak again"}, raw_data_dir=landing.data_dir),
            "v4": train_model(training_path, _params(), {"test": "tuned again"}, raw_data_dir=landing.data_dir),
        }


@pytest.fixture
def registry(store: Path, trained, monkeypatch, tmp_path: Path) -> Path:
    """This test's own copy of the registry database (artifacts are shared, read-only)."""
    shutil.copy(store / "mlflow.db", tmp_path / "mlflow.db")
    _use_store(monkeypatch, store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def _aliases(client) -> dict[str, str]:
    return {alias: str(version) for alias, version in client.get_registered_model(NAME).aliases.items()}


def _model(version: str):
    import mlflow

    return mlflow.xgboost.load_model(f"models:/{NAME}/{version}")


def test_the_gate_promotes_a_better_challenger_and_refuses_worse_and_equal_ones(trained, registry) -> None:
    v1, v2, v3, v4 = (trained[k] for k in ("v1", "v2", "v3", "v4"))
    assert (v1.model_version, v2.model_version, v3.model_version, v4.model_version) == ("1", "2", "3", "4")

    assert v1.champion and v1.gate["outcome"] == FIRST
    assert v2.champion and v2.gate["outcome"] == PROMOTED
    assert v2.roc_auc >= v1.roc_auc + 0.005
    # The champion was scored on the challenger's own evaluation window: v1's metric there is v1's own.
    assert v2.gate["champion_version"] == "1" and v2.gate["champion_value"] == pytest.approx(v1.roc_auc)

    assert not v3.champion and v3.gate["outcome"] == REJECTED
    assert "champion version 2" in v3.gate["reason"] and "below the required 0.005" in v3.gate["reason"]
    assert not v4.champion and v4.gate["outcome"] == REJECTED
    assert v4.gate["champion_value"] == pytest.approx(v4.roc_auc)

    client = registry_client()
    assert _aliases(client) == {"champion": "2", "previous_champion": "1", "challenger": "4"}
    tags = client.get_model_version(NAME, "3").tags
    assert tags["gate.outcome"] == REJECTED and tags["gate.reason"] == v3.gate["reason"]
    assert client.get_registered_model(NAME).tags[HISTORY_TAG] == "1,2"
    assert serving_model(NAME).version == "2"


def test_every_run_logs_metrics_plots_lineage_and_reference(trained, registry, training_path: Path) -> None:
    client = registry_client()
    run = client.get_run(trained["v2"].run_id)
    metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
    for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "expected_calibration_error", "n_trees", "champion_roc_auc"):
        assert metric in metrics, metric
    segments = {k for k in metrics if k.startswith(("roc_auc_plan_", "roc_auc_region_"))}
    assert {"roc_auc_plan_basic", "roc_auc_region_north"} <= segments and len(segments) >= 5
    assert params["xgb.max_depth"] == "4" and params["early_stopping_rounds"] == "30"
    assert int(metrics["n_trees"]) < int(params["xgb.n_estimators"]), "early stopping picked the number of trees"

    expected = data_fingerprint(pd.read_parquet(training_path))
    assert params["data.sha256"] == expected["sha256"] and params["data.rows"] == str(expected["rows"])
    assert params["data.date_min"] == expected["date_min"] and params["data.date_max"] == expected["date_max"]
    assert len(tags["git.commit"]) == 40 or tags["git.commit"] == "unknown"

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)} | {
        a.path for folder in ("plots", "reference", "data") for a in client.list_artifacts(run.info.run_id, folder)
    }
    for path in (
        "plots/roc.png",
        "plots/precision_recall.png",
        "plots/calibration.png",
        "plots/feature_importance.png",
        "reference/distributions.json",
        "data/fingerprint.json",
        "features.json",
    ):
        assert path in artifacts, path
    local = Path(client.download_artifacts(run.info.run_id, "reference/distributions.json", str(registry)))
    reference = json.loads(local.read_text())
    assert set(reference["features"]) == set(COLUMNS)
    assert sum(reference["score"]["fractions"]) == pytest.approx(1.0)
    assert json.loads(Path(client.download_artifacts(run.info.run_id, "features.json", str(registry))).read_text())["features"] == COLUMNS

    import mlflow

    info = mlflow.models.get_model_info(f"models:/{NAME}/2")
    assert info.signature.inputs.input_names() == COLUMNS
    assert info.saved_input_example_info is not None


def test_two_trainings_on_the_same_data_give_the_same_model(trained, registry, training_path: Path) -> None:
    v2, v4 = trained["v2"], trained["v4"]
    same = ("roc_auc", "pr_auc", "log_loss", "brier", "expected_calibration_error", "n_trees", "train_rows", "eval_rows")
    assert {k: getattr(v2, k) for k in same} == {k: getattr(v4, k) for k in same}
    client = registry_client()

    def own(run_id: str) -> dict[str, float]:
        # champion_* differ by design: v2 was compared with v1, v4 with v2.
        return {k: v for k, v in client.get_run(run_id).data.metrics.items() if not k.startswith("champion_")}

    assert own(v2.run_id) == own(v4.run_id)
    assert client.get_run(v2.run_id).data.params["data.sha256"] == client.get_run(v4.run_id).data.params["data.sha256"]

    frame = pd.read_parquet(training_path)[COLUMNS]
    first, second = _model("2").predict_proba(frame)[:, 1], _model("4").predict_proba(frame)[:, 1]
    assert np.array_equal(first, second)


def test_the_stored_booster_scores_as_the_evaluated_model(trained, registry, training_path: Path) -> None:
    # Scoring may use the raw booster (every tree): it must match what the gate evaluated.
    model = _model("2")
    frame = pd.read_parquet(training_path)[COLUMNS]
    assert model.get_booster().num_boosted_rounds() == trained["v2"].n_trees
    np.testing.assert_array_equal(model.get_booster().inplace_predict(frame.to_numpy()), model.predict_proba(frame)[:, 1])


@pytest.mark.parametrize("kind", ["failed_payments", "tickets"])
def test_more_failed_payments_or_tickets_never_lower_the_churn_probability(trained, registry, training_path: Path, kind: str) -> None:
    model = _model("2")
    frame = pd.read_parquet(training_path)[COLUMNS]
    raised = frame.copy()
    # The windows nest: one more event in the last 7 days is one more in the last 30 and 90 too.
    for w in WINDOWS:
        raised[f"{kind}_{w}d"] += 1
    before, after = model.predict_proba(frame)[:, 1], model.predict_proba(raised)[:, 1]
    assert after.mean() >= before.mean()
    assert (after >= before).all(), "monotone in these features for every customer, not only on average"


def test_identical_customers_get_identical_scores_whatever_the_order(trained, registry, training_path: Path) -> None:
    model = _model("2")
    frame = pd.read_parquet(training_path)
    twins = pd.concat([frame.iloc[[7]]] * 25, ignore_index=True).assign(customer_id=range(25))
    scores = model.predict_proba(twins[COLUMNS])[:, 1]
    assert np.unique(scores).size == 1

    sample = frame.sample(n=300, random_state=1)
    shuffled = sample.sample(frac=1.0, random_state=2)
    by_key = dict(
        zip(zip(sample["as_of_date"], sample["customer_id"], strict=True), model.predict_proba(sample[COLUMNS])[:, 1], strict=True)
    )
    again = dict(
        zip(zip(shuffled["as_of_date"], shuffled["customer_id"], strict=True), model.predict_proba(shuffled[COLUMNS])[:, 1], strict=True)
    )
    assert by_key == again


def test_rollback_restores_the_previous_champion_and_scoring_uses_it(
    trained, registry, spark, landing, pg_url: str, tmp_path: Path
) -> None:
    from nightshift.scoring.score import score_day
    from nightshift.warehouse.readers import read_scores

    aliases = Aliases()
    done = rollback(NAME, aliases, "test: v2 misbehaves")
    assert (done.from_version, done.to_version) == ("2", "1")
    assert done.seconds < 5, f"rollback took {done.seconds:.2f} s"
    client = registry_client()
    assert _aliases(client)["champion"] == "1"
    assert "previous_champion" not in _aliases(client)
    assert client.get_model_version(NAME, "2").tags["champion.rollback_reason"] == "test: v2 misbehaves"

    day = landing.end_date
    features = scoring_features(spark, landing.data_dir, day, tmp_path / "features", WINDOWS)
    result = score_day(spark, Path(features["path"]), day, pg_url, NAME, WINDOWS, tmp_path / "scores")
    assert result["model_version"] == "1"
    rows = read_scores(pg_url, day)
    assert len(rows) == features["rows"] > 0
    assert set(rows["model_version"]) == {"1"} and set(rows["run_id"]) == {trained["v1"].run_id}

    with pytest.raises(LookupError, match="no previous 'champion' before version 1"):
        rollback(NAME, aliases, "nothing left")


def test_promote_by_hand_then_rollback_walks_the_history_back(trained, registry) -> None:
    aliases = Aliases()
    assert promote(NAME, "3", aliases, "test: try v3") == "2"
    client = registry_client()
    assert _aliases(client)["champion"] == "3" and _aliases(client)["previous_champion"] == "2"
    assert client.get_model_version(NAME, "3").tags["champion.manual"] == "true"
    started = time.monotonic()
    assert (rollback(NAME, aliases, "back").to_version, rollback(NAME, aliases, "back again").to_version) == ("2", "1")
    assert time.monotonic() - started < 10
    with pytest.raises(LookupError, match="no version '99'"):
        promote(NAME, "99", aliases, "does not exist")


def test_list_and_lineage_answer_from_the_registry(trained, registry, training_path: Path, capsys) -> None:
    from nightshift.cli.main import main

    rows = {row.version: row for row in list_versions(NAME)}
    assert list(rows) == ["4", "3", "2", "1"]
    assert rows["2"].aliases == ["champion"] and rows["2"].gate == PROMOTED
    assert rows["2"].metrics["roc_auc"] == pytest.approx(trained["v2"].roc_auc)

    info = lineage(NAME, "2")
    assert info["run_id"] == trained["v2"].run_id and info["was_champion"] is True
    assert info["data"]["sha256"] == data_fingerprint(pd.read_parquet(training_path))["sha256"]
    assert info["params"]["xgb.learning_rate"] == "0.1" and info["gate"]["outcome"] == PROMOTED
    assert info["git"]["commit"] == registry_client().get_run(trained["v2"].run_id).data.tags["git.commit"]

    # The same through the command line, which reads params.yaml's model name: point it at this one.
    params_file = registry / "params.yaml"
    params_file.write_text(json.dumps(_params()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NIGHTSHIFT_PARAMS", str(params_file))
        assert main(["model", "lineage", "2"]) == 0
        assert json.loads(capsys.readouterr().out)["data"]["sha256"] == info["data"]["sha256"]
        assert main(["model", "list"]) == 0
        listing = capsys.readouterr().out
        assert "champion" in listing and "previous_champion" in listing and "rejected" in listing


def test_a_champion_whose_labels_reach_into_the_window_cannot_be_compared(trained, registry) -> None:
    client = registry_client()
    champion = client.get_model_version(NAME, "2")
    # eval_dates reads "YYYY-MM-DD..YYYY-MM-DD (n dates)".
    eval_start = pd.Timestamp(client.get_run(trained["v2"].run_id).data.params["eval_dates"][:10])
    assert champion_label_overlap(client, champion, eval_start, 30) is None
    early = eval_start - pd.Timedelta(days=70)
    reason = champion_label_overlap(client, champion, early, 30)
    assert reason is not None and "cannot be compared fairly" in reason


def _runs_of(run_key: str) -> list[str]:
    client = registry_client()
    experiment = client.get_experiment_by_name(NAME)
    return [r.info.run_id for r in client.search_runs([experiment.experiment_id], f"tags.`airflow.dag_run_id` = '{run_key}'")]


def _versions() -> list[str]:
    return sorted((str(v.version) for v in registry_client().search_model_versions(f"name = '{NAME}'")), key=int)


def test_a_retry_of_the_same_airflow_run_registers_no_second_version(trained, registry, training_path: Path, landing) -> None:
    key = "scheduled__2025-07-26T03:00:00+00:00"
    first = train_model(training_path, _params(), run_key=key, raw_data_dir=landing.data_dir)
    again = train_model(training_path, _params(), run_key=key, raw_data_dir=landing.data_dir)

    assert _versions() == ["1", "2", "3", "4", "5"]
    assert (first.model_version, again.model_version) == ("5", "5")
    assert _runs_of(key) == [first.run_id], "the retry trained nothing: no second MLflow run"
    assert not first.resumed and again.resumed
    # The recorded verdict comes back: v5 is v2 again, so refused, and nothing moved.
    assert first.gate["outcome"] == again.gate["outcome"] == REJECTED and again.gate["reason"] == first.gate["reason"]
    assert again.roc_auc == first.roc_auc and again.n_trees == first.n_trees
    assert _aliases(registry_client()) == {"champion": "2", "previous_champion": "1", "challenger": "5"}
    assert registry_client().get_model_version(NAME, "5").tags["airflow.dag_run_id"] == key


def test_an_attempt_that_failed_after_registering_is_resumed_and_gated_by_its_retry(
    trained, registry, training_path: Path, landing
) -> None:
    from mlflow.exceptions import MlflowException

    key = "manual__2025-07-27T10:00:00+00:00"
    promote(NAME, "1", Aliases(), "test: the weak model serves, so a tuned one is promoted over it")
    # A real failure after the version is registered: the registry refuses the challenger alias
    # (a reserved name). The operator fixes params.yaml and retries the same Airflow run.
    broken = _params()
    broken["model"]["challenger_alias"] = "latest"
    with pytest.raises(MlflowException, match="reserved"):
        train_model(training_path, broken, run_key=key, raw_data_dir=landing.data_dir)
    assert _versions()[-1] == "5" and "gate.outcome" not in registry_client().get_model_version(NAME, "5").tags

    retried = train_model(training_path, _params(), run_key=key, raw_data_dir=landing.data_dir)

    assert _versions() == ["1", "2", "3", "4", "5"]
    assert retried.resumed and retried.model_version == "5" and len(_runs_of(key)) == 1
    # Gated against the champion the registering attempt compared it with (v1), and promoted.
    assert retried.gate["outcome"] == PROMOTED and retried.gate["champion_version"] == "1"
    assert retried.champion and _aliases(registry_client())["champion"] == "5"
    assert registry_client().get_model_version(NAME, "5").tags["gate.outcome"] == PROMOTED


class RollbackWhileTraining(xgb.callback.TrainingCallback):
    """Rolls `champion` back from version 3 as the challenger starts to fit: a `nightshift model
    rollback` made while train_model is in flight, between its read of the champion and the gate."""

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        if epoch == 0 and str(registry_client().get_model_version_by_alias(NAME, "champion").version) == "3":
            rollback(NAME, Aliases(), "test: v3 misbehaves")
        return False


def test_champion_moved_while_training_is_not_overridden(trained, registry, training_path: Path, landing) -> None:
    promote(NAME, "3", Aliases(), "test: the weak v3 serves")
    params = _params()
    params["train"]["xgboost"]["callbacks"] = [RollbackWhileTraining()]

    result = train_model(training_path, params, raw_data_dir=landing.data_dir)

    client = registry_client()
    # The rolled-back champion stays: the tuned v5 beat v3, the champion it read, not v2.
    assert _aliases(client) == {"champion": "2", "previous_champion": "1", "challenger": "5"}
    assert not result.champion and result.gate["outcome"] == MOVED
    tags = client.get_model_version(NAME, "5").tags
    assert tags["gate.outcome"] == MOVED and tags["gate.champion_version"] == "3"
    assert "moved from version 3 to version 2" in tags["gate.reason"] and "nightshift model promote 5" in tags["gate.reason"]
    assert "promoted: roc_auc" in tags["gate.reason"], "the verdict against v3 is kept in the reason"
    assert client.get_registered_model(NAME).tags[HISTORY_TAG] == "1,2"
