"""The project's .gitignore lets DVC see what `dvc add` tracks under data/ (real git and DVC in a temp repo)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_a_landing_zone_added_with_dvc_is_in_the_index_that_push_and_pull_use(tmp_path: Path) -> None:
    from dvc.repo import Repo

    repo = tmp_path / "project"
    repo.mkdir()
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    landing = repo / "data" / "raw" / "events" / "event_date=2026-01-01"
    landing.mkdir(parents=True)
    (landing / "part-0.csv").write_text("customer_id\n1\n")
    with Repo.init(str(repo)) as dvc:
        dvc.add(str(repo / "data" / "raw"))
    # git keeps the .dvc file and not the data, as the README's "Your own data" says.
    ignored = subprocess.run(["git", "-C", str(repo), "check-ignore", "data/raw.dvc", "data/raw/"], capture_output=True, text=True)
    assert ignored.stdout.split() == ["data/raw/"]
    # DVC walks the workspace with git's ignore rules: data/ itself must not count as ignored, or
    # `dvc push`, `dvc pull` and `dvc status` never see data/raw.dvc ("Everything is up to date").
    with Repo(str(repo)) as dvc:
        assert [Path(stage.path).relative_to(repo).as_posix() for stage in dvc.index.stages] == ["data/raw.dvc"]
