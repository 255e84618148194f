"""nightshift: batch churn-model workflows (features, data checks, training, scoring)."""

__version__ = "0.1.0"
