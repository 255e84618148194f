"""Evaluation plots of a churn model, as matplotlib figures for MLflow to store as images.

Figures are built with `matplotlib.figure.Figure` rather than pyplot: no global state and
no display backend, so they work the same in an Airflow worker, a test and a notebook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _axes(title: str, xlabel: str, ylabel: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.5), dpi=100)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def roc_figure(labels, probabilities, roc_auc: float) -> Figure:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, probabilities)
    fig, ax = _axes("ROC curve (evaluation window)", "false positive rate", "true positive rate")
    ax.plot(fpr, tpr, label=f"model (AUC {roc_auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def precision_recall_figure(labels, probabilities, pr_auc: float) -> Figure:
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(labels, probabilities)
    base_rate = float(np.mean(labels))
    fig, ax = _axes("Precision-recall (evaluation window)", "recall", "precision")
    ax.plot(recall, precision, label=f"model (AP {pr_auc:.3f})")
    ax.axhline(base_rate, linestyle="--", color="grey", label=f"base rate {base_rate:.3f}")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def calibration_figure(labels, curves: Mapping[str, object], bins: int = 10) -> Figure:
    """The reliability diagram: per decile of each score, its mean against the observed churn rate.

    ``curves`` maps a legend label to its probabilities: the booster's raw ones and the calibrated ones
    served, so the figure shows what the calibration map did on the evaluation window.
    """
    from sklearn.calibration import calibration_curve

    fig, ax = _axes("Reliability (score deciles, evaluation window)", "mean predicted probability", "observed churn rate")
    top = 0.05
    for label, probabilities in curves.items():
        # Quantile bins: churn is rare, so equal-width bins above the first few would be near empty.
        observed, predicted = calibration_curve(labels, probabilities, n_bins=bins, strategy="quantile")
        top = max(top, float(max(predicted)), float(max(observed)))
        ax.plot(predicted, observed, marker="o", label=label)
    top *= 1.05
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def importance_figure(importance: Mapping[str, float], top: int = 20) -> Figure:
    """Horizontal bars of the `top` features by importance (XGBoost total gain)."""
    ranked = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:top]
    fig, ax = _axes("Feature importance (total gain)", "total gain", "")
    names = [name for name, _ in reversed(ranked)]
    ax.barh(names, [value for _, value in reversed(ranked)])
    ax.tick_params(axis="y", labelsize=8)
    fig.set_size_inches(6.5, max(3.0, 0.3 * len(ranked) + 1.0))
    fig.tight_layout()
    return fig
