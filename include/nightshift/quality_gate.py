"""The blocking quality gate: every validation is recorded, and what fails is quarantined.

Around each GX validation (a raw day, a day's features, a training set) the gate writes
one `data_quality_runs` row per suite into PostgreSQL, passing or not. On failure it
copies the failing data to the quarantine folder with the validation result beside it,
then re-raises, so the task fails before anything downstream runs. Nothing published is
touched: the gate only reads the data and adds audit rows.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from nightshift.quality import DataQualityError, customers_partition, events_partition

log = logging.getLogger(__name__)

QUALITY_TABLE = "data_quality_runs"
_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUALITY_TABLE} (
    id                  bigserial   PRIMARY KEY,
    logical_date        date        NOT NULL,
    suite               text        NOT NULL,
    success             boolean     NOT NULL,
    evaluated           integer     NOT NULL,
    failed              integer     NOT NULL,
    failed_expectations jsonb       NOT NULL,
    row_count           bigint,
    message             text,
    quarantine_path     text,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {QUALITY_TABLE}_date_suite ON {QUALITY_TABLE} (logical_date, suite);
"""


def record_quality_runs(
    url: str,
    logical_date: date,
    suites: dict[str, dict[str, Any]],
    failures: Sequence[dict[str, Any]] = (),
    row_count: int | None = None,
    message: str | None = None,
    quarantine_path: Path | None = None,
) -> None:
    """One row per suite in data_quality_runs (the table is created on first use)."""
    from nightshift.warehouse import connect

    # The warehouse's connection: same backoff and the same host-and-cause error when it is down.
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(_DDL)
        for suite, stats in suites.items():
            failed = [
                {k: f.get(k) for k in ("expectation", "column", "unexpected_count", "examples", "observed")}
                for f in failures
                if f["suite"] == suite
            ]
            cur.execute(
                f"INSERT INTO {QUALITY_TABLE} (logical_date, suite, success, evaluated, failed, failed_expectations,"
                " row_count, message, quarantine_path) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    logical_date,
                    suite,
                    bool(stats["success"]),
                    int(stats["evaluated"]),
                    int(stats["failed"]),
                    json.dumps(failed, default=str),
                    row_count,
                    None if stats["success"] else message,
                    None if stats["success"] or quarantine_path is None else str(quarantine_path),
                ),
            )


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
        where = quarantine(quarantine_sources, quarantine_dir, error)
        record_quality_runs(database_url, logical_date, error.suites, error.failures, None, str(error), where)
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
    from nightshift.quality import validate_raw_day

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
) -> dict[str, Any]:
    """Validate a Parquet output of a Spark job (features, training_set) in Spark itself."""
    from nightshift.quality import validate_spark_frame

    frame = spark.read.parquet(str(path))
    return gated(
        lambda: {"suites": validate_spark_frame(suite, frame, f"{logical_date.isoformat()}", parameters)},
        logical_date=logical_date,
        database_url=database_url,
        quarantine_sources=[path],
        quarantine_dir=quarantine_root / suite / logical_date.isoformat(),
    )


def suite_parameters(quality: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Expectation parameters of the features and training_set suites, from params.yaml's `quality`."""
    features = {}
    for column, (low, high) in quality["features"]["mean_bounds"].items():
        features[f"mean_{column}_min"] = low
        features[f"mean_{column}_max"] = high
    low, high = quality["training_set"]["label_rate"]
    training = {"label_rate_min": low, "label_rate_max": high, "training_min_rows": quality["training_set"]["min_rows"]}
    return {"features": features, "training_set": training}
