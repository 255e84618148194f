"""The rollout policy's verdict applied to a real MLflow registry: promote on evidence, retire, keep."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nightshift.model.registry import Aliases, champion_history
from nightshift.model.rollout import apply_rollout, decide_and_apply
from nightshift.model.rollout_policy import RolloutPolicy, decide_rollout
from nightshift.warehouse.rows import ComparisonRow

pytestmark = pytest.mark.integration

NAME = "churn_xgb_rollout_test"
ALIASES = Aliases()
POLICY = RolloutPolicy(min_matured_days=3, min_auc_margin=0.005)


@pytest.fixture
def client(tmp_path, monkeypatch):
    """A registry of three versions (no artifacts are read): 1 champion, 2 challenger refused by the backtest gate."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(tmp_path / "artifacts"))
    from nightshift.model.registry import registry_client, set_champion

    c = registry_client()
    c.create_registered_model(NAME)
    for _ in range(3):
        c.create_model_version(NAME, source=str(tmp_path / "model"))
    set_champion(c, NAME, "1", ALIASES, "first")
    c.set_registered_model_alias(NAME, "challenger", "2")
    c.set_model_version_tag(NAME, "2", "gate.outcome", "rejected")
    return c


def days(diff: float, low: float, high: float, n: int = 3) -> list[ComparisonRow]:
    start = date(2026, 5, 1)
    return [
        ComparisonRow(start + timedelta(days=i), NAME, "1", "2", "all", 900, 60, {"roc_auc": 0.8}, {"roc_auc": 0.8 + diff}, diff, low, high)
        for i in range(n)
    ]


def aliases(client) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model(NAME).aliases.items()}


def test_a_better_challenger_is_promoted_through_the_compare_and_set_and_its_evidence_logged(client) -> None:
    done = decide_and_apply(NAME, ALIASES, POLICY, days(0.02, 0.01, 0.03), date(2026, 6, 5))
    assert done["action"] == "promote"
    assert aliases(client) == {"champion": "2", "previous_champion": "1"}
    assert champion_history(client, NAME) == ["1", "2"]
    tags = client.get_model_version(NAME, "2").tags
    assert tags["gate.outcome"] == "promoted_on_evidence" and tags["rollout.backtest_outcome"] == "rejected"
    assert tags["rollout.days"] == "3" and tags["rollout.auc_diff"] == "0.020000" and "interval above 0" in tags["gate.reason"]
    assert tags["rollout.mlflow_run"] == done["mlflow_run"]
    assert "plots/daily_auc.png" in {a.path for a in client.list_artifacts(done["mlflow_run"], "plots")}
    assert client.get_run(done["mlflow_run"]).data.metrics["auc_diff"] == pytest.approx(0.02)


def test_a_champion_moved_since_the_evidence_is_not_replaced(client) -> None:
    decision = decide_rollout(days(0.02, 0.01, 0.03), "1", "2", POLICY)
    client.set_registered_model_alias(NAME, "champion", "3")  # moved by hand after the comparison
    applied = apply_rollout(client, NAME, ALIASES, decision)
    assert applied.action == "keep" and "not promoted" in applied.reason
    assert aliases(client)["champion"] == "3" and aliases(client)["challenger"] == "2"
    assert client.get_model_version(NAME, "2").tags["gate.outcome"] == "rejected"


def test_a_clearly_worse_challenger_is_retired(client) -> None:
    done = decide_and_apply(NAME, ALIASES, POLICY, days(-0.03, -0.05, -0.01), date(2026, 6, 5))
    assert done["action"] == "retire"
    assert aliases(client) == {"champion": "1"}
    tags = client.get_model_version(NAME, "2").tags
    assert tags["gate.outcome"] == "retired_on_evidence" and tags["rollout.decision"] == "retire"


def test_inconclusive_evidence_keeps_and_says_so(client) -> None:
    decision = decide_rollout(days(0.01, -0.01, 0.03), "1", "2", POLICY)
    applied = apply_rollout(client, NAME, ALIASES, decision)
    assert applied.action == "keep"
    assert aliases(client) == {"champion": "1", "challenger": "2"}
    tags = client.get_model_version(NAME, "2").tags
    assert tags["rollout.decision"] == "keep" and "not conclusive" in tags["rollout.reason"] and tags["gate.outcome"] == "rejected"


def test_no_challenger_besides_the_champion_decides_nothing(client) -> None:
    client.delete_registered_model_alias(NAME, "challenger")
    assert decide_and_apply(NAME, ALIASES, POLICY, days(0.02, 0.01, 0.03), date(2026, 6, 5)) is None
