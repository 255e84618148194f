"""From a published score to what built its model: `nightshift lineage`.

The chain: the `churn_scores` row (or a date's rows per model version) -> the registered
version -> its MLflow run (trigger, gate verdict) -> the DVC md5s of the training set and of
the raw data, and the training set's fingerprint -> the git commit -> the commands that
restore the training set by its md5 and rebuild the model.

Reading MLflow is `model_record`; everything after it is pure: `chain` turns the facts into one
JSON-able object, `render` into lines a person reads. What a run did not record is printed as
unknown with the reason, never guessed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from nightshift.model.lineage import (
    DVC_STAGE_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    RAW_DATA_MD5_TAG,
    TRAINING_SET_MD5_TAG,
    TRAINING_SET_REMOTE_TAG,
    UNKNOWN,
)
from nightshift.model.registry import RUN_KEY_TAG

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# Run tags that say what started a training (nightshift.airflow.context.trigger_tags) and which Airflow run.
TRIGGER_TAGS = ("trigger", "trigger.source", "drift.score_date", "drift.reason", "drift.columns", RUN_KEY_TAG, DVC_STAGE_TAG)


def _utc(millis: int | None) -> str | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")


def model_record(client: MlflowClient, name: str, version: str) -> dict[str, Any]:
    """What the registry and the tracking store hold of `name` `version` and its run, as plain values."""
    from nightshift.model.registry import aliases_by_version, mlflow_outages, model_version

    # A server that does not answer is said so, not shown as a version or run that is not there.
    with mlflow_outages():
        v = model_version(client, name, version)
        aliases = aliases_by_version(client, name).get(str(v.version), [])
        run = client.get_run(v.run_id) if v.run_id else None
        experiment = client.get_experiment(run.info.experiment_id) if run is not None else None
    return {
        "name": name,
        "version": str(v.version),
        "aliases": aliases,
        "version_tags": dict(v.tags),
        "run_id": v.run_id,
        "experiment_id": None if run is None else run.info.experiment_id,
        "experiment": None if experiment is None else experiment.name,
        "run_started": None if run is None else _utc(run.info.start_time),
        "run_tags": {} if run is None else dict(run.data.tags),
        "run_params": {} if run is None else dict(run.data.params),
    }


def restored_path(name: str, version: str) -> str:
    """Where the printed `dvc pull` puts a version's training set: git-ignored, beside the pipeline's own data."""
    return f"data/lineage/{name}-v{version}-training_set"


def restore_dvc_file(md5: str, target: str) -> str:
    """A `.dvc` file that `dvc pull` restores the object `md5` from, to `target` beside it (DVC 3 hashing)."""
    return f"outs:\n- md5: {md5}\n  hash: md5\n  path: {target}\n"


# What a value must look like before it goes into a printed command. Tags are free text that
# anyone who can write to the tracking server sets: a value that does not fit is unknown, not quoted
# into something that runs. The model name and version also make up file names, hence no "/".
COMMIT_RE = re.compile(r"[0-9a-f]{7,40}")
MD5_RE = re.compile(r"[0-9a-f]{32}(\.dir)?")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
VERSION_RE = re.compile(r"[0-9]+")


def reproduce(record: Mapping[str, Any]) -> list[str]:
    """Shell commands, run from the repository root, that restore the training set and rebuild the model.

    Only what is known and well-formed: without a commit there is no checkout, without the
    training set's md5 (or a model name fit for a file name) no pull. Every value is shell-quoted.
    """
    tags, unknown = record["run_tags"], _unknowns(record)
    commands: list[str] = []
    if "git.commit" not in unknown:
        commands.append(f"git checkout {shlex.quote(tags[GIT_COMMIT_TAG])}")
    if "data.training_set_md5" in unknown or "model" in unknown:
        return commands
    stem = f"{record['name']}-v{record['version']}"
    # The .dvc file sits in data/ itself: DVC refuses one inside a git-ignored folder such as data/lineage/.
    dvc_file = shlex.quote(f"data/lineage-{stem}.dvc")
    # printf's format is fixed; the file's lines are its arguments, so nothing in them is a printf escape.
    lines = " ".join(
        shlex.quote(line) for line in restore_dvc_file(tags[TRAINING_SET_MD5_TAG], f"lineage/{stem}-training_set").splitlines()
    )
    commands += [f"mkdir -p data && printf '%s\\n' {lines} > {dvc_file}", f"dvc pull {dvc_file}"]
    if tags.get(DVC_STAGE_TAG):
        # Trained by a dvc.yaml stage: the pipeline at that commit rebuilds it (same inputs, same bytes).
        commands.append("dvc repro")
    else:
        # Retrains from the restored set; --data is hashed as the raw data, so it should be the same landing zone.
        restored = shlex.quote(restored_path(record["name"], record["version"]))
        commands.append(f"nightshift model train --training-set {restored} --data data/raw --params params.yaml")
    return commands


def _malformed(record: Mapping[str, Any]) -> dict[str, str]:
    """Why a recorded value is unfit to build a command from, for each that is."""
    tags, why = record["run_tags"], {}
    name, version = str(record["name"]), str(record["version"])
    if not NAME_RE.fullmatch(name):
        why["model"] = f"the model name {name!r} is not a file name (letters, digits, _ . -)"
    elif not VERSION_RE.fullmatch(version):
        why["model"] = f"the model version {version!r} is not a number"
    commit = tags.get(GIT_COMMIT_TAG)
    if commit not in (None, UNKNOWN) and not COMMIT_RE.fullmatch(commit):
        why["git.commit"] = f"the run's {GIT_COMMIT_TAG} tag {commit!r} is not a git commit (7 to 40 hex digits)"
    for key, tag in (("data.training_set_md5", TRAINING_SET_MD5_TAG), ("data.raw_data_md5", RAW_DATA_MD5_TAG)):
        md5 = tags.get(tag)
        if md5 and not MD5_RE.fullmatch(md5):
            why[key] = f"the run's {tag} tag {md5!r} is not a DVC md5 (32 hex digits, .dir for a folder)"
    return why


def _unknowns(record: Mapping[str, Any]) -> dict[str, str]:
    tags, why = record["run_tags"], {}
    if record.get("run_id") is None:
        why["run"] = "the registered version names no MLflow run"
    commit = tags.get(GIT_COMMIT_TAG)
    if commit is None:
        why["git.commit"] = "the run has no git.commit tag (trained before commits were recorded)"
    elif commit == UNKNOWN:
        why["git.commit"] = "the run was trained outside a git checkout"
    if tags.get(GIT_DIRTY_TAG, UNKNOWN) not in ("true", "false"):
        why["git.dirty"] = "the run did not record whether the tree had uncommitted changes"
    for key, tag, what in (
        ("data.training_set_md5", TRAINING_SET_MD5_TAG, "training set"),
        ("data.raw_data_md5", RAW_DATA_MD5_TAG, "raw data"),
    ):
        if not tags.get(tag):
            why[key] = f"the run recorded no DVC md5 of its {what} (trained before DVC versioning)"
    if not record["run_params"].get("data.sha256"):
        why["data.training_set_fingerprint"] = "the run logged no data.sha256 param"
    return {**why, **_malformed(record)}


def _value(mapping: Mapping[str, Any], key: str) -> Any:
    value = mapping.get(key)
    return UNKNOWN if value in (None, "") else value


def _checked(tags: Mapping[str, Any], tag: str, key: str, unknown: Mapping[str, str]) -> Any:
    """The tag's value, or unknown when it is missing or malformed (the reason is in `unknown`)."""
    return UNKNOWN if key in unknown else _value(tags, tag)


