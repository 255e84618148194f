"""The warehouse connection reaches the driver as the Airflow connection defines it, or the task fails naming it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import psycopg2
import pytest

from nightshift.airflow.context import warehouse_url

pytestmark = pytest.mark.integration


def _connection(pg_url: str, extra: dict) -> str:
    parts = urlsplit(pg_url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": parts.hostname,
            "port": parts.port,
            "login": parts.username,
            "password": parts.password,
            "schema": parts.path.lstrip("/"),
            "extra": extra,
        }
    )


def test_driver_options_in_the_extra_reach_the_server_and_hook_options_do_not(monkeypatch, pg_url: str) -> None:
    # `cursor` is the hook's own option: libpq refuses it as an unknown connection option.
    extra = {"application_name": "nightshift-scoring", "cursor": "realdictcursor"}
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", _connection(pg_url, extra))
    with psycopg2.connect(warehouse_url()) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_setting('application_name')")
        assert cur.fetchone()[0] == "nightshift-scoring"


def test_sslmode_in_the_extra_is_enforced_not_dropped(monkeypatch, pg_url: str) -> None:
    # The embedded server has no TLS: a connection that demands it must be refused, not quietly made in clear text.
    # A number in the extra (as the UI's JSON editor stores connect_timeout) must not change how sslmode travels.
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", _connection(pg_url, {"sslmode": "require", "connect_timeout": 10}))
    url = warehouse_url()
    assert "sslmode=require" in url
    with pytest.raises(psycopg2.OperationalError, match="SSL"):
        psycopg2.connect(url).close()


def test_a_missing_connection_fails_naming_it(monkeypatch) -> None:
    from nightshift.config import MissingSettingError

    monkeypatch.delenv("AIRFLOW_CONN_SCORES_WAREHOUSE", raising=False)
    monkeypatch.delenv("NIGHTSHIFT_DATABASE_URL", raising=False)
    with pytest.raises(MissingSettingError, match=r"'scores_warehouse'.*AIRFLOW_CONN_SCORES_WAREHOUSE.*NIGHTSHIFT_DATABASE_URL"):
        warehouse_url("scores_warehouse")
