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


@pytest.fixture
def fake_airflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An `airflow` that prints what it is told and exits 0, as `airflow dags test` can when a task failed."""

    def install(output: str) -> None:
        script = tmp_path / "airflow"
        script.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({output!r})\n")
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


def test_the_interpreters_bin_folder_comes_first_on_path(tmp_path: Path) -> None:
    # `airflow standalone` starts its components as `airflow` from PATH, and the README runs
    # `.venv/bin/nightshift airflow standalone` without activating the venv.
    venv_bin = str(Path(sys.executable).parent)
    env = airflow_env.airflow_env("postgresql://db/x", base={"PATH": f"/usr/bin:{venv_bin}:/bin", "AIRFLOW_HOME": "/mine"}, home=tmp_path)
    assert env["PATH"] == f"{venv_bin}:/usr/bin:/bin"
    assert env["AIRFLOW_HOME"] == "/mine"  # an exported variable still wins
    assert airflow_env.airflow_env("postgresql://db/x", base={}, home=tmp_path)["PATH"].split(":")[0] == venv_bin
