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

from nightshift.feature_list import KEYS, feature_columns
from nightshift.model.registry import ServingModel, serving_model
from nightshift.score_reasons import EXACT, REASON_COLUMNS, reasons_mode
from nightshift.scoring.data_version import data_version, parquet_files
from nightshift.scoring.rollout import Canary

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from nightshift.scoring.shadow import ChallengerRun
    from nightshift.warehouse.publish import Published, ScoreLineage

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
    """(customer_id, churn_probability, reasons) record batches of the scores Parquet at ``path``, one at a time."""
    return parquet_batches(path, ["customer_id", "churn_probability", *REASON_COLUMNS], batch_size)


def score_day(
    spark: SparkSession,
    features_path: Path,
    score_date: date,
    database_url: str,
    model_name: str,
    windows: Sequence[int],
    scores_dir: Path,
    alias: str = "champion",
    reasons: str = EXACT,
) -> dict[str, Any]:
    """Score ``score_date`` with the model behind ``alias`` and replace that date's rows in ``churn_scores``.

    The scores are written to ``scores_dir`` (replaced): a folder of the run's own, recorded in ``scoring_runs``
    with ``features_path``, so the files of the date's published run are the ones its rows came from.
    """
    from nightshift.warehouse.schema import ensure_schema

    # Schema first: an unreachable database fails the run before any Spark work is spent.
    ensure_schema(database_url)
    # Pinned to a version number here, so every row of the date carries the same one.
    model = serving_model(model_name, alias)
    return score_and_publish(spark, features_path, score_date, database_url, windows, scores_dir, model, reasons=reasons)


def score_and_publish(
    spark: SparkSession,
    features_path: Path,
    score_date: date,
    database_url: str,
    windows: Sequence[int],
    scores_dir: Path,
    served: ServingModel,
    challenger: ServingModel | None = None,
    canary: Canary | None = None,
    reasons: str = EXACT,
) -> dict[str, Any]:
    """Score ``score_date`` with ``served`` (and ``challenger`` in shadow and canary) and publish: every scoring's one path.

    Without a challenger the served model scores everyone and nothing goes to the shadow table. A challenger
    that does not load or fails in the Spark pass is recorded as a failed shadow run; the served rows never
    depend on it (nightshift.scoring.shadow). ``reasons`` is every row's attribution (params.yaml ``scoring.reasons``).
    """
    reasons = reasons_mode(reasons)  # before the run is recorded: a bad setting is no failed scoring run
    from nightshift.scoring.predict import load_booster
    from nightshift.scoring.shadow import ChallengerRun
    from nightshift.warehouse.audit import scoring_run

    columns = feature_columns(windows)
    folders = {"features_path": str(features_path), "scores_path": str(scores_dir)}
    shadow = None if challenger is None else ChallengerRun.load(challenger, columns, score_date, canary or Canary(0.0, "none"))
    # The block is the audited run: a failure in it is recorded, a worker killed in it is found by the next run.
    with scoring_run(database_url, score_date, served.name, served.version, served.run_id, **folders) as run:
        booster = load_booster(served.uri, columns)
        # scored_at is audit metadata only: rows are keyed on score_date, so a rerun replaces them whatever the clock says.
        data_version, scored_at = fingerprint(features_path), datetime.now(UTC)
        _predict(spark, features_path, booster, columns, scores_dir, shadow, reasons)
        published = _publish_served(database_url, score_date, _lineage(served, data_version, scored_at), scores_dir, run, shadow)
    canary_rows = 0 if shadow is None else shadow.count_canary_rows(scores_dir, published.rows)
    shadow_result = (
        None if shadow is None else shadow.publish(database_url, _lineage(shadow.model, data_version, scored_at), scores_dir, folders)
    )
    result = {
        "score_date": score_date.isoformat(),
        "rows": published.rows,
        "replaced": published.replaced,
        "model_name": served.name,
        "model_version": served.version,
        "run_id": served.run_id,
        "data_version": data_version,
        "scores_path": str(scores_dir),
        "scoring_run": run,
        "mean_probability": published.mean_probability,
        "shadow": shadow_result,
        "canary_rows": canary_rows,
        "reasons": reasons,
    }
    log.info("scored %s", result)
    return result


def _lineage(model: ServingModel, data_version: str, scored_at: datetime) -> ScoreLineage:
    from nightshift.warehouse.publish import ScoreLineage

    return ScoreLineage(model.name, model.version, model.run_id, data_version, scored_at)


def _predict(
    spark: SparkSession,
    features_path: Path,
    booster: bytes,
    columns: list[str],
    scores_dir: Path,
    shadow: ChallengerRun | None,
    reasons: str,
) -> None:
    """Write the day's scores to ``scores_dir``: both models' in one pass when the challenger can score, else the served one's."""
    from nightshift.scoring.predict import score_features

    t0 = time.monotonic()
    pair = shadow is not None and shadow.score_pair(spark, features_path, booster, columns, scores_dir, reasons)
    if not pair:
        score_features(spark, features_path, booster, columns, scores_dir, reasons)
    models = "champion and challenger" if pair else "champion"
    log.info("predicted on Spark in %.1fs (%s; reasons: %s)", time.monotonic() - t0, models, reasons)


def _publish_served(
    database_url: str, score_date: date, lineage: ScoreLineage, scores_dir: Path, run: int, shadow: ChallengerRun | None
) -> Published:
    """Replace the date's rows in ``churn_scores``: the canary's customers get the challenger's scores, the others the served model's."""
    from nightshift.scoring.shadow import pair_batches
    from nightshift.warehouse.publish import publish_score_batches

    if shadow is None or not shadow.serves_canary:
        return publish_score_batches(database_url, score_date, lineage, iter_score_batches(scores_dir), run)
    canary = [
        (_lineage(shadow.model, lineage.data_version, lineage.scored_at), pair_batches(scores_dir, "challenger_probability", canary=True))
    ]
    served = pair_batches(scores_dir, "churn_probability", canary=False)
    return publish_score_batches(database_url, score_date, lineage, served, run, more=canary)
