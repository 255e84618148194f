"""A trained model and its evaluation as plain files: what a `dvc.yaml` stage declares as outs, metrics and plots.

The booster is saved in XGBoost's own UBJSON format (no timestamps, no pickling), metrics as
JSON with sorted keys, and the ROC, precision-recall and calibration curves as CSV that
`dvc plots show` renders. Same model and evaluation, same bytes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class OutputPaths:
    """Where the model file, the metrics JSON and the folder of curve CSVs go."""

    model: Path
    metrics: Path
    plots: Path


def roc_points(labels, probabilities) -> list[dict[str, float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, probabilities)
    return [{"fpr": float(f), "tpr": float(t)} for f, t in zip(fpr, tpr, strict=True)]


def precision_recall_points(labels, probabilities) -> list[dict[str, float]]:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(labels, probabilities)
    return [{"recall": float(r), "precision": float(p)} for r, p in zip(recall, precision, strict=True)]


def calibration_points(labels, probabilities, bins: int) -> list[dict[str, float]]:
    from sklearn.calibration import calibration_curve

    # Quantile bins, as the MLflow calibration figure draws them: churn is rare, equal-width bins would be near empty.
    observed, predicted = calibration_curve(labels, probabilities, n_bins=bins, strategy="quantile")
    return [{"predicted": float(p), "observed": float(o)} for p, o in zip(predicted, observed, strict=True)]


def thinned(rows: Sequence[Mapping[str, float]], max_points: int) -> list[Mapping[str, float]]:
    """At most `max_points` of a curve, evenly spaced along it, first and last kept.

    A curve has a point per distinct score (thousands), far more than a plot shows or a
    git-tracked CSV should hold; the same curve is always thinned to the same points.
    """
    if max_points < 2:
        raise ValueError(f"a curve needs at least 2 points, got max_points={max_points}")
    if len(rows) <= max_points:
        return list(rows)
    step = (len(rows) - 1) / (max_points - 1)
    return [rows[round(i * step)] for i in range(max_points)]


def _write_csv(path: Path, rows: Sequence[Mapping[str, float]]) -> None:
    if not rows:
        raise ValueError(f"no points to write to {path}")
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        # repr of a float round-trips exactly: the same curve gives the same text.
        writer.writerows({k: repr(v) for k, v in row.items()} for row in rows)


def write_outputs(
    paths: OutputPaths, model, labels, probabilities, metrics: Mapping[str, Any], calibration_bins: int, curve_points: int
) -> None:
    """Save the booster, the metrics and the ROC, precision-recall and calibration curves where `paths` say.

    The ROC and precision-recall curves keep at most `curve_points` points (`thinned`).
    """
    for folder in (paths.model.parent, paths.metrics.parent, paths.plots):
        folder.mkdir(parents=True, exist_ok=True)
    model.get_booster().save_model(str(paths.model))
    paths.metrics.write_text(json.dumps(dict(metrics), indent=2, sort_keys=True) + "\n")
    _write_csv(paths.plots / "roc.csv", thinned(roc_points(labels, probabilities), curve_points))
    _write_csv(paths.plots / "precision_recall.csv", thinned(precision_recall_points(labels, probabilities), curve_points))
    _write_csv(paths.plots / "calibration.csv", calibration_points(labels, probabilities, calibration_bins))
