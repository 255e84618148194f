"""Scoring a day with the champion and, in shadow, the challenger; optionally serving the challenger to a canary.

When the registry's `challenger` is a version other than `champion`, both boosters are broadcast
once and score every customer in one Spark pass over the day's features. `churn_scores` gets the
champion's rows, except for the canary's customers (``nightshift.scoring.rollout``), whose rows are
the challenger's, each row's `model_version` saying which. `churn_scores_shadow` then gets the
challenger's rows for every customer, through the same atomic, idempotent publish.

The champion comes first and never depends on the challenger: a challenger that does not load,
takes other inputs or fails in the Spark pass is logged as an error and recorded as a failed
`shadow` run in `scoring_runs`, and the day is scored and published by the champion alone. The
shadow publish starts only after the served rows are committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nightshift.features.columns import feature_columns
from nightshift.model.registry import Aliases, ServingModel, registry_client, serving_model, version_by_alias
from nightshift.scoring.rollout import Canary

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def shadow_challenger(name: str, aliases: Aliases, champion_version: str) -> ServingModel | None:
    """The version behind `challenger` when it is not the champion; None when there is nothing to shadow."""
    found = version_by_alias(registry_client(), name, aliases.challenger)
    if found is None or str(found.version) == str(champion_version):
        return None
    return ServingModel(name=name, version=str(found.version), run_id=found.run_id, uri=f"models:/{name}/{found.version}")


def pair_batches(path: Path, probability: str, canary: bool | None) -> Iterator[pa.RecordBatch]:
    """(customer_id, churn_probability) batches of the pair scores at ``path``.

    ``probability`` picks the model (``churn_probability``: champion, ``challenger_probability``);
    ``canary`` keeps only the canary's customers (True), only the others (False), or every row (None).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from nightshift.scoring.score import parquet_batches

    for batch in parquet_batches(path, ["customer_id", probability, "canary"]):
        if canary is not None:
            flags = batch.column("canary")
            batch = batch.filter(flags if canary else pc.invert(flags))
        if batch.num_rows:
            yield pa.RecordBatch.from_arrays(
                [batch.column("customer_id"), batch.column(probability)], names=["customer_id", "churn_probability"]
            )


def _lineage(model: ServingModel, data_version: str, scored_at: datetime) -> Any:
    from nightshift.warehouse.publish import ScoreLineage

    return ScoreLineage(model.name, model.version, model.run_id, data_version, scored_at)


