"""The realized-performance job: labels of matured score dates (Spark) against what was published (PostgreSQL).

Labels come from ``build_labels``, the rule training uses (churn in (d, d + horizon], read from the
label snapshot, purged customers kept), on the snapshots landed by the monitored day only. Plan and
region are the customer's on the score date. Scores are the rows of ``churn_scores``, whatever
version served them. Each date also gets its calibration bins (``model_calibration``,
nightshift.monitoring.calibration), from which the drift report adds up each month's calibration.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nightshift.contract import CUSTOMERS, CUSTOMERS_PARTITION
from nightshift.landing import landed_days
from nightshift.monitoring.calibration import calibration_rows
from nightshift.monitoring.performance import matured_dates, realized_rows
from nightshift.warehouse.calibration import ensure_calibration_schema, write_calibration
from nightshift.warehouse.estimated import refresh_estimation_error
from nightshift.warehouse.performance import (
    dates_with_performance,
    ensure_performance_schema,
    published_dates,
    published_scores,
    write_performance,
)
from nightshift.warehouse.rows import ALL, ROC_AUC

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

    from nightshift.monitoring.comparison import Bootstrap

log = logging.getLogger(__name__)


def dates_to_measure(url: str, data_dir: Path, day: date, horizon_days: int) -> dict[date, date]:
    """Published dates whose labels are known on ``day`` and not measured yet, each with its label snapshot."""
    from nightshift.warehouse.schema import ensure_schema

    ensure_schema(url)
    ensure_performance_schema(url)
    ensure_calibration_schema(url)
    done = dates_with_performance(url)
    scored = [d for d in published_dates(url) if d not in done]
    return matured_dates(scored, landed_days(data_dir, CUSTOMERS, CUSTOMERS_PARTITION), day, horizon_days)


def measure_realized(
    spark: SparkSession,
    url: str,
    data_dir: Path,
    day: date,
    todo: dict[date, date],
    horizon_days: int,
    calibration_bins: int,
    bootstrap: Bootstrap | None = None,
) -> list[dict[str, Any]]:
    """Compute and store the realized performance of each date of ``todo``; a summary per date.

    With ``bootstrap``, a date that also has a challenger's shadow rows gets its champion/challenger
    comparison (``model_comparison``) from the same labels.
    """
    from pyspark.sql import functions as F

    from nightshift.features.point_in_time import build_labels, read_customers

    # Arrow for the hand-over to pandas: a day's labels are not turned into Python row objects.
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    landed = [d for d in landed_days(data_dir, CUSTOMERS, CUSTOMERS_PARTITION) if d <= day]
    out = []
    for score_date, snapshot in sorted(todo.items()):
        # The score date's snapshot (who was active, plan, region) and every one up to the label snapshot
        # (a purged customer's churn_date is read from the last record before it vanished).
        customers = read_customers(spark, data_dir, [d for d in landed if score_date <= d <= snapshot])
        labels = build_labels(customers, [score_date], horizon_days, landed)
        segments = customers.where(F.col("snapshot_date") == F.lit(score_date)).select(
            F.col("snapshot_date").alias("as_of_date"), "customer_id", "plan", "region"
        )
        labelled = labels.join(segments, ["as_of_date", "customer_id"]).select("customer_id", "label", "plan", "region").toPandas()
        scores = published_scores(url, score_date)
        frame = scores.merge(labelled, on="customer_id", how="inner")
        if frame.empty:
            log.warning("%s: none of its %d published customers has a known label; nothing stored", score_date, len(scores))
            continue
        model_name = str(frame["model_name"].iloc[0])
        # Calibration first: the performance rows mark the date measured (nightshift.warehouse.calibration).
        write_calibration(url, score_date, snapshot, calibration_rows(score_date, model_name, frame, calibration_bins))
        rows = realized_rows(score_date, model_name, frame, calibration_bins)
        write_performance(url, score_date, snapshot, rows)
        auc = {r.model_version: r.value for r in rows if r.segment == ALL and r.metric == ROC_AUC}
        log.info("%s: %d of %d published customers labelled; realized ROC AUC %s", score_date, len(frame), len(scores), auc)
        summary = {"score_date": score_date.isoformat(), "label_snapshot": snapshot.isoformat(), "labelled": len(frame)}
        # How far the night's estimate from the scores alone was from what the labels now say.
        summary["estimation_errors"] = refresh_estimation_error(url, score_date)
        if bootstrap is not None:
            summary["compared"] = compare_shadow(url, score_date, snapshot, frame, calibration_bins, bootstrap)
        out.append({**summary, "scored": len(scores), "roc_auc": auc})
    return out


def compare_shadow(url: str, score_date: date, snapshot: date, served: pd.DataFrame, calibration_bins: int, bootstrap: Bootstrap) -> int:
    """Champion against challenger on ``score_date``'s customers both scored; the comparison rows stored.

    ``served`` is the date's labelled published rows. The champion's are the rows of the version that
    is not the shadow's: with a canary, its customers were served the challenger, so the champion has
    no score of theirs and they are left out of the comparison.
    """
    from nightshift.monitoring.comparison import compare_day
    from nightshift.warehouse.comparison import shadow_scores, write_comparison

    shadow = shadow_scores(url, score_date)
    if shadow.empty:
        return 0
    challenger = str(shadow["model_version"].iloc[0])
    champion_rows = served[served["model_version"].astype(str) != challenger]
    champions = sorted(champion_rows["model_version"].astype(str).unique())
    if len(champions) != 1:
        log.warning("%s: no single champion version among its served rows (%s); no comparison", score_date, champions)
        return 0
    frame = champion_rows.rename(columns={"churn_probability": "champion"}).merge(
        shadow[["customer_id", "churn_probability"]].rename(columns={"churn_probability": "challenger"}), on="customer_id"
    )
    rows = compare_day(score_date, str(served["model_name"].iloc[0]), champions[0], challenger, frame, calibration_bins, bootstrap)
    write_comparison(url, score_date, snapshot, rows)
    everyone = rows[0] if rows else None
    if everyone is not None and everyone.auc_diff is not None:
        log.info(
            "%s: challenger %s vs champion %s on %d customers: ROC AUC difference %+.4f [%+.4f, %+.4f]",
            score_date,
            challenger,
            champions[0],
            everyone.rows,
            everyone.auc_diff,
            everyone.auc_diff_low,
            everyone.auc_diff_high,
        )
    return len(rows)
