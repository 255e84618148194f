"""Publishing a pandas frame of scores, for tests: validated against the output contract, then streamed.

The pipeline publishes Arrow batches from Parquet (`publish_score_batches`); tests build small
frames by hand, so this checks a whole frame first and names every problem it finds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from nightshift.warehouse.publish import ScoreLineage, publish_score_batches
from nightshift.warehouse.schema import LINEAGE_COLUMNS, REQUIRED_COLUMNS, TEXT_COLUMNS, check_score_date

# Rows per COPY batch when publishing a frame: bounds the encoded bytes held at once.
_FRAME_BATCH_ROWS = 100_000


def _problem(column: str, mask: pd.Series, what: str, values: pd.Series | None = None) -> str | None:
    bad = int(mask.sum())
    if bad == 0:
        return None
    sample = (values if values is not None else pd.Series(dtype=object))[mask].head(5).tolist()
    shown = f" (e.g. {sample})" if sample else ""
    return f"column '{column}': {bad} row(s) {what}{shown}"


def _numeric(values: pd.Series) -> pd.Series:
    """Values as numbers, NaN where not numeric; booleans are not numbers here."""
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index)
    return pd.to_numeric(values, errors="coerce")


def validate_scores(scores: pd.DataFrame, score_date: dt.date) -> pd.DataFrame:
    """Check a scores frame against the output contract; return the normalised columns to write.

    Raises ValueError naming every column and problem found (all of them, not just the first).
    """
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a pandas DataFrame, got {type(scores).__name__}")
    check_score_date(score_date)
    missing = [c for c in REQUIRED_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"scores frame is missing required column(s): {', '.join(missing)}")
    if scores.columns.duplicated().any():
        dup_cols = sorted(set(scores.columns[scores.columns.duplicated()]))
        raise ValueError(f"scores frame has duplicated column names: {dup_cols}")
    if scores.empty:
        # An empty publish would silently wipe the day's scores; that is never what a scoring run means.
        raise ValueError(f"scores frame is empty: refusing to replace the scores of {score_date} with nothing")

    scores = scores.reset_index(drop=True)  # a duplicated index would break column alignment below
    problems: list[str | None] = []
    out = pd.DataFrame(index=scores.index)

    cid = scores["customer_id"]
    cid_num = _numeric(cid)
    problems.append(_problem("customer_id", cid.isna(), "are null"))
    non_int = cid.notna() & (cid_num.isna() | (cid_num % 1 != 0) | (cid_num.abs() > 2**63 - 1))
    problems.append(_problem("customer_id", non_int, "are not integers", cid))
    if not (cid.isna().any() or non_int.any()):
        out["customer_id"] = cid_num.astype("int64")
        dup = out["customer_id"].duplicated(keep=False)
        if dup.any():
            dupes = sorted(out.loc[dup, "customer_id"].unique().tolist())[:5]
            problems.append(f"column 'customer_id': {int(dup.sum())} row(s) have duplicated ids (e.g. {dupes})")

    prob = scores["churn_probability"]
    prob_num = _numeric(prob)
    problems.append(_problem("churn_probability", prob.isna(), "are null/NaN"))
    problems.append(_problem("churn_probability", prob.notna() & prob_num.isna(), "are not numbers", prob))
    out_of_range = prob_num.notna() & ((prob_num < 0) | (prob_num > 1))  # inf is out of range too
    problems.append(_problem("churn_probability", out_of_range, "are outside [0, 1]", prob_num))
    out["churn_probability"] = prob_num.astype("float64")

    for col in TEXT_COLUMNS:
        values = scores[col]
        problems.append(_problem(col, values.isna(), "are null"))
        # Checked on the distinct values: these columns hold one value per publish.
        blanks = [v for v in pd.unique(values.dropna()) if not str(v).strip()]
        problems.append(_problem(col, values.isin(blanks), "are empty strings"))
        out[col] = values.astype(str)

    raw_ts = scores["scored_at"]
    problems.append(_problem("scored_at", raw_ts.isna(), "are null"))
    try:
        # Naive timestamps are taken as UTC: the scoring job runs on UTC clocks.
        if pd.api.types.is_datetime64_any_dtype(raw_ts):
            ts = pd.to_datetime(raw_ts, utc=True)
        else:
            # Element-wise parsing: with one inferred format, valid values in another format became NaT.
            ts = pd.to_datetime(raw_ts, utc=True, errors="coerce", format="mixed")
    except (TypeError, ValueError):
        ts = pd.Series(pd.NaT, index=raw_ts.index, dtype="datetime64[ns, UTC]")
    problems.append(_problem("scored_at", raw_ts.notna() & ts.isna(), "are not timestamps", raw_ts))
    out["scored_at"] = ts

    for col in LINEAGE_COLUMNS:
        # A date's rows come from one scoring run: one model version, one data version, one clock reading.
        distinct = out.loc[scores[col].notna(), col].unique()
        if len(distinct) > 1:
            problems.append(
                f"column '{col}': {len(distinct)} different values (e.g. {list(distinct[:3])}); "
                "every row of a publish must carry the same lineage"
            )

    if "score_date" in scores.columns:
        # A frame that carries its own date must agree with the date it is published under.
        sd = pd.to_datetime(scores["score_date"], errors="coerce").dt.date
        problems.append(_problem("score_date", sd != score_date, f"differ from the publish date {score_date}", scores["score_date"]))

    found = [p for p in problems if p]
    if found:
        raise ValueError("invalid scores frame: " + "; ".join(found))
    return out[list(REQUIRED_COLUMNS)]


def publish_scores(url: str, scores: pd.DataFrame, score_date: dt.date) -> int:
    """Replace ``score_date``'s rows with a validated pandas frame atomically; return the rows written."""
    frame = validate_scores(scores, score_date)
    first = frame.iloc[0]
    lineage = ScoreLineage(
        model_name=first["model_name"],
        model_version=first["model_version"],
        run_id=first["run_id"],
        data_version=first["data_version"],
        scored_at=first["scored_at"].to_pydatetime(),
    )
    keys = frame[["customer_id", "churn_probability"]]
    batches = (keys.iloc[i : i + _FRAME_BATCH_ROWS] for i in range(0, len(keys), _FRAME_BATCH_ROWS))
    return publish_score_batches(url, score_date, lineage, batches).rows


