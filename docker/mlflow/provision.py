"""The stack's MLflow login for Airflow: the `airflow` user and exactly what it may do.

The `mlflow-init` service runs this at every `docker compose up`, logged in as the admin of
MLflow's basic-auth app (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD, from .env). The
server gives a logged-in user nothing by default (`default_permission = NO_PERMISSIONS`), so
`airflow` gets two grants: EDIT on the model's experiment (runs, params, metrics, artifacts) and
MANAGE on the registered model (new versions, tags, aliases: removing an alias needs MANAGE).
It stays an ordinary user: it cannot create users or change anyone's permissions elsewhere.
Both exist before the first training: for a model that does not exist yet the server answers a
non-admin 403, not "not found", so train_model could not tell that there is no champion yet.

Running it again is harmless: an existing `airflow` user takes the password now in .env
(MLFLOW_AIRFLOW_PASSWORD), and the grants are set to these levels again.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.server.auth.client import AuthServiceClient

AIRFLOW_USER = "airflow"
EXPERIMENT_PERMISSION = "EDIT"
MODEL_PERMISSION = "MANAGE"


def required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"mlflow-init: {name} is not set (it comes from .env through docker-compose.yaml)")
    return value


def ensure_user(auth: AuthServiceClient, username: str, password: str) -> str:
    """Create `username`, or give the existing one `password`: .env is where the password lives."""
    from mlflow.exceptions import RestException

    try:
        auth.get_user(username)
    except RestException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        auth.create_user(username, password)
        return "created"
    auth.update_user_password(username, password)
    return "password set"


def grant(auth: AuthServiceClient, username: str, resource_type: str, resource_id: str, permission: str) -> None:
    """Give `username` exactly `permission` on one resource, whatever it held there before."""
    from mlflow.exceptions import RestException

    try:
        auth.grant_user_permission(username, resource_type, resource_id, permission)
    except RestException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.revoke_user_permission(username, resource_type, resource_id)
        auth.grant_user_permission(username, resource_type, resource_id, permission)


def ensure_experiment(name: str) -> str:
    """The experiment train_model logs to (named after the model), created as train_model would."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    # No artifact location: the server's --artifacts-destination, as for an experiment a run creates.
    return experiment.experiment_id if experiment is not None else client.create_experiment(name)


def ensure_registered_model(name: str) -> str:
    """The registered model train_model registers versions of, without versions until it does."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name, description="Versions registered by train_model.")
        return "created"
    return "exists"


def provision() -> str:
    from mlflow.server.auth.client import AuthServiceClient

    from nightshift.config import load_params

    tracking_uri, admin = required("MLFLOW_TRACKING_URI"), required("MLFLOW_TRACKING_USERNAME")
    required("MLFLOW_TRACKING_PASSWORD")
    password = required("MLFLOW_AIRFLOW_PASSWORD")
    if admin == AIRFLOW_USER:
        raise SystemExit(f"mlflow-init: MLFLOW_ADMIN_USER must not be {AIRFLOW_USER!r}, the Airflow services' own login")
    model = str(load_params()["model"]["name"])
    auth = AuthServiceClient(tracking_uri)
    done = ensure_user(auth, AIRFLOW_USER, password)
    experiment_id = ensure_experiment(model)
    registered = ensure_registered_model(model)
    grant(auth, AIRFLOW_USER, "experiment", experiment_id, EXPERIMENT_PERMISSION)
    grant(auth, AIRFLOW_USER, "registered_model", model, MODEL_PERMISSION)
    return (
        f"mlflow-init: user {AIRFLOW_USER} {done}; {EXPERIMENT_PERMISSION} on experiment {model} "
        f"(id {experiment_id}), {MODEL_PERMISSION} on registered model {model} ({registered})"
    )


def main() -> int:
    from mlflow.exceptions import MlflowException

    try:
        print(provision(), flush=True)
    except MlflowException as exc:
        if "error code 401" not in str(exc):
            raise
        print(
            "mlflow-init: the MLflow server refused the admin login: MLFLOW_ADMIN_USER / MLFLOW_ADMIN_PASSWORD in .env "
            "must be the admin the server was first started with (a new admin password goes through MLflow's "
            "update-password API first, then into .env)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
