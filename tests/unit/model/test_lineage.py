"""What a model was built from (nightshift.model.lineage): the data fingerprint and the git commit."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from nightshift.config import project_home
from nightshift.model.lineage import UNKNOWN, data_fingerprint, git_commit

pytestmark = pytest.mark.unit


def _training_frame() -> pd.DataFrame:
    rows = [
        {"as_of_date": date(2026, 1, 5) + timedelta(days=7 * d), "customer_id": c, "sessions_7d": float(c + d), "label": (c + d) % 2}
        for d in range(3)
        for c in range(4)
    ]
    return pd.DataFrame(rows)


def test_fingerprint_ignores_row_order_and_date_representation() -> None:
    frame = _training_frame()
    base = data_fingerprint(frame)
    assert base["rows"] == 12 and base["dates"] == 3
    assert (base["date_min"], base["date_max"]) == ("2026-01-05", "2026-01-19")
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert data_fingerprint(shuffled)["sha256"] == base["sha256"]
    as_timestamps = frame.assign(as_of_date=pd.to_datetime(frame["as_of_date"]))
    assert data_fingerprint(as_timestamps)["sha256"] == base["sha256"]


def test_fingerprint_changes_with_one_value() -> None:
    frame = _training_frame()
    changed = frame.copy()
    changed.loc[5, "sessions_7d"] += 1
    assert data_fingerprint(changed)["sha256"] != data_fingerprint(frame)["sha256"]
    relabelled = frame.copy()
    relabelled.loc[0, "label"] = 1 - relabelled.loc[0, "label"]
    assert data_fingerprint(relabelled)["sha256"] != data_fingerprint(frame)["sha256"]


def test_git_commit_of_the_checkout_and_of_a_plain_folder(tmp_path: Path) -> None:
    outside = git_commit(tmp_path)
    assert outside == {"commit": UNKNOWN, "dirty": UNKNOWN}
    if not (project_home() / ".git").exists():
        pytest.skip("the project is not a git checkout here")
    inside = git_commit(project_home())
    assert len(inside["commit"]) == 40 and int(inside["commit"], 16) >= 0
    assert inside["dirty"] in {"true", "false"}


def test_a_runs_own_outputs_do_not_make_the_tree_dirty(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "tests@nightshift.invalid")
    git("config", "user.name", "nightshift tests")
    (tmp_path / "reports" / "plots").mkdir(parents=True)
    (tmp_path / "reports" / "metrics.json").write_text("{}")
    (tmp_path / "reports" / "plots" / "roc.csv").write_text("fpr,tpr")
    (tmp_path / "params.yaml").write_text("seed: 1")
    git("add", "-A")
    git("commit", "-qm", "baseline")
    # As while `dvc repro` runs the stage: its metrics and plots deleted, about to be written again.
    (tmp_path / "reports" / "metrics.json").unlink()
    (tmp_path / "reports" / "plots" / "roc.csv").unlink()
    own = [tmp_path / "reports" / "metrics.json", tmp_path / "reports" / "plots"]
    assert git_commit(tmp_path, own)["dirty"] == "false"
    assert git_commit(tmp_path)["dirty"] == "true"
    (tmp_path / "params.yaml").write_text("seed: 2")
    assert git_commit(tmp_path, own)["dirty"] == "true"
