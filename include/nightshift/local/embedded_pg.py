"""Embedded PostgreSQL 16 (binaries from the ``pgserver`` wheel) for machines without a database URL.

The server lives in ``pgdata_dir()`` and listens on TCP 127.0.0.1 only, so every
process (Airflow tasks included) reaches the same server through a plain URL. It is started with
``pg_ctl`` directly rather than ``pgserver.get_server()``: that helper stops the server when the last
Python handle exits, listens on a Unix socket only, and as root creates an OS user with ``useradd``.

Auth: scram-sha-256 for every connection (no trust lines). The superuser's password is generated at
initdb and kept in the data folder (``nightshift.password``, mode 0600, owned by the user that runs
nightshift, the only one that reads it); the URL ``start_embedded`` returns carries it. A data folder
an earlier version initialised with trust auth is migrated on its next start.

Root: PostgreSQL refuses to run as root. As root we run the binaries as an existing unprivileged
account instead (the owner of an existing data folder, else NIGHTSHIFT_PG_OS_USER, else ``postgres``,
``pgserver`` or ``nobody``); no account is ever created. That account often cannot enter the project
(a clone in /root, mode 0700): then the binaries run from a root-owned copy and the data folder is
placed under NIGHTSHIFT_PG_RUNTIME_DIR (default /var/lib/nightshift), with a symlink where it was asked for.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import errors, sql

from nightshift.config import project_home

log = logging.getLogger(__name__)

DEFAULT_PORT = 54329
HOST = "127.0.0.1"
DB_NAME = "nightshift"
DB_USER = "postgres"
LOG_NAME = "postgres.log"
PASSWORD_NAME = "nightshift.password"
AUTH_METHOD = "scram-sha-256"
OS_USER_CANDIDATES = ("postgres", "pgserver", "nobody")
START_TIMEOUT_S = 60
DEFAULT_RUNTIME_DIR = Path("/var/lib/nightshift")


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged account the binaries run as when we are root."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class _Binaries:
    """Where the PostgreSQL binaries run from, and as whom (None: as ourselves)."""

    bin: Path
    who: _RunAs | None


def pgdata_dir() -> Path:
    """The embedded server's data folder: NIGHTSHIFT_PGDATA, else `.pgdata` in the project."""
    return Path(os.environ.get("NIGHTSHIFT_PGDATA", project_home() / ".pgdata")).resolve()


def runtime_dir() -> Path:
    """As root only: where binaries and data go when the server's account cannot enter the project."""
    return Path(os.environ.get("NIGHTSHIFT_PG_RUNTIME_DIR", DEFAULT_RUNTIME_DIR)).resolve()


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


def embedded_url(port: int, password: str) -> str:
    return f"postgresql://{DB_USER}:{quote(password, safe='')}@{HOST}:{port}/{DB_NAME}"


def log_path(pgdata: Path) -> Path:
    return pgdata / LOG_NAME


def password_path(pgdata: Path) -> Path:
    return pgdata / PASSWORD_NAME


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


def _blocked_at(path: Path, who: _RunAs) -> Path | None:
    """The first folder on the way to ``path`` (symlinks followed too) that ``who`` cannot enter, if any."""
    for route in dict.fromkeys([path, path.resolve()]):
        for folder in reversed([p for p in route.parents if p.is_dir()]):
            st = folder.stat()
            if st.st_uid == who.uid:
                bit = stat.S_IXUSR
            elif st.st_gid == who.gid:
                bit = stat.S_IXGRP
            else:
                bit = stat.S_IXOTH
            if not st.st_mode & bit:
                return folder
    return None


def _check_traversable(path: Path, who: _RunAs) -> None:
    """Fail early, with the folder named, if ``who`` cannot reach ``path`` (we never chmod others' folders)."""
    folder = _blocked_at(path, who)
    if folder is not None:
        raise EmbeddedPostgresError(
            f"OS user {who.name!r} (PostgreSQL cannot run as root) cannot enter {folder}, needed for {path}; "
            f"grant it with 'chmod o+x {folder}' or point NIGHTSHIFT_PGDATA somewhere reachable"
        )