def chain(record: Mapping[str, Any], served: Mapping[str, Any]) -> dict[str, Any]:
    """The facts from `served` (a score row, or a date's rows of one version) to the rebuild commands."""
    tags, params, vtags = record["run_tags"], record["run_params"], record["version_tags"]
    unknown = _unknowns(record)
    warnings = []
    if served.get("run_id") and record.get("run_id") and served["run_id"] != record["run_id"]:
        warnings.append(f"the scores name run {served['run_id']}, but version {record['version']} is run {record['run_id']}")
    dirty = tags.get(GIT_DIRTY_TAG, UNKNOWN)
    if dirty == "true":
        warnings.append("the tree had uncommitted changes when it trained: the commit does not reproduce it exactly")
    if not tags.get(DVC_STAGE_TAG) and not tags.get(TRAINING_SET_REMOTE_TAG) and "data.training_set_md5" not in unknown:
        warnings.append("the training set was not pushed by train_model: `dvc pull` finds it only if it was pushed (`dvc push`)")
    gate = vtags.get("gate.outcome") or tags.get("gate.outcome")
    return {
        "served": {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in served.items()},
        "model": {"name": record["name"], "version": record["version"], "aliases": list(record["aliases"])},
        "run": {
            "run_id": _value(record, "run_id"),
            "experiment": _value(record, "experiment"),
            "experiment_id": _value(record, "experiment_id"),
            "started": _value(record, "run_started"),
            "trigger": {k: tags[k] for k in TRIGGER_TAGS if tags.get(k)},
            "gate_outcome": gate or UNKNOWN,
            "gate_reason": vtags.get("gate.reason") or tags.get("gate.reason") or UNKNOWN,
        },
        "data": {
            "training_set_md5": _checked(tags, TRAINING_SET_MD5_TAG, "data.training_set_md5", unknown),
            "raw_data_md5": _checked(tags, RAW_DATA_MD5_TAG, "data.raw_data_md5", unknown),
            "training_set_fingerprint": _value(params, "data.sha256"),
            "training_set_rows": _value(params, "data.rows"),
            "training_set_dates": f"{_value(params, 'data.date_min')}..{_value(params, 'data.date_max')}",
            "training_set_path": _value(tags, "training_set"),
            "training_set_remote": tags.get(TRAINING_SET_REMOTE_TAG) or UNKNOWN,
            # Where the `dvc pull` below restores it; nothing is there until it runs.
            "restore_to": UNKNOWN
            if {"data.training_set_md5", "model"} & set(unknown)
            else restored_path(record["name"], record["version"]),
        },
        "code": {"commit": _checked(tags, GIT_COMMIT_TAG, "git.commit", unknown), "dirty": dirty},
        "unknown": unknown,
        "warnings": warnings,
        "reproduce": reproduce(record),
    }


