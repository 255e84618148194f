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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nightshift.model.registry import Aliases, ServingModel, registry_client, serving_model, version_by_alias
from nightshift.score_reasons import EXACT, REASON_COLUMNS
from nightshift.scoring.rollout import Canary

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from nightshift.warehouse.publish import ScoreLineage

log = logging.getLogger(__name__)
T = TypeVar("T")


def shadow_challenger(name: str, aliases: Aliases, champion_version: str) -> ServingModel | None:
    """The version behind `challenger` when it is not the champion; None when there is nothing to shadow."""
    found = version_by_alias(registry_client(), name, aliases.challenger)
    if found is None or str(found.version) == str(champion_version):
        return None
    return ServingModel(name=name, version=str(found.version), run_id=found.run_id, uri=f"models:/{name}/{found.version}")


def pair_batches(path: Path, probability: str, canary: bool | None) -> Iterator[pa.RecordBatch]:
    """(customer_id, churn_probability, reasons) batches of the pair scores at ``path``.

    ``probability`` picks the model (``churn_probability``: champion, ``challenger_probability``), and with it
    that model's reasons; ``canary`` keeps only the canary's customers (True), only the others (False), or every row (None).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from nightshift.scoring.predict import CHALLENGER
    from nightshift.scoring.score import parquet_batches

    prefix = CHALLENGER if probability.startswith(CHALLENGER) else ""
    stored = [probability, *(prefix + c for c in REASON_COLUMNS)]
    for batch in parquet_batches(path, ["customer_id", *stored, "canary"]):
        if canary is not None:
            flags = batch.column("canary")
            batch = batch.filter(flags if canary else pc.invert(flags))
        if batch.num_rows:
            yield pa.RecordBatch.from_arrays(
                [batch.column("customer_id"), *(batch.column(c) for c in stored)],
                names=["customer_id", "churn_probability", *REASON_COLUMNS],
            )


def isolated(step: Callable[[], T]) -> tuple[T | None, str | None]:
    """``step()`` and None, or None and what it raised: the challenger's failures are recorded, never the served rows'."""
    try:
        return step(), None
    except Exception as exc:  # whatever is wrong with the challenger, the champion still publishes
        return None, f"{type(exc).__name__}: {exc}"


@dataclass
class ChallengerRun:
    """The challenger's part of a day's scoring: its booster (or why it has none), its pass, its shadow publish."""

    model: ServingModel
    score_date: date
    canary: Canary
    booster: bytes | None
    problem: str | None
    paired: bool = False

    @classmethod
    def load(cls, model: ServingModel, columns: list[str], score_date: date, canary: Canary) -> ChallengerRun:
        """The challenger's booster, checked against the feature list; a problem (logged) when it cannot score."""
        from nightshift.scoring.predict import check_booster_inputs, load_booster

        def load_checked() -> bytes:
            raw = load_booster(model.uri, columns)
            check_booster_inputs(raw, columns, f"challenger {model.name} version {model.version}")
            return raw

        booster, error = isolated(load_checked)
        problem = None if error is None else f"challenger version {model.version} cannot score: {error}"
        if problem is not None:
            log.error("SHADOW SCORING FAILED for %s: %s; churn_scores is published by the champion alone", score_date, problem)
        return cls(model, score_date, canary, booster, problem)

    @property
    def serves_canary(self) -> bool:
        return self.paired and self.canary.active

    def score_pair(
        self, spark: SparkSession, features_path: Path, served: bytes, columns: list[str], scores_dir: Path, reasons: str = EXACT
    ) -> bool:
        """Both models in one Spark pass into ``scores_dir``; False (the problem recorded) when the challenger cannot.

        ``reasons`` is both models' attribution (params.yaml ``scoring.reasons``).
        """
        from nightshift.scoring.predict import score_features_pair

        booster = self.booster
        if booster is None:
            return False
        _, error = isolated(lambda: score_features_pair(spark, features_path, served, booster, columns, scores_dir, self.canary, reasons))
        if error is not None:
            self.problem = f"challenger version {self.model.version} failed in the scoring pass: {error}"
            log.error("SHADOW SCORING FAILED for %s: %s; scoring again with the champion alone", self.score_date, self.problem)
        self.paired = error is None
        return self.paired

    def count_canary_rows(self, scores_dir: Path, served_rows: int) -> int:
        """How many served rows are the challenger's (logged when any)."""
        rows = _canary_rows(scores_dir) if self.serves_canary else 0
        if rows:
            version = self.model.version
            log.info("canary: %d of %d served rows of %s come from challenger version %s", rows, served_rows, self.score_date, version)
        return rows

    def publish(self, database_url: str, lineage: ScoreLineage, scores_dir: Path, folders: dict[str, str]) -> dict[str, Any]:
        """The challenger's rows into ``churn_scores_shadow`` after the served rows are committed; or its failed run recorded."""
        from nightshift.warehouse.audit import record_failed_run, scoring_run
        from nightshift.warehouse.publish import publish_score_batches
        from nightshift.warehouse.schema import SHADOW, SHADOW_TABLE

        model, day = self.model, self.score_date
        if not self.paired:
            failed = record_failed_run(database_url, day, model.name, model.version, model.run_id, SHADOW, str(self.problem), **folders)
            return {"status": "failed", "model_version": model.version, "error": self.problem, "scoring_run": failed}

        def shadow_publish() -> tuple[int, int]:
            with scoring_run(database_url, day, model.name, model.version, model.run_id, SHADOW, **folders) as shadow_run:
                batches = pair_batches(scores_dir, "challenger_probability", canary=None)
                published = publish_score_batches(database_url, day, lineage, batches, shadow_run, table=SHADOW_TABLE)
            return published.rows, shadow_run

        # A failure is recorded failed by scoring_run; the served rows are already committed.
        done, error = isolated(shadow_publish)
        if done is None:
            log.error("SHADOW PUBLISH FAILED for %s (challenger version %s): %s", day, model.version, error)
            return {"status": "failed", "model_version": model.version, "error": error}
        return {"status": "succeeded", "model_version": model.version, "rows": done[0], "scoring_run": done[1]}


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
    reasons: str = EXACT,
) -> dict[str, Any]:
    """Score ``score_date`` with the champion (and the challenger in shadow and canary); publish both.

    Without a challenger other than the champion this is ``score_day``: the champion serves everyone.
    ``reasons`` is the rows' attribution (params.yaml ``scoring.reasons``).
    """
    from nightshift.scoring.score import score_and_publish
    from nightshift.warehouse.schema import ensure_schema

    ensure_schema(database_url)
    champion = serving_model(model_name, aliases.champion)
    challenger = shadow_challenger(model_name, aliases, champion.version)
    if challenger is None and canary.active:
        log.warning(
            "rollout.canary_fraction is %s but %s has no challenger besides the champion: the champion serves everyone",
            canary.fraction,
            model_name,
        )
    return score_and_publish(spark, features_path, score_date, database_url, windows, scores_dir, champion, challenger, canary, reasons)


def _canary_rows(path: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    flags = ds.dataset(str(path), format="parquet").to_table(columns=["canary"]).column("canary")
    return int(pc.sum(flags).as_py() or 0)
