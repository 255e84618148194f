"""The README's benchmark commands still run against the package as it is now, on tiny sizes.

A benchmark calls the package's functions directly; a changed signature would otherwise only show
when someone next runs `make bench-train`. The figures are not checked (no timed assertions), only
that each run completes and ends with its machine-readable RESULT line. The feature benchmark needs
DuckDB (`make bench-features` installs it) and is not run here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"bench/{script} {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_training_benchmark_runs() -> None:
    out = _run("train_speed.py", "--customers", "400")
    assert out.splitlines()[-1].startswith("RESULT train_vs_xgboost=")


def test_the_scoring_benchmark_runs() -> None:
    out = _run("scoring_throughput.py", "--rows", "5000", "--repeats", "1")
    assert out.splitlines()[-1].startswith("RESULT write_vs_copy=")
    for key in ("reasons_vs_plain", "approx_reasons_vs_plain", "reasons_vs_plain_champion_size"):
        assert f" {key}=" in out.splitlines()[-1]
