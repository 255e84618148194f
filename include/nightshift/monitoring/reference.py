"""What the registry knows about a version that monitoring needs: its reference distributions and training window.

The reference is the one logged with the version that scored the day (``reference/distributions.json``
of its run), never whatever is champion when the monitor runs: a promotion between scoring and
monitoring must not make a day look drifted against a model that did not score it.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from nightshift.model.registry import mlflow_outages, model_version, registry_client, version_by_alias
from nightshift.warehouse.connection import redact_url

if TYPE_CHECKING:
    from nightshift.quality.bands import ReferenceBands

log = logging.getLogger(__name__)

REFERENCE_ARTIFACT = "reference/distributions.json"


@dataclass(frozen=True)
class VersionReference:
    model_name: str
    model_version: str
    run_id: str
    distributions: dict[str, Any]


def load_reference(model_name: str, version: str) -> VersionReference:
    """The reference distributions logged with ``version`` of ``model_name``.

    LookupError when the version or its reference is not there; TrackingServerError when MLflow
    cannot tell (down, failing, timing out), which the task retries and nobody reads as missing.
    """
    import mlflow

    client = registry_client()
    with mlflow_outages():
        mv = model_version(client, model_name, version)
        root = client.get_run(mv.run_id).info.artifact_uri
    # Straight from the run's artifact store, listed first: MLflow's runs:/ download reports any
    # failure of the store as a path not found, and only a listing that answers can say it is absent.
    with mlflow_outages(f"MLflow artifact store at {redact_url(root)}"):
        listed = {f.path for f in mlflow.artifacts.list_artifacts(artifact_uri=f"{root}/{posixpath.dirname(REFERENCE_ARTIFACT)}")}
        if REFERENCE_ARTIFACT not in listed:
            raise LookupError(f"{model_name} version {version} (run {mv.run_id}) has no {REFERENCE_ARTIFACT} to compare a day with")
        distributions = mlflow.artifacts.load_dict(f"{root}/{REFERENCE_ARTIFACT}")
    return VersionReference(model_name, str(mv.version), mv.run_id, distributions)


def champion_date_max(model_name: str, alias: str) -> tuple[str | None, date | None]:
    """The version behind ``alias`` and the newest snapshot date of its training set (run param ``data.date_max``)."""
    client = registry_client()
    with mlflow_outages():
        champion = version_by_alias(client, model_name, alias)
        if champion is None:
            return None, None
        value = client.get_run(champion.run_id).data.params.get("data.date_max")
    return str(champion.version), (date.fromisoformat(value) if value and value != "None" else None)


def champion_bands(params: Mapping[str, Any]) -> ReferenceBands:
    """The bands of the version serving now (params.yaml model.champion_alias).

    There is always a champion when a day is scored: without one this raises the registry's
    own reason (nothing trained yet, or the gate refused every version) before features are judged.
    """
    from nightshift.model.registry import Aliases, serving_model
    from nightshift.quality.bands import reference_bands

    name = params["model"]["name"]
    champion = serving_model(name, Aliases.from_params(params["model"]).champion)
    reference = load_reference(name, champion.version)
    return reference_bands(name, reference.model_version, reference.run_id, reference.distributions, params["quality"])
