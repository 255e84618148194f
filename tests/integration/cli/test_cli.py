"""The `nightshift` command line as a user runs it: an expected failure is one clear line and exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from nightshift.local.badinput import corrupt_day
from nightshift.local.generate import generate
from tests.pg_helpers import create_database, free_port
from tests.score_frames import EmbeddedPg

pytestmark = pytest.mark.integration


def test_scores_with_postgresql_down_says_so_without_a_traceback() -> None:
    port = free_port()
    env = {
        **os.environ,
        "NIGHTSHIFT_DATABASE_URL": f"postgresql://postgres:secret@127.0.0.1:{port}/nightshift",
        "NIGHTSHIFT_PG_CONNECT_ATTEMPTS": "1",
    }
    cli = [sys.executable, "-m", "nightshift.cli", "scores", "2026-06-29"]
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
        proc = subprocess.run([sys.executable, "-m", "nightshift.cli", "db", *args], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout + proc.stderr

    for action in ("url", "start"):
        shown = db(action)
        assert password not in shown
        assert shown.strip() == embedded_pg.url.replace(f":{password}@", ":***@")
    assert db("url", "--show-password").strip() == embedded_pg.url


def quality_cli(pg_url: str, data_dir: Path, quarantine: Path) -> Callable[..., subprocess.CompletedProcess]:
    """`nightshift quality ...` on a landing zone, with a warehouse database of its own."""
    env = {
        **os.environ,
        "NIGHTSHIFT_DATABASE_URL": create_database(pg_url, f"cli_quality_{uuid.uuid4().hex[:12]}"),
        "NIGHTSHIFT_DATA_DIR": str(data_dir),
        "NIGHTSHIFT_QUARANTINE_DIR": str(quarantine),
    }

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nightshift.cli", "quality", *args], env=env, capture_output=True, text=True)

    return cli


def test_quality_validate_and_accept_a_bad_day(pg_url: str, tmp_path) -> None:
    zone = generate(tmp_path / "raw", customers=60, days=10, start_date=date(2026, 3, 1), seed=6)
    bad = zone.end_date.isoformat()
    corrupt_day(zone.data_dir, zone.end_date, "duplicate_event")
    cli = quality_cli(pg_url, zone.data_dir, tmp_path / "quarantine")

    nothing = cli("accept", bad, "--reason", "looks fine")
    assert nothing.returncode == 1 and "Traceback" not in nothing.stderr
    assert nothing.stderr.strip() == f"nightshift quality: {bad} has no unresolved failed raw validation: nothing to accept"

    validated = cli("validate", bad)
    assert validated.returncode == 1 and "Traceback" not in validated.stderr
    assert "one row per customer per day" in validated.stderr

    accepted = cli("accept", bad, "--reason", "replayed rows, deduplicated downstream", "--by", "ops")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.splitlines()[0] == f"accepted {bad} as it is; windows that read it build again. It had failed:"
    assert f"{bad} raw_events: expect_column_values_to_be_unique(column=customer_id)" in accepted.stdout


def test_quality_validate_names_a_truncated_file_and_accept_finds_it(pg_url: str, tmp_path) -> None:
    zone = generate(tmp_path / "raw", customers=60, days=10, start_date=date(2026, 3, 1), seed=6)
    bad = zone.end_date.isoformat()
    [broken] = sorted((zone.data_dir / "events" / f"event_date={bad}").glob("*.parquet"))
    broken.write_bytes(broken.read_bytes()[:100])  # cut off mid-copy: no footer
    cli = quality_cli(pg_url, zone.data_dir, tmp_path / "quarantine")

    validated = cli("validate", bad)
    assert validated.returncode == 1 and "Traceback" not in validated.stderr, validated.stderr
    assert f"raw_events: {broken}: not a readable Parquet file" in validated.stderr

    accepted = cli("accept", bad, "--reason", "the day is re-sent tomorrow; windows may skip it", "--by", "ops")
    assert accepted.returncode == 0, accepted.stderr
    assert f"{bad} raw_events: readable_file: {broken}: not a readable Parquet file" in accepted.stdout
