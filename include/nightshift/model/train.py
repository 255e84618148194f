"""Train the churn model on a labelled training set, log it to MLflow and put it through the gate.

The snapshot dates of the training set are split in time (nightshift.model.split): the
newest are the evaluation window nothing else touches; a row of date d carries a label
read up to d + the label horizon, so the dates whose label window reaches into it are
dropped (a gap); the newest dates before the gap fit the calibration map, and every
older date trains. Cross-validation by customer inside the training dates chooses the
number of trees, then the served model is fit on all of them with that many trees.

The served probability is calibrated (nightshift.model.calibration): Platt scaling of the
booster's log-odds, fitted on the calibration dates and stored in the booster itself. Every
metric of the evaluation window, the gate's included, is of the calibrated probabilities;
`ece_before` and `ece_after` say what the map did to the expected calibration error there.

Every hyperparameter comes from params.yaml; seeds and thread counts are fixed, so the
same data gives the same model, metrics and predictions. The new version becomes
`challenger`, and the gate (nightshift.model.gate, applied by nightshift.model.lifecycle) decides whether it becomes `champion`.

A training keyed on its Airflow run (`run_key`) registers one version per run: a retry finds the
version an earlier attempt registered and gates it instead of training again.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nightshift.config import project_home
from nightshift.feature_list import KEYS, feature_columns
from nightshift.model.approval import gate_proposal
from nightshift.model.calibration import PLATT, PlattMap, attach, fit_platt, served_probabilities
from nightshift.model.evaluation import calibration_metrics, evaluation_metrics, training_reference
from nightshift.model.gate import GateDecision, GatePolicy
from nightshift.model.lifecycle import COMPARED_TAG, NO_CHAMPION, PROBLEM_TAG, champion_on_window, gate_version, recorded_decision
from nightshift.model.lineage import (
    DVC_STAGE_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    RAW_DATA_MD5_TAG,
    TRAINING_SET_MD5_TAG,
    UNKNOWN,
    data_fingerprint,
    dvc_md5,
    git_commit,
)
from nightshift.model.outputs import OutputPaths, write_outputs
from nightshift.model.registry import (
    RUN_KEY_TAG,
    Aliases,
    ensure_experiment,
    model_version,
    registered_for_run,
    registry_client,
    tag_version,
    version_by_alias,
)
from nightshift.model.split import TimeSplit, customer_folds, split_windows

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

# train section keys logged as run params as they are (the xgboost block is logged as xgb.*).
LOGGED_TRAIN_PARAMS = (
    "label_horizon_days",
    "sample_every_days",
    "window_days",
    "test_fraction",
    "calibration_dates",
    "cv_folds",
    "early_stopping_rounds",
    "seed",
)


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_name: str
    model_version: str
    champion: bool
    roc_auc: float
    pr_auc: float
    log_loss: float
    brier: float
    expected_calibration_error: float
    train_rows: int
    eval_rows: int
    n_trees: int
    gate: dict[str, Any]
    resumed: bool  # the version was registered by an earlier attempt of the same Airflow run
    # With approval required: the gate's passing verdict, unapplied, for a person to answer (nightshift.model.approval).
    proposal: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def effective_params(params: dict[str, Any], window_days: int | None = None, min_improvement: float | None = None) -> dict[str, Any]:
    """params.yaml with a run's trigger-form overrides applied; None keeps the file's value."""
    out = copy.deepcopy(params)
    if window_days is not None:
        out["train"]["window_days"] = int(window_days)
    if min_improvement is not None:
        out["gate"]["min_improvement"] = float(min_improvement)
    return out


def monotone_constraints(columns: list[str], increasing_prefixes: list[str]) -> dict[str, int]:
    """+1 for every column starting with one of the prefixes: more of it never lowers the score."""
    constraints = {c: 1 for c in columns if c.startswith(tuple(increasing_prefixes))}
    unmatched = [p for p in increasing_prefixes if not any(c.startswith(p) for c in columns)]
    if unmatched:
        raise ValueError(f"train.monotone_increasing names no feature: {unmatched} (features: {columns})")
    return constraints


def _settings(columns: list[str], train_params: dict[str, Any]) -> dict[str, Any]:
    return {
        **train_params["xgboost"],
        "random_state": int(train_params["seed"]),
        "monotone_constraints": monotone_constraints(columns, list(train_params.get("monotone_increasing", []))) or None,
    }


def choose_n_trees(train, columns: list[str], train_params: dict[str, Any]) -> int:
    """The number of trees that minimises the mean validation log loss over `train.cv_folds` customer folds.

    XGBoost's own cross-validation grows one booster per fold in lockstep and stops when the
    mean over the folds has not improved for `early_stopping_rounds`; its history ends at
    the best round, so its length is the number of trees.
    """
    import numpy as np
    import xgboost as xgb

    settings = _settings(columns, train_params)
    n_folds = int(train_params["cv_folds"])
    fold = customer_folds(train["customer_id"], n_folds)
    rows = np.arange(len(train))
    folds = [(rows[fold != k], rows[fold == k]) for k in range(n_folds)]
    # The classifier's own translation to booster parameters, so the folds grow the trees it would.
    booster_params = {k: v for k, v in xgb.XGBClassifier(**settings).get_xgb_params().items() if v is not None}
    history = xgb.cv(
        booster_params,
        xgb.DMatrix(train[columns], label=train["label"]),
        num_boost_round=int(settings["n_estimators"]),
        folds=folds,
        early_stopping_rounds=int(train_params["early_stopping_rounds"]),
        seed=int(train_params["seed"]),
    )
    return len(history)


def fit(split: TimeSplit, columns: list[str], train_params: dict[str, Any]):
    """XGBoost on every training date, with as many trees as cross-validation inside them chose.

    The served booster holds exactly those trees: early stopping on a single fit would
    leave the rounds after the best one in it, which only the scikit-learn wrapper knows
    to ignore, so a consumer of the raw booster would score with more trees than were judged.
    """
    import xgboost as xgb

    settings = _settings(columns, train_params)
    n_trees = choose_n_trees(split.train, columns, train_params)
    model = xgb.XGBClassifier(**{**settings, "n_estimators": n_trees})
    model.fit(split.train[columns], split.train["label"], verbose=False)
    log.info(
        "cross-validation chose %d of at most %s trees; fit on %d rows of %d dates",
        n_trees,
        settings.get("n_estimators"),
        len(split.train),
        split.train["as_of_date"].nunique(),
    )
    return model


def _load_training_set(path: Path, columns: list[str]):
    import pandas as pd

    frame = pd.read_parquet(path)
    missing = [c for c in [*KEYS, *columns, "label"] if c not in frame.columns]
    if missing:
        raise ValueError(f"training set {path} lacks columns {missing}")
    if frame["label"].nunique() < 2:
        raise ValueError(f"training set {path} has a single label value; cannot train")
    # Key order, not file order: Spark may write the same rows in another order, and
    # XGBoost's row sampling must see the same sequence to grow the same trees.
    return frame.sort_values(list(KEYS), kind="mergesort").reset_index(drop=True)


def serving_requirements() -> list[str]:
    """The model's Python environment, pinned to what trained it.

    Declared, not inferred: MLflow's inference loads the model in a subprocess to see what
    it imports, about ten seconds per training, to list what loading and scoring it needs,
    which is these.
    """
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "xgboost", "scikit-learn", "numpy", "pandas", "scipy")]


def _log_plots(labels, probabilities, raw, metrics: dict[str, float], importance: dict[str, float], bins: int) -> None:
    import mlflow

    from nightshift.model.plots import calibration_figure, importance_figure, precision_recall_figure, roc_figure

    curves = {f"booster (ECE {metrics['ece_before']:.4f})": raw, f"calibrated, served (ECE {metrics['ece_after']:.4f})": probabilities}
    figures = {
        "plots/roc.png": roc_figure(labels, probabilities, metrics["roc_auc"]),
        "plots/precision_recall.png": precision_recall_figure(labels, probabilities, metrics["pr_auc"]),
        "plots/calibration.png": calibration_figure(labels, curves, bins),
        "plots/feature_importance.png": importance_figure(importance),
    }
    for path, figure in figures.items():
        mlflow.log_figure(figure, path)


@dataclass(frozen=True)
class _Inputs:
    """What one training reads and is keyed on: the split training set, its fingerprint and lineage."""

    columns: list[str]
    split: TimeSplit
    fingerprint: dict[str, Any]
    commit: dict[str, str]
    dvc_hashes: dict[str, str]

    @property
    def evaluation(self):
        return self.split.evaluation


def train_model(
    training_set_path: Path,
    params: dict[str, Any],
    tags: dict[str, str] | None = None,
    force_promote: bool = False,
    run_key: str | None = None,
    *,
    raw_data_dir: Path,
    outputs: OutputPaths | None = None,
    defer_promotion: bool = False,
) -> TrainResult:
    """Fit, evaluate against the champion on the same window, log, register as challenger, gate.

    The run records the DVC md5 of the training set and of the raw data it was built from
    (`raw_data_dir`, the landing zone it was built from), as dvc.lock and `.dvc` files show them.
    `outputs` says where to also write the model file, its metrics and evaluation curves as
    plain files (nightshift.model.outputs), which a `dvc.yaml` stage declares.

    `run_key` (the Airflow run id) makes it safe to retry: when a version was already registered
    for that key, nothing is trained or registered again; that version is gated (or its
    recorded verdict returned if it was gated already).

    `defer_promotion` (params.yaml `rollout.approval: required`): a version that passes the gate is
    not made champion; the result carries the proposal a person answers (nightshift.model.approval).
    """
    model_name = params["model"]["name"]
    aliases = Aliases.from_params(params["model"])
    policy = GatePolicy.from_params(params.get("gate", {}))
    client = registry_client()
    resumed = _resume(client, model_name, run_key, policy, aliases, force_promote, defer_promotion)
    if resumed is not None:
        return resumed
    inputs = _read_inputs(training_set_path, params, raw_data_dir, outputs)
    champion = version_by_alias(client, model_name, aliases.champion)
    run_tags = _run_tags(training_set_path, inputs, champion, tags, run_key)
    version = _tracked_run(client, model_name, champion, inputs, params, policy, run_tags, outputs)
    _tag_version(client, model_name, version, inputs, run_key)
    # Judged on what the run logged, as a retry would judge it: one verdict per version.
    decision = gate_version(client, model_name, version, policy, aliases, force_promote, defer_promotion)
    return _result(client, model_name, version, decision, policy, resumed=False)


def _resume(
    client: MlflowClient, model_name: str, run_key: str | None, policy: GatePolicy, aliases: Aliases, force_promote: bool, defer: bool
) -> TrainResult | None:
    """The result of the version an earlier attempt of the same Airflow run registered, gated; None to train."""
    registered = None if run_key is None else registered_for_run(client, model_name, run_key)
    if registered is None:
        return None
    log.warning(
        "Airflow run %s already registered %s version %s (MLflow run %s): gating it instead of training again",
        run_key,
        model_name,
        registered.version,
        registered.run_id,
    )
    decision = gate_version(client, model_name, str(registered.version), policy, aliases, force_promote, defer)
    return _result(client, model_name, str(registered.version), decision, policy, resumed=True)


def _read_inputs(training_set_path: Path, params: dict[str, Any], raw_data_dir: Path, outputs: OutputPaths | None) -> _Inputs:
    """The training set split in time, with the fingerprint, git commit and DVC hashes it is known by."""
    train_params = params["train"]
    columns = feature_columns(params["features"]["windows_days"])
    frame = _load_training_set(training_set_path, columns)
    split = split_windows(
        frame,
        float(train_params["test_fraction"]),
        int(train_params["label_horizon_days"]),
        int(train_params["sample_every_days"]),
        calibration_dates=int(train_params["calibration_dates"]),
    )
    if any(part["label"].nunique() < 2 for part in (split.train, split.calibration, split.evaluation)):
        raise ValueError("the training, calibration or evaluation window holds a single label value; widen train.window_days")
    return _Inputs(
        columns=columns,
        split=split,
        fingerprint=data_fingerprint(frame),
        # A stage's own git-tracked outputs (metrics, plots) are deleted by `dvc repro` while it runs: not a dirty tree.
        commit=git_commit(project_home(), [] if outputs is None else [outputs.metrics, outputs.plots]),
        dvc_hashes={TRAINING_SET_MD5_TAG: dvc_md5(training_set_path), RAW_DATA_MD5_TAG: dvc_md5(raw_data_dir)},
    )


def _run_tags(
    training_set_path: Path, inputs: _Inputs, champion: ModelVersion | None, tags: dict[str, str] | None, run_key: str | None
) -> dict[str, str]:
    """The MLflow run's lineage tags: git commit, data hashes, the champion it was compared with, the Airflow run."""
    commit = inputs.commit
    run_tags = {
        **(tags or {}),
        GIT_COMMIT_TAG: commit["commit"],
        GIT_DIRTY_TAG: commit["dirty"],
        "training_set": str(training_set_path),
        **inputs.dvc_hashes,
        COMPARED_TAG: NO_CHAMPION if champion is None else str(champion.version),
        **({} if run_key is None else {RUN_KEY_TAG: run_key}),
        # `dvc repro` names the stage it runs: such a model is rebuilt by `dvc repro`, not by Airflow.
        **({DVC_STAGE_TAG: os.environ["DVC_STAGE"]} if os.environ.get("DVC_STAGE") else {}),
    }
    if commit["commit"] != UNKNOWN:
        # MLflow's own tag, so the UI shows the commit next to the run.
        run_tags["mlflow.source.git.commit"] = commit["commit"]
    return run_tags


