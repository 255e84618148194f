"""Embedded PostgreSQL 16 (binaries from the ``pgserver`` wheel) for machines without a database URL.

The server lives in ``pgdata_dir()`` and listens on TCP 127.0.0.1 only, so every
process (Airflow tasks included) reaches the same server through a plain URL. It is started with
``pg_ctl`` directly rather than ``pgserver.get_server()``: that helper stops the server when the last
Python handle exits, listens on a Unix socket only, and as root creates an OS user with ``useradd``.

Root: PostgreSQL refuses to run as root. As root we run the binaries as an existing unprivileged
account instead (the owner of an existing data folder, else NIGHTSHIFT_PG_OS_USER, else ``postgres``,
``pgserver`` or ``nobody``); no account is ever created.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import pwd
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import errors, sql

from nightshift.config import project_home

log = logging.getLogger(__name__)

DEFAULT_PORT = 54329
HOST = "127.0.0.1"
DB_NAME = "nightshift"
DB_USER = "postgres"
LOG_NAME = "postgres.log"
OS_USER_CANDIDATES = ("postgres", "pgserver", "nobody")
START_TIMEOUT_S = 60


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged account the binaries run as when we are root."""

    name: str
    uid: int
    gid: int


def pgdata_dir() -> Path:
    """The embedded server's data folder: NIGHTSHIFT_PGDATA, else `.pgdata` in the project."""
    return Path(os.environ.get("NIGHTSHIFT_PGDATA", project_home() / ".pgdata")).resolve()


def bin_dir() -> Path:
    """The bundled PostgreSQL ``bin`` folder, found without importing pgserver (its import has side effects)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the pgserver package is not installed; install it or set NIGHTSHIFT_DATABASE_URL")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "pg_ctl").exists():
        raise EmbeddedPostgresError(f"pgserver is installed but has no PostgreSQL binaries in {path}")
    return path


def default_port() -> int:
    raw = os.environ.get("NIGHTSHIFT_PG_PORT", str(DEFAULT_PORT))
    try:
        port = int(raw)
    except ValueError:
        raise EmbeddedPostgresError(f"NIGHTSHIFT_PG_PORT must be an integer, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise EmbeddedPostgresError(f"NIGHTSHIFT_PG_PORT out of range: {port}")
    return port


def embedded_url(port: int) -> str:
    return f"postgresql://{DB_USER}@{HOST}:{port}/{DB_NAME}"


def log_path(pgdata: Path) -> Path:
    return pgdata / LOG_NAME


def _run_as(pgdata: Path) -> _RunAs | None:
    """None when not root; else the account to run PostgreSQL as."""
    if os.geteuid() != 0:
        return None
    if (pgdata / "PG_VERSION").exists():
        # An existing cluster must be run by its owner: PostgreSQL checks the data folder's ownership.
        owner = pgdata.stat().st_uid
        if owner == 0:
            raise EmbeddedPostgresError(f"embedded PostgreSQL data folder {pgdata} is owned by root; PostgreSQL cannot run as root")
        entry = pwd.getpwuid(owner)
        return _RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)
    env_user = os.environ.get("NIGHTSHIFT_PG_OS_USER")
    candidates = [env_user] if env_user else list(OS_USER_CANDIDATES)
    for name in candidates:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return _RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)
    raise EmbeddedPostgresError(
        f"running as root and none of the OS accounts {candidates} exists (PostgreSQL refuses to run as root); "
        "set NIGHTSHIFT_PG_OS_USER to an existing unprivileged account or set NIGHTSHIFT_DATABASE_URL"
    )


def _check_traversable(path: Path, who: _RunAs) -> None:
    """Fail early, with the folder named, if ``who`` cannot reach ``path`` (we never chmod others' folders)."""
    for folder in [p for p in path.parents if p.is_dir()]:
        st = folder.stat()
        if st.st_uid == who.uid:
            bit = stat.S_IXUSR
        elif st.st_gid == who.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            raise EmbeddedPostgresError(
                f"OS user {who.name!r} (PostgreSQL cannot run as root) cannot enter {folder}, needed for {path}; "
                f"grant it with 'chmod o+x {folder}' or point NIGHTSHIFT_PGDATA somewhere reachable"
            )


def _child_env() -> dict[str, str]:
    # PG* variables (PGPORT, PGDATA, PGHOST...) would silently override what we pass explicitly.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(args: Sequence[str], who: _RunAs | None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a bundled binary (as ``who`` if given); output goes through temp files, never pipes."""
    cmd = [str(bin_dir() / args[0]), *args[1:]]
    # Pipes can hang: the postmaster started by pg_ctl would inherit them. Temp files cannot.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(
            cmd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            cwd="/",
            env=_child_env(),
            check=False,
            # As root: drop to the unprivileged account, supplementary groups (root's) included.
            user=who.uid if who else None,
            group=who.gid if who else None,
            extra_groups=[] if who else None,
        )
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())


