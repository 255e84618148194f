"""A season of nights on a real scheduler: history landed, a champion trained, then one night at a time.

Each night lands the generator's next day (or brings a fault instead), triggers `nightly_scoring`
through REST API v2 as the UI's Trigger button does, waits for it and for the `drift_monitor` run the
scheduler starts from its `churn_scores` event, then checks the invariants with plain SQL and REST.
`python -m tests.season.season --nights 30` runs the full season (`make season`); the pytest `season`
tier runs a short one.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from nightshift.config import load_params
from nightshift.local.airflow_env import airflow_env
from nightshift.local.badinput import corrupt_day
from nightshift.local.embedded_pg import start_embedded, stop_embedded
from nightshift.local.generate import generate
from tests.e2e.conftest import isolated_env, params_file
from tests.pg_helpers import create_database, free_port
from tests.season import airflow_api as api
from tests.season import checks
from tests.season.landing import active_customers, land, land_history

log = logging.getLogger("season")

START = date(2026, 1, 5)
RUN_TIMEOUT_S = 900
# A late day is waited for by the sensor; it lands this long after its run started, between two pokes.
POKE_SECONDS = 30
LATE_AFTER_S = 25
# The missing day is accepted as no activity, so the nights whose shortest feature window (7 days) holds it read a hole that
# drift monitoring records as an accepted gap; the drift starts after them.
FAULTS_SHORT = {1: "missing", 3: "late", 5: "bad"}
DRIFT_NIGHT_SHORT = 8
FAULTS_FULL = {2: "late", 4: "missing", 7: "bad", 10: "pg_restart", 13: "rerun_during_drift", 16: "backfill"}


@dataclass
class Night:
    day: date
    fault: str
    state: str = ""
    rows: int = 0
    expected: int = 0
    decision: str | None = None
    seconds: float = 0.0
    note: str = ""

    def line(self) -> str:
        return (
            f"night {self.day} fault={self.fault:<18} run={self.state:<8} rows={self.rows:>5}/{self.expected:<5} "
            f"drift={self.decision or '-':<22} {self.seconds:6.0f}s {self.note}"
        )


@dataclass
class Season:
    root: Path
    stage: Path
    raw: Path
    env: dict[str, str]
    warehouse_url: str
    warehouse_pg: tuple[Path, int]
    airflow: api.Airflow
    drift_day: date | None
    nights: list[Night] = field(default_factory=list)
    refused: set[date] = field(default_factory=set)
    published: set[date] = field(default_factory=set)
    lost_rows: int = 0
    runs_made: int = 0

    def run_id(self, day: date, what: str) -> str:
        self.runs_made += 1
        return f"season__{day.isoformat()}__{what}__{self.runs_made}"


def prepare(root: Path, customers: int, history: int, nights: int, drift_night: int | None) -> Season:
    stage, raw = root / "stage", root / "raw"
    drift_day = START + timedelta(days=history + drift_night) if drift_night is not None else None
    generate(stage, customers=customers, days=history + nights + 1, start_date=START, seed=23, drift_from=drift_day)
    land_history(stage, raw, [START + timedelta(days=i) for i in range(history)])
    wh_pg = (root / "pg-warehouse", free_port())
    warehouse = create_database(start_embedded(*wh_pg), "warehouse")
    meta = create_database(start_embedded(root / "pg-airflow", free_port()), "airflow")
    extra = {
        "NIGHTSHIFT_DATABASE_URL": warehouse,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta.replace("postgresql://", "postgresql+psycopg2://", 1),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
        # A day that never lands is given up on after 90 s, looked for every 30 s (not isolated_env's params.yaml:
        # its 6 s wait is shorter than a late day takes to land). Pokes closer than the scheduler's loop lose a
        # race in Airflow 3.3: a poke's late executor event fails the sensor's next poke (apache/airflow#71172).
        "NIGHTSHIFT_PARAMS": str(params_file(root / "season-params.yaml", POKE_SECONDS, 90 / 3600)),
    }
    env = airflow_env(warehouse, base=isolated_env(root, **extra), home=Path(__file__).resolve().parents[2])
    airflow = api.start_airflow(env, free_port(), root / "standalone.log")
    return Season(root, stage, raw, env, warehouse, wh_pg, airflow, drift_day)


def train_champion(season: Season, as_of: date) -> Night:
    """Train the first champion as of the history's last day, with train_model unpaused as a team does it.

    Unpausing makes the scheduler create a run for the weekly timetable's latest interval, months after the
    history ends: the season's first fault. That run must fail at the freshness guard and register nothing.
    """
    a = season.airflow
    api.unpause(a, "drift_monitor")
    run_id = api.trigger(a, "train_model", f"season__champion__{as_of}", {}, f"{as_of.isoformat()}T00:00:00Z")
    api.unpause(a, "train_model")
    finished = api.wait_for_run(a, "train_model", run_id, RUN_TIMEOUT_S)
    if finished["state"] != "success":
        raise api.SeasonError(f"the champion's train_model run failed: {api.failure_log(a, 'train_model', run_id)[-4000:]}")
    api.unpause(a, "nightly_scoring")
    return stale_train(season, as_of)


def stale_train(season: Season, history_end: date) -> Night:
    """The scheduled train_model run that unpausing created: refused by the freshness guard, nothing trained."""
    night = Night(history_end, "stale_train")
    started = time.monotonic()
    scheduled = _wait_for(lambda: [r for r in train_runs(season) if r.get("run_type") == "scheduled"], RUN_TIMEOUT_S)
    if not scheduled:
        raise api.SeasonError("unpausing train_model created no scheduled run")
    found = api.wait_for_run(season.airflow, "train_model", scheduled[0]["dag_run_id"], RUN_TIMEOUT_S)
    states = api.task_states(season.airflow, "train_model", found["dag_run_id"])
    night.state = found["state"]
    if found["state"] != "failed" or states.get("check_data_freshness") != "failed" or states.get("train") == "success":
        raise api.SeasonError(f"train_model on data months stale was not refused by the freshness guard: {found['state']} {states}")
    reason = api.failure_log(season.airflow, "train_model", found["dag_run_id"])
    stale = reason[reason.find("data freshness guard") :][:160] if "data freshness guard" in reason else reason[-160:]
    night.note = f"{found['dag_run_id']} refused at check_data_freshness, train {states.get('train')}: {stale}"
    night.seconds = time.monotonic() - started
    return night


def _wait_for(found: Callable[[], list], timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(3)
    return []


def trigger_scoring(season: Season, day: date, what: str, logical: bool = True) -> str:
    """A nightly_scoring run for `day` as the Trigger form makes it (logical date the day, or none for a rerun)."""
    logical_date = f"{day.isoformat()}T00:00:00Z" if logical else None
    return api.trigger(season.airflow, "nightly_scoring", season.run_id(day, what), {"score_date": day.isoformat()}, logical_date)


def score(season: Season, day: date, what: str = "night", logical: bool = True) -> tuple[str, str]:
    """Trigger nightly_scoring for `day` and wait for it: (run id, final state)."""
    run_id = trigger_scoring(season, day, what, logical)
    return run_id, api.wait_for_run(season.airflow, "nightly_scoring", run_id, RUN_TIMEOUT_S)["state"]


def wait_for_decision(season: Season, day: date, timeout_s: float = RUN_TIMEOUT_S) -> str | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        decision = checks.decision_of(season.warehouse_url, day)
        if decision is not None:
            return decision
        time.sleep(3)
    return None


def nightshift(season: Season, *args: str) -> str:
    proc = subprocess.run([str(Path(sys.executable).parent / "nightshift"), *args], env=season.env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise api.SeasonError(f"nightshift {' '.join(args)} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    return proc.stdout


def night_plain(season: Season, night: Night) -> None:
    land(season.stage, season.raw, night.day)
    _, night.state = score(season, night.day)


def night_late(season: Season, night: Night) -> None:
    """The day lands after its run started: the sensor waits for it, then the run succeeds."""
    run_id = trigger_scoring(season, night.day, "late")
    time.sleep(LATE_AFTER_S)
    waiting = api.task_states(season.airflow, "nightly_scoring", run_id).get("wait_for_day")
    land(season.stage, season.raw, night.day)
    night.state = api.wait_for_run(season.airflow, "nightly_scoring", run_id, RUN_TIMEOUT_S)["state"]
    night.note = f"sensor was {waiting} before the day landed"


def night_missing(season: Season, night: Night) -> None:
    """The day never lands: its run fails naming it; the next night refuses its window until accept --missing."""
    run_id, night.state = score(season, night.day)
    season.refused.add(night.day)
    expect_refusal(season, run_id, "wait_for_day", [f"waiting for {night.day.isoformat()}: no data yet", "AirflowSensorTimeout"])
    next_day = night.day + timedelta(days=1)
    land(season.stage, season.raw, next_day)
    refused_id, refused = score(season, next_day, "refused-window")
    expect_refusal(season, refused_id, "build_features", [night.day.isoformat(), "--missing"])
    nightshift(season, "quality", "accept", night.day.isoformat(), "--missing", "--reason", "outage upstream, no activity")
    _, after = score(season, next_day, "after-accept", logical=False)
    night.note = f"next night {refused} before accept --missing, {after} after"


def expect_refusal(season: Season, run_id: str, task_id: str, words: list[str]) -> None:
    """The run failed at ``task_id``, ran nothing after it, and its log says ``words``: what the person on call reads."""
    states = api.task_states(season.airflow, "nightly_scoring", run_id)
    log = api.failure_log(season.airflow, "nightly_scoring", run_id)
    ran_after = sorted(t for t, state in states.items() if state == "success" and t in ("score", "clean_run_folders"))
    missing = [w for w in words if w not in log]
    if states.get(task_id) != "failed" or ran_after or missing or not log.startswith(f"{task_id}:"):
        raise api.SeasonError(f"{run_id}: expected a refusal at {task_id} saying {missing or words}: {states} {log[-1500:]}")


def night_bad(season: Season, night: Night) -> None:
    """A bad day: quarantined and nothing published; fixed (landed again) and validated, then rerun and published."""
    land(season.stage, season.raw, night.day)
    corrupt_day(season.raw, night.day, "negative_minutes")
    _, refused = score(season, night.day, "bad")
    published_while_bad = checks.rows_of(season.warehouse_url, night.day)
    land(season.stage, season.raw, night.day)
    nightshift(season, "quality", "validate", night.day.isoformat())
    _, night.state = score(season, night.day, "fixed", logical=False)
    quarantined = (season.root / "quarantine").exists()
    night.note = f"bad run {refused}, {published_while_bad} rows while bad, quarantine={quarantined}"


def night_pg_restart(season: Season, night: Night) -> None:
    """PostgreSQL restarts while the run publishes: the task retries and publishes once."""
    land(season.stage, season.raw, night.day)
    run_id = trigger_scoring(season, night.day, "pg-restart")
    # The score task records its run in scoring_runs before predicting and holds that connection until it has
    # published: the server goes away under an open scoring run.
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not checks.running_scoring_runs(season.warehouse_url, night.day) and time.monotonic() < deadline:
        time.sleep(0.5)
    stop_embedded(season.warehouse_pg[0])
    time.sleep(5)
    start_embedded(*season.warehouse_pg)
    night.state = api.wait_for_run(season.airflow, "nightly_scoring", run_id, RUN_TIMEOUT_S)["state"]
    tries = api.try_numbers(season.airflow, "nightly_scoring", run_id).get("score")
    night.note = f"warehouse restarted while score ran; score took {tries} tries"


def night_rerun_during_drift(season: Season, night: Night) -> None:
    """A published day is rerun while drift_monitor judges it."""
    before = len(api.runs(season.airflow, "drift_monitor"))
    night_plain(season, night)
    # The drift_monitor run the publish started: rerun as soon as it runs (or, on a fast machine, has run).
    judging = _wait_for(lambda: [r for r in api.runs(season.airflow, "drift_monitor")[before:] if r["state"] != "queued"], RUN_TIMEOUT_S)
    was = judging[-1]["state"] if judging else "absent"
    _, rerun = score(season, night.day, "rerun", logical=False)
    night.note = f"rerun while drift_monitor was {was}: {rerun}"


def night_backfill(season: Season, night: Night) -> None:
    """A Backfill of three past days, created through REST as the Trigger form's Backfill option does."""
    night_plain(season, night)
    days = sorted(d for d in season.published if d < night.day)[-3:]
    body = {
        "dag_id": "nightly_scoring",
        "from_date": f"{days[0].isoformat()}T00:00:00Z",
        "to_date": f"{days[-1].isoformat()}T00:00:00Z",
        "reprocess_behavior": "completed",
        "max_active_runs": 3,
        "dag_run_conf": {},
    }
    backfill = season.airflow.call("POST", "/api/v2/backfills", body)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        mine = [r for r in api.runs(season.airflow, "nightly_scoring") if r.get("run_type") == "backfill"]
        if len(mine) >= len(days) and all(r["state"] in api.TERMINAL for r in mine):
            break
        time.sleep(3)
    night.note = f"backfill {backfill['id']} of {days[0]}..{days[-1]}: " + ",".join(r["state"] for r in mine)


