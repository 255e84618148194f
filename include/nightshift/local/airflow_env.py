"""The environment a project-local Airflow runs in, and `airflow dags test` on top of it.

AIRFLOW_HOME, the DAG and plugin folders and the connections (`spark_default`, the
warehouse) all come from environment variables, so nothing is set up by hand and an
already exported variable always wins. PATH is the exception: the interpreter's bin folder
goes first, so an unactivated venv works too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from nightshift.config import project_home
from nightshift.features.spark_session import LOCAL_CONF

log = logging.getLogger(__name__)


def airflow_bin() -> str:
    """The `airflow` script of the running interpreter's environment."""
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def local_airflow_home(root: Path | None = None) -> Path:
    """Where local mode keeps Airflow's config, metadata database and logs: `.airflow` in the project."""
    return (root or project_home()) / ".airflow"


def airflow_env(warehouse_url: str, base: Mapping[str, str] | None = None, home: Path | None = None) -> dict[str, str]:
    root = home or project_home()
    env = dict(os.environ if base is None else base)
    spark_conn = {"conn_type": "spark", "host": os.environ.get("NIGHTSHIFT_SPARK_MASTER", "local[2]"), "extra": LOCAL_CONF}
    defaults = {
        "NIGHTSHIFT_HOME": str(root),
        "AIRFLOW_HOME": str(local_airflow_home(root)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(spark_conn),
        "AIRFLOW_CONN_WAREHOUSE": warehouse_url,
        # Spark's Python workers (mapInArrow scoring) need the environment nightshift is installed in.
        "PYSPARK_PYTHON": sys.executable,
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    env["PATH"] = _with_bin_first(env.get("PATH", os.defpath))
    return env


def _with_bin_first(path: str) -> str:
    """PATH with this interpreter's bin folder first.

    `airflow standalone` starts its components as `airflow` from PATH: run as
    `.venv/bin/nightshift airflow standalone` without an activated venv, that would be no
    airflow at all, or another installation's.
    """
    bin_dir = str(Path(sys.executable).parent)
    return os.pathsep.join([bin_dir, *(p for p in path.split(os.pathsep) if p and p != bin_dir)])


# How long a stop may take before the next, harder signal (a stop asked for twice escalates at once).
STOP_GRACE_SECONDS = 60
# What is left in the session after standalone exited gets this long to end on SIGTERM before SIGKILL.
LEFTOVER_GRACE_SECONDS = 10


def run_standalone(cmd: list[str], env: Mapping[str, str], grace_seconds: float = STOP_GRACE_SECONDS) -> int:
    """Run `airflow standalone` so that one Ctrl-C (or SIGTERM, SIGHUP) stops all of it; its exit code.

    A terminal's Ctrl-C signals the whole foreground process group: under `airflow standalone`
    every component gets SIGINT from the terminal and, a moment later, SIGTERM from standalone
    itself. Airflow 3.3's components do not survive that reliably: the triggerer can deadlock
    logging in its re-entered signal handler, and the scheduler can wait forever on LocalExecutor
    workers that were never told to stop. So standalone runs in a session of its own, out of the
    terminal's reach, and a stop request here becomes one SIGINT to standalone, which stops each
    component with one SIGTERM. If it is still running after `grace_seconds`, or a stop is asked
    for again, its session gets SIGTERM, then SIGKILL; whatever is left in the session once
    standalone has exited gets SIGTERM, so nothing outlives the command.
    """
    requests: list[int] = []
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, lambda signum, _frame: requests.append(signum)) for signum in stops}
    try:
        proc = subprocess.Popen(cmd, env=dict(env), start_new_session=True)
        try:
            _stop_on_request(proc, requests, grace_seconds)
        finally:
            if proc.poll() is None:
                _signal_session(proc.pid, signal.SIGKILL)
                proc.wait()
            _end_session(proc.pid)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # Killed by a signal: the shell's convention, 128 + the signal number.
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode


def _stop_on_request(proc: subprocess.Popen[bytes], requests: list[int], grace_seconds: float) -> None:
    """Wait for `proc`; answer each stop request, or a stop outlasting the grace, with the next step."""
    steps = [
        lambda: proc.send_signal(signal.SIGINT),  # standalone stops each component, one SIGTERM each
        lambda: _signal_session(proc.pid, signal.SIGTERM),
        lambda: _signal_session(proc.pid, signal.SIGKILL),
    ]
    answered, deadline = 0, float("inf")
    while proc.poll() is None:
        if steps and (len(requests) > answered or time.monotonic() > deadline):
            answered = len(requests)
            steps.pop(0)()
            deadline = time.monotonic() + grace_seconds
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass


