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
from nightshift.contract import CUSTOMERS_COLUMNS, EVENTS_COLUMNS, customers_partition, events_partition
from nightshift.landing import describe_landing_zone

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

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
# Checks the gate makes on the files before any expectation runs; their `observed` says it all.
FRESHNESS = "freshness"
READABLE_FILE = "readable_file"
COLUMN_TYPE = "column_type"
FILE_CHECKS = (FRESHNESS, READABLE_FILE, COLUMN_TYPE)


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


def _data_files(path: Path) -> list[Path]:
    """The partition's data files, by name: pyarrow's rule, names starting with "_" or "." are not data.

    That skips Spark's _SUCCESS, .crc and _temporary. Listed here rather than by a pyarrow
    dataset, which opens a file to learn the schema and so fails, naming nothing, on a broken one.
    """
    return sorted(f for f in path.rglob("*") if f.is_file() and not any(part.startswith(("_", ".")) for part in f.relative_to(path).parts))


def _problem(suite: str, check: str, observed: str, column: str | None = None) -> dict[str, Any]:
    """A failure found on the files before any expectation ran, in the shape of a GX failure."""
    return {
        "suite": suite,
        "expectation": check,
        "column": column,
        "unexpected_count": None,
        "examples": [],
        "observed": observed,
        "error": None,
    }


def _type_problems(suite: str, file: Path, schema: pa.Schema, columns: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The contract's columns `file` holds with another type; a missing column is left to the suite."""
    import pyarrow as pa

    problems = []
    for name, kind in columns:
        index = schema.get_field_index(name)
        if index < 0:
            continue
        found = schema.field(index).type
        # The same Parquet column either way: a dictionary-encoded or large (64-bit offset) string.
        plain = found.value_type if pa.types.is_dictionary(found) else found
        plain = pa.string() if pa.types.is_large_string(plain) else plain
        if plain != getattr(pa, kind)():
            problems.append(_problem(suite, COLUMN_TYPE, f"{file}: column {name} has type {found}, the contract's is {kind}", name))
    return problems


def _load_partition(suite: str, path: Path, columns: Sequence[tuple[str, str]]) -> tuple[pa.Table | None, list[dict[str, Any]]]:
    """The partition as one Arrow table in the contract's types, or what makes it unusable.

    Missing or empty (freshness), a file that is not readable Parquet (truncated, cut off
    mid-copy), a contract column of another type: each problem names its file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_dir():
        return None, [_problem(suite, FRESHNESS, f"missing partition {path}")]
    tables, problems = [], []
    for file in _data_files(path):
        try:
            with pq.ParquetFile(file) as parquet:
                table = parquet.read()
        except (pa.ArrowException, OSError) as exc:
            problems.append(_problem(suite, READABLE_FILE, f"{file}: not a readable Parquet file ({type(exc).__name__}: {exc})"))
            continue
        wrong = _type_problems(suite, file, table.schema, columns)
        problems.extend(wrong)
        if not wrong:
            contract = {name: getattr(pa, kind)() for name, kind in columns}
            tables.append(table.cast(pa.schema([pa.field(f.name, contract.get(f.name, f.type)) for f in table.schema])))
    if problems:
        return None, problems
    if sum(t.num_rows for t in tables) == 0:
        return None, [_problem(suite, FRESHNESS, f"empty partition {path} (0 rows)")]
    # A file without a contract column gets nulls there: the suite reports them.
    return pa.concat_tables(tables, promote_options="permissive"), []


def _row_count(path: Path) -> int | None:
    """Rows of a partition from its footers; None when missing or a file is unreadable (a failure of its own day)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_dir():
        return None
    try:
        rows = 0
        for file in _data_files(path):
            with pq.ParquetFile(file) as parquet:
                rows += parquet.metadata.num_rows
        return rows
    except (pa.ArrowException, OSError) as exc:
        log.warning("%s left out of the row-count band: %s", path, exc)
        return None


def row_count_band(root: Path, day: datetime.date, trailing_days: int, min_ratio: float, max_ratio: float) -> tuple[int, int | None]:
    """Allowed events row count for `day`: a band around the trailing days' average.

    Days that are missing, empty or unreadable are left out of the average (they are failures
    of their own); with no history at all, any non-empty day passes.
    """
    counts = [_row_count(events_partition(root, day - datetime.timedelta(days=back))) for back in range(1, trailing_days + 1)]
    counts = [c for c in counts if c]
    if not counts:
        return 0, None
    average = sum(counts) / len(counts)
    return int(average * min_ratio), int(average * max_ratio) + 1


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    # Nullable integer dtypes: pyarrow's default turns an int column with a null into
    # float64, which would report a type failure on top of the real one (the null).
    # Dates become datetime64 so the suites can check their type without per-row checks.
    int_dtypes = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
    }
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


def _file_failure(day: datetime.date, root: Path, failures: list[dict[str, Any]]) -> DataQualityError:
    """One error for every problem found on the day's files, per suite as the audit records it."""
    failed = {f["suite"] for f in failures}
    suites = {s: {"success": s not in failed, "evaluated": 1, "failed": int(s in failed)} for s in (EVENTS_SUITE, CUSTOMERS_SUITE)}
    found = [f["observed"] for f in failures]
    if all(f["expectation"] == FRESHNESS for f in failures):
        # Lateness or an empty landing: say what the landing zone holds instead.
        message = f"raw data for {day.isoformat()} not ready: " + "; ".join(found) + f"\n  {describe_landing_zone(root)}"
    else:
        lines = [f"  {f['suite']}: {f['observed']}" for f in failures]
        message = "\n".join([f"raw data of {day.isoformat()} cannot be read as the contract says:", *lines])
    return DataQualityError(message, failures, suites)


def _load_raw_day(day: datetime.date, root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The day's events and customers snapshot as frames; DataQualityError naming each file that cannot be used.

    Checked before any expectation: without readable data in the contract's types there is
    nothing to validate, and the message should point at the folder or file rather than at a
    GX or pyarrow internals error.
    """
    events, event_problems = _load_partition(EVENTS_SUITE, events_partition(root, day), EVENTS_COLUMNS)
    customers, customer_problems = _load_partition(CUSTOMERS_SUITE, customers_partition(root, day), CUSTOMERS_COLUMNS)
    if events is None or customers is None:
        raise _file_failure(day, root, event_problems + customer_problems)
    return _to_pandas(events), _to_pandas(customers)


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
    events, customers = _load_raw_day(day, root)
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