FAULT_NIGHTS: dict[str, Callable[[Season, Night], None]] = {
    "none": night_plain,
    "drift": night_plain,
    "late": night_late,
    "missing": night_missing,
    "bad": night_bad,
    "pg_restart": night_pg_restart,
    "rerun_during_drift": night_rerun_during_drift,
    "backfill": night_backfill,
}


def check_night(season: Season, night: Night) -> None:
    if night.day in season.refused:
        night.rows = checks.rows_of(season.warehouse_url, night.day)
        if night.rows:
            raise api.SeasonError(f"{night.day} was refused but has {night.rows} rows in churn_scores")
        return
    if night.state != "success":
        raise api.SeasonError(f"{night.day}: nightly_scoring {night.state}: {night.note}")
    season.published.add(night.day)
    night.decision = wait_for_decision(season, night.day)
    wait_idle(season, "drift_monitor")
    airflow_runs = {r["dag_run_id"]: r["state"] for r in api.runs(season.airflow, "nightly_scoring")}
    for day in sorted(season.published):
        found = checks.night_check(season.warehouse_url, day, active_customers(season.raw, day))
        season.lost_rows += max(found.expected - found.rows, 0)
        if found.rows != found.expected or found.duplicates or found.served_runs < 1 or found.decision is None:
            raise api.SeasonError(f"after night {night.day}, {day}: {found}")
        check_publishers(day, found, airflow_runs)
        if day == night.day:
            night.rows, night.expected = found.rows, found.expected


