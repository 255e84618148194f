"""MLflow tracking store and model registry: where they are, which version serves, and moving it.

Versions are addressed by aliases, never by the deprecated stages: `champion` serves,
`challenger` is the newest trained version awaiting (or refused by) the gate, and
`previous_champion` is where a rollback goes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nightshift.config import mlflow_artifact_root, mlflow_tracking_uri

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

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
        root = mlflow_artifact_root()
        experiment_id = mlflow.create_experiment(name, artifact_location=f"{root}/{name}" if root else None)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def serving_model(name: str, alias: str = "champion") -> ServingModel:
    """The version behind `alias`, pinned to its number so a concurrent promotion cannot split a run."""
    import mlflow
    from mlflow.tracking import MlflowClient

    configure_mlflow()
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException as exc:
        if exc.error_code not in MISSING:
            raise
        raise LookupError(no_version_reason(client, name, alias)) from exc
    return ServingModel(name=name, version=str(version.version), run_id=version.run_id, uri=f"models:/{name}/{version.version}")


# The champion's past, newest last, kept as a registered-model tag: aliases only say where
# versions are now, and rollback needs to know where `champion` was before.
HISTORY_TAG = "nightshift.champion_history"
# Tag on a training's MLflow run (from its start) and on its version: the Airflow run it belongs to.
RUN_KEY_TAG = "airflow.dag_run_id"
# `expected` of set_champion that skips the check: moves made by hand replace whatever serves.
ANY_CHAMPION = "*"
# Error codes of a registry lookup that found nothing (an unknown alias is an invalid parameter).
MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


class TrackingServerError(RuntimeError):
    """MLflow did not answer (down, refusing, timing out) or failed (an error response): nothing is known missing.

    Not bad data either: a task that hits it fails and retries, and the message names the server.
    """


def _unreachable(exc: BaseException) -> bool:
    """Whether the failure is a connection that never got an answer (refused, unresolved, timed out)."""
    import requests

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.ConnectionError | requests.Timeout | ConnectionError | TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _root_cause(exc: BaseException) -> BaseException:
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return exc


def outage_error(exc: BaseException, where: str | None = None) -> TrackingServerError:
    """`exc` of an MLflow call as a TrackingServerError naming `where` (default: the tracking server) and the first cause."""
    from nightshift.warehouse.connection import redact_url

    if where is None:
        where = f"MLflow tracking server at {redact_url(mlflow_tracking_uri())}"
    return TrackingServerError(f"{where} {'unreachable' if _unreachable(exc) else 'failed'}: {_root_cause(exc)}")


@contextmanager
def mlflow_outages(where: str | None = None) -> Iterator[None]:
    """Raise an MLflow call's failure to answer as TrackingServerError; its "not found" goes through as it is.

    So that no caller turns an outage into "there is no such thing" (MLflow raises both as MlflowException).
    """
    import requests
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if exc.error_code in MISSING:
            raise
        raise outage_error(exc, where) from exc
    # What artifact stores behind HTTP raise for an error response, unwrapped by MLflow.
    except requests.RequestException as exc:
        raise outage_error(exc, where) from exc


def no_version_reason(client: MlflowClient, name: str, alias: str) -> str:
    """Why `alias` points nowhere, and what to do: train first, or deal with the version the gate refused."""
    where = f"the registry at {mlflow_tracking_uri()}"
    # No except here: a registry that cannot be searched must not read as "nothing trained yet".
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        return f"model {name!r} has no versions in {where}: run the train_model DAG first"
    newest = max(versions, key=lambda v: int(v.version))
    outcome = newest.tags.get("gate.outcome", "")
    reason = newest.tags.get("gate.reason", "no gate verdict recorded")
    verdict = "was refused by the gate" if outcome == "rejected" else f"has gate outcome {outcome or 'none'}"
    return (
        f"model {name!r} has no {alias!r} in {where}: version {newest.version}, the newest, {verdict} ({reason}). "
        f"Either make it {alias} anyway with `nightshift model promote {newest.version}`, or change the gate's floors "
        "and ceilings in params.yaml (gate) and run train_model again"
    )


@dataclass(frozen=True)
class Aliases:
    """Alias names: `champion` serves, `challenger` awaits the gate, `previous` is where rollback goes."""

    champion: str = "champion"
    challenger: str = "challenger"
    previous: str = "previous_champion"

    @classmethod
    def from_params(cls, model: Mapping[str, Any]) -> Aliases:
        """From params.yaml's `model` section."""
        return cls(
            champion=str(model.get("champion_alias", cls.champion)),
            challenger=str(model.get("challenger_alias", cls.challenger)),
            previous=str(model.get("previous_champion_alias", cls.previous)),
        )


