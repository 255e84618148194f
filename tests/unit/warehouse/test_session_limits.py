"""The warehouse session limits: read from params.yaml (NIGHTSHIFT_PARAMS), validated, and merged into the URL's own options."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nightshift.config import load_params
from nightshift.warehouse.connection import SessionLimits, _session_options, session_limits
from nightshift.warehouse.ddl import Table

pytestmark = pytest.mark.unit


def _write(path: Path, **warehouse: object) -> Path:
    path.write_text(yaml.safe_dump({"warehouse": warehouse}))
    return path


def test_the_checked_in_params_bound_every_session() -> None:
    limits = SessionLimits.from_params(load_params())
    assert limits.statement_timeout_ms >= 60_000  # a 10M-row day's publish (about 6 s) with a wide margin
    assert 0 < limits.schema_lock_timeout_ms <= 10_000  # readers queue behind a waiting schema change


def test_limits_follow_nightshift_params_and_each_version_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _write(tmp_path / "a.yaml", statement_timeout_ms=1000, schema_lock_timeout_ms=100)
    monkeypatch.setenv("NIGHTSHIFT_PARAMS", str(first))
    assert session_limits() == SessionLimits(1000, 100)
    second = _write(tmp_path / "b.yaml", statement_timeout_ms=2000, schema_lock_timeout_ms=200)
    monkeypatch.setenv("NIGHTSHIFT_PARAMS", str(second))
    assert session_limits() == SessionLimits(2000, 200)
    _write(second, statement_timeout_ms=30000, schema_lock_timeout_ms=300)  # another size: a new version
    assert session_limits() == SessionLimits(30000, 300)


@pytest.mark.parametrize(
    ("warehouse", "error", "match"),
    [
        ({"schema_lock_timeout_ms": 100}, KeyError, "warehouse.statement_timeout_ms is not set"),
        ({"statement_timeout_ms": 1000}, KeyError, "warehouse.schema_lock_timeout_ms is not set"),
        ({"statement_timeout_ms": 0, "schema_lock_timeout_ms": 100}, ValueError, "must be >= 1"),
        ({"statement_timeout_ms": 1000, "schema_lock_timeout_ms": 0}, ValueError, "must be >= 1"),
    ],
)
def test_a_missing_or_unbounded_limit_is_refused_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: dict, error: type, match: str
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PARAMS", str(_write(tmp_path / "params.yaml", **warehouse)))
    with pytest.raises(error, match=match):
        session_limits()


def test_a_missing_params_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PARAMS", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        session_limits()


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("postgresql://u:p@db:5432/w", "-c statement_timeout=600000"),
        ("postgresql://u:p@db:5432/w?options=-c%20search_path%3Dreports", "-c statement_timeout=600000 -c search_path=reports"),
        ("host=db dbname=w options='-c statement_timeout=5s'", "-c statement_timeout=600000 -c statement_timeout=5s"),
    ],
)
def test_the_statement_timeout_joins_the_urls_own_options_before_them(url: str, options: str) -> None:
    assert _session_options(url, SessionLimits(600000, 2000)) == options


def test_a_table_is_created_from_its_column_lines() -> None:
    table = Table("t", ("a int NOT NULL", "b text"), ("PRIMARY KEY (a)",), "PARTITION BY LIST (a)")
    expected = "CREATE TABLE IF NOT EXISTS t (\n    a int NOT NULL,\n    b text,\n    PRIMARY KEY (a)\n) PARTITION BY LIST (a)"
    assert table.create_statement() == expected
