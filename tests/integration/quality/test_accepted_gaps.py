"""Days accepted as missing, as drift monitoring asks for them: those inside a day's shortest feature window."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from nightshift.local.badinput import missing_day
from nightshift.local.generate import generate
from nightshift.quality.bad_days import accept_missing_day, accepted_gaps
from tests.pg_helpers import create_database

pytestmark = pytest.mark.integration

START = date(2026, 3, 1)


def test_a_day_accepted_as_missing_is_a_gap_of_the_windows_that_hold_it_and_no_other(tmp_path, pg_url: str) -> None:
    landing = generate(tmp_path / "raw", customers=20, days=20, start_date=START, seed=3)
    db = create_database(pg_url, f"accepted_gaps_{uuid.uuid4().hex[:12]}")
    gap = START + timedelta(days=10)
    missing_day(landing.data_dir, gap)
    assert accepted_gaps(db, gap + timedelta(days=3), 7) == []

    accept_missing_day(db, landing.data_dir, gap, "collector outage", "alice")
    assert accepted_gaps(db, gap, 7) == [gap]
    assert accepted_gaps(db, gap + timedelta(days=6), 7) == [gap]
    assert accepted_gaps(db, gap + timedelta(days=7), 7) == []
    assert accepted_gaps(db, gap - timedelta(days=1), 7) == []