def _root_owned_dir(path: Path, mode: int) -> Path:
    """``path`` as a folder only root can write to: binaries in it run as root (pg_isready) and as the server."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise EmbeddedPostgresError(
            f"{path} must be owned by root and writable by root only (it holds the embedded PostgreSQL's binaries "
            "and data); fix its owner and mode, or set NIGHTSHIFT_PG_RUNTIME_DIR to another folder"
        )
    return path


@contextmanager
def _runtime_lock() -> Iterator[Path]:
    """Serialise copying binaries and placing data folders under the runtime folder across processes."""
    root = _root_owned_dir(runtime_dir(), 0o755)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield root
    finally:
        os.close(fd)


def _pgserver_key(src_bin: Path) -> str:
    """Names the runtime copy: one per pgserver release (the same release ships the same binaries)."""
    try:
        return f"pgserver-{importlib.metadata.version('pgserver')}"
    except importlib.metadata.PackageNotFoundError:
        return "pgserver-" + hashlib.sha256((src_bin / "postgres").read_bytes()).hexdigest()[:16]


def _readable_by_all(root: Path) -> None:
    # The copy keeps the source's modes, which a restrictive umask at install time may have left owner-only.
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        executable = path.is_dir() or mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        path.chmod(0o755 if executable else 0o644)


def _runtime_binaries(root: Path, src_bin: Path) -> Path:
    """A root-owned copy of pgserver's install, outside any home folder, so the server's account can run it.

    The layout ``<key>/pgserver/pginstall/{bin,lib,share}`` plus ``<key>/pgserver.libs`` mirrors site-packages:
    the binaries find libpq through an rpath relative to themselves, and share/ and lib/ relative to bin/.
    """
    dest = root / _pgserver_key(src_bin)
    bin_path = dest / "pgserver" / "pginstall" / "bin"
    if (bin_path / "postgres").exists():
        return bin_path
    install = src_bin.parent
    staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=root))
    try:
        for part in ("bin", "lib", "share"):
            shutil.copytree(install / part, staging / "pgserver" / "pginstall" / part, symlinks=True)
        libs = install.parent.parent / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "pgserver.libs", symlinks=True)
        _readable_by_all(staging)
        staging.rename(dest)  # atomic: a copy is either complete or absent
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("copied the PostgreSQL binaries to %s: the server's OS account cannot reach %s", dest, src_bin)
    return bin_path


def _place_data(root: Path, pgdata: Path, who: _RunAs) -> Path:
    """The data folder ``who`` can enter: ``pgdata`` itself, or a folder under the runtime root it links to."""
    blocked = _blocked_at(pgdata, who)
    if blocked is None:
        return pgdata
    if pgdata.is_dir():
        if any(pgdata.iterdir()):
            return pgdata  # an existing folder is never moved: the start names the folder that blocks it
        pgdata.rmdir()  # left empty by a start that failed here
    data_root = _root_owned_dir(root / "data", 0o711)  # enterable, not listable
    target = data_root / hashlib.sha256(str(pgdata).encode()).hexdigest()[:16]
    target.mkdir(mode=0o700, exist_ok=True)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    pgdata.symlink_to(target, target_is_directory=True)
    log.info("embedded PostgreSQL data folder %s is a link to %s: OS user %r cannot enter %s", pgdata, target, who.name, blocked)
    return target


def _prepare(pgdata: Path) -> tuple[Path, _Binaries]:
    """The data folder (resolved) and the binaries to run, reachable by the account they run as."""
    pgdata = pgdata.resolve()
    src_bin = bin_dir()
    who = _run_as(pgdata)
    if who is None:
        return pgdata, _Binaries(src_bin, None)
    bins = src_bin
    if _blocked_at(pgdata, who) is not None or _blocked_at(src_bin / "postgres", who) is not None:
        with _runtime_lock() as root:
            pgdata = _place_data(root, pgdata, who)
            if _blocked_at(src_bin / "postgres", who) is not None:
                bins = _runtime_binaries(root, src_bin)
        who = _run_as(pgdata) or who  # a placed folder may hold an existing cluster, run by its owner
    _check_traversable(pgdata, who)
    _check_traversable(bins / "postgres", who)
    return pgdata, _Binaries(bins, who)


def _child_env() -> dict[str, str]:
    # PG* variables (PGPORT, PGDATA, PGHOST, PGPASSWORD...) would silently override what we pass explicitly.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(
    args: Sequence[str], bins: _Binaries, timeout: float = 120, as_server: bool = True, pass_fds: Sequence[int] = ()
) -> subprocess.CompletedProcess[str]:
    """Run a bundled binary (as the server's account unless ``as_server`` is False); output goes through temp files."""
    cmd = [str(bins.bin / args[0]), *args[1:]]
    who = bins.who if as_server else None
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
            pass_fds=tuple(pass_fds),
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


def _is_running(pgdata: Path, bins: _Binaries) -> bool:
    # pg_ctl status: 0 running, 3 not running, 4 no usable data folder.
    return _run(["pg_ctl", "status", "-D", str(pgdata)], bins, timeout=30).returncode == 0


def _wait_ready(port: int, bins: _Binaries, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        args = ["pg_isready", "-q", "-h", HOST, "-p", str(port), "-U", DB_USER, "-d", "postgres"]
        if _run(args, bins, timeout=30, as_server=False).returncode == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _write_password(pgdata: Path, password: str) -> None:
    """Owner-only, owned by us (root included): we read it to connect; the server never does."""
    path = password_path(pgdata)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)  # never a half-written password file


def _read_password(pgdata: Path) -> str | None:
    try:
        return password_path(pgdata).read_text().strip() or None
    except FileNotFoundError:
        return None


def _initdb(pgdata: Path, bins: _Binaries) -> None:
    if pgdata.exists() and any(pgdata.iterdir()):
        raise EmbeddedPostgresError(f"{pgdata} is not empty and is not a PostgreSQL data folder (no PG_VERSION); refusing to initialise it")
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    who = bins.who
    if who is not None:
        os.chown(pgdata, who.uid, who.gid)
    log.info("initialising embedded PostgreSQL data folder %s", pgdata)
    password = secrets.token_urlsafe(24)
    # initdb reads the password from an unlinked temp file through /dev/fd: no path the server's account
    # would need to reach, nothing left on disk, never on a command line.
    with tempfile.TemporaryFile("w+") as pwfile:
        pwfile.write(password + "\n")
        pwfile.flush()
        if who is not None:
            os.fchown(pwfile.fileno(), who.uid, who.gid)
        fd = pwfile.fileno()
        res = _run(
            [
                "initdb",
                "-D",
                str(pgdata),
                "-U",
                DB_USER,
                f"--auth={AUTH_METHOD}",
                f"--pwfile=/dev/fd/{fd}",
                "--encoding=UTF8",
                "--locale=C",
            ],
            bins,
            pass_fds=(fd,),
        )
    if res.returncode != 0:
        detail = res.stderr.strip() or res.stdout.strip()
        raise EmbeddedPostgresError(f"initdb failed for {pgdata} (exit {res.returncode}):\n{detail}")
    _write_password(pgdata, password)


def _hba_path(pgdata: Path) -> Path:
    return pgdata / "pg_hba.conf"


def _is_trust_rule(line: str) -> bool:
    fields = line.split("#", 1)[0].split()
    return bool(fields) and fields[-1] == "trust"  # trust takes no options: it is always the last field


def _trust_rules(pgdata: Path) -> list[str]:
    return [line for line in _hba_path(pgdata).read_text().splitlines() if _is_trust_rule(line)]


def _without_trust(hba: str) -> str:
    out = []
    for line in hba.splitlines(keepends=True):
        if _is_trust_rule(line):
            rule, hash_, comment = line.partition("#")
            line = re.sub(r"(?<=\s)trust(?=\s*$)", AUTH_METHOD, rule) + hash_ + comment
        out.append(line)
    return "".join(out)


def _migrate_from_trust(pgdata: Path, port: int, bins: _Binaries) -> None:
    """A data folder from an earlier version (trust auth): set a password, switch pg_hba.conf, restart.

    Each step can be redone: a start interrupted half-way finishes the migration the next time.
    """
    password = _read_password(pgdata)
    if password is None:
        password = secrets.token_urlsafe(24)
        _write_password(pgdata, password)  # first, so a password set below is never lost
    conn = psycopg2.connect(host=HOST, port=port, user=DB_USER, dbname="postgres", connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(DB_USER)), (password,))
    finally:
        conn.close()
    hba = _hba_path(pgdata)
    st = hba.stat()
    tmp = hba.with_name(hba.name + ".nightshift.tmp")
    tmp.write_text(_without_trust(hba.read_text()))
    os.chown(tmp, st.st_uid, st.st_gid)  # the server reads it as its own account
    tmp.chmod(stat.S_IMODE(st.st_mode))
    os.replace(tmp, hba)
    # A restart, not a reload: once it returns no connection can still be let in by the old rules.
    _stop(pgdata, bins)
    _start(pgdata, port, bins)
    log.warning(
        "embedded PostgreSQL in %s used trust authentication (an earlier nightshift); it now requires the password in %s",
        pgdata,
        password_path(pgdata),
    )