def check_publishers(day: date, found: checks.NightCheck, airflow_runs: dict[str, str]) -> None:
    """Each succeeded publish of a day comes from a nightly_scoring run Airflow knows, and the one that published last succeeded.

    One run may publish a day twice only when it was run again: a Backfill clears a day's existing run and reruns it.
    """
    publishers = [checks.publishing_run(folder, airflow_runs) for folder in found.publish_folders]
    if None in publishers:
        raise api.SeasonError(f"{day}: succeeded publishes {found.publish_folders} not all from Airflow runs: {publishers}")
    if airflow_runs[publishers[-1]] not in ("success", "running"):
        raise api.SeasonError(f"{day}: the run that published the day's rows, {publishers[-1]}, is {airflow_runs[publishers[-1]]}")


def run_nights(season: Season, first: date, count: int, faults: dict[int, str]) -> None:
    index = 0
    while index < count:
        day = first + timedelta(days=index)
        fault = faults.get(index, "drift" if season.drift_day and day >= season.drift_day else "none")
        night = Night(day, fault)
        started = time.monotonic()
        FAULT_NIGHTS[fault](season, night)
        night.seconds = time.monotonic() - started
        check_night(season, night)
        season.nights.append(night)
        print(night.line(), flush=True)
        if fault == "missing":  # the next night was landed, refused and scored again inside the fault
            index += 1
            follow = Night(day + timedelta(days=1), "after-missing", state="success")
            check_night(season, follow)
            season.nights.append(follow)
            print(follow.line(), flush=True)
        index += 1


