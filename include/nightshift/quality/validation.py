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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nightshift.config import data_dir as default_data_dir
from nightshift.config import project_home
from nightshift.contract import customers_partition, events_partition
from nightshift.quality.landing import describe_landing_zone

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

EVENTS_SUITE = "raw_events"
CUSTOMERS_SUITE = "raw_customers"
# Checkpoints carry the suite's name: one checkpoint per table, because a checkpoint run
# takes a single dataframe as its batch parameter.
EVENTS_CHECKPOINT = EVENTS_SUITE
CUSTOMERS_CHECKPOINT = CUSTOMERS_SUITE
# The referential expectation in raw_events compares customer_id with this lookup column.
SNAPSHOT_ID_COLUMN = "snapshot_customer_id"
UNKNOWN_CUSTOMER = -1
MAX_EXAMPLES = 5


class DataQualityError(ValueError):
    """Raw data failed the quality gate: missing/empty partition or failed expectations.

    `failures` holds one dict per failed expectation (suite, expectation, column,
    unexpected_count, examples, detail) for callers that want more than the message.
    """

    def __init__(
        self,
        message: str,
        failures: list[dict[str, Any]] | None = None,
        suites: dict[str, dict[str, Any]] | None = None,
        results: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.failures: list[dict[str, Any]] = failures or []
        self.suites: dict[str, dict[str, Any]] = suites or {}
        # The suites' validation results as JSON-able dicts, for the quarantine copy.
        self.results: dict[str, Any] = results or {}


def gx_context_dir() -> Path:
    """The checked-in GX file context (holds great_expectations.yml)."""
    return project_home() / "great_expectations"


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


def row_count_band(root: Path, day: datetime.date, trailing_days: int, min_ratio: float, max_ratio: float) -> tuple[int, int | None]:
    """Allowed events row count for `day`: a band around the trailing days' average.

    Days that are missing or empty are left out of the average (they are failures of their
    own); with no history at all, any non-empty day passes.
    """
    import pyarrow.dataset as ds

    counts = []
    for back in range(1, trailing_days + 1):
        path = events_partition(root, day - datetime.timedelta(days=back))
        if path.is_dir():
            rows = ds.dataset(path, format="parquet").count_rows()
            if rows:
                counts.append(rows)
    if not counts:
        return 0, None
    average = sum(counts) / len(counts)
    return int(average * min_ratio), int(average * max_ratio) + 1


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


def with_snapshot_ids(events: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Events plus `snapshot_customer_id`: the customer_id when the day's snapshot has it, else -1.

    -1 rather than null: GX compares the pair with pandas' nullable ints, where a null on
    one side has no truth value. A null customer_id stays null on both sides (its own check
    reports it).
    """
    if "customer_id" not in events.columns:  # a missing column is reported by raw_events itself
        return events
    known = customers["customer_id"].dropna().unique() if "customer_id" in customers.columns else []
    ids = events["customer_id"]
    return events.assign(**{SNAPSHOT_ID_COLUMN: ids.where(ids.isin(known) | ids.isna(), UNKNOWN_CUSTOMER)})


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so messages read `-5.0`, not `np.float64(-5.0)`."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
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
        examples = [_plain(v) for v in (details.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]]
        column = config.kwargs.get("column") or _pair(config.kwargs)
        if config.kwargs.get("column_B") == SNAPSHOT_ID_COLUMN:
            # The lookup column is an implementation detail: report the customers, not (id, -1) pairs.
            column, examples = config.kwargs["column_A"], [pair[0] for pair in examples]
        failures.append(
            {
                "suite": suite,
                "expectation": config.type,
                "column": column,
                "rule": _rule_in_words(config.type, config.kwargs, suite),
                "unexpected_count": details.get("unexpected_count"),
                "examples": examples,
                "observed": _plain(details.get("observed_value")),
                "bounds": [_plain(config.kwargs.get("min_value")), _plain(config.kwargs.get("max_value"))]
                if "min_value" in config.kwargs or "max_value" in config.kwargs
                else None,
                "error": _exception_message(result.exception_info),
            }
        )
    return failures


def _range(kwargs: dict[str, Any]) -> str:
    low, high = _plain(kwargs.get("min_value")), _plain(kwargs.get("max_value"))
    above = "above" if kwargs.get("strict_min") else "at least"
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"{above} {low}" if low is not None else f"at most {high}"


def _rule_in_words(kind: str, kwargs: dict[str, Any], suite: str | None = None) -> str | None:
    """What an expectation asks, for a reader who has never opened the suite."""
    column = kwargs.get("column")
    if kwargs.get("column_B") == SNAPSHOT_ID_COLUMN:
        return f"events for customers not in the day's customers snapshot ({kwargs['column_A']} unknown)"
    if suite == EVENTS_SUITE and kind == "expect_column_values_to_be_unique":
        # The day is the partition folder, so (customer_id, event_date) unique is customer_id unique within it.
        return f"one row per customer per day: each {column} must appear once in the day's events"
    words = {
        "expect_column_to_exist": f"column {column} must exist",
        "expect_column_values_to_not_be_null": f"{column} must not be null",
        "expect_column_values_to_be_unique": f"{column} must be unique",
        "expect_column_values_to_be_in_set": f"{column} must be one of {kwargs.get('value_set')}",
        "expect_column_values_to_be_in_type_list": f"{column} must have type {kwargs.get('type_list')}",
        "expect_column_values_to_be_between": f"{column} must be {_range(kwargs)}",
        "expect_column_max_to_be_between": f"the largest {column} must be {_range(kwargs)}",
        "expect_column_mean_to_be_between": f"the mean of {column} must be {_range(kwargs)}",
        "expect_table_row_count_to_be_between": f"the row count must be {_range(kwargs)}",
        "expect_compound_columns_to_be_unique": f"each ({', '.join(kwargs.get('column_list') or [])}) must appear once",
    }
    return words.get(kind)


def _pair(kwargs: dict[str, Any]) -> str | None:
    return f"{kwargs['column_A']}, {kwargs['column_B']}" if "column_A" in kwargs else None


def _describe(failure: dict[str, Any]) -> str:
    """One failed expectation: the rule in words, what broke it, and the expectation that says so."""
    target = f"(column={failure['column']})" if failure["column"] is not None else ""
    technical = f"{failure['expectation']}{target}"
    rule = failure.get("rule")
    head = f"{rule} [{technical}]" if rule else technical
    if failure["error"]:
        return f"{head}: raised {failure['error']}"
    if failure["unexpected_count"] is not None:
        return f"{head}: {failure['unexpected_count']} rows break it, e.g. {failure['examples']}"
    if failure["observed"] is not None:
        bounds = failure.get("bounds")
        expected = f", expected between {bounds[0]} and {bounds[1]}" if bounds else ""
        return f"{head}: observed {failure['observed']}{expected}"
    return head


def _checked(what: str, checkpoint_results: dict[str, Any], note: str | None = None) -> dict[str, dict[str, Any]]:
    """Per-suite stats of checkpoint runs; raise DataQualityError naming every failure (and `note`, where bounds came from)."""
    suites: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    for suite, checkpoint_result in checkpoint_results.items():
        for suite_result in checkpoint_result.run_results.values():
            stats = suite_result.statistics
            suites[suite] = {
                "success": bool(suite_result.success),
                "evaluated": int(stats["evaluated_expectations"]),
                "failed": int(stats["unsuccessful_expectations"]),
            }
            failures.extend(_failures(suite, suite_result))
            results[suite] = suite_result.describe_dict()
            log.info("%s for %s: %s", suite, what, suites[suite])
    log.info("data docs: %s", data_docs_index())
    if failures or not all(s["success"] for s in suites.values()):
        lines = [f"data quality failed for {what}:"]
        for suite, stats in suites.items():
            if stats["success"]:
                continue
            lines.append(f"  {suite}: {stats['failed']} of {stats['evaluated']} expectations failed")
            lines.extend(f"    - {_describe(f)}" for f in failures if f["suite"] == suite)
        if note:
            lines.append(f"  {note}")
        lines.append(f"  data docs: {data_docs_index()}")
        raise DataQualityError("\n".join(lines), failures, suites, results)
    return suites


def data_docs_index(context_dir: Path | None = None) -> Path:
    """The rendered GX data docs (HTML) of every validation run."""
    return (context_dir or gx_context_dir()) / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _context(context_dir: Path | None):
    # Before the import: GX logs at INFO while it imports.
    _quiet_gx_logging()
    import great_expectations as gx

    return gx.get_context(mode="file", context_root_dir=str(context_dir or gx_context_dir()))


def _run_id(name: str):
    from great_expectations.core.run_identifier import RunIdentifier

    # Results are filed under the validated thing (a day, a training set), so uncommitted/validations/ reads by it.
    return RunIdentifier(run_name=name, run_time=datetime.datetime.now(datetime.UTC))


def validate_spark_frame(
    suite: str,
    frame: Any,
    what: str,
    parameters: dict[str, Any],
    windows: Sequence[int],
    *,
    context_dir: Path | None = None,
    note: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Run checkpoint `suite` (features, training_set) on a Spark DataFrame, where it lives.

    `note` says where run-time `parameters` came from; a failure's message ends with it.

    The suite must check the features of `windows` (params.yaml features.windows_days): its
    per-column rules are generated from that list (nightshift.quality.suites). GX's Spark
    datasource computes the metrics as Spark aggregations; nothing is collected to the driver
    but the metric values.
    """
    from nightshift.quality.suites import check_suite_columns

    context = _context(context_dir)
    checked = [e.column for e in context.suites.get(suite).expectations if e.expectation_type == "expect_column_values_to_not_be_null"]
    check_suite_columns(suite, checked, windows)
    result = context.checkpoints.get(suite).run(
        batch_parameters={"dataframe": frame}, expectation_parameters=parameters, run_id=_run_id(f"{suite}_{what}")
    )
    return _checked(what, {suite: result}, note)


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
    row_count: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Validate the raw events and customers snapshot of `day`; raise DataQualityError on failure.

    `row_count` is params.yaml's quality.row_count (trailing_days, min_ratio, max_ratio).
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
    problems = {
        suite: problem
        for suite, problem in ((EVENTS_SUITE, _partition_problem(events_path)), (CUSTOMERS_SUITE, _partition_problem(customers_path)))
        if problem
    }
    if problems:
        failures = [
            {
                "suite": suite,
                "expectation": "freshness",
                "column": None,
                "unexpected_count": None,
                "examples": [],
                "observed": problem,
                "error": None,
            }
            for suite, problem in problems.items()
        ]
        suites = {
            suite: {"success": suite not in problems, "evaluated": 1, "failed": int(suite in problems)}
            for suite in (EVENTS_SUITE, CUSTOMERS_SUITE)
        }
        raise DataQualityError(
            f"raw data for {day.isoformat()} not ready: " + "; ".join(problems.values()) + f"\n  {describe_landing_zone(root)}",
            failures,
            suites,
        )

    events = _read_partition(events_path)
    customers = _read_partition(customers_path)
    band = row_count or {"trailing_days": 7, "min_ratio": 0.5, "max_ratio": 2.0}
    min_rows, max_rows = row_count_band(root, day, int(band["trailing_days"]), float(band["min_ratio"]), float(band["max_ratio"]))

    context = _context(context_dir)
    run_id = _run_id(f"raw_{day.isoformat()}")

    events = with_snapshot_ids(events, customers)

    suites = _checked(
        f"raw data of {day.isoformat()}",
        {
            CUSTOMERS_SUITE: context.checkpoints.get(CUSTOMERS_CHECKPOINT).run(batch_parameters={"dataframe": customers}, run_id=run_id),
            EVENTS_SUITE: context.checkpoints.get(EVENTS_CHECKPOINT).run(
                batch_parameters={"dataframe": events},
                expectation_parameters={"events_min_rows": min_rows, "events_max_rows": max_rows},
                run_id=run_id,
            ),
        },
    )
    return {
        "day": day.isoformat(),
        "suites": suites,
        "rows": {"events": len(events), "customers": len(customers)},
    }
