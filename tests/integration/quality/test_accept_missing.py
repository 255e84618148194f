"""`nightshift quality accept DATE --missing`: a day that never landed, accepted as a day of no activity.

The command as an operator runs it (`.venv/bin/nightshift`, this checkout's package), into a warehouse
database of its own, on a small generated landing zone with one events partition removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

import nightshift
from nightshift.contract import customers_partition
from nightshift.local.badinput import missing_day
from nightshift.local.generate import generate
from tests.pg_helpers import create_database, query

pytestmark = pytest.mark.integration

START = date(2026, 4, 1)


@pytest.fixture
def zone(tmp_path: Path):
    return generate(tmp_path / "raw", customers=50, days=20, start_date=START, seed=9)


def _nightshift(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # The venv's console script, importing the package (and tests) of this checkout.
    package_root = Path(nightshift.__file__).resolve().parents[1]
    env = {**env, "PYTHONPATH": os.pathsep.join([str(package_root), str(package_root.parent)])}
    command = [str(Path(sys.executable).parent / "nightshift"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_accept_missing_refuses_a_landed_day_and_records_a_missing_one(pg_url: str, zone) -> None:
    gap = zone.end_date - timedelta(days=5)
    missing_day(zone.data_dir, gap)
    db = create_database(pg_url, f"accept_missing_{uuid.uuid4().hex[:12]}")
    env = {**os.environ, "NIGHTSHIFT_DATABASE_URL": db, "NIGHTSHIFT_DATA_DIR": str(zone.data_dir)}

    landed = gap - timedelta(days=1)
    refused = _nightshift(env, "quality", "accept", landed.isoformat(), "--missing", "--reason", "wrong day")
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    assert f"{landed.isoformat()} has landed" in refused.stderr
    assert "nothing to accept as missing" in refused.stderr

    before_history = _nightshift(env, "quality", "accept", (START - timedelta(days=1)).isoformat(), "--missing", "--reason", "x")
    assert before_history.returncode == 1
    assert f"before the first day of the landing zone ({START.isoformat()})" in before_history.stderr

    # Without --missing, accept keeps its meaning: a failed validation, and this day has none.
    plain = _nightshift(env, "quality", "accept", gap.isoformat(), "--reason", "collector outage")
    assert plain.returncode == 1
    assert f"{gap.isoformat()} has no unresolved failed raw validation" in plain.stderr

    accepted = _nightshift(env, "quality", "accept", gap.isoformat(), "--missing", "--reason", "collector outage", "--by", "alice")
    assert accepted.returncode == 0, accepted.stderr
    assert f"accepted {gap.isoformat()} as a day of no activity" in accepted.stdout
    rows = query(
        db,
        "SELECT logical_date, reason, accepted_by, accepted_at IS NOT NULL, missing_partitions FROM data_quality_acceptances",
    )
    assert rows == [(gap, "collector outage", "alice", True, ["events"])]

    again = _nightshift(env, "quality", "accept", gap.isoformat(), "--missing", "--reason", "collector outage")
    assert again.returncode == 1
    assert f"{gap.isoformat()} is already accepted as missing" in again.stderr

    # An acceptance covers the partitions missing when it was made: a snapshot lost since needs its own.
    shutil.rmtree(customers_partition(zone.data_dir, gap))
    snapshot = _nightshift(env, "quality", "accept", gap.isoformat(), "--missing", "--reason", "snapshot export lost")
    assert snapshot.returncode == 0, snapshot.stderr
    assert "customers snapshot" in snapshot.stdout
    assert query(db, "SELECT missing_partitions FROM data_quality_acceptances ORDER BY id") == [(["events"],), (["customers"],)]
