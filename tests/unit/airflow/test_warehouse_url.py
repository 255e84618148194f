"""Where the scores warehouse is (nightshift.airflow.context.warehouse_url), for every task and every command.

The Airflow `warehouse` connection or NIGHTSHIFT_DATABASE_URL; the embedded server only when the
caller can start one and local defaults are on; two settings naming different databases are refused.
"""

from __future__ import annotations

import pytest

from nightshift.airflow.context import warehouse_url
from nightshift.config import MissingSettingError

pytestmark = pytest.mark.unit

CONNECTION = "postgresql://scorer:s3cret@db.example:5432/warehouse"
EMBEDDED = "postgresql://postgres:local@127.0.0.1:54329/nightshift"


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("AIRFLOW_CONN_WAREHOUSE", "NIGHTSHIFT_DATABASE_URL", "NIGHTSHIFT_LOCAL_DEFAULTS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _no_server() -> str:
    raise AssertionError("the embedded server was started although the warehouse is set")


def test_without_local_defaults_and_nothing_set_a_task_and_a_command_fail_naming_both_settings(bare: pytest.MonkeyPatch) -> None:
    bare.setenv("NIGHTSHIFT_LOCAL_DEFAULTS", "off")
    started: list[str] = []

    def embedded() -> str:
        started.append("embedded")
        return EMBEDDED

    for call in (warehouse_url, lambda: warehouse_url(embedded=embedded)):
        with pytest.raises(MissingSettingError) as caught:
            call()
        message = str(caught.value)
        named = ("Airflow connection 'warehouse'", "AIRFLOW_CONN_WAREHOUSE", "NIGHTSHIFT_DATABASE_URL", "NIGHTSHIFT_LOCAL_DEFAULTS=off")
        assert all(name in message for name in named), message
    assert started == []


def test_the_connection_is_the_warehouse_and_no_server_starts(bare: pytest.MonkeyPatch) -> None:
    bare.setenv("AIRFLOW_CONN_WAREHOUSE", CONNECTION)
    assert warehouse_url(embedded=_no_server) == CONNECTION


def test_nightshift_database_url_is_the_warehouse_without_a_connection(bare: pytest.MonkeyPatch) -> None:
    bare.setenv("NIGHTSHIFT_LOCAL_DEFAULTS", "off")
    bare.setenv("NIGHTSHIFT_DATABASE_URL", "postgresql://ops@db.example/scores?sslmode=verify-full")
    assert warehouse_url() == "postgresql://ops@db.example/scores?sslmode=verify-full"


def test_a_connection_and_nightshift_database_url_naming_different_databases_are_refused(bare: pytest.MonkeyPatch) -> None:
    bare.setenv("AIRFLOW_CONN_WAREHOUSE", CONNECTION)
    bare.setenv("NIGHTSHIFT_DATABASE_URL", "postgresql://scorer:s3cret@db.example:5432/staging")
    with pytest.raises(ValueError) as caught:
        warehouse_url()
    message = str(caught.value)
    assert "AIRFLOW_CONN_WAREHOUSE" in message and "NIGHTSHIFT_DATABASE_URL" in message
    assert "postgresql://scorer:***@db.example:5432/warehouse" in message
    assert "postgresql://scorer:***@db.example:5432/staging" in message
    assert "s3cret" not in message


def test_the_same_database_written_two_ways_is_one_warehouse(bare: pytest.MonkeyPatch) -> None:
    # Local mode hands a task both (its URL as AIRFLOW_CONN_WAREHOUSE, NIGHTSHIFT_DATABASE_URL inherited).
    bare.setenv("AIRFLOW_CONN_WAREHOUSE", CONNECTION)
    bare.setenv("NIGHTSHIFT_DATABASE_URL", "postgresql://scorer:s3cret@DB.example/warehouse?application_name=ops")
    assert warehouse_url() == CONNECTION


def test_the_embedded_server_only_for_a_caller_that_starts_one_with_local_defaults_on(bare: pytest.MonkeyPatch) -> None:
    assert warehouse_url(embedded=lambda: EMBEDDED) == EMBEDDED
    # A task has no server to start: the same error, not a quiet local database.
    with pytest.raises(MissingSettingError, match="NIGHTSHIFT_DATABASE_URL"):
        warehouse_url()
