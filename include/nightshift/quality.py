"""Data quality gate for one day of the raw landing zone.

`validate_raw_day` reads that day's events partition and customers snapshot, checks that
both landed (freshness), then runs the Great Expectations suites `raw_events` and
`raw_customers` through the checked-in GX file context (`great_expectations/` at the
project root). The suites, datasource, validation definitions and checkpoints live there
as JSON/YAML and are edited there, not rebuilt here. Validation results and data docs go
to the context's git-ignored `uncommitted/` folder.

A failure raises `DataQualityError` naming each failed suite and expectation, so the run
stops before anything is trained or published (quality gates block).

This module is imported by Airflow task bodies: great_expectations, pandas and pyarrow
are imported inside the functions, never at module top level.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nightshift.config import data_dir as default_data_dir
from nightshift.config import project_home

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

EVENTS_SUITE = "raw_events"
CUSTOMERS_SUITE = "raw_customers"
# Checkpoints carry the suite's name: one checkpoint per table, because a checkpoint run
# takes a single dataframe as its batch parameter.
EVENTS_CHECKPOINT = EVENTS_SUITE
CUSTOMERS_CHECKPOINT = CUSTOMERS_SUITE
# Suite parameter the referential expectation in raw_events reads its value_set from.
SNAPSHOT_IDS_PARAMETER = "snapshot_customer_ids"
MAX_EXAMPLES = 5


class DataQualityError(ValueError):
    """Raw data failed the quality gate: missing/empty partition or failed expectations.

    `failures` holds one dict per failed expectation (suite, expectation, column,
    unexpected_count, examples, detail) for callers that want more than the message.
    """

    def __init__(self, message: str, failures: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.failures: list[dict[str, Any]] = failures or []


def gx_context_dir() -> Path:
    """The checked-in GX file context (holds great_expectations.yml)."""
    return project_home() / "great_expectations"


def events_partition(root: Path, day: datetime.date) -> Path:
    return root / "events" / f"event_date={day.isoformat()}"


def customers_partition(root: Path, day: datetime.date) -> Path:
    return root / "customers" / f"snapshot_date={day.isoformat()}"


def _partition_problem(path: Path) -> str | None:
    """Why a partition is not usable (missing or empty), or None if it has rows.

    Reads only Parquet footers, so the freshness check stays cheap and runs before any
    heavy import.
    """
    if not path.is_dir():
        return f"missing partition {path}"
    import pyarrow.dataset as ds

    # pyarrow skips names starting with "_" or "." (Spark's _SUCCESS and .crc files).
    if ds.dataset(path, format="parquet").count_rows() == 0:
        return f"empty partition {path} (0 rows)"
    return None


def _read_partition(path: Path) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    # Nullable integer dtypes: pyarrow's default turns an int column with a null into
    # float64, which would report a type failure on top of the real one (the null).
    # Dates become datetime64 so the suites can check their type without per-row checks.
    int_dtypes = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
    }
    table = ds.dataset(path, format="parquet").to_table()
    return table.to_pandas(types_mapper=int_dtypes.get, date_as_object=False)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so messages read `-5.0`, not `np.float64(-5.0)`."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _exception_message(info: Any) -> str | None:
    # GX reports one exception dict, or a dict of them keyed by metric when several ran.
    if not isinstance(info, dict):
        return None
    candidates = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message"))
    return None


def _failures(suite: str, suite_result: Any) -> list[dict[str, Any]]:
    failures = []
    for result in suite_result.results:
        if result.success:
            continue
        config = result.expectation_config
        details = result.result or {}
        failures.append(
            {
                "suite": suite,
                "expectation": config.type,
                "column": config.kwargs.get("column"),
                "unexpected_count": details.get("unexpected_count"),
                "examples": [_plain(v) for v in (details.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]],
                "observed": _plain(details.get("observed_value")),
                "error": _exception_message(result.exception_info),
            }
        )
    return failures


def _describe(failure: dict[str, Any]) -> str:
    target = f"(column={failure['column']})" if failure["column"] is not None else ""
    text = f"{failure['expectation']}{target}"
    if failure["error"]:
        return f"{text}: raised {failure['error']}"
    if failure["unexpected_count"] is not None:
        return f"{text}: {failure['unexpected_count']} unexpected, e.g. {failure['examples']}"
    if failure["observed"] is not None:
        return f"{text}: observed {failure['observed']}"
    return text


def _quiet_gx_logging() -> None:
    # GX logs routine steps at INFO; keep task logs to warnings unless someone configured it.
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:
        gx_logger.setLevel(logging.WARNING)


def validate_raw_day(
    day: datetime.date,
    data_dir: Path | None = None,
    *,
    context_dir: Path | None = None,
) -> dict[str, Any]:
    """Validate the raw events and customers snapshot of `day`; raise DataQualityError on failure.

    Returns {"day": "YYYY-MM-DD", "suites": {name: {"success", "evaluated", "failed"}},
    "rows": {"events": n, "customers": m}}, small enough for XCom.
    """
    if isinstance(day, datetime.datetime):
        # Airflow hands out (pendulum) datetimes; the partition key is the calendar day.
        day = day.date()
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    events_path = events_partition(root, day)
    customers_path = customers_partition(root, day)

    # Freshness first: without the day's data there is nothing to validate, and the
    # message should point at the folder rather than at a GX internals error.
    problems = [p for p in (_partition_problem(events_path), _partition_problem(customers_path)) if p]
    if problems:
        raise DataQualityError(f"raw data for {day.isoformat()} not ready: " + "; ".join(problems))

    events = _read_partition(events_path)
    customers = _read_partition(customers_path)

    # Before the import: GX logs at INFO while it imports.
    _quiet_gx_logging()
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = gx.get_context(mode="file", context_root_dir=str(context_dir or gx_context_dir()))
    # Results are filed under the validated day, so uncommitted/validations/ reads by date.
    run_id = RunIdentifier(run_name=f"raw_{day.isoformat()}", run_time=datetime.datetime.now(datetime.timezone.utc))

    snapshot_ids: list[int] = []
    if "customer_id" in customers.columns:  # a missing column is reported by raw_customers
        snapshot_ids = [int(v) for v in customers["customer_id"].dropna().unique()]

    checkpoint_results = {
        CUSTOMERS_SUITE: context.checkpoints.get(CUSTOMERS_CHECKPOINT).run(
            batch_parameters={"dataframe": customers}, run_id=run_id
        ),
        EVENTS_SUITE: context.checkpoints.get(EVENTS_CHECKPOINT).run(
            batch_parameters={"dataframe": events},
            expectation_parameters={SNAPSHOT_IDS_PARAMETER: snapshot_ids},
            run_id=run_id,
        ),
    }

    suites: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    for suite, checkpoint_result in checkpoint_results.items():
        for suite_result in checkpoint_result.run_results.values():
            stats = suite_result.statistics
            suites[suite] = {
                "success": bool(suite_result.success),
                "evaluated": int(stats["evaluated_expectations"]),
                "failed": int(stats["unsuccessful_expectations"]),
            }
            failures.extend(_failures(suite, suite_result))
            log.info("%s on %s: %s", suite, day.isoformat(), suites[suite])

    if failures or not all(s["success"] for s in suites.values()):
        lines = [f"raw data quality failed for {day.isoformat()}:"]
        for suite, stats in suites.items():
            if stats["success"]:
                continue
            lines.append(f"  {suite}: {stats['failed']} of {stats['evaluated']} expectations failed")
            lines.extend(f"    - {_describe(f)}" for f in failures if f["suite"] == suite)
        raise DataQualityError("\n".join(lines), failures)

    return {
        "day": day.isoformat(),
        "suites": suites,
        "rows": {"events": len(events), "customers": len(customers)},
    }