@contextmanager
def _lock(pgdata: Path) -> Iterator[None]:
    """Serialise start/stop across processes: parallel Airflow tasks may all ask for the server at once."""
    # Lock the data folder itself (initdb accepts an existing empty folder): a lock file would have to
    # live beside it, in the project root, where git would see it.
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(pgdata, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _log_tail(pgdata: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_path(pgdata).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log file)"


def _running_port(pgdata: Path) -> int | None:
    """Port from postmaster.pid (4th line), if the file is there."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[3])
    except (OSError, IndexError, ValueError):
        return None


def _is_running(pgdata: Path, who: _RunAs | None) -> bool:
    # pg_ctl status: 0 running, 3 not running, 4 no usable data folder.
    return _run(["pg_ctl", "status", "-D", str(pgdata)], who, timeout=30).returncode == 0


def _wait_ready(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        res = _run(["pg_isready", "-q", "-h", HOST, "-p", str(port), "-U", DB_USER, "-d", "postgres"], None, timeout=30)
        if res.returncode == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _initdb(pgdata: Path, who: _RunAs | None) -> None:
    if pgdata.exists() and any(pgdata.iterdir()):
        raise EmbeddedPostgresError(f"{pgdata} is not empty and is not a PostgreSQL data folder (no PG_VERSION); refusing to initialise it")
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    if who is not None:
        os.chown(pgdata, who.uid, who.gid)
    log.info("initialising embedded PostgreSQL data folder %s", pgdata)
    # Trust auth is acceptable only because the server listens on 127.0.0.1 and holds derived scores.
    res = _run(["initdb", "-D", str(pgdata), "-U", DB_USER, "--auth=trust", "--encoding=UTF8", "--locale=C"], who)
    if res.returncode != 0:
        detail = res.stderr.strip() or res.stdout.strip()
        raise EmbeddedPostgresError(f"initdb failed for {pgdata} (exit {res.returncode}):\n{detail}")


def _ensure_database(port: int) -> None:
    conn = psycopg2.connect(host=HOST, port=port, user=DB_USER, dbname="postgres", connect_timeout=10)
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
            if cur.fetchone() is None:
                try:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
                    log.info("created database %s", DB_NAME)
                except errors.DuplicateDatabase:
                    pass  # a process that bypassed our lock (e.g. a manual start) won the race
    finally:
        conn.close()


def start_embedded(pgdata: Path | None = None, port: int | None = None) -> str:
    """Start (or reuse) the embedded server and return its URL; idempotent and process-safe."""
    pgdata = (pgdata or pgdata_dir()).resolve()
    port = port if port is not None else default_port()
    with _lock(pgdata):
        who = _run_as(pgdata)
        if who is not None:
            _check_traversable(pgdata, who)
            _check_traversable(bin_dir() / "postgres", who)
        if not (pgdata / "PG_VERSION").exists():
            _initdb(pgdata, who)
        logfile = log_path(pgdata)
        if _is_running(pgdata, who):
            actual = _running_port(pgdata) or port
            if actual != port:
                log.warning("embedded PostgreSQL in %s already runs on port %d, not %d; using it", pgdata, actual, port)
            port = actual
            if not _wait_ready(port, START_TIMEOUT_S):
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL in {pgdata} is running but not accepting connections on {HOST}:{port}; "
                    f"see log {logfile}:\n{_log_tail(pgdata)}"
                )
            log.debug("embedded PostgreSQL already running in %s on port %d", pgdata, port)
        else:
            t0 = time.monotonic()
            # No Unix socket: TCP only, so socket-path length limits and /tmp permissions never matter.
            opts = f"-c listen_addresses={HOST} -p {port} -c unix_socket_directories=''"
            res = _run(
                ["pg_ctl", "start", "-D", str(pgdata), "-l", str(logfile), "-w", "-t", str(START_TIMEOUT_S), "-o", opts],
                who,
                timeout=START_TIMEOUT_S + 30,
            )
            if res.returncode != 0 or not _wait_ready(port, 10):
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL in {pgdata} failed to start on {HOST}:{port} (pg_ctl exit {res.returncode}: "
                    f"{(res.stderr or res.stdout).strip()}); see log {logfile}:\n{_log_tail(pgdata)}"
                )
            log.info(
                "started embedded PostgreSQL in %s on %s:%d in %.1fs (log %s)",
                pgdata,
                HOST,
                port,
                time.monotonic() - t0,
                logfile,
            )
        _ensure_database(port)
    return embedded_url(port)


def stop_embedded(pgdata: Path | None = None) -> None:
    """Stop the embedded server (fast shutdown); a no-op if it is not running."""
    pgdata = (pgdata or pgdata_dir()).resolve()
    if not (pgdata / "PG_VERSION").exists():
        log.info("no embedded PostgreSQL data folder at %s; nothing to stop", pgdata)
        return
    with _lock(pgdata):
        who = _run_as(pgdata)
        if not _is_running(pgdata, who):
            log.info("embedded PostgreSQL in %s is not running", pgdata)
            return
        res = _run(
            ["pg_ctl", "stop", "-D", str(pgdata), "-m", "fast", "-w", "-t", str(START_TIMEOUT_S)],
            who,
            timeout=START_TIMEOUT_S + 30,
        )
        if res.returncode != 0:
            raise EmbeddedPostgresError(
                f"could not stop embedded PostgreSQL in {pgdata} (pg_ctl exit {res.returncode}: "
                f"{(res.stderr or res.stdout).strip()}); see log {log_path(pgdata)}"
            )
        log.info("stopped embedded PostgreSQL in %s", pgdata)