def registry_client() -> MlflowClient:
    """A client on the configured tracking and registry store."""
    from mlflow.tracking import MlflowClient

    configure_mlflow()
    return MlflowClient()


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version behind `alias`, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        # Only "not there" means no version: an unreachable registry must not read as "no
        # champion yet", or the gate would crown a challenger without comparing it.
        if exc.error_code in MISSING:
            return None
        raise


def model_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """One version, or LookupError naming what is missing (MLflow's own error is a stack trace away)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if exc.error_code not in MISSING:
            raise
        raise LookupError(f"model {name!r} has no version {version!r} in the registry at {mlflow_tracking_uri()}") from exc


def tag_version(client: MlflowClient, name: str, version: str, tags: Mapping[str, str]) -> None:
    """Set every tag of `tags` on `name` `version`, in order."""
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)


def remove_alias(client: MlflowClient, name: str, alias: str) -> None:
    client.delete_registered_model_alias(name, alias)


def all_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every version of `name`, newest first; LookupError when there is none."""
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        raise LookupError(f"no versions of model {name!r} in the registry: run the train_model DAG first")
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def aliases_by_version(client: MlflowClient, name: str) -> dict[str, list[str]]:
    """Each version's aliases, sorted: version -> names."""
    # search_model_versions leaves ModelVersion.aliases empty; the registered model has them all.
    out: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(name).aliases.items():
        out.setdefault(str(version), []).append(alias)
    return {version: sorted(names) for version, names in out.items()}


def champion_history(client: MlflowClient, name: str) -> list[str]:
    """Versions that have been champion, oldest first, the current one last."""
    text = client.get_registered_model(name).tags.get(HISTORY_TAG, "")
    return [v for v in text.split(",") if v]


def _write_history(client: MlflowClient, name: str, history: list[str], aliases: Aliases) -> None:
    # Bounded so the tag stays small; rollback more than 50 promotions deep is not a use case.
    history = history[-50:]
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history))
    # The `previous` alias mirrors the history so the registry UI shows where rollback goes.
    if len(history) >= 2:
        client.set_registered_model_alias(name, aliases.previous, history[-2])
    elif version_by_alias(client, name, aliases.previous) is not None:
        client.delete_registered_model_alias(name, aliases.previous)


def set_challenger(client: MlflowClient, name: str, version: str, aliases: Aliases) -> None:
    client.set_registered_model_alias(name, aliases.challenger, version)


class ChampionMovedError(RuntimeError):
    """`champion` is not where the caller saw it: someone moved it in between."""

    def __init__(self, name: str, alias: str, expected: str | None, found: str | None) -> None:
        def where(version: str | None) -> str:
            return "nowhere" if version is None else f"version {version}"

        super().__init__(f"{name} {alias} moved from {where(expected)} to {where(found)} since it was read")
        self.expected, self.found = expected, found


