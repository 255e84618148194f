"""Reading `airflow dags test` output (nightshift.local.airflow_env): only a run that says success passes."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from nightshift.local import airflow_env
from nightshift.local.airflow_env import dag_run_state, dag_test

pytestmark = pytest.mark.unit

FINISHED = (
    "2026-11-24T02:46:58Z [info] DagRun Finished: dag_id=nightly_scoring, logical_date=2026-06-28 00:00:00+00:00, "
    "run_id=manual__x, run_duration=1.2, state={state}, run_type=manual, [airflow.models.dagrun.DagRun]"
)


def test_state_comes_from_the_last_finished_line() -> None:
    output = "\n".join(["noise", FINISHED.format(state="failed"), FINISHED.format(state="success")])
    assert dag_run_state(output) == "success"
    assert dag_run_state(FINISHED.format(state="failed")) == "failed"
    assert dag_run_state("no run was printed\n") is None


STARTED = '[{"task_id": "score", "state": "success", "start_date": "2026-11-24T02:46:57+00:00", "end_date": null}]\n'


@pytest.fixture
def fake_airflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An `airflow` that prints what it is told and exits 0, as `airflow dags test` can when a task failed.

    Asked for a run's task states (`tasks states-for-dag-run`), it prints `states`, the metadata database's answer.
    """

    def install(output: str, states: str = STARTED) -> None:
        script = tmp_path / "airflow"
        script.write_text(
            f"#!{sys.executable}\nimport sys\n"
            f"sys.stdout.write({states!r} if sys.argv[1:3] == ['tasks', 'states-for-dag-run'] else {output!r})\n"
        )
        script.chmod(0o755)
        monkeypatch.setattr(airflow_env, "airflow_bin", lambda: str(script))

    return install


@pytest.mark.parametrize(
    ("output", "said"),
    [("DAG did not parse, nothing ran\n", "no 'DagRun Finished' line"), (FINISHED.format(state="failed") + "\n", "state=failed")],
)
def test_exit_zero_without_a_successful_run_is_a_failure(fake_airflow, output: str, said: str, tmp_path: Path) -> None:
    fake_airflow(output)
    with pytest.raises(RuntimeError, match=said):
        dag_test("nightly_scoring", date(2026, 6, 28), {"PATH": "/usr/bin"}, tmp_path / "run.log")
    assert (tmp_path / "run.log").read_text() == output


def test_a_successful_run_passes(fake_airflow) -> None:
    fake_airflow(FINISHED.format(state="success") + "\n")
    dag_test("nightly_scoring", date(2026, 6, 28), {"PATH": "/usr/bin"})  # raises on anything but success


def test_a_successful_run_in_which_no_task_ran_is_a_failure(fake_airflow) -> None:
    # A logical date before the tasks' start_date: no task instance, and Airflow marks the run successful.
    not_started = '[{"task_id": "score", "state": null, "start_date": null, "end_date": null}]\n'
    # Airflow gives an upstream_failed task a start date without running it.
    upstream_failed = '[{"task_id": "score", "state": "upstream_failed", "start_date": "2026-11-24T02:46:57+00:00", "end_date": null}]\n'
    for states in ("[]\n", not_started, upstream_failed):
        fake_airflow(FINISHED.format(state="success") + "\n", states)
        with pytest.raises(RuntimeError, match="state=success, but no task ran in run manual__x of nightly_scoring"):
            dag_test("nightly_scoring", date(2026, 6, 28), {"PATH": "/usr/bin"})


def test_the_interpreters_bin_folder_comes_first_on_path(tmp_path: Path) -> None:
    # `airflow standalone` starts its components as `airflow` from PATH, and the README runs
    # `.venv/bin/nightshift airflow standalone` without activating the venv.
    venv_bin = str(Path(sys.executable).parent)
    env = airflow_env.airflow_env("postgresql://db/x", base={"PATH": f"/usr/bin:{venv_bin}:/bin", "AIRFLOW_HOME": "/mine"}, home=tmp_path)
    assert env["PATH"] == f"{venv_bin}:/usr/bin:/bin"
    assert env["AIRFLOW_HOME"] == "/mine"  # an exported variable still wins
    assert airflow_env.airflow_env("postgresql://db/x", base={}, home=tmp_path)["PATH"].split(":")[0] == venv_bin


# A stand-in for `airflow standalone`: records every signal it gets, starts a child that only a
# signal ends, and on its first signal exits at once (`obedient`) or keeps running (`stubborn`).
FAKE_STANDALONE = """
import os, signal, subprocess, sys, time
out, mode = sys.argv[1], sys.argv[2]
# `deaf`: the child sits out SIGTERM, as an idle LocalExecutor worker left behind by its scheduler can.
deaf = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " if mode == "deaf_child" else ""
child = subprocess.Popen([sys.executable, "-c", deaf + "import time; time.sleep(600)"])
def on_signal(signum, _frame):
    with open(out, "a") as fh:
        fh.write(signal.Signals(signum).name + "\\n")
    if mode in ("obedient", "deaf_child"):
        time.sleep(0.5)  # a second signal arriving now would be recorded
        sys.exit(0)
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
with open(out + ".child", "w") as fh:
    fh.write(str(child.pid))
while True:
    time.sleep(0.1)
"""

# `nightshift airflow standalone` in miniature: run_standalone over the fake, with a short grace.
SUPERVISOR = """
import sys
from nightshift.local.airflow_env import run_standalone
sys.exit(run_standalone([sys.executable, sys.argv[1], sys.argv[2], sys.argv[3]], {}, grace_seconds=3))
"""


def _ctrl_c_standalone(tmp_path: Path, mode: str) -> tuple[int, list[str], int]:
    """Start the supervised fake as a terminal would (its own process group), press Ctrl-C once.

    The exit code, the signals the fake saw, and the pid of the child it started.
    """
    import os
    import signal
    import subprocess
    import time

    fake, out = tmp_path / "standalone.py", tmp_path / "signals.txt"
    fake.write_text(FAKE_STANDALONE)
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(fake), str(out), mode], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "signals.txt.child").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the fake standalone never started"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    signals = out.read_text().split() if out.exists() else []
    return code, signals, int((tmp_path / "signals.txt.child").read_text())


def _gone(pid: int) -> bool:
    import psutil

    try:
        psutil.Process(pid).wait(timeout=30)
    except psutil.TimeoutExpired:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # reaped by no one, but not running
    except psutil.NoSuchProcess:
        pass
    return True


def test_one_ctrl_c_reaches_standalone_once_and_nothing_outlives_it(tmp_path: Path) -> None:
    code, signals, child = _ctrl_c_standalone(tmp_path, "obedient")
    # Once: not also as the terminal's signal to its group, which Airflow's components do not survive.
    assert (code, signals) == (0, ["SIGINT"])
    assert _gone(child)  # left behind by the fake, ended by the supervisor


def test_a_standalone_that_will_not_stop_is_terminated_then_killed(tmp_path: Path) -> None:
    code, signals, child = _ctrl_c_standalone(tmp_path, "stubborn")
    assert (code, signals) == (128 + 9, ["SIGINT", "SIGTERM"])
    assert _gone(child)


def test_a_leftover_that_sits_out_sigterm_is_killed_after_standalone_exits(tmp_path: Path) -> None:
    code, signals, child = _ctrl_c_standalone(tmp_path, "deaf_child")
    assert (code, signals) == (0, ["SIGINT"])
    assert _gone(child)
