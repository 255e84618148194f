"""The morning on the real scheduler: nightly_scoring's deadline and the status page, on one `nightshift airflow standalone`.

Two runs of nightly_scoring go at once on the real api-server, scheduler, triggerer and dag-processor:
one on time (a landed day, its deadline `scoring.publish_by` after its logical date, now) and one late on
purpose (a day that never lands, its logical date set so that its deadline passes 45 s after the trigger).
The scheduler finds the late one past its deadline, the triggerer runs the callback, and exactly one row
lands in `deadline_misses`; the on-time run succeeds, Airflow prunes its deadline as met, and no row is
recorded. Then headless Chromium logs in to the Airflow UI and opens Browse > Nightshift status: the page
must answer, list the days with both runs' outcomes, and its screenshot is kept at
reports/screenshots/status_page.png (git-ignored).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from nightshift.config import publish_by
from tests.e2e.conftest import params_file
from tests.pg_helpers import create_database, free_port, query
from tests.season import airflow_api as api

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "reports" / "screenshots" / "status_page.png"
CHROMIUM = os.environ.get("NIGHTSHIFT_CHROMIUM", "/usr/bin/chromium")
# The late run's deadline passes this long after it is triggered: time for the scheduler to have created it.
LATE_BY_S = 45
RUN_TIMEOUT_S = 900


@dataclass
class Morning:
    airflow: api.Airflow
    warehouse: str
    metadata: str
    on_time_day: date
    late_day: date
    late_deadline: datetime
    env: dict[str, str]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def morning(trained, pg_url: str, tmp_path_factory) -> Iterator[Morning]:
    root = tmp_path_factory.mktemp("morning")
    metadata = create_database(pg_url, "airflow_morning")
    env = {
        **trained["env"],
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata.replace("postgresql://", "postgresql+psycopg2://", 1),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
        # Only the two runs below: unpausing must not add a scheduled run for yesterday, which never lands here.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # A day that has not landed is looked for every 30 s (closer pokes lose a race in Airflow 3.3,
        # apache/airflow#71172) for up to an hour: the late run is still waiting when its deadline passes.
        "NIGHTSHIFT_PARAMS": str(params_file(root / "params.yaml", 30, 1)),
    }
    airflow = api.start_airflow(env, free_port(), root / "standalone.log")
    try:
        api.unpause(airflow, "nightly_scoring")
        now = datetime.now(UTC)
        late_logical = now - publish_by() + timedelta(seconds=LATE_BY_S)
        on_time_day, late_day = trained["day"], trained["day"] + timedelta(days=1)
        api.trigger(airflow, "nightly_scoring", "morning__on_time", {"score_date": on_time_day.isoformat()}, _iso(now))
        api.trigger(airflow, "nightly_scoring", "morning__late", {"score_date": late_day.isoformat()}, _iso(late_logical))
        yield Morning(airflow, pg_url, metadata, on_time_day, late_day, late_logical + publish_by(), env)
    finally:
        airflow.stop()


def _misses(url: str, run_id: str) -> list[tuple]:
    if query(url, "SELECT to_regclass('deadline_misses')")[0][0] is None:
        return []  # the first miss creates the table
    return query(
        url, "SELECT score_date, deadline_at, run_state, unfinished, missing FROM deadline_misses WHERE dag_run_id = %s", (run_id,)
    )


def _airflow_deadlines(metadata: str, run_id: str) -> list[tuple]:
    """The run's rows in Airflow's own `deadline` table: (deadline_time, missed)."""
    return query(
        metadata,
        "SELECT d.deadline_time, d.missed FROM deadline d JOIN dag_run r ON r.id = d.dagrun_id WHERE r.dag_id = %s AND r.run_id = %s",
        ("nightly_scoring", run_id),
    )


def test_a_run_past_its_deadline_records_exactly_one_miss(morning: Morning) -> None:
    a = morning.airflow
    waited_until = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < waited_until:
        if _misses(morning.warehouse, "morning__late"):
            break
        time.sleep(5)
    else:
        pytest.fail(f"no miss recorded for the late run: {_airflow_deadlines(morning.metadata, 'morning__late')}\n{a.tail()}")
    # The scheduler's own verdict, and the run still waiting for its day: a miss while running, not a failure.
    assert [missed for _, missed in _airflow_deadlines(morning.metadata, "morning__late")] == [True]
    assert api.run(a, "nightly_scoring", "morning__late")["state"] == "running"
    time.sleep(10)  # a second delivery of the callback would show by now
    (miss,) = _misses(morning.warehouse, "morning__late")
    day, deadline_at, state, unfinished, missing = miss
    assert (day, state) == (morning.late_day, "running")
    assert abs((deadline_at - morning.late_deadline).total_seconds()) < 1
    assert any(u.startswith("wait_for_day: ") for u in unfinished) and "score: not started" in unfinished
    assert missing.startswith("not landed: ") and f"event_date={morning.late_day.isoformat()}" in missing
    # The miss is in the triggerer's log at ERROR, naming the day.
    logged = [line for line in a.log.read_text(errors="replace").splitlines() if "DEADLINE MISSED" in line]
    assert len(logged) == 1 and logged[0].startswith("triggerer") and "[error" in logged[0], logged
    assert f"for {morning.late_day.isoformat()}" in logged[0]
    # Stop its wait: the day never lands here.
    a.call("PATCH", "/api/v2/dags/nightly_scoring/dagRuns/morning__late", {"state": "failed"})


def test_a_run_published_before_its_deadline_records_none(morning: Morning) -> None:
    a = morning.airflow
    finished = api.wait_for_run(a, "nightly_scoring", "morning__on_time", RUN_TIMEOUT_S)
    assert finished["state"] == "success", api.failure_log(a, "nightly_scoring", "morning__on_time")[-4000:]
    # Airflow prunes a deadline its run met: the scheduler can never fire it, so no miss can follow.
    assert _airflow_deadlines(morning.metadata, "morning__on_time") == []
    assert _misses(morning.warehouse, "morning__on_time") == []
    assert query(morning.warehouse, "SELECT count(*) FROM churn_scores WHERE score_date = %s", (morning.on_time_day,))[0][0] > 0


def _login(page, a: api.Airflow) -> None:
    """Through the Airflow UI's own login form, as a person does."""
    import json

    password = json.loads((a.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    page.goto(f"{a.url}/auth/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)


def test_the_status_page_shows_each_day_after_a_login(morning: Morning) -> None:
    from playwright.sync_api import sync_playwright

    a = morning.airflow
    api.wait_for_run(a, "nightly_scoring", "morning__on_time", RUN_TIMEOUT_S)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1800, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _login(page, a)
            response = page.goto(f"{a.url}/nightshift-status/?days=5")
            assert response is not None and response.status == 200, response and response.text()[:2000]
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            rows = page.locator("table#status tbody tr")
            texts = {rows.nth(i).locator("td").first.inner_text(): rows.nth(i).inner_text() for i in range(rows.count())}
            links = page.locator("table#status a").evaluate_all("links => links.map(l => l.getAttribute('href'))")
        finally:
            browser.close()
    assert errors == []
    assert len(texts) == 5, texts
    late, on_time = texts[morning.late_day.isoformat()], texts[morning.on_time_day.isoformat()]
    assert "MISSED" in late and "NO: events, customers" in late
    assert "churn_xgb v" in on_time and "met" in on_time and "passed" in on_time
    assert "/dags/nightly_scoring/runs/morning__on_time" in links and "/dags/nightly_scoring/runs/morning__late" in links
    print(f"status page screenshot: {SCREENSHOT}")


def test_nightshift_status_prints_the_same_table(morning: Morning) -> None:
    import subprocess
    import sys

    api.wait_for_run(morning.airflow, "nightly_scoring", "morning__on_time", RUN_TIMEOUT_S)
    cmd = [str(Path(sys.executable).parent / "nightshift"), "status", "--days", "5"]
    out = subprocess.run(cmd, env=morning.env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line[:4].isdigit()}
    assert len(lines) == 5, out.stdout
    assert "MISSED" in lines[morning.late_day.isoformat()] and "NO: events, customers" in lines[morning.late_day.isoformat()]
    assert "churn_xgb v" in lines[morning.on_time_day.isoformat()] and " met " in lines[morning.on_time_day.isoformat()]
    assert "Airflow runs and approvals not shown" not in out.stdout and "nightshift model rollback" in out.stdout
