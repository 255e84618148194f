"""`nightshift lineage` when a link is missing or MLflow is down: one clear line naming which."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.pg_helpers import create_database, free_port, query

pytestmark = pytest.mark.integration


def _lineage(url: str, *args: str, **more_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NIGHTSHIFT_DATABASE_URL": url, **more_env}
    return subprocess.run([sys.executable, "-m", "nightshift.cli", "lineage", *args], env=env, capture_output=True, text=True)


def test_a_score_or_date_not_in_churn_scores_is_an_error_naming_it(pg_url: str) -> None:
    # A new warehouse nothing was scored into: not even the table exists yet.
    url = create_database(pg_url, f"cli_lineage_{uuid.uuid4().hex[:12]}")
    row = _lineage(url, "2026-06-29", "112909")
    assert row.returncode == 1 and "Traceback" not in row.stderr
    assert row.stderr.strip() == "nightshift lineage: no row in churn_scores for customer 112909 on 2026-06-29"
    day = _lineage(url, "--score-date", "2026-06-28", "--json")
    assert day.returncode == 1
    assert day.stderr.strip() == "nightshift lineage: no rows in churn_scores for 2026-06-28: nightly_scoring has not published that date"
    neither = _lineage(url, "2026-06-29")
    assert neither.returncode == 1 and "give DATE CUSTOMER_ID" in neither.stderr


def test_an_unreachable_tracking_server_is_named_not_shown_as_a_missing_version(pg_url: str) -> None:
    from nightshift.warehouse.schema import ensure_schema

    url = create_database(pg_url, f"cli_lineage_{uuid.uuid4().hex[:12]}")
    ensure_schema(url)
    query(url, "CREATE TABLE churn_scores_d20260629 PARTITION OF churn_scores FOR VALUES IN ('2026-06-29')")
    query(url, "INSERT INTO churn_scores VALUES ('2026-06-29', 112909, 0.5, 'churn_xgb', '1', 'r1', 'v', now())")
    port = free_port()  # nothing listens there
    down = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}
    row = _lineage(url, "2026-06-29", "112909", **down)
    assert row.returncode == 1 and "Traceback" not in row.stderr, row.stderr[-2000:]
    assert (
        row.stderr.strip()
        == f"nightshift lineage: MLflow tracking server at http://127.0.0.1:{port} unreachable: [Errno 111] Connection refused"
    )
