"""Warehouse tables created or extended only where the catalog says something is missing, under a bounded lock wait.

``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` (and ``CREATE INDEX IF NOT EXISTS``) lock the table before
PostgreSQL looks whether there is anything to do, and an exclusive lock that is waited for queues every
later reader of the table behind it: one session left idle in a transaction on the table would then
hang the task and every dashboard with it. So the catalog is read first (``to_regclass`` and
``pg_attribute`` take no lock on the table), a complete schema runs no DDL at all, and what is missing
is created with each lock waited for at most ``warehouse.schema_lock_timeout_ms``. A lock still held
then fails the task with :class:`TableLockedError`, naming the table and the sessions holding it, and
the task's retry tries again.

A table is declared once, as its column definitions: a column appended to the list is added to tables
created before it, so it must be addable to a table holding rows (nullable, or with a default).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from nightshift.warehouse.connection import session_limits

log = logging.getLogger(__name__)


class TableLockedError(psycopg2.OperationalError):
    """A schema change gave up waiting for a lock another session holds; a retry of the task tries again."""


@dataclass(frozen=True)
class Table:
    """A warehouse table: its columns in order (``name type constraints``), table constraints, indexes.

    ``indexes`` maps an index name to what follows ``ON`` (``"scoring_runs (score_date)"``); ``suffix``
    follows the column list at creation (``PARTITION BY ...``). Constraints and the suffix apply only when
    the table is created.
    """

    name: str
    columns: tuple[str, ...]
    constraints: tuple[str, ...] = ()
    suffix: str = ""
    indexes: tuple[tuple[str, str], ...] = ()

    def create_statement(self) -> str:
        body = ",\n    ".join((*self.columns, *self.constraints))
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n) {self.suffix}".rstrip()


def _column_name(definition: str) -> str:
    return definition.split(None, 1)[0]


def _missing(cur: psycopg2.extensions.cursor, table: Table) -> list[tuple[str, str]]:
    """What of ``table`` is missing, as (what, statement) pairs: all of it, columns, indexes, or nothing."""
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table.name,))
    if not cur.fetchone()[0]:
        indexes = [(f"create index {name}", f"CREATE INDEX IF NOT EXISTS {name} ON {on}") for name, on in table.indexes]
        return [("create table", table.create_statement()), *indexes]
    cur.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (table.name,),
    )
    present = {name for (name,) in cur.fetchall()}
    todo = [
        (f"add column {_column_name(c)}", f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {c}")
        for c in table.columns
        if _column_name(c) not in present
    ]
    for name, on in table.indexes:
        cur.execute("SELECT to_regclass(%s) IS NULL", (name,))
        if cur.fetchone()[0]:
            todo.append((f"create index {name}", f"CREATE INDEX IF NOT EXISTS {name} ON {on}"))
    return todo


def schema_complete(cur: psycopg2.extensions.cursor, tables: Sequence[Table]) -> bool:
    """True when every table, column and index of ``tables`` exists; reads only the catalog."""
    return not any(_missing(cur, table) for table in tables)


def _lock_holders(cur: psycopg2.extensions.cursor, table: str) -> str:
    """The other sessions holding a lock on ``table``: pid, state, since when, application."""
    cur.execute(
        """SELECT DISTINCT a.pid, a.state, a.xact_start, a.application_name
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.relation = to_regclass(%s) AND l.granted AND l.pid <> pg_backend_pid() ORDER BY a.pid""",
        (table,),
    )
    holders = [
        f"pid {pid} ({state or 'unknown state'}, transaction open since {since:%Y-%m-%d %H:%M:%S %Z}, application {app or '?'!r})"
        if since is not None
        else f"pid {pid} ({state or 'unknown state'}, application {app or '?'!r})"
        for pid, state, since, app in cur.fetchall()
    ]
    return "; ".join(holders) or "none by now (it has been released)"


def run_ddl(cur: psycopg2.extensions.cursor, table: str, statement: str | sql.Composable, params: Sequence[Any] | None = None) -> None:
    """Run one schema statement on ``table`` inside :func:`bounded_schema_change`; a lock wait past the timeout names the table."""
    text = " ".join((statement if isinstance(statement, str) else statement.as_string(cur)).split())
    cur.execute("SAVEPOINT schema_change")
    try:
        cur.execute(statement, params)
    except psycopg2.errors.LockNotAvailable as exc:
        cur.execute("ROLLBACK TO SAVEPOINT schema_change")
        holders = _lock_holders(cur, table)
        raise TableLockedError(
            f"{table} is locked by another session, so its schema change gave up after waiting "
            f"warehouse.schema_lock_timeout_ms ({session_limits().schema_lock_timeout_ms} ms) for the lock: "
            f"{text[:120]!r}. The task fails and its retry tries again; if it keeps failing, end the "
            f"session holding {table} (often a transaction left open, idle, by a client). Holding it now: {holders}"
        ) from exc
    cur.execute("RELEASE SAVEPOINT schema_change")


@contextmanager
def bounded_schema_change(cur: psycopg2.extensions.cursor, lock_namespace: int, tables: Sequence[str]) -> Iterator[None]:
    """A block of schema statements in the cursor's transaction, each lock waited for at most the schema lock timeout.

    Concurrent callers are serialised by the advisory lock ``(lock_namespace, 0)``: concurrent
    ``CREATE ... IF NOT EXISTS`` can still collide in the catalog.
    """
    cur.execute("SELECT current_setting('lock_timeout')")
    (before,) = cur.fetchone()
    cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{session_limits().schema_lock_timeout_ms}ms",))
    try:
        cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (lock_namespace,))
    except psycopg2.errors.LockNotAvailable as exc:
        raise TableLockedError(
            f"another session is changing the schema of {', '.join(tables)} and held its lock past "
            f"warehouse.schema_lock_timeout_ms ({session_limits().schema_lock_timeout_ms} ms); the task fails and its retry tries again"
        ) from exc
    yield
    # Back to what the transaction had: statements after the schema change wait as their caller chose.
    cur.execute("SELECT set_config('lock_timeout', %s, true)", (before,))


def create_missing(cur: psycopg2.extensions.cursor, tables: Sequence[Table]) -> list[str]:
    """Inside :func:`bounded_schema_change`: create what is missing of ``tables``; return what was done."""
    done = []
    for table in tables:
        # Looked up again under the advisory lock: another session may have created it meanwhile.
        for what, statement in _missing(cur, table):
            run_ddl(cur, table.name, statement)
            done.append(f"{table.name}: {what}")
    return done


def ensure_tables(cur: psycopg2.extensions.cursor, tables: Sequence[Table], lock_namespace: int) -> list[str]:
    """Create what is missing of ``tables`` (in order: a table may refer to one before it); return what was done.

    A complete schema costs a few catalog reads and takes no lock on any of the tables.
    """
    if schema_complete(cur, tables):
        return []
    with bounded_schema_change(cur, lock_namespace, [t.name for t in tables]):
        done = create_missing(cur, tables)
    if done:
        log.info("warehouse schema changed: %s", "; ".join(done))
    return done