def _ensure_database(port: int, password: str) -> None:
    conn = psycopg2.connect(host=HOST, port=port, user=DB_USER, password=password, dbname="postgres", connect_timeout=10)
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


def _start(pgdata: Path, port: int, bins: _Binaries) -> None:
    logfile = log_path(pgdata)
    t0 = time.monotonic()
    # No Unix socket: TCP only, so socket-path length limits and /tmp permissions never matter.
    opts = f"-c listen_addresses={HOST} -p {port} -c unix_socket_directories=''"
    res = _run(
        ["pg_ctl", "start", "-D", str(pgdata), "-l", str(logfile), "-w", "-t", str(START_TIMEOUT_S), "-o", opts],
        bins,
        timeout=START_TIMEOUT_S + 30,
    )
    if res.returncode != 0 or not _wait_ready(port, bins, 10):
        raise EmbeddedPostgresError(
            f"embedded PostgreSQL in {pgdata} failed to start on {HOST}:{port} (pg_ctl exit {res.returncode}: "
            f"{(res.stderr or res.stdout).strip()}); see log {logfile}:\n{_log_tail(pgdata)}"
        )
    log.info("started embedded PostgreSQL in %s on %s:%d in %.1fs (log %s)", pgdata, HOST, port, time.monotonic() - t0, logfile)