def train_runs(season: Season) -> list[dict]:
    return api.runs(season.airflow, "train_model")


def outcome(season: Season) -> dict[str, object]:
    """The season's figures: what the RESULT line prints and the season tier asserts."""
    cooldown = int(load_params()["drift"]["cooldown_days"])
    trains = train_runs(season)
    drift_runs = [r for r in trains if r.get("run_type") == "asset_triggered"]
    retrain_nights = [n for n in season.nights if season.drift_day and n.day >= season.drift_day and n.decision == "retrain"]
    clean = [n for n in season.nights if n.decision and (season.drift_day is None or n.day < season.drift_day)]
    return {
        "nights": len(season.nights),
        "faults": len({n.fault for n in season.nights} - {"none", "drift", "after-missing"}),
        "lost_rows": season.lost_rows,
        "duplicate_rows": checks.all_duplicates(season.warehouse_url),
        # A scheduled train_model run that succeeded trained on stale data: the season's history ends months before now.
        "stale_trains": sum(1 for r in trains if r.get("run_type") == "scheduled" and r["state"] == "success"),
        "retrain_lag_nights": (retrain_nights[0].day - season.drift_day).days + 1 if retrain_nights and season.drift_day else None,
        "false_drift_days": sum(1 for n in clean if n.decision not in ("no_drift", "drift_accepted_gap")),
        "accepted_gap_days": sum(1 for n in clean if n.decision == "drift_accepted_gap"),
        "retrains_within_cooldown": checks.retrains_within_cooldown(checks.retrain_days(season.warehouse_url), cooldown),
        "drift_retrains": len(drift_runs),
        "drift_retrains_succeeded": sum(1 for r in drift_runs if r["state"] == "success"),
    }


