"""Retention of scoring run folders (nightshift.scoring.run_folders) on a folder tree made by hand."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nightshift.scoring.run_folders import clean_run_folders

pytestmark = pytest.mark.unit

NOW = datetime(2026, 7, 30, tzinfo=UTC)


def _run(work: Path, kind: str, day: str, name: str, age_days: float) -> Path:
    folder = work / kind / f"score_date={day}" / f"run={name}"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").write_bytes(b"x")
    stamp = (NOW - timedelta(days=age_days)).timestamp()
    os.utime(folder, (stamp, stamp))
    return folder


def test_a_day_whose_runs_are_all_deleted_loses_its_folder_and_files_outside_run_folders_stay(tmp_path: Path) -> None:
    old = _run(tmp_path, "scores", "2026-06-01", "failed", 30)
    loose = tmp_path / "scores" / "score_date=2026-06-02" / "part-0.parquet"  # what a day scored before run folders holds
    loose.parent.mkdir(parents=True)
    loose.write_bytes(b"y")
    cleaned = clean_run_folders(tmp_path, [], 7, NOW)
    assert cleaned.removed == [str(old)] and not old.parent.exists()
    assert loose.read_bytes() == b"y"


def test_a_retention_under_a_day_is_refused_since_a_younger_folder_may_be_a_run_still_scoring(tmp_path: Path) -> None:
    young = _run(tmp_path, "features", "2026-07-29", "running", 0.5)
    with pytest.raises(ValueError, match="keep_run_folders_days must be at least 1"):
        clean_run_folders(tmp_path, [], 0.25, NOW)
    assert young.exists()
