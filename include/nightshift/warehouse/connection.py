"""PostgreSQL connections for the warehouse: retry with backoff, errors that name the host (never the password),
and a statement timeout on every session, so no statement of a task waits or runs forever.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions

from nightshift.config import load_params, params_path

log = logging.getLogger(__name__)

_MAX_BACKOFF_SECONDS = 30.0


class WarehouseUnavailableError(psycopg2.OperationalError):
    """PostgreSQL could not be reached after every connection attempt."""


def redact_url(url: str) -> str:
    """The URL with any password masked, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _endpoint(url: str) -> str:
    """host:port of a libpq URL or DSN, for error messages (never the password)."""
    try:
        params = psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError:
        return "<unparseable database URL>"
    host = params.get("host") or "localhost (Unix socket)"
    return f"{host}:{params.get('port') or 5432}"


def _retry_settings() -> tuple[int, float]:
    """Connection attempts and first backoff delay; env so tests and deployments can tune them."""
    attempts = int(os.environ.get("NIGHTSHIFT_PG_CONNECT_ATTEMPTS", "5"))
    backoff = float(os.environ.get("NIGHTSHIFT_PG_CONNECT_BACKOFF_SECONDS", "1"))
    if attempts < 1 or backoff < 0:
        raise ValueError(
            f"NIGHTSHIFT_PG_CONNECT_ATTEMPTS must be >= 1 and NIGHTSHIFT_PG_CONNECT_BACKOFF_SECONDS >= 0, got {attempts} and {backoff}"
        )
    return attempts, backoff


@dataclass(frozen=True)
class SessionLimits:
    """How long a warehouse statement may run, and a schema change wait for its table's lock (params.yaml ``warehouse``)."""

    statement_timeout_ms: int
    schema_lock_timeout_ms: int

    def __post_init__(self) -> None:
        # 0 would mean "no limit" to PostgreSQL: exactly the unbounded wait these settings exist to prevent.
        if self.statement_timeout_ms < 1 or self.schema_lock_timeout_ms < 1:
            raise ValueError(f"warehouse.statement_timeout_ms and warehouse.schema_lock_timeout_ms must be >= 1, got {self}")

    @classmethod
    def from_params(cls, params: dict[str, Any], source: Path | str = "params.yaml") -> SessionLimits:
        warehouse = params.get("warehouse") or {}
        missing = [key for key in ("statement_timeout_ms", "schema_lock_timeout_ms") if key not in warehouse]
        if missing:
            raise KeyError(f"{source}: warehouse.{missing[0]} is not set (every warehouse session needs it)")
        return cls(int(warehouse["statement_timeout_ms"]), int(warehouse["schema_lock_timeout_ms"]))


@functools.lru_cache(maxsize=8)
def _limits_of(path: Path, _mtime_ns: int, _size: int) -> SessionLimits:
    return SessionLimits.from_params(load_params(path), path)


def session_limits() -> SessionLimits:
    """The limits of params.yaml (NIGHTSHIFT_PARAMS), read once per version of the file, not once per connection."""
    path = params_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        load_params(path)  # raises, naming the file and NIGHTSHIFT_PARAMS
        raise
    return _limits_of(path, stat.st_mtime_ns, stat.st_size)


def _session_options(url: str, limits: SessionLimits) -> str:
    """libpq ``options`` for a session: the URL's own (an Airflow connection's extra) kept, and the statement timeout.

    Set at connection start, not with SET: it holds from the first statement and survives any rollback.
    The timeout goes first, so a ``-c statement_timeout`` in the URL itself (one deployment's choice) wins.
    """
    own = psycopg2.extensions.parse_dsn(url).get("options", "")
    return f"-c statement_timeout={limits.statement_timeout_ms} {own}".strip()


def open_connection(url: str) -> psycopg2.extensions.connection:
    """Connect, retrying with exponential backoff: a database restarting or failing over is usually back soon.

    Every statement of the session is cancelled past ``warehouse.statement_timeout_ms``.
    """
    attempts, backoff = _retry_settings()
    options = _session_options(url, session_limits())
    attempt = 1
    while True:
        try:
            return psycopg2.connect(url, connect_timeout=10, application_name="nightshift", options=options)
        except psycopg2.OperationalError as exc:
            cause = re.sub(r"\s+", " ", str(exc)).strip()
            if attempt >= attempts:
                raise WarehouseUnavailableError(
                    f"PostgreSQL at {_endpoint(url)} is unreachable after {attempts} attempt(s): {cause}"
                ) from exc
            delay = min(backoff * 2 ** (attempt - 1), _MAX_BACKOFF_SECONDS)
            log.warning(
                "PostgreSQL at %s unreachable (attempt %d/%d: %s); retrying in %.2fs",
                _endpoint(url),
                attempt,
                attempts,
                cause,
                delay,
            )
            time.sleep(delay)
            attempt += 1


@contextmanager
def connect(url: str) -> Iterator[psycopg2.extensions.connection]:
    """A connection that commits on success, rolls back on error, and is always closed."""
    conn = open_connection(url)
    try:
        with conn:  # commit / rollback only; psycopg2's context manager does not close
            yield conn
    finally:
        conn.close()