def _tracked_run(
    client: MlflowClient,
    model_name: str,
    champion: ModelVersion | None,
    inputs: _Inputs,
    params: dict[str, Any],
    policy: GatePolicy,
    run_tags: dict[str, str],
    outputs: OutputPaths | None,
) -> str:
    """The MLflow run: log the inputs, fit, evaluate, compare with the champion, log the model; the registered version."""
    import mlflow

    train_params = params["train"]
    bins = int(train_params.get("calibration_bins", 10))
    ensure_experiment(model_name)
    with mlflow.start_run(run_name=f"train-{model_name}", tags=run_tags):
        _log_inputs(inputs, params, policy)
        model = fit(inputs.split, inputs.columns, train_params)
        _calibrate(model, inputs)
        raw = model.predict_proba(inputs.evaluation[inputs.columns])[:, 1]
        probabilities = served_probabilities(model, inputs.evaluation[inputs.columns])
        metrics = _log_evaluation(model, inputs, probabilities, raw, train_params, outputs)
        if champion is not None:
            _log_champion_on_window(client, model_name, champion, inputs.evaluation, int(train_params["label_horizon_days"]), bins)
        importance = model.get_booster().get_score(importance_type="total_gain")
        _log_plots(inputs.evaluation["label"], probabilities, raw, metrics, importance, bins)
        _log_reference_distributions(inputs, probabilities, train_params)
        return _log_registered_model(model, inputs.evaluation[inputs.columns], model_name)