def _stop(pgdata: Path, bins: _Binaries) -> None:
    res = _run(["pg_ctl", "stop", "-D", str(pgdata), "-m", "fast", "-w", "-t", str(START_TIMEOUT_S)], bins, timeout=START_TIMEOUT_S + 30)
    if res.returncode != 0:
        raise EmbeddedPostgresError(
            f"could not stop embedded PostgreSQL in {pgdata} (pg_ctl exit {res.returncode}: "
            f"{(res.stderr or res.stdout).strip()}); see log {log_path(pgdata)}"
        )


def start_embedded(pgdata: Path | None = None, port: int | None = None) -> str:
    """Start (or reuse) the embedded server and return its URL, password included; idempotent and process-safe."""
    pgdata, bins = _prepare(pgdata or pgdata_dir())
    port = port if port is not None else default_port()
    with _lock(pgdata):
        if not (pgdata / "PG_VERSION").exists():
            _initdb(pgdata, bins)
        if _is_running(pgdata, bins):
            actual = _running_port(pgdata) or port
            if actual != port:
                log.warning("embedded PostgreSQL in %s already runs on port %d, not %d; using it", pgdata, actual, port)
            port = actual
            if not _wait_ready(port, bins, START_TIMEOUT_S):
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL in {pgdata} is running but not accepting connections on {HOST}:{port}; "
                    f"see log {log_path(pgdata)}:\n{_log_tail(pgdata)}"
                )
            log.debug("embedded PostgreSQL already running in %s on port %d", pgdata, port)
        else:
            _start(pgdata, port, bins)
        if _trust_rules(pgdata):
            _migrate_from_trust(pgdata, port, bins)
        password = _read_password(pgdata)
        if password is None:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL in {pgdata} requires a password but its password file {password_path(pgdata)} is missing; "
                "restore the file, or stop the server and remove the data folder to start afresh (its data is lost)"
            )
        _ensure_database(port, password)
    return embedded_url(port, password)


def stop_embedded(pgdata: Path | None = None) -> None:
    """Stop the embedded server (fast shutdown); a no-op if it is not running."""
    pgdata = (pgdata or pgdata_dir()).resolve()
    if not (pgdata / "PG_VERSION").exists():
        log.info("no embedded PostgreSQL data folder at %s; nothing to stop", pgdata)
        return
    pgdata, bins = _prepare(pgdata)
    with _lock(pgdata):
        if not _is_running(pgdata, bins):
            log.info("embedded PostgreSQL in %s is not running", pgdata)
            return
        _stop(pgdata, bins)
        log.info("stopped embedded PostgreSQL in %s", pgdata)
