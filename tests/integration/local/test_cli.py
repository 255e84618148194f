"""The `nightshift` command line as a user runs it: an expected failure is one clear line and exit 1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.pg_helpers import free_port

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
