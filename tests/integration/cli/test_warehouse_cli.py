"""The `nightshift` console script finds the warehouse as the tasks do: a deployment's commands never start a private server.

With NIGHTSHIFT_LOCAL_DEFAULTS=off (the project image), `nightshift quality accept` must land in
the database of the Airflow `warehouse` connection, where the next run reads it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest

from nightshift.quality.audit import record_quality_runs
from tests.pg_helpers import create_database, free_port, query
from tests.score_frames import make_scores, publish_scores

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
NIGHTSHIFT = Path(sys.executable).parent / "nightshift"
DAY = date(2026, 4, 14)
PASSED = {"success": True, "evaluated": 22, "failed": 0}
FAILED = {"success": False, "evaluated": 22, "failed": 1}
FAILURE = {"suite": "raw_events", "expectation": "expect_column_values_to_be_unique", "column": "customer_id", "unexpected_count": 2}


def _env(home: Path, **settings: str) -> dict[str, str]:
    """A deployment's environment: no local defaults, no warehouse setting but those given, a home of its own."""
    env = {k: v for k, v in os.environ.items() if k not in {"NIGHTSHIFT_DATABASE_URL", "AIRFLOW_CONN_WAREHOUSE", "NIGHTSHIFT_PGDATA"}}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "include"), str(ROOT), env.get("PYTHONPATH", "")]),
        NIGHTSHIFT_HOME=str(home),
        NIGHTSHIFT_PARAMS=str(ROOT / "params.yaml"),
        NIGHTSHIFT_LOCAL_DEFAULTS="off",
        # Were a server started anyway, not on the port of a developer's own.
        NIGHTSHIFT_PG_PORT=str(free_port()),
        NIGHTSHIFT_PG_CONNECT_ATTEMPTS="1",
        **settings,
    )
    return env


def _nightshift(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(NIGHTSHIFT), *args], env=env, cwd=env["NIGHTSHIFT_HOME"], capture_output=True, text=True, timeout=300)


@pytest.fixture
def home(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    yield home
    pgdata = home / ".pgdata"
    if pgdata.exists():  # only if a command started a server after all: stop it and remove its data
        from nightshift.local.embedded_pg import stop_embedded

        stop_embedded(pgdata)
        shutil.rmtree(pgdata.resolve(), ignore_errors=True)


def test_quality_accept_and_scores_use_the_airflow_warehouse_connection(pg_url: str, home: Path) -> None:
    db = create_database(pg_url, f"cli_conn_{uuid.uuid4().hex[:12]}")
    record_quality_runs(db, DAY, {"raw_events": FAILED, "raw_customers": PASSED}, [FAILURE], message="data quality failed")
    publish_scores(db, make_scores([3, 1, 2], run_id="run-conn"), DAY)
    env = _env(home, AIRFLOW_CONN_WAREHOUSE=db)

    accepted = _nightshift(env, "quality", "accept", DAY.isoformat(), "--reason", "replayed rows, checked", "--by", "ops")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith(f"accepted {DAY.isoformat()} as it is")
    assert query(db, "SELECT reason, accepted_by FROM data_quality_acceptances WHERE logical_date = %s", (DAY,)) == [
        ("replayed rows, checked", "ops")
    ]

    scores = _nightshift(env, "scores", DAY.isoformat())
    assert scores.returncode == 0, scores.stderr
    assert scores.stdout.splitlines()[0] == f"3 rows in churn_scores for {DAY.isoformat()}"
    assert not (home / ".pgdata").exists()


def test_without_a_warehouse_setting_a_command_fails_naming_them_and_starts_no_server(home: Path) -> None:
    env = _env(home)
    for args in (["quality", "accept", DAY.isoformat(), "--reason", "replayed rows, checked"], ["scores", DAY.isoformat()]):
        proc = _nightshift(env, *args)
        assert proc.returncode == 1, proc.stdout
        assert "Traceback" not in proc.stderr
        for name in ("AIRFLOW_CONN_WAREHOUSE", "NIGHTSHIFT_DATABASE_URL", "NIGHTSHIFT_LOCAL_DEFAULTS=off"):
            assert name in proc.stderr, proc.stderr
        assert not (home / ".pgdata").exists() and not (home / ".pgdata").is_symlink()