def _log_inputs(inputs: _Inputs, params: dict[str, Any], policy: GatePolicy) -> None:
    import mlflow

    train_params = params["train"]
    windows = params["features"]["windows_days"]
    mlflow.log_params(
        {
            **{f"xgb.{k}": v for k, v in train_params["xgboost"].items()},
            **{k: train_params[k] for k in LOGGED_TRAIN_PARAMS},
            "monotone_increasing": ",".join(train_params.get("monotone_increasing", [])),
            "feature_windows": ",".join(str(w) for w in windows),
            "n_features": len(inputs.columns),
            **inputs.split.date_ranges(),
            **{f"data.{k}": v for k, v in inputs.fingerprint.items()},
            **{f"gate.{k}": json.dumps(v) if isinstance(v, dict) else v for k, v in asdict(policy).items()},
        }
    )
    mlflow.log_dict({"features": inputs.columns}, "features.json")
    mlflow.log_dict(inputs.fingerprint, "data/fingerprint.json")


def _calibrate(model, inputs: _Inputs) -> PlattMap:
    """Fit the Platt map on the calibration dates, store it in the booster and log it as params; the map."""
    import mlflow

    calibration = inputs.split.calibration
    margins = model.predict(calibration[inputs.columns], output_margin=True)
    fitted = fit_platt(margins, calibration["label"], inputs.split.date_ranges()["calib_dates"])
    attach(model, fitted)
    mlflow.log_params({"calibration.method": PLATT, "calibration.slope": fitted.slope, "calibration.intercept": fitted.intercept})
    log.info("calibration map on %s (%d rows, %d churned): %s", fitted.fitted_on, fitted.rows, fitted.positives, fitted)
    return fitted


