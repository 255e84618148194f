"""A folder per scoring run, and the retention that deletes the old ones.

Each nightly_scoring run writes its day's features and scores under folders of its own,
``<work>/features/score_date=D/run=<name>/`` and ``<work>/scores/score_date=D/run=<name>/``, and
records both in ``scoring_runs``: a rerun or backfill of a day never rewrites files another run
published or drift monitoring is reading, and a run that fails between writing and publishing
leaves the published run's files as they were.

Old run folders are deleted once they are older than ``scoring.keep_run_folders_days``
(params.yaml), except the folders the latest published run of their date names: those are the
files that date's rows came from, which drift monitoring reads when the date is judged again.
"""

from __future__ import annotations

import errno
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nightshift.config import FEATURES, RUN_PREFIX, SCORES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cleaned:
    """What a retention pass did: the run folders it deleted, and how many it kept and why."""

    removed: list[str]
    kept_published: int
    kept_recent: int

    def as_dict(self) -> dict[str, object]:
        return {"removed": self.removed, "kept_published": self.kept_published, "kept_recent": self.kept_recent}


def run_folders(work: Path) -> list[Path]:
    """Every run=<name> folder of every scoring day under ``work``, features and scores."""
    return sorted(p for kind in (FEATURES, SCORES) for p in (work / kind).glob(f"score_date=*/{RUN_PREFIX}*") if p.is_dir())


def clean_run_folders(work: Path, published: Iterable[str | Path], keep_days: float, now: datetime) -> Cleaned:
    """Delete the run folders under ``work`` last written more than ``keep_days`` before ``now``, except ``published``.

    At least a day: a younger folder can belong to a run still scoring (several runs go at once), which
    has written its features but not yet published them.
    """
    if keep_days < 1:
        raise ValueError(f"scoring.keep_run_folders_days must be at least 1 (a younger folder may be a run still scoring), got {keep_days}")
    keep = {Path(p).resolve() for p in published}
    cutoff = (now - timedelta(days=keep_days)).timestamp()
    removed, kept_published, kept_recent = [], 0, 0
    for folder in run_folders(work):
        if folder.resolve() in keep:
            kept_published += 1
        elif folder.stat().st_mtime >= cutoff:
            kept_recent += 1
        else:
            shutil.rmtree(folder)
            removed.append(str(folder))
            _remove_if_empty(folder.parent)
    log.info(
        "run folders under %s: deleted %d older than %s days, kept %d published and %d recent",
        work,
        len(removed),
        keep_days,
        kept_published,
        kept_recent,
    )
    return Cleaned(removed, kept_published, kept_recent)


def _remove_if_empty(day: Path) -> None:
    """Remove a day's folder none of whose runs is left; one a run has just started writing into stays."""
    try:
        day.rmdir()
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):  # not empty: another run of the day has its folder there
            raise


def clean_scoring_folders(url: str, work: Path, keep_days: float, now: datetime | None = None) -> Cleaned:
    """The retention pass nightly_scoring ends with: every date's published folders (from ``scoring_runs``) are kept.

    ``now`` defaults to the clock: how old a folder is on disk is housekeeping, not the data of any day.
    """
    from nightshift.warehouse.audit import published_runs
    from nightshift.warehouse.schema import ensure_schema

    ensure_schema(url)
    published = [path for run in published_runs(url) for path in (run.features_path, run.scores_path) if path]
    return clean_run_folders(work, published, keep_days, now or datetime.now(UTC))
