"""Bounded waits against a real PostgreSQL: a session idle in a transaction never hangs a schema check, and no statement runs forever.

A dashboard that opened a transaction on scoring_runs and went idle holds ACCESS SHARE on it until it
ends. A schema check that takes a stronger lock would wait behind it with no end (and queue every later
reader behind itself): each call runs in a thread with a join timeout, so a hang fails the test.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
import yaml

from nightshift.config import load_params
from nightshift.quality.audit import QUALITY_TABLE
from nightshift.quality.bad_days import ACCEPTANCE_TABLE, ensure_quality_schema
from nightshift.warehouse.calibration import CALIBRATION_TABLE, ensure_calibration_schema
from nightshift.warehouse.comparison import COMPARISON_TABLE, ensure_comparison_schema
from nightshift.warehouse.connection import connect
from nightshift.warehouse.drift import METRICS_TABLE, ensure_drift_schema
from nightshift.warehouse.drift import RUNS_TABLE as DRIFT_RUNS_TABLE
from nightshift.warehouse.performance import PERFORMANCE_TABLE, ensure_performance_schema
from nightshift.warehouse.schema import RUNS_TABLE, SCORES_TABLE, SHADOW_TABLE, ensure_schema
from tests.pg_helpers import create_database, query

pytestmark = pytest.mark.integration

LOCK_TIMEOUT_MS = 300
# Far above a catalog read or a lock timeout of LOCK_TIMEOUT_MS, far below "forever".
PROMPT_SECONDS = 15.0
SCHEMAS: dict[str, Callable[[str], Any]] = {
    "scoring": ensure_schema,
    "drift": ensure_drift_schema,
    "performance": ensure_performance_schema,
    "comparison": ensure_comparison_schema,
    "calibration": ensure_calibration_schema,
    "quality": ensure_quality_schema,
}
TABLES = {
    "scoring": (SCORES_TABLE, RUNS_TABLE, SHADOW_TABLE),
    "drift": (METRICS_TABLE, DRIFT_RUNS_TABLE),
    "performance": (PERFORMANCE_TABLE,),
    "comparison": (COMPARISON_TABLE,),
    "calibration": (CALIBRATION_TABLE,),
    "quality": (QUALITY_TABLE, ACCEPTANCE_TABLE),
}


def _params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **warehouse: int) -> None:
    params = load_params()
    params["warehouse"].update(warehouse)
    path = tmp_path / f"params-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.setenv("NIGHTSHIFT_PARAMS", str(path))


@pytest.fixture
def db(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A warehouse of the test's own with every table created, and a short schema lock timeout."""
    _params(tmp_path, monkeypatch, schema_lock_timeout_ms=LOCK_TIMEOUT_MS)
    url = create_database(pg_url, f"bounded_{uuid.uuid4().hex[:12]}")
    for ensure in SCHEMAS.values():
        ensure(url)
    return url


class Holder:
    """A second session that reads ``tables`` in a transaction and stays idle in it, as a dashboard left open does."""

    def __init__(self, url: str, tables: tuple[str, ...]) -> None:
        self.conn = psycopg2.connect(url, application_name="dashboard")
        with self.conn.cursor() as cur:
            for table in tables:
                cur.execute(f"SELECT count(*) FROM {table}")
        state = query(url, "SELECT state FROM pg_stat_activity WHERE pid = %s", (self.conn.get_backend_pid(),))
        assert state == [("idle in transaction",)]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    opened: list[Holder] = []
    yield opened
    for holder in opened:
        holder.close()


