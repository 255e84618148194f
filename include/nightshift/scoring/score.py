"""Score a day's features with the serving model on Spark and publish them to the warehouse.

The run is audited in ``scoring_runs``: recorded as running before any work, marked succeeded in the
same transaction that swaps the date's rows in, or failed with its error; a run whose worker was
killed is marked failed by the next scoring run (``nightshift.warehouse.audit``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nightshift.features.columns import KEYS, feature_columns
from nightshift.model.registry import serving_model
from nightshift.scoring.data_version import data_version, parquet_files

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Rows per batch streamed from the scores Parquet into COPY: ~3 MB encoded, large enough that
# per-batch overhead vanishes, small enough that the driver never holds much of the day.
STREAM_BATCH_ROWS = 131_072


def fingerprint(path: Path) -> str:
    """The day's features' data version: their content in key order, whatever the part-file layout."""
    return data_version(path, KEYS)


def parquet_batches(path: Path, columns: Sequence[str], batch_size: int = STREAM_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of ``columns`` of the Parquet file or folder at ``path``, one at a time."""
    import pyarrow.parquet as pq

    # One file and one row group at a time, decoded as it is read: a dataset scan reads ahead several
    # files' row groups, whose size grows with the day (the driver's memory rose with the rows scored).
    for file in parquet_files(path):
        reader = pq.ParquetFile(str(file), pre_buffer=False)
        yield from reader.iter_batches(batch_size=batch_size, columns=list(columns), use_threads=False)


def iter_score_batches(path: Path, batch_size: int = STREAM_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """(customer_id, churn_probability) record batches of the scores Parquet at ``path``, one at a time."""
    return parquet_batches(path, ["customer_id", "churn_probability"], batch_size)


def score_day(
    spark: SparkSession,
    features_path: Path,
    score_date: date,
    database_url: str,
    model_name: str,
    windows: Sequence[int],
    scores_dir: Path,
    alias: str = "champion",
) -> dict[str, Any]:
    """Score ``score_date`` with the model behind ``alias`` and replace that date's rows in ``churn_scores``.

    The scores are written to ``scores_dir`` (replaced): a folder of the run's own, recorded in ``scoring_runs``
    with ``features_path``, so the files of the date's published run are the ones its rows came from.
    """
    from nightshift.scoring.predict import load_booster, score_features
    from nightshift.warehouse.audit import scoring_run
    from nightshift.warehouse.publish import ScoreLineage, publish_score_batches
    from nightshift.warehouse.schema import ensure_schema

    # Schema first: an unreachable database fails the run before any Spark work is spent.
    ensure_schema(database_url)
    # Pinned to a version number here, so every row of the date carries the same one.
    model = serving_model(model_name, alias)
    # The block is the audited run: a failure in it is recorded, a worker killed in it is found by the next run.
    folders = {"features_path": str(features_path), "scores_path": str(scores_dir)}
    with scoring_run(database_url, score_date, model.name, model.version, model.run_id, **folders) as run:
        columns = feature_columns(windows)
        booster = load_booster(model.uri, columns)
        lineage = ScoreLineage(
            model_name=model.name,
            model_version=model.version,
            run_id=model.run_id,
            data_version=fingerprint(features_path),
            # Audit metadata only: rows are keyed on score_date, so a rerun replaces them whatever the clock says.
            scored_at=datetime.now(UTC),
        )
        t0 = time.monotonic()
        scores_path = score_features(spark, features_path, booster, columns, scores_dir)
        log.info("predicted on Spark in %.1fs", time.monotonic() - t0)
        published = publish_score_batches(database_url, score_date, lineage, iter_score_batches(scores_path), run)
    result = {
        "score_date": score_date.isoformat(),
        "rows": published.rows,
        "replaced": published.replaced,
        "model_name": model.name,
        "model_version": model.version,
        "run_id": model.run_id,
        "data_version": lineage.data_version,
        "scores_path": str(scores_path),
        "scoring_run": run,
        "mean_probability": published.mean_probability,
    }
    log.info("scored %s", result)
    return result
