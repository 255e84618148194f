"""params.yaml: the pipeline's tunables, loaded once per call site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nightshift.config import params_path


def load_params(path: Path | None = None) -> dict[str, Any]:
    p = path or params_path()
    if not p.exists():
        raise FileNotFoundError(f"params file not found: {p} (set NIGHTSHIFT_PARAMS or run from the project root)")
    with p.open() as fh:
        return yaml.safe_load(fh)