def _call(fn: Callable[[], Any], holders: list[Holder]) -> tuple[float, Any, BaseException | None]:
    """Run ``fn`` in a thread; fail if it has not returned after PROMPT_SECONDS (then release the locks so it can end)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    t0 = time.monotonic()
    thread.start()
    thread.join(PROMPT_SECONDS)
    seconds = time.monotonic() - t0
    if thread.is_alive():
        for holder in holders:
            holder.close()
        thread.join(60)
        pytest.fail(f"still waiting after {seconds:.1f}s behind a session idle in a transaction: a hang, not a bounded wait")
    return seconds, outcome.get("result"), outcome.get("error")


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_complete_schema_is_checked_without_waiting_on_an_idle_transaction(db: str, holders: list[Holder], schema: str) -> None:
    holders.append(Holder(db, TABLES[schema]))
    seconds, done, error = _call(lambda: SCHEMAS[schema](db), holders)
    assert error is None, error
    assert done == []  # nothing was missing, so no DDL ran
    assert seconds < LOCK_TIMEOUT_MS / 1000 * 3  # no lock wait at all, not a wait that timed out


@pytest.mark.parametrize(
    ("schema", "table", "column", "definition"),
    [
        ("scoring", RUNS_TABLE, "role", "text"),
        ("scoring", SHADOW_TABLE, "reason_2_contribution", "double precision"),
        ("drift", DRIFT_RUNS_TABLE, "report_path", "text"),
        ("performance", PERFORMANCE_TABLE, "computed_at", "timestamp with time zone"),
        ("comparison", COMPARISON_TABLE, "auc_diff_high", "double precision"),
        ("calibration", CALIBRATION_TABLE, "computed_at", "timestamp with time zone"),
        ("quality", QUALITY_TABLE, "quarantine_error", "text"),
        ("quality", ACCEPTANCE_TABLE, "missing_partitions", "ARRAY"),
    ],
)
def test_a_missing_column_behind_an_idle_transaction_fails_within_the_lock_timeout_naming_the_table(
    db: str, holders: list[Holder], schema: str, table: str, column: str, definition: str
) -> None:
    # A warehouse from before the column existed.
    query(db, f"ALTER TABLE {table} DROP COLUMN {column}")
    holders.append(Holder(db, (table,)))
    seconds, _, error = _call(lambda: SCHEMAS[schema](db), holders)
    assert error is not None, f"{schema}: the missing {table}.{column} was not added, and no error said why"
    message = str(error)
    assert f"{table} is locked by another session" in message
    assert "retry" in message and "warehouse.schema_lock_timeout_ms" in message
    assert "application 'dashboard'" in message and "idle in transaction" in message
    assert isinstance(error, psycopg2.OperationalError)  # an operational failure: Airflow retries the task
    assert seconds < PROMPT_SECONDS
    # Nothing half-done, and the holder was never disturbed.
    columns = "SELECT data_type FROM information_schema.columns WHERE table_name = %s AND column_name = %s"
    assert query(db, columns, (table, column)) == []
    with holders[0].conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
    # Once the session ends, the retry adds the column, with the type it is declared with.
    holders[0].close()
    assert SCHEMAS[schema](db) == [f"{table}: add column {column}"]
    assert query(db, columns, (table, column)) == [(definition,)]
    assert SCHEMAS[schema](db) == []


def test_existing_scoring_runs_gain_the_added_column_with_its_default(db: str) -> None:
    query(db, f"ALTER TABLE {RUNS_TABLE} DROP COLUMN role")
    query(db, f"INSERT INTO {RUNS_TABLE} (score_date, model_name, model_version, run_id) VALUES ('2024-01-01', 'm', '1', 'r')")
    query(db, f"DROP INDEX {RUNS_TABLE}_score_date_idx")
    assert ensure_schema(db) == [f"{RUNS_TABLE}: add column role", f"{RUNS_TABLE}: create index {RUNS_TABLE}_score_date_idx"]
    assert query(db, f"SELECT role FROM {RUNS_TABLE}") == [("served",)]


def test_a_statement_longer_than_the_statement_timeout_is_cancelled(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _params(tmp_path, monkeypatch, statement_timeout_ms=200)
    t0 = time.monotonic()
    with pytest.raises(psycopg2.errors.QueryCanceled, match="statement timeout"):
        with connect(pg_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_sleep(5)")
    assert time.monotonic() - t0 < 4


def test_the_statement_timeout_keeps_the_urls_own_options(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An Airflow connection's extra can carry libpq options (a search_path, a timeout of its own).
    _params(tmp_path, monkeypatch, statement_timeout_ms=1234)
    with connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone() == ("1234ms",)
    separator = "&" if "?" in pg_url else "?"
    with connect(f"{pg_url}{separator}options=-c%20search_path%3Dreports") as conn, conn.cursor() as cur:
        cur.execute("SELECT current_setting('search_path'), current_setting('statement_timeout')")
        assert cur.fetchone() == ("reports", "1234ms")
    with connect(f"{pg_url}{separator}options=-c%20statement_timeout%3D5s") as conn, conn.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone() == ("5s",)  # the deployment's own choice in the URL wins
