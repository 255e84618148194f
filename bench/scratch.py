"""A benchmark's scratch folder with a throwaway MLflow store: its models never reach the project's registry."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def scratch_root(prefix: str) -> Path:
    """A new temporary folder, with MLflow's tracking store and artifacts pointed inside it."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["NIGHTSHIFT_MLFLOW_ARTIFACTS"] = str(root / "mlartifacts")
    return root