class EmbeddedPg(Protocol):
    """What conftest's session fixture ``embedded_pg`` provides (conftest is not importable as a module)."""

    pgdata: Path
    port: int
    url: str


def make_scores(ids: Sequence[int], run_id: str, seed: int = 0, model_version: str = "3") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.asarray(ids, dtype="int64"),
            "churn_probability": rng.random(len(ids)),
            "model_name": "churn_xgb",
            "model_version": model_version,
            "run_id": run_id,
            "data_version": "snap-2024-03-01",
            "scored_at": pd.Timestamp("2024-03-02 01:02:03.456789", tz="UTC"),
        }
    )


def assert_same_scores(stored: pd.DataFrame, expected: pd.DataFrame, day: dt.date) -> None:
    """Stored rows equal the published frame exactly (floats bit-for-bit, timestamps to the microsecond)."""
    exp = expected.sort_values("customer_id").reset_index(drop=True)
    assert (stored["score_date"] == day).all()
    assert stored["customer_id"].tolist() == exp["customer_id"].tolist()
    np.testing.assert_array_equal(stored["churn_probability"].to_numpy(), exp["churn_probability"].to_numpy())
    for col in ("model_name", "model_version", "run_id", "data_version"):
        assert stored[col].tolist() == exp[col].astype(str).tolist(), col
    assert (stored["scored_at"] == pd.to_datetime(exp["scored_at"], utc=True)).all()
