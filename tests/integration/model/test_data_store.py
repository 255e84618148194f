"""DVC hashes and restorable training sets (nightshift.model.lineage.dvc_md5, nightshift.model.data_store) on real DVC."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nightshift.model.data_store import REMOTE_ENV, store
from nightshift.model.lineage import dvc_md5

pytestmark = pytest.mark.integration


def _dvc(repo: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, f"dvc {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _training_set(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "part-00000.parquet").write_bytes(b"rows of a training set" * 100)
    (folder / "sub").mkdir()
    (folder / "sub" / "more.parquet").write_bytes(b"more rows")
    return folder


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv(REMOTE_ENV, raising=False)
    root = tmp_path / "project"
    root.mkdir()
    _dvc(root, "init", "--no-scm")
    _dvc(root, "remote", "add", "-d", "local", str(tmp_path / "remote"))
    return root


def test_dvc_md5_is_the_md5_dvc_add_records(repo: Path) -> None:
    folder = _training_set(repo / "training_set")
    ours = dvc_md5(folder)
    _dvc(repo, "add", "training_set")
    recorded = yaml.safe_load((repo / "training_set.dvc").read_text())["outs"][0]["md5"]
    assert ours == recorded and ours.endswith(".dir")
    single = folder / "part-00000.parquet"
    # A single file: the plain md5 of its bytes, as a `.dvc` file of one file records it.
    assert dvc_md5(single) == hashlib.md5(single.read_bytes()).hexdigest()


def test_stored_training_set_comes_back_from_the_remote_by_its_md5(repo: Path, tmp_path: Path) -> None:
    folder = _training_set(tmp_path / "work" / "as_of=2026-06-27")
    stored = store(folder, repo)
    assert stored.md5 == dvc_md5(folder) and stored.remote == "local" and stored.files == 2
    # Nothing local is left: neither the cache nor any copy in the workspace.
    shutil.rmtree(repo / ".dvc" / "cache")
    (repo / "restored.dvc").write_text(stored.dvc_file("restored"))
    _dvc(repo, "pull", "restored.dvc")
    assert dvc_md5(repo / "restored") == stored.md5
    assert (repo / "restored" / "sub" / "more.parquet").read_bytes() == b"more rows"


def test_a_named_remote_that_does_not_exist_is_an_error(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(REMOTE_ENV, "warehouse-bucket")
    with pytest.raises(Exception, match="warehouse-bucket"):
        store(_training_set(tmp_path / "ts"), repo)


def test_no_remote_at_all_is_an_error_naming_the_setting(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(REMOTE_ENV, raising=False)
    bare = tmp_path / "bare"
    bare.mkdir()
    _dvc(bare, "init", "--no-scm")
    with pytest.raises(RuntimeError, match=f"no DVC remote.*{REMOTE_ENV}"):
        store(_training_set(tmp_path / "ts"), bare)


def test_a_folder_that_is_no_dvc_repository_is_named(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="is not a DVC repository"):
        store(_training_set(tmp_path / "ts"), tmp_path / "ts")