def set_champion(
    client: MlflowClient, name: str, version: str, aliases: Aliases, reason: str, expected: str | None = ANY_CHAMPION
) -> str | None:
    """Point `champion` at `version`, remember the version it replaces, and return that one.

    With `expected` (a version, or None for "no champion"), a compare-and-set: the move is refused
    with ChampionMovedError unless `champion` is still there. MLflow has no conditional alias
    update, so this re-reads the alias right before the move; a move by someone else between that
    read and the write (one registry round trip) is not seen.
    """
    model_version(client, name, version)  # fails clearly on a version that does not exist
    version = str(version)
    # Aliases and history in one read, as close to the write as possible.
    model = client.get_registered_model(name)
    # MLflow returns version numbers as int from some calls and str from others: compare as str.
    previous = None if model.aliases.get(aliases.champion) is None else str(model.aliases[aliases.champion])
    if previous == version:
        log.info("%s version %s is already %s", name, version, aliases.champion)
        return previous
    if expected != ANY_CHAMPION and previous != expected:
        raise ChampionMovedError(name, aliases.champion, expected, previous)
    client.set_registered_model_alias(name, aliases.champion, version)
    history = [v for v in model.tags.get(HISTORY_TAG, "").split(",") if v]
    # A champion set by hand in the MLflow UI is not in the history yet: keep it so rollback finds it.
    if previous is not None and (not history or history[-1] != previous):
        history.append(previous)
    history.append(version)
    _write_history(client, name, history, aliases)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(name, version, "champion.promoted_at", now)
    client.set_model_version_tag(name, version, "champion.reason", reason)
    if str(model.aliases.get(aliases.challenger)) == version:
        client.delete_registered_model_alias(name, aliases.challenger)
    log.info("%s %s: version %s -> %s (%s)", name, aliases.champion, previous, version, reason)
    return previous


def _quoted(value: str) -> str:
    """`value` as a string literal of an MLflow search filter, which has quotes but no escapes."""
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise ValueError(f"cannot search MLflow for a value holding both kinds of quote: {value!r}")


def registered_for_run(client: MlflowClient, name: str, run_key: str) -> ModelVersion | None:
    """The version of `name` a training for `run_key` (an Airflow run id) already registered, or None.

    Found through the MLflow run, tagged with the key when it started: a version registered by
    an attempt that died before it could tag the version is found too.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return None
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = {_quoted(run_key)}")
    versions = [v for run in runs for v in client.search_model_versions(f"run_id = '{run.info.run_id}'") if v.name == name]
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.version))
    if len(versions) > 1:
        # Only from before trainings were keyed on their Airflow run: the newest is the one last gated.
        log.warning(
            "%s versions %s all belong to Airflow run %s: using %s", name, sorted(v.version for v in versions), run_key, newest.version
        )
    return newest


def rollback_champion(client: MlflowClient, name: str, aliases: Aliases, reason: str) -> tuple[str, str]:
    """Move `champion` back to the previous champion; returns (from version, to version).

    Only aliases and tags change: nothing is retrained or copied, so it takes as long as a
    few registry calls.
    """
    current = version_by_alias(client, name, aliases.champion)
    if current is None:
        raise LookupError(f"model {name!r} has no {aliases.champion!r} to roll back from")
    current_version = str(current.version)
    history = champion_history(client, name)
    if history and history[-1] == current_version:
        history.pop()
    while history:
        try:
            model_version(client, name, history[-1])
            break
        except LookupError:
            log.warning("previous champion %s version %s no longer exists; looking further back", name, history[-1])
            history.pop()
    if not history:
        raise LookupError(f"model {name!r} has no previous {aliases.champion!r} before version {current_version}")
    target = history[-1]
    client.set_registered_model_alias(name, aliases.champion, target)
    _write_history(client, name, history, aliases)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(name, current_version, "champion.rolled_back_at", now)
    client.set_model_version_tag(name, current_version, "champion.rollback_reason", reason)
    log.info("%s %s rolled back: version %s -> %s (%s)", name, aliases.champion, current_version, target, reason)
    return current_version, target