def result_line(figures: dict[str, object]) -> str:
    return "RESULT " + " ".join(f"{key}={value}" for key, value in figures.items())


def run_season(
    root: Path,
    nights: int,
    customers: int = 400,
    history: int = 150,
    drift_night: int | None = None,
    faults: dict[int, str] | None = None,
) -> dict[str, object]:
    """Land, train, then run `nights` nights with their faults; print a line per night and the RESULT line."""
    faults = faults if faults is not None else (FAULTS_FULL if nights >= 20 else FAULTS_SHORT)
    drift_night = drift_night if drift_night is not None else (max(faults) + 2 if nights >= 20 else DRIFT_NIGHT_SHORT)
    started = time.monotonic()
    season = prepare(root, customers, history, nights, drift_night)
    try:
        history_end = START + timedelta(days=history - 1)
        stale = train_champion(season, history_end)
        print(f"champion trained as of {history_end}; nights from {history_end + timedelta(days=1)}", flush=True)
        season.nights.append(stale)
        print(stale.line(), flush=True)
        run_nights(season, history_end + timedelta(days=1), nights, faults)
        wait_for_drift_retrain(season)
        figures = outcome(season)
        print(result_line(figures), flush=True)
        return figures
    finally:
        season.airflow.stop()
        for pgdata in (season.warehouse_pg[0], root / "pg-airflow"):
            stop_embedded(pgdata)
        print(f"season wall time {time.monotonic() - started:.0f} s, root {root}", flush=True)


def wait_for_drift_retrain(season: Season) -> None:
    """The drift-triggered train_model runs the scheduler started, waited for so the season ends with them judged.

    A retrain decision raises `churn_drift` only when drift_monitor's last task ends, and the scheduler creates
    the run on a later loop: it is looked for until it appears.
    """
    if not checks.retrain_days(season.warehouse_url):
        return
    wait_idle(season, "drift_monitor")
    started = _wait_for(lambda: [r for r in train_runs(season) if r.get("run_type") == "asset_triggered"], RUN_TIMEOUT_S)
    if not started:
        raise api.SeasonError("a retrain was decided but the scheduler started no train_model run from churn_drift")
    for found in started:
        api.wait_for_run(season.airflow, "train_model", found["dag_run_id"], RUN_TIMEOUT_S)


def wait_idle(season: Season, dag_id: str) -> None:
    """Until no run of ``dag_id`` is queued or running: a night's downstream runs end before the next night starts."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while busy := [r["dag_run_id"] for r in api.runs(season.airflow, dag_id) if r["state"] not in api.TERMINAL]:
        if time.monotonic() > deadline:
            raise api.SeasonError(f"{dag_id} runs still going after {RUN_TIMEOUT_S} s: {busy}")
        time.sleep(3)


def _faults(text: str) -> dict[int, str]:
    """`--faults 1:pg_restart,3:backfill` as {night: fault}."""
    pairs = [item.split(":", 1) for item in text.split(",") if item]
    unknown = [kind for _, kind in pairs if kind not in FAULT_NIGHTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown fault(s) {unknown}: one of {', '.join(FAULT_NIGHTS)}")
    return {int(night): kind for night, kind in pairs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--history", type=int, default=150, help="days landed before the first night")
    parser.add_argument("--drift-night", type=int, default=None, help="the night the data starts to drift (default: after the faults)")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument(
        "--faults", type=_faults, default=None, help=f"night:fault,... (faults: {', '.join(FAULT_NIGHTS)}; default: the season's own)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    root = args.root or Path(tempfile.mkdtemp(prefix="nightshift-season-"))
    run_season(root, args.nights, args.customers, args.history, args.drift_night, args.faults)
    return 0


if __name__ == "__main__":
    sys.exit(main())
