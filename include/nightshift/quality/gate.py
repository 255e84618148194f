"""The blocking quality gate: every validation is recorded, and what fails is quarantined.

Around each GX validation (a raw day, a day's features, a training set) the gate writes
one `data_quality_runs` row per suite into PostgreSQL, passing or not. On failure the
verdict is recorded first; then the gate copies the failing data to the quarantine folder
with the validation result beside it, and re-raises, so the task fails before anything
downstream runs. The copy is best effort: a copy that fails (disk full, folder not
writable) is logged and recorded on the failed rows (`quarantine_error`), and the task
still fails as bad data. Nothing published is touched: the gate only reads the data and
adds audit rows.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg2

from nightshift.contract import customers_partition, events_partition
from nightshift.quality.audit import record_quality_runs, record_quarantine
from nightshift.quality.validation import DataQualityError

log = logging.getLogger(__name__)


def quarantine(sources: Sequence[Path], destination: Path, error: DataQualityError) -> Path:
    """Copy the failing data under `destination` (replaced) with validation_result.json beside it."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for source in sources:
        if source.is_dir():
            shutil.copytree(source, destination / source.parent.name / source.name)
    result = {"message": str(error), "suites": error.suites, "failures": error.failures, "results": error.results}
    (destination / "validation_result.json").write_text(json.dumps(result, indent=2, default=str))
    log.error("quarantined %s -> %s", [str(s) for s in sources], destination)
    return destination


def _quarantine_best_effort(
    sources: Sequence[Path], destination: Path, error: DataQualityError, database_url: str, failed_ids: Sequence[int]
) -> None:
    """Quarantine, and record on the failed rows where the copy went or why it failed; never raises over the verdict."""
    try:
        where, problem = quarantine(sources, destination, error), None
    except OSError as exc:  # disk full, folder not writable, a file where a folder should be
        where, problem = None, f"quarantine to {destination} failed: {type(exc).__name__}: {exc}"
        log.error("%s; the failed validation is recorded all the same", problem)
        # A half-written copy would pass for the failing data: leave none.
        shutil.rmtree(destination, ignore_errors=True)
    try:
        record_quarantine(database_url, failed_ids, where, problem)
    except psycopg2.Error as exc:  # the warehouse went down between the two writes
        # The verdict is on record already; only where its copy went is missing.
        log.error("could not record the quarantine of runs %s (%s): %s", list(failed_ids), where or problem, exc)


def gated(
    validate: Callable[[], dict[str, Any]],
    *,
    logical_date: date,
    database_url: str,
    quarantine_sources: Sequence[Path],
    quarantine_dir: Path,
    row_count: Callable[[dict[str, Any]], int | None] = lambda summary: None,
) -> dict[str, Any]:
    """Run `validate`, record the outcome, quarantine on failure and re-raise."""
    try:
        summary = validate()
    except DataQualityError as error:
        # The verdict first: whatever happens to the copy, the day is on record as failed.
        failed_ids = record_quality_runs(database_url, logical_date, error.suites, error.failures, None, str(error))
        _quarantine_best_effort(quarantine_sources, quarantine_dir, error, database_url, failed_ids)
        raise
    record_quality_runs(database_url, logical_date, summary["suites"], row_count=row_count(summary))
    return summary


def gate_raw_day(
    day: date,
    data_dir: Path,
    database_url: str,
    quarantine_root: Path,
    row_count_band: dict[str, float],
) -> dict[str, Any]:
    """The raw landing-zone gate of a scoring day."""
    from nightshift.quality.validation import validate_raw_day

    return gated(
        lambda: validate_raw_day(day, data_dir, row_count=row_count_band),
        logical_date=day,
        database_url=database_url,
        quarantine_sources=[events_partition(data_dir, day), customers_partition(data_dir, day)],
        quarantine_dir=quarantine_root / "raw" / day.isoformat(),
        row_count=lambda summary: summary["rows"]["events"],
    )


def gate_parquet(
    suite: str,
    spark: Any,
    path: Path,
    logical_date: date,
    parameters: dict[str, Any],
    database_url: str,
    quarantine_root: Path,
    windows: Sequence[int],
    note: str | None = None,
) -> dict[str, Any]:
    """Validate a Parquet output of a Spark job (features, training_set) in Spark itself.

    `windows` is params.yaml's features.windows_days: the suite must check that feature list.
    `note` says where `parameters` came from (the features' mean bands: which model's reference).
    """
    from nightshift.quality.validation import validate_spark_frame

    frame = spark.read.parquet(str(path))
    return gated(
        lambda: {"suites": validate_spark_frame(suite, frame, f"{logical_date.isoformat()}", parameters, windows, note=note)},
        logical_date=logical_date,
        database_url=database_url,
        quarantine_sources=[path],
        quarantine_dir=quarantine_root / suite / logical_date.isoformat(),
    )