def score_day_with_challenger(
    spark: SparkSession,
    features_path: Path,
    score_date: date,
    database_url: str,
    model_name: str,
    windows: Sequence[int],
    scores_dir: Path,
    aliases: Aliases,
    canary: Canary,
) -> dict[str, Any]:
    """Score ``score_date`` with the champion (and the challenger in shadow and canary); publish both.

    Without a challenger other than the champion this is ``score_day``: the champion serves everyone.
    """
    from nightshift.scoring.predict import check_booster_inputs, load_booster, score_features, score_features_pair
    from nightshift.scoring.score import fingerprint, iter_score_batches, score_day
    from nightshift.warehouse.audit import record_failed_run, scoring_run
    from nightshift.warehouse.publish import publish_score_batches
    from nightshift.warehouse.schema import SHADOW, SHADOW_TABLE, ensure_schema

    ensure_schema(database_url)
    champion = serving_model(model_name, aliases.champion)
    challenger = shadow_challenger(model_name, aliases, champion.version)
    if challenger is None:
        if canary.active:
            log.warning(
                "rollout.canary_fraction is %s but %s has no challenger besides the champion: the champion serves everyone",
                canary.fraction,
                model_name,
            )
        result = score_day(spark, features_path, score_date, database_url, model_name, windows, scores_dir, aliases.champion)
        return {**result, "shadow": None, "canary_rows": 0}

    columns = feature_columns(windows)
    problem: str | None = None
    challenger_raw: bytes | None = None
    try:
        challenger_raw = load_booster(challenger.uri, columns)
        check_booster_inputs(challenger_raw, columns, f"challenger {model_name} version {challenger.version}")
    except Exception as exc:  # whatever is wrong with the challenger, the champion still publishes
        problem = f"challenger version {challenger.version} cannot score: {type(exc).__name__}: {exc}"
        challenger_raw = None
        log.error("SHADOW SCORING FAILED for %s: %s; churn_scores is published by the champion alone", score_date, problem)

    folders = {"features_path": str(features_path), "scores_path": str(scores_dir)}
    with scoring_run(database_url, score_date, champion.name, champion.version, champion.run_id, **folders) as run:
        champion_raw = load_booster(champion.uri, columns)
        scored_at = datetime.now(UTC)
        data_version = fingerprint(features_path)
        served = _lineage(champion, data_version, scored_at)
        t0 = time.monotonic()
        pair = False
        if challenger_raw is not None:
            try:
                score_features_pair(spark, features_path, champion_raw, challenger_raw, columns, scores_dir, canary)
                pair = True
            except Exception as exc:
                problem = f"challenger version {challenger.version} failed in the scoring pass: {type(exc).__name__}: {exc}"
                log.error("SHADOW SCORING FAILED for %s: %s; scoring again with the champion alone", score_date, problem)
        if not pair:
            score_features(spark, features_path, champion_raw, columns, scores_dir)
        log.info("predicted on Spark in %.1fs (%s)", time.monotonic() - t0, "champion and challenger" if pair else "champion")
        if pair and canary.active:
            canary_lineage = _lineage(challenger, data_version, scored_at)
            published = publish_score_batches(
                database_url,
                score_date,
                served,
                pair_batches(scores_dir, "churn_probability", canary=False),
                run,
                more=[(canary_lineage, pair_batches(scores_dir, "challenger_probability", canary=True))],
            )
        else:
            published = publish_score_batches(database_url, score_date, served, iter_score_batches(scores_dir), run)
    canary_rows = _canary_rows(scores_dir) if pair and canary.active else 0
    if canary_rows:
        log.info(
            "canary: %d of %d served rows of %s come from challenger version %s",
            canary_rows,
            published.rows,
            score_date,
            challenger.version,
        )

    shadow: dict[str, Any]
    if pair:
        try:
            with scoring_run(
                database_url, score_date, challenger.name, challenger.version, challenger.run_id, SHADOW, **folders
            ) as shadow_run:
                shadow_published = publish_score_batches(
                    database_url,
                    score_date,
                    _lineage(challenger, data_version, scored_at),
                    pair_batches(scores_dir, "challenger_probability", canary=None),
                    shadow_run,
                    table=SHADOW_TABLE,
                )
            shadow = {"status": "succeeded", "model_version": challenger.version, "rows": shadow_published.rows, "scoring_run": shadow_run}
        except Exception as exc:  # recorded failed by scoring_run; the served rows are already committed
            log.error(
                "SHADOW PUBLISH FAILED for %s (challenger version %s): %s: %s", score_date, challenger.version, type(exc).__name__, exc
            )
            shadow = {"status": "failed", "model_version": challenger.version, "error": f"{type(exc).__name__}: {exc}"}
    else:
        failed = record_failed_run(
            database_url, score_date, challenger.name, challenger.version, challenger.run_id, SHADOW, str(problem), **folders
        )
        shadow = {"status": "failed", "model_version": challenger.version, "error": problem, "scoring_run": failed}

    result = {
        "score_date": score_date.isoformat(),
        "rows": published.rows,
        "replaced": published.replaced,
        "model_name": champion.name,
        "model_version": champion.version,
        "run_id": champion.run_id,
        "data_version": data_version,
        "scores_path": str(scores_dir),
        "scoring_run": run,
        "mean_probability": published.mean_probability,
        "shadow": shadow,
        "canary_rows": canary_rows,
    }
    log.info("scored %s", result)
    return result


def _canary_rows(path: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    flags = ds.dataset(str(path), format="parquet").to_table(columns=["canary"]).column("canary")
    return int(pc.sum(flags).as_py() or 0)