def _end_session(pgid: int, grace_seconds: float = LEFTOVER_GRACE_SECONDS) -> None:
    """SIGTERM whatever is left in the session after standalone exited, SIGKILL it after a short grace.

    An idle LocalExecutor worker can outlive its scheduler and sit out a SIGTERM.
    """
    _signal_session(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and _session_has_processes(pgid):
        time.sleep(0.2)
    _signal_session(pgid, signal.SIGKILL)


def _session_has_processes(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_session(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass  # nothing left in it


def migrate(env: Mapping[str, str]) -> None:
    """Create or upgrade the Airflow metadata database (SQLite under AIRFLOW_HOME by default)."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    _run([airflow_bin(), "db", "migrate"], env, "airflow db migrate")


def dag_test_command(dag_id: str, logical_date: date, conf: Mapping[str, object] | None = None) -> list[str]:
    """`airflow dags test` for one run; `conf` fills the DAG's trigger form (its Params)."""
    cmd = [airflow_bin(), "dags", "test", dag_id, logical_date.isoformat()]
    return cmd + ["--conf", json.dumps(dict(conf))] if conf else cmd


def dag_test(
    dag_id: str, logical_date: date, env: Mapping[str, str], log_file: Path | None = None, conf: Mapping[str, object] | None = None
) -> None:
    """Run one DAG run in-process with `airflow dags test`; raise if it does not succeed.

    `airflow dags test` can exit 0 when a task failed, print no run at all (a DAG that did not
    parse), or end a run `success` in which no task ran: see `dag_test_problem`.
    """
    what = f"dag {dag_id} for {logical_date}"
    output = _run(dag_test_command(dag_id, logical_date, conf), env, what, log_file)
    problem = dag_test_problem(output, env)
    if problem is not None:
        raise RuntimeError(f"{what} failed ({problem}):\n{_tail(output)}")


def run_dags_test(cmd: list[str], env: Mapping[str, str]) -> int:
    """`nightshift airflow dags test ...`: the run's output passed through as it comes; its exit code.

    Exit 0 of `airflow dags test` is not taken as a success (`dag_test_problem`): a run that did not
    succeed, or in which no task ran, raises RuntimeError saying so.
    """
    proc = subprocess.Popen(cmd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    code = proc.wait()
    if code != 0 or {"-h", "--help"} & set(cmd):
        return code
    problem = dag_test_problem("".join(lines), env)
    if problem is not None:
        raise RuntimeError(f"airflow dags test exited 0, but its run did not succeed: {problem}")
    return 0


def dag_test_problem(output: str, env: Mapping[str, str]) -> str | None:
    """Why a run `airflow dags test` printed (and exited 0 on) is not a success, or None when it is one.

    Only a final state line that says success, of a run in which a task ran, is a success. A run
    whose logical date is before its tasks' start_date gets no task instance at all, and Airflow
    still marks it successful: the metadata database's task instances of the run tell.
    """
    finished = dag_run_finished(output)
    if finished is None:
        return "no 'DagRun Finished' line"
    if finished.get("state") != "success":
        return f"state={finished.get('state')}"
    states = task_states(finished["dag_id"], finished["run_id"], env)
    if not RAN_STATES & set(states.values()):
        return (
            f"state=success, but no task ran in run {finished['run_id']} of {finished['dag_id']} (logical date "
            f"{finished.get('logical_date')}): Airflow creates no task instance for a logical date before a task's start_date"
        )
    return None


def dag_run_finished(output: str) -> dict[str, str] | None:
    """The fields (dag_id, run_id, state, logical_date, ...) of the last 'DagRun Finished' line, or None."""
    finished = [line for line in output.splitlines() if "DagRun Finished" in line]
    if not finished:
        return None
    return dict(re.findall(r"\b(\w+)=([^,]*)", finished[-1].split("DagRun Finished:", 1)[-1]))


def dag_run_state(output: str) -> str | None:
    """The final state of the DAG run `airflow dags test` printed, or None when it printed none."""
    finished = dag_run_finished(output)
    return None if finished is None else finished.get("state")


# Task instance states a task reaches only by being run (skipped: a task may skip itself, as publish_champion
# does). Not: no state, scheduled, queued, upstream_failed (set without running it), removed.
RAN_STATES = frozenset({"success", "failed", "skipped", "up_for_retry", "up_for_reschedule", "running", "deferred", "restarting"})


def task_states(dag_id: str, run_id: str, env: Mapping[str, str]) -> dict[str, str | None]:
    """The state of each of the run's task instances, from Airflow's metadata database."""
    cmd = [airflow_bin(), "tasks", "states-for-dag-run", dag_id, run_id, "--output", "json"]
    proc = subprocess.run(cmd, env=dict(env), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow tasks states-for-dag-run {dag_id} {run_id} failed (exit {proc.returncode}):\n{_tail(proc.stderr)}")
    # The JSON list is one line; a warning printed before it is not part of it.
    listed = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    if not listed:
        raise RuntimeError(f"airflow tasks states-for-dag-run {dag_id} {run_id} printed no JSON list:\n{_tail(proc.stdout)}")
    return {row["task_id"]: row.get("state") for row in json.loads(listed[-1])}


def _run(cmd: list[str], env: Mapping[str, str], what: str, log_file: Path | None = None) -> str:
    """Run an airflow command; its output, or RuntimeError with the tail when it exits non-zero."""
    log.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, env=dict(env), capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(output)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{_tail(output)}")
    return output


def _tail(output: str, lines: int = 60) -> str:
    return "\n".join(output.splitlines()[-lines:])