def _log_evaluation(
    model, inputs: _Inputs, probabilities, raw, train_params: dict[str, Any], outputs: OutputPaths | None
) -> dict[str, float]:
    """The served (calibrated) probabilities' metrics on the evaluation window, logged (and written to `outputs`).

    ``raw`` are the booster's own probabilities, whose expected calibration error is ``ece_before``.
    """
    import mlflow

    evaluation, bins = inputs.evaluation, int(train_params.get("calibration_bins", 10))
    metrics = evaluation_metrics(evaluation, evaluation["label"], probabilities, bins)
    metrics["ece_before"] = calibration_metrics(evaluation["label"], raw, bins)["expected_calibration_error"]
    metrics["ece_after"] = metrics["expected_calibration_error"]
    calibration = inputs.split.calibration
    run_metrics = {
        **metrics,
        "calibration_rows": len(calibration),
        "calibration_label_rate": float(calibration["label"].mean()),
        "n_trees": int(model.n_estimators),
        "train_rows": len(inputs.split.train),
        "eval_rows": len(evaluation),
        "eval_label_rate": float(evaluation["label"].mean()),
    }
    mlflow.log_metrics(run_metrics)
    if outputs is not None:
        write_outputs(outputs, model, evaluation["label"], probabilities, run_metrics, bins, int(train_params["curve_points"]))
    return metrics


