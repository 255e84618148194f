"""Which files and which model version drift monitoring judges a day by: what ``scoring_runs`` recorded for it.

A ``churn_scores`` event (from the scheduler, or replayed by hand in drift_monitor's trigger form)
names a day, the version that scored it and its features and scores folders. The published run of
that day in ``scoring_runs`` is the authority: an event whose version or folders disagree with it,
or whose folders are not the day's run folders under the work dir, is refused, naming what
disagrees. A day given by date alone takes everything from the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from nightshift.config import FEATURES, RUN_PREFIX, SCORES, day_runs_dir
from nightshift.warehouse.audit import PublishedRun

# The event's keys checked against the record, with the record's attribute each must equal.
_CHECKED = {"model_name": "model_name", "model_version": "model_version", "run_id": "run_id"}
_FOLDERS = {"features_path": FEATURES, "scores_path": SCORES}


class RefusedEventError(ValueError):
    """A churn_scores event that disagrees with what scoring_runs recorded for its day."""


@dataclass(frozen=True)
class ScoredDay:
    """A day as its published scoring run left it: the version that scored it and the files its rows came from."""

    score_date: date
    model_name: str
    model_version: str
    features_path: Path
    scores_path: Path
    scoring_run: int


def _outside(path: str, kind: str, day: date, work: Path) -> str | None:
    """Why ``path`` is not one of ``day``'s run folders of ``kind`` under ``work``, or None when it is."""
    folder = day_runs_dir(kind, day, work)
    resolved = Path(path).resolve()
    if resolved.parent != folder.resolve() or not resolved.name.startswith(RUN_PREFIX):
        return f"{path} is not a run folder of {day} (expected {folder}/{RUN_PREFIX}<run>)"
    return None


def _disagreements(ref: dict[str, Any], run: PublishedRun, work: Path) -> list[str]:
    day, problems = run.score_date, []
    for key, attribute in _CHECKED.items():
        given, recorded = ref.get(key), getattr(run, attribute)
        if given not in (None, "") and str(given) != str(recorded):
            problems.append(f"{key} {given!r}, but {day} was published by scoring run {run.id} with {key} {recorded!r}")
    for key, kind in _FOLDERS.items():
        given, recorded = ref.get(key), getattr(run, key)
        if given in (None, ""):
            continue
        if Path(str(given)).resolve() == Path(str(recorded)).resolve():
            continue  # the record's own folder, checked with the record
        outside = _outside(str(given), kind, day, work)
        if outside:
            problems.append(f"{key} {outside}")
        else:
            another = f"is another run's: {day}'s published scoring run {run.id} wrote {recorded}"
            problems.append(f"{key} {given} {another} (trigger with score_date {day} to judge what it published)")
    return problems


def judged_day(ref: dict[str, Any], run: PublishedRun | None, work: Path) -> ScoredDay:
    """The day ``ref`` (an event's extra, or just its score_date) names, as ``run`` (its published run) recorded it.

    Raises LookupError when the day has no published run or the run recorded no folders, and
    RefusedEventError when ``ref`` disagrees with the record or names folders outside the day's.
    """
    day = date.fromisoformat(str(ref["score_date"]))
    if run is None:
        raise LookupError(f"{day} has no succeeded scoring run in scoring_runs: run nightly_scoring for it first")
    if not run.features_path or not run.scores_path:
        raise LookupError(
            f"{day}'s published scoring run {run.id} recorded no features or scores folder (it ran before scoring runs "
            f"recorded them): score {day} again with nightly_scoring (score_date={day}) to judge it"
        )
    problems = _disagreements(ref, run, work)
    # The record itself must name the day's folders too: a moved work dir is refused, not read from elsewhere.
    problems += [f"scoring_runs' {key} {why}" for key, kind in _FOLDERS.items() if (why := _outside(getattr(run, key), kind, day, work))]
    if problems:
        raise RefusedEventError(f"refusing the churn_scores event for {day}: " + "; ".join(problems))
    return ScoredDay(day, run.model_name, run.model_version, Path(run.features_path), Path(run.scores_path), run.id)


def judged_days(url: str, refs: list[dict[str, Any]], work: Path) -> list[ScoredDay]:
    """``judged_day`` of each ref, against the published run of its day read from the warehouse at ``url``."""
    from nightshift.warehouse.audit import published_run
    from nightshift.warehouse.schema import ensure_schema

    ensure_schema(url)
    return [judged_day(ref, published_run(url, date.fromisoformat(str(ref["score_date"]))), work) for ref in refs]
