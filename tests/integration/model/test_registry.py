"""The registry's answer when nothing serves (nightshift.model.registry), on a real MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

from nightshift.model.registry import registry_client, serving_model

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def test_no_model_at_all_says_train_first(store: Path) -> None:
    with pytest.raises(LookupError, match="has no versions .*: run the train_model DAG first"):
        serving_model("churn_xgb")


def test_a_refused_first_version_is_named_with_its_floor_and_the_two_ways_forward(store: Path) -> None:
    client = registry_client()
    client.create_registered_model("churn_xgb")
    version = client.create_model_version("churn_xgb", source=(store / "model").as_uri())
    client.set_model_version_tag("churn_xgb", version.version, "gate.outcome", "rejected")
    client.set_model_version_tag("churn_xgb", version.version, "gate.reason", "roc_auc 0.6500 < floor 0.7")

    with pytest.raises(LookupError) as excinfo:
        serving_model("churn_xgb")
    message = str(excinfo.value)
    assert "version 1, the newest, was refused by the gate (roc_auc 0.6500 < floor 0.7)" in message
    assert "`nightshift model promote 1`" in message
    assert "params.yaml (gate)" in message
    assert "run the train_model DAG first" not in message
