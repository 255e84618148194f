"""Local mode's embedded PostgreSQL: the database URL it hands out and the server's lifecycle."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys

import psycopg2
import pytest

from nightshift.local.database import database_url
from nightshift.local.embedded_pg import EmbeddedPostgresError, start_embedded, stop_embedded
from nightshift.warehouse.readers import count_scores, read_scores
from nightshift.warehouse.schema import ensure_schema
from tests.pg_helpers import free_port, query
from tests.score_frames import EmbeddedPg, assert_same_scores, make_scores, publish_scores

pytestmark = pytest.mark.integration

DAY_A = dt.date(2024, 3, 1)


@pytest.fixture
def url(pg_url: str) -> str:
    """The session server with an empty churn_scores table: no rows, no date partitions."""
    query(pg_url, "DROP TABLE IF EXISTS churn_scores")
    ensure_schema(pg_url)
    return pg_url


def test_database_url_prefers_env_then_reuses_embedded(embedded_pg: EmbeddedPg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_DATABASE_URL", "postgresql://someone@db.example:5432/x")
    assert database_url() == "postgresql://someone@db.example:5432/x"
    monkeypatch.delenv("NIGHTSHIFT_DATABASE_URL")
    monkeypatch.setenv("NIGHTSHIFT_PGDATA", str(embedded_pg.pgdata))
    monkeypatch.setenv("NIGHTSHIFT_PG_PORT", str(embedded_pg.port))
    pid_before = (embedded_pg.pgdata / "postmaster.pid").read_text().splitlines()[0]
    assert database_url() == embedded_pg.url
    assert start_embedded(embedded_pg.pgdata, embedded_pg.port) == embedded_pg.url
    assert (embedded_pg.pgdata / "postmaster.pid").read_text().splitlines()[0] == pid_before  # same server


def test_stop_then_start_keeps_data_and_server_outlives_its_starter(url: str, embedded_pg: EmbeddedPg) -> None:
    frame = make_scores(range(1, 251), run_id="persist")
    publish_scores(url, frame, DAY_A)

    stop_embedded(embedded_pg.pgdata)
    stop_embedded(embedded_pg.pgdata)  # stopping a stopped server is a no-op
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=3).close()

    # Start from a separate process that exits at once: the server must keep serving other processes.
    code = (
        "import sys; from pathlib import Path; from nightshift.local.embedded_pg import start_embedded; "
        "print(start_embedded(Path(sys.argv[1]), int(sys.argv[2])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(embedded_pg.pgdata), str(embedded_pg.port)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == embedded_pg.url
    assert count_scores(url, DAY_A) == 250
    assert_same_scores(read_scores(url, DAY_A), frame, DAY_A)


def test_start_failure_names_folder_and_log(embedded_pg: EmbeddedPg) -> None:
    stop_embedded(embedded_pg.pgdata)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
            squatter.bind(("127.0.0.1", free_port()))
            squatter.listen()
            busy = squatter.getsockname()[1]
            with pytest.raises(EmbeddedPostgresError) as excinfo:
                start_embedded(embedded_pg.pgdata, busy)
        message = str(excinfo.value)
        assert str(embedded_pg.pgdata) in message
        assert str(embedded_pg.pgdata / "postgres.log") in message
        assert "Address already in use" in message  # the log tail says why
    finally:
        assert start_embedded(embedded_pg.pgdata, embedded_pg.port) == embedded_pg.url
