"""`nightshift lineage` on a warehouse without the asked-for score: one clear line naming what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.pg_helpers import create_database

pytestmark = pytest.mark.integration


def _lineage(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NIGHTSHIFT_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "nightshift.local.cli", "lineage", *args], env=env, capture_output=True, text=True)


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
