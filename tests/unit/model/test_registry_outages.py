"""An MLflow call that got no answer, or an error answer, is a TrackingServerError naming the server; "not found" stays as it is."""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException, RestException

from nightshift.model.registry import TrackingServerError, mlflow_outages

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://ml:s3cret@mlflow.example:5000")


def _wrapped(cause: BaseException, outer: BaseException) -> BaseException:
    """`outer` raised while handling `cause`, as MLflow's HTTP client raises it."""
    try:
        try:
            raise cause
        except BaseException:
            raise outer  # noqa: B904 - MLflow chains implicitly, which is what is reproduced here
    except BaseException as exc:
        return exc


def _seen(exc: BaseException) -> BaseException:
    with pytest.raises(BaseException) as raised:  # noqa: PT011 - each test checks the type
        with mlflow_outages():
            raise exc
    return raised.value


def test_a_refused_connection_is_unreachable_with_its_cause_and_no_password() -> None:
    refused = _wrapped(ConnectionRefusedError(111, "Connection refused"), requests.ConnectionError("Max retries exceeded"))
    seen = _seen(_wrapped(refused, MlflowException("API request to https://mlflow.example:5000/api/2.0/... failed")))
    assert isinstance(seen, TrackingServerError)
    assert str(seen) == "MLflow tracking server at https://ml:***@mlflow.example:5000 unreachable: [Errno 111] Connection refused"


def test_a_timeout_is_unreachable() -> None:
    timeout = requests.Timeout("Read timed out. (read timeout=2)")
    seen = _seen(_wrapped(timeout, MlflowException("API request failed with timeout exception")))
    assert str(seen).endswith("unreachable: Read timed out. (read timeout=2)")


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (RestException({"error_code": "INTERNAL_ERROR", "message": "database is locked"}), "INTERNAL_ERROR: database is locked"),
        (RestException({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "try later"}), "TEMPORARILY_UNAVAILABLE: try later"),
        (requests.HTTPError("502 Server Error: Bad Gateway"), "502 Server Error: Bad Gateway"),
    ],
)
def test_an_error_answer_is_a_failed_server(error: BaseException, cause: str) -> None:
    seen = _seen(error)
    assert (
        isinstance(seen, TrackingServerError)
        and str(seen) == f"MLflow tracking server at https://ml:***@mlflow.example:5000 failed: {cause}"
    )


@pytest.mark.parametrize("code", ["RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"])
def test_not_found_goes_through_as_it_is(code: str) -> None:
    missing = RestException({"error_code": code, "message": "Registered Model with name=churn_xgb not found"})
    assert _seen(missing) is missing


def test_the_place_named_can_be_the_artifact_store() -> None:
    with pytest.raises(TrackingServerError, match=r"^MLflow artifact store at s3://bucket/1 failed: 503"):
        with mlflow_outages("MLflow artifact store at s3://bucket/1"):
            raise requests.HTTPError("503 Server Error")
