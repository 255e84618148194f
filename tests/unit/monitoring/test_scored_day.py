"""The check of a churn_scores event against its day's published run (nightshift.monitoring.scored_day), on records made by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from nightshift.monitoring.scored_day import RefusedEventError, judged_day
from nightshift.warehouse.audit import PublishedRun

pytestmark = pytest.mark.unit

DAY = date(2026, 7, 14)


def _record(work: Path, features: str | None = "run=a", scores: str | None = "run=a") -> PublishedRun:
    def folder(kind: str, name: str | None) -> str | None:
        return None if name is None else str(work / kind / "score_date=2026-07-14" / name)

    return PublishedRun(11, DAY, "served", "churn_xgb", "3", "mlflow-run", folder("features", features), folder("scores", scores))


def test_a_day_given_by_date_takes_the_records_version_and_folders(tmp_path: Path) -> None:
    judged = judged_day({"score_date": "2026-07-14"}, _record(tmp_path), tmp_path)
    assert (judged.model_version, judged.scoring_run) == ("3", 11)
    assert judged.scores_path == tmp_path / "scores" / "score_date=2026-07-14" / "run=a"


def test_an_event_with_a_model_version_of_another_type_but_the_same_value_is_accepted(tmp_path: Path) -> None:
    # A replay typed into the trigger form may give the version as a number.
    assert judged_day({"score_date": "2026-07-14", "model_version": 3}, _record(tmp_path), tmp_path).model_version == "3"


def test_a_run_recorded_before_runs_recorded_their_folders_asks_for_a_rescore(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match=r"run 11 recorded no features or scores folder .*score 2026-07-14 again with nightly_scoring"):
        judged_day({"score_date": "2026-07-14"}, _record(tmp_path, scores=None), tmp_path)


def test_a_record_outside_the_work_dir_is_refused_not_read_from_elsewhere(tmp_path: Path) -> None:
    moved = tmp_path / "new-work"
    with pytest.raises(RefusedEventError, match=r"scoring_runs' scores_path .*/scores/score_date=2026-07-14/run=a is not a run folder"):
        judged_day({"score_date": "2026-07-14"}, _record(tmp_path), moved)


def test_a_folder_of_the_day_that_is_not_a_run_folder_is_refused(tmp_path: Path) -> None:
    day_folder = str(tmp_path / "scores" / "score_date=2026-07-14")
    with pytest.raises(RefusedEventError, match="is not a run folder of 2026-07-14"):
        judged_day({"score_date": "2026-07-14", "scores_path": day_folder}, _record(tmp_path), tmp_path)
