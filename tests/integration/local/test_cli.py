"""The `nightshift` command line as a user runs it: an expected failure is one clear line and exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from tests.pg_helpers import free_port
from tests.score_frames import EmbeddedPg

pytestmark = pytest.mark.integration


def test_scores_with_postgresql_down_says_so_without_a_traceback() -> None:
    port = free_port()
    env = {
        **os.environ,
        "NIGHTSHIFT_DATABASE_URL": f"postgresql://postgres:secret@127.0.0.1:{port}/nightshift",
        "NIGHTSHIFT_PG_CONNECT_ATTEMPTS": "1",
    }
    cli = [sys.executable, "-m", "nightshift.local.cli", "scores", "2026-06-29"]
    proc = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"nightshift scores: PostgreSQL at 127.0.0.1:{port} is unreachable after 1 attempt(s): ")
    assert "Connection refused" in proc.stderr and "secret" not in proc.stderr


def test_db_url_masks_the_embedded_servers_password_unless_asked(embedded_pg: EmbeddedPg) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NIGHTSHIFT_DATABASE_URL"}
    env.update(NIGHTSHIFT_PGDATA=str(embedded_pg.pgdata), NIGHTSHIFT_PG_PORT=str(embedded_pg.port))
    password = urlsplit(embedded_pg.url).password
    assert password

    def db(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "nightshift.local.cli", "db", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout + proc.stderr

    for action in ("url", "start"):
        shown = db(action)
        assert password not in shown
        assert shown.strip() == embedded_pg.url.replace(f":{password}@", ":***@")
    assert db("url", "--show-password").strip() == embedded_pg.url
