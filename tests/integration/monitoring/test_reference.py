"""A version's reference distributions from a real MLflow store: missing is missing, an outage is an outage.

A day's drift is measured against the reference logged with the version that scored it. When MLflow
cannot answer (server down, artifact store down), the monitor must say so and retry; only a store
that answers without the file means the version has no reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nightshift.monitoring.reference import REFERENCE_ARTIFACT, champion_date_max, load_reference
from tests.pg_helpers import free_port

pytestmark = pytest.mark.integration

MODEL = "churn_xgb"


@pytest.fixture
def no_http_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's HTTP client fails at the first refused connection instead of backing off for minutes."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """A real file-backed MLflow store (SQLite registry, local artifacts) holding the model, and a way to add versions.

    One per module: creating the SQLite schema takes longer than every test here.
    """
    from nightshift.model.registry import registry_client

    root = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        env.setenv("NIGHTSHIFT_MLFLOW_ARTIFACTS", str(root / "artifacts"))
        client = registry_client()
        client.create_registered_model(MODEL)

        def register(artifact_location: str, reference: dict | None) -> str:
            experiment = client.create_experiment(f"e{len(client.search_experiments())}", artifact_location=artifact_location)
            run = client.create_run(experiment)
            if reference is not None:
                client.log_dict(run.info.run_id, reference, REFERENCE_ARTIFACT)
            client.log_param(run.info.run_id, "data.date_max", "2026-05-29")
            client.set_terminated(run.info.run_id)
            version = client.create_model_version(MODEL, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id).version
            client.set_registered_model_alias(MODEL, "champion", version)
            return str(version)

        yield register


def test_a_logged_reference_is_loaded(store, tmp_path: Path) -> None:
    version = store(str(tmp_path / "artifacts"), {"columns": {"monthly_fee": {"edges": [0, 1]}}})
    assert load_reference(MODEL, version).distributions == {"columns": {"monthly_fee": {"edges": [0, 1]}}}


def test_a_version_whose_run_logged_no_reference_is_reported_missing(store, tmp_path: Path) -> None:
    version = store(str(tmp_path / "artifacts"), None)
    with pytest.raises(LookupError, match=f"{MODEL} version {version} \\(run \\w+\\) has no {REFERENCE_ARTIFACT} to compare a day with"):
        load_reference(MODEL, version)


def _failure(call) -> str:
    """What `call` raised, as its type and message: it must fail, and not with "missing"."""
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the type is checked below, with the message
        call()
    assert not isinstance(raised.value, LookupError), f"an outage reported as missing: {raised.value}"
    return str(raised.value)


def test_an_unreachable_tracking_server_is_reported_unreachable_not_as_a_missing_reference(no_http_retries, monkeypatch) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    for call in (lambda: load_reference(MODEL, "1"), lambda: champion_date_max(MODEL, "champion")):
        message = _failure(call)
        assert message.startswith(f"MLflow tracking server at http://127.0.0.1:{port} unreachable: "), message
        assert "Connection refused" in message and "no reference" not in message


def test_an_unreachable_artifact_store_is_reported_unreachable_not_as_a_missing_reference(store, no_http_retries) -> None:
    # The registry answers; the store holding the run's artifacts does not.
    port = free_port()
    version = store(f"http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/churn", None)
    message = _failure(lambda: load_reference(MODEL, version))
    assert message.startswith(f"MLflow artifact store at http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/churn/"), message
    assert " unreachable: " in message and "Connection refused" in message and "no reference" not in message
