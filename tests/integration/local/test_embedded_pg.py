"""Local mode's embedded PostgreSQL: the database URL it hands out and the server's lifecycle."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from nightshift.local.database import database_url
from nightshift.local.embedded_pg import EmbeddedPostgresError, bin_dir, start_embedded, stop_embedded
from nightshift.warehouse.connection import redact_url
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
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE", raising=False)
    monkeypatch.delenv("NIGHTSHIFT_LOCAL_DEFAULTS", raising=False)
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


def _refused(url: str, **overrides: str) -> str:
    """The server's reason for refusing ``url`` with ``overrides`` (e.g. another password)."""
    with pytest.raises(psycopg2.OperationalError) as excinfo:
        psycopg2.connect(url, connect_timeout=10, **overrides).close()
    return str(excinfo.value)


def _assert_password_only(url: str, pgdata: Path) -> None:
    """Only the password in the data folder's owner-only file gets in; pg_hba has no trust rule."""
    password = urlsplit(url).password or ""
    assert "no password supplied" in _refused(url, password="")
    assert "password authentication failed" in _refused(url, password=password + "x")
    hba_rules = [line.split() for line in (pgdata / "pg_hba.conf").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert hba_rules and all(rule[-1] == "scram-sha-256" for rule in hba_rules), hba_rules
    assert query(url, "SELECT DISTINCT auth_method FROM pg_hba_file_rules") == [("scram-sha-256",)]
    password_file = pgdata / "nightshift.password"  # the README names it
    assert password and password_file.read_text().strip() == password
    assert password not in redact_url(url)
    st = password_file.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()  # the nightshift process reads it; as root the server account cannot


def test_connections_need_the_generated_password(embedded_pg: EmbeddedPg) -> None:
    _assert_password_only(embedded_pg.url, embedded_pg.pgdata)


def _server_account() -> dict:
    """subprocess arguments that run a PostgreSQL binary as nightshift does: as root, as the postgres account."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root without a 'postgres' OS account")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@pytest.fixture
def scratch_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="nightshift-pg-"))
    root.chmod(0o711)  # as root, the server account must enter it (see conftest)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_trust_data_folder_from_an_earlier_version_is_migrated_to_password_auth(scratch_root: Path) -> None:
    # What nightshift used to create: initdb --auth=trust, a server left running that lets anyone in.
    pgdata, port, account = scratch_root / "pgdata", free_port(), _server_account()
    pgdata.mkdir(mode=0o700)
    if account:
        os.chown(pgdata, account["user"], account["group"])
    common = {"cwd": "/", "check": True, "stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    initdb = [bin_dir() / "initdb", "-D", pgdata, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"]
    subprocess.run(initdb, **common, **account)
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories=''"
    subprocess.run([bin_dir() / "pg_ctl", "start", "-D", pgdata, "-l", pgdata / "postgres.log", "-w", "-o", opts], **common, **account)
    try:
        old_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        query(old_url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")

        url = start_embedded(pgdata, port)

        _assert_password_only(url, pgdata)
        assert "no password supplied" in _refused(old_url)
        assert query(url.replace("/nightshift", "/postgres"), "SELECT x FROM kept") == [(7,)]
        assert start_embedded(pgdata, port) == url  # migrated once; the next start just reuses it
    finally:
        stop_embedded(pgdata)


def test_as_root_a_project_in_a_folder_others_cannot_enter_starts(scratch_root: Path) -> None:
    """A clone in /root (0700): binaries and data must be somewhere the server's account can reach."""
    if not _server_account():
        pytest.skip("only root hands the server to another OS account")
    home = scratch_root / "root"  # like /root
    home.mkdir(mode=0o700)
    runtime = Path(tempfile.mkdtemp(prefix="nightshift-runtime-"))  # stands in for /var/lib/nightshift
    runtime.chmod(0o755)
    # The project's .venv inside the home: pgserver (and the libs its binaries link to) found through it.
    site_packages = bin_dir().parents[2]
    (home / "venv-site-packages").symlink_to(site_packages, target_is_directory=True)
    pgdata = home / "nightshift" / ".pgdata"
    pgdata.mkdir(parents=True)  # an earlier failed start leaves it, empty
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(home / "venv-site-packages"), os.environ.get("PYTHONPATH", "")]),
        "NIGHTSHIFT_PG_RUNTIME_DIR": str(runtime),
    }
    code = (
        "import sys; from pathlib import Path; from nightshift.local.embedded_pg import bin_dir, start_embedded, stop_embedded; "
        "pgdata, port, action = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]; print(bin_dir()); "
        "print(stop_embedded(pgdata) if action == 'stop' else start_embedded(pgdata, port))"
    )

    def nightshift(action: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(pgdata), str(port), action], env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().splitlines()

    try:
        used_bin, url = nightshift("start")
        assert Path(used_bin).is_relative_to(home)  # the binaries really sit in the closed folder
        assert query(url, "SELECT current_user") == [("postgres",)]
        real = pgdata.resolve()
        assert pgdata.is_symlink() and real.is_relative_to(runtime)
        _assert_password_only(url, real)
        # The running server's binary is the root-owned copy outside the home, keyed by the pgserver release.
        postmaster = (real / "postmaster.opts").read_text().split()[0]
        assert Path(postmaster).is_relative_to(runtime) and Path(postmaster).parent.parent.parent.parent.name.startswith("pgserver-")
        for path in (runtime, Path(postmaster)):
            st = path.stat()
            assert st.st_uid == 0 and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        assert nightshift("start")[1] == url  # a second start finds both in place
    finally:
        nightshift("stop")
        shutil.rmtree(runtime, ignore_errors=True)