def render(chains: list[dict[str, Any]], heading: str) -> str:
    """`nightshift lineage`'s human output: one block per model version, each link on its own line."""
    lines = [heading]
    for c in chains:
        served, model, run, data, code = c["served"], c["model"], c["run"], c["data"], c["code"]
        lines.append("")
        if "customer_id" in served:
            lines.append(
                f"score      customer {served['customer_id']} on {served['score_date']}: {served['churn_probability']:.4f} "
                f"(data_version {served['data_version']}, scored {served['scored_at']})"
            )
        else:
            lines.append(
                f"scores     {served['rows']} rows (data_version {served['data_version']}, "
                f"scored {served['scored_at_first']}..{served['scored_at_last']})"
            )
        aliases = f" [{', '.join(model['aliases'])}]" if model["aliases"] else " [no alias now]"
        lines.append(f"  model    {model['name']} version {model['version']}{aliases}")
        trigger = ", ".join(f"{k}={v}" for k, v in run["trigger"].items()) or "none recorded"
        lines.append(f"  run      {run['run_id']} in experiment {run['experiment']}, started {run['started']} (trigger: {trigger})")
        lines.append(f"  gate     {run['gate_outcome']}: {run['gate_reason']}")
        lines.append(
            f"  data     training set md5 {data['training_set_md5']}, raw data md5 {data['raw_data_md5']}, "
            f"fingerprint {data['training_set_fingerprint']} ({data['training_set_rows']} rows, {data['training_set_dates']})"
        )
        lines.append(f"  code     git commit {code['commit']} (dirty: {code['dirty']})")
        for key, why in c["unknown"].items():
            lines.append(f"  unknown  {key}: {why}")
        for warning in c["warnings"]:
            lines.append(f"  WARNING  {warning}")
        lines.append("  rebuild" if c["reproduce"] else "  rebuild  not possible from what the run recorded")
        lines += [f"    {command}" for command in c["reproduce"]]
    return "\n".join(lines)
