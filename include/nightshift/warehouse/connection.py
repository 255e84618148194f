"""PostgreSQL connections for the warehouse: retry with backoff, and errors that name the host, never the password."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions

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


def open_connection(url: str) -> psycopg2.extensions.connection:
    """Connect, retrying with exponential backoff: a database restarting or failing over is usually back soon."""
    attempts, backoff = _retry_settings()
    attempt = 1
    while True:
        try:
            return psycopg2.connect(url, connect_timeout=10, application_name="nightshift")
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