def _log_champion_on_window(client: MlflowClient, model_name: str, champion: ModelVersion, evaluation, horizon: int, bins: int) -> None:
    import mlflow

    champion_metrics, champion_problem = champion_on_window(client, model_name, champion, evaluation, horizon, bins)
    if champion_metrics is not None:
        # Both models on the same rows, side by side in the run.
        mlflow.log_metrics({f"champion_{k}": v for k, v in champion_metrics.items()})
    else:
        mlflow.set_tag(PROBLEM_TAG, champion_problem)


def _log_reference_distributions(inputs: _Inputs, probabilities, train_params: dict[str, Any]) -> None:
    import mlflow

    # One day (the newest evaluation date), not the pooled evaluation window: see training_reference.
    reference = training_reference(inputs.evaluation, inputs.columns, probabilities, int(train_params.get("reference_quantiles", 10)))
    mlflow.log_dict(reference, "reference/distributions.json")


def _log_registered_model(model, example_rows, model_name: str) -> str:
    """Log the booster with its signature and pinned requirements, registered under `model_name`; the new version."""
    import mlflow
    from mlflow.models import infer_signature

    example = example_rows.head(5)
    info = mlflow.xgboost.log_model(
        model,
        name="model",
        signature=infer_signature(example, served_probabilities(model, example)),
        input_example=example,
        registered_model_name=model_name,
        pip_requirements=serving_requirements(),
    )
    return str(info.registered_model_version)


def _tag_version(client: MlflowClient, model_name: str, version: str, inputs: _Inputs, run_key: str | None) -> None:
    # Lineage on the version itself, readable from the registry without opening the run.
    tags = {GIT_COMMIT_TAG: inputs.commit["commit"], "data.sha256": inputs.fingerprint["sha256"], **inputs.dvc_hashes}
    if run_key is not None:
        tags[RUN_KEY_TAG] = run_key
    tag_version(client, model_name, version, tags)


def _result(client: MlflowClient, model_name: str, version: str, decision: GateDecision, policy: GatePolicy, resumed: bool) -> TrainResult:
    """What a training returns, read back from the version's run: the same whether it trained now or earlier."""
    registered = model_version(client, model_name, version)
    metrics = client.get_run(registered.run_id).data.metrics
    # A passing verdict with no outcome on the version yet was deferred to a person: proposed, not applied.
    pending = decision.promoted and recorded_decision(registered) is None
    result = TrainResult(
        run_id=registered.run_id,
        model_name=model_name,
        model_version=str(version),
        champion=decision.promoted and not pending,
        gate=decision.as_dict(),
        resumed=resumed,
        proposal=gate_proposal(client, model_name, decision, policy).as_dict() if pending else None,
        **{k: float(metrics[k]) for k in ("roc_auc", "pr_auc", "log_loss", "brier", "expected_calibration_error")},
        **{k: int(metrics[k]) for k in ("train_rows", "eval_rows", "n_trees")},
    )
    log.info("trained %s", result)
    return result
