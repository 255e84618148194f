"""MLflow tracking store and model registry: where they are and which version serves."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nightshift.config import mlflow_artifact_root, mlflow_tracking_uri

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingModel:
    name: str
    version: str
    run_id: str
    uri: str


def configure_mlflow() -> str:
    """Point MLflow at the configured store (tracking and registry share it)."""
    import mlflow

    uri = mlflow_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def ensure_experiment(name: str) -> str:
    """Use experiment `name`, creating it with the project's artifact root on first use."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        experiment_id = mlflow.create_experiment(name, artifact_location=f"{mlflow_artifact_root()}/{name}")
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def serving_model(name: str, alias: str = "champion") -> ServingModel:
    """The version behind `alias`, pinned to its number so a concurrent promotion cannot split a run."""
    import mlflow
    from mlflow.tracking import MlflowClient

    configure_mlflow()
    try:
        version = MlflowClient().get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException as exc:
        raise LookupError(
            f"model {name!r} has no {alias!r} alias in the registry at {mlflow_tracking_uri()}: run the train_model DAG first"
        ) from exc
    return ServingModel(name=name, version=str(version.version), run_id=version.run_id, uri=f"models:/{name}/{version.version}")
