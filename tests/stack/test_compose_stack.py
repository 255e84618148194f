"""`make stack-test`: the local stack of docker-compose.yaml, end to end, driven the way a person drives it.

Builds the project image, brings the stack up and waits until every service is healthy,
generates the demo landing zone inside it, logs in to the Airflow REST API (a JWT from
/auth/token, as the UI does), triggers `train_model` and then `nightly_scoring` with trigger-form
values, waits for both runs to succeed on the Spark cluster and the MLflow server (the tasks
logged in as MLflow's `airflow` user), checks the champion in the MLflow server's registry (as
its admin) and the day's rows in the warehouse, checks that the registry refuses a request
without a login or a grant, then runs the `nightshift` CLI in the scheduler (`scores`,
`quality validate` and `quality accept` of a day made bad) against the stack's warehouse, and
takes the stack down with its volumes. Any step that fails fails the test, with the services'
state, the failed tasks' logs and the containers' logs.

Not in `make test` (marker `stack`): it needs a Docker engine and takes minutes. Secrets are
made up for the run and passed in the environment, so a developer's own .env is never read.
NIGHTSHIFT_COMPOSE_OVERRIDE names an extra compose file to layer on top (e.g. one that puts every
service on the host network).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "nightshift-stack-test"
AIRFLOW = "http://localhost:8080"
MLFLOW = "http://localhost:5000"
IMAGE = "nightshift:local"
# Generous bounds, not expectations: each only stops a stuck step from hanging the command.
HEALTHY_WITHIN_S = 900
# Services that do their work and exit: `exited 0` is their success.
ONE_SHOT = ("airflow-init", "mlflow-init")
DAGS_PARSED_WITHIN_S = 300
RUN_FINISHES_WITHIN_S = 2400


def compose_command() -> list[str]:
    """Compose v2 (`docker compose`) where it is installed, else docker-compose 1.29."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("the stack test needs Docker with `docker compose` (or docker-compose): neither is installed")


def made_up_secrets() -> dict[str, str]:
    """Every required variable of .env.example, with values that exist for this run only."""
    values = {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "AIRFLOW_DB_PASSWORD": secrets.token_hex(16),
        "MLFLOW_DB_PASSWORD": secrets.token_hex(16),
        "WAREHOUSE_DB_PASSWORD": secrets.token_hex(16),
        "AIRFLOW_ADMIN_USER": "stacktest",
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_hex(16),
        "MLFLOW_ADMIN_USER": "stackadmin",
        "MLFLOW_ADMIN_PASSWORD": secrets.token_hex(16),
        "MLFLOW_AIRFLOW_PASSWORD": secrets.token_hex(16),
        "MLFLOW_SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_hex(32),
        # Only the triggered runs: no scheduled run of today competes for max_active_runs.
        "AIRFLOW_SCHEDULES": "False",
        "NIGHTSHIFT_LANDING_ZONE": "landing",
    }
    return values


@dataclass
class Stack:
    compose: list[str]
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    # What a later test of the module builds on (the scored day and its rows), once the first one got there.
    facts: dict[str, object] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.compose, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(f"`{' '.join(['compose', *args])}` failed (exit {proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}")
        return proc

    def services(self) -> list[str]:
        return list(yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"])

    def states(self) -> dict[str, str]:
        """Each service's container state: `healthy`, `starting`, `unhealthy`, `running`, `exited N` or `missing`."""
        states = {}
        for service in self.services():
            container = self.run("ps", "-q", service, check=False).stdout.strip()
            if not container:
                states[service] = "missing"
                continue
            fmt = "{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
            status, code, *health = subprocess.run(
                ["docker", "inspect", "--format", fmt, container], capture_output=True, text=True
            ).stdout.split()
            states[service] = f"exited {code}" if status == "exited" else (health[0] if health else status)
        return states


def _tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


def step(what: str) -> float:
    print(f"\n==> {what}", flush=True)
    return time.monotonic()


def done(stack: Stack, key: str, started: float) -> float:
    seconds = time.monotonic() - started
    stack.timings[key] = seconds
    print(f"    {seconds:.1f} s", flush=True)
    return seconds


def host_network_files(compose: list[str], files: list[str], env: dict[str, str], folder: Path) -> list[str]:
    """The compose files as one, without published ports on services that use the host network.

    On the host network a published port means nothing: Compose v2 drops it with a warning,
    docker-compose 1.29 refuses to create the container. Its `config` merges and interpolates
    the files (so the result holds this run's secrets: it lives in a private temp folder).
    """
    merged = subprocess.run([*compose, *files, "config"], cwd=ROOT, env=env, capture_output=True, text=True)
    if merged.returncode != 0:
        pytest.fail(f"`compose config` failed:\n{_tail(merged.stdout + merged.stderr)}")
    spec = yaml.safe_load(merged.stdout)
    if not any(s.get("network_mode") == "host" for s in spec["services"].values()):
        return files
    for service in spec["services"].values():
        if service.get("network_mode") == "host":
            service.pop("ports", None)
    path = folder / "docker-compose.merged.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return ["--project-directory", str(ROOT), "-f", str(path)]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    compose = compose_command()
    files = ["-f", "docker-compose.yaml"]
    # Creating a container of a 2.5 GB image can take minutes on a busy disk: compose's own 60 s
    # request timeout would fail the run while Docker is still at work.
    env = {"COMPOSE_HTTP_TIMEOUT": "900", **os.environ, **made_up_secrets()}
    private = Path(tempfile.mkdtemp(prefix="nightshift-stack-"))
    override = os.environ.get("NIGHTSHIFT_COMPOSE_OVERRIDE")
    if override:
        if not Path(override).is_file():
            pytest.fail(f"NIGHTSHIFT_COMPOSE_OVERRIDE={override}: no such compose file")
        files = host_network_files(compose, [*files, "-f", str(Path(override).resolve())], env, private)
    stack = Stack([*compose, "-p", PROJECT, *files], env)
    # A run killed half-way leaves its containers and volumes behind: start from nothing.
    stack.run("down", "-v", "--remove-orphans", check=False)
    started = time.monotonic()
    try:
        yield stack
    finally:
        stack.timings["whole_until_down"] = time.monotonic() - started
        # What the services said, for whoever reads a failure; then nothing is left behind.
        print("\n==> services at the end\n" + json.dumps(stack.states(), indent=2), flush=True)
        if os.environ.get("NIGHTSHIFT_STACK_LOGS"):
            print(_tail(stack.run("logs", "--no-color", "--tail=60", check=False).stdout, 2000), flush=True)
        t = step("compose down -v")
        try:
            stack.run("down", "-v", "--remove-orphans")
            done(stack, "down", t)
        finally:
            shutil.rmtree(private, ignore_errors=True)
            print("\nstack timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in stack.timings.items()), flush=True)


class Api:
    """A JSON REST API: Airflow's v2 with a bearer token, as the UI calls it, or MLflow's with a basic-auth login."""

    def __init__(self, base: str, token: str | None = None, login: tuple[str, str] | None = None) -> None:
        self.base, self.token, self.login = base, token, login

    def request(self, method: str, path: str, body: object | None = None) -> urllib.request.Request:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if self.login:
            request.add_header("Authorization", "Basic " + base64.b64encode(":".join(self.login).encode()).decode())
        return request

    def status(self, method: str, path: str, body: object | None = None) -> int:
        """The HTTP status of one call, whatever it is."""
        try:
            with urllib.request.urlopen(self.request(method, path, body), timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def call(self, method: str, path: str, body: object | None = None) -> dict:
        request = self.request(method, path, body)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: HTTP {exc.code} {exc.read().decode(errors='replace')[:2000]}") from exc
        return json.loads(payload) if payload else {}


def wait_healthy(stack: Stack) -> dict[str, str]:
    deadline = time.monotonic() + HEALTHY_WITHIN_S
    while True:
        states = stack.states()
        inits = {name: states.pop(name) for name in ONE_SHOT}
        bad = {s: st for s, st in states.items() if st == "unhealthy" or st.startswith("exited")}
        bad |= {s: st for s, st in inits.items() if st.startswith("exited") and st != "exited 0"}
        if bad:
            logs = stack.run("logs", "--no-color", "--tail=40", *bad, check=False).stdout
            pytest.fail(f"services failed while starting: {bad}\n{_tail(logs)}")
        if all(st == "exited 0" for st in inits.values()) and all(st == "healthy" for st in states.values()):
            return {**states, **inits}
        if time.monotonic() > deadline:
            pytest.fail(f"not healthy after {HEALTHY_WITHIN_S} s: {states}, {inits}")
        time.sleep(3)


def wait_for_dag(api: Api, dag_id: str) -> None:
    deadline = time.monotonic() + DAGS_PARSED_WITHIN_S
    while True:
        errors = api.call("GET", "/api/v2/importErrors").get("import_errors", [])
        if errors:
            pytest.fail("DAG import errors in the stack:\n" + "\n".join(f"{e['filename']}: {e['stack_trace'][-1500:]}" for e in errors))
        try:
            api.call("GET", f"/api/v2/dags/{dag_id}")
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(5)


def trigger_and_wait(api: Api, dag_id: str, logical_date: datetime, conf: dict) -> dict:
    """Trigger a run with trigger-form values (the UI's Trigger button), wait for it, return it once succeeded."""
    api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    run = api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date.isoformat(), "conf": conf})
    run_id = urllib.parse.quote(run["dag_run_id"], safe="")
    print(f"    triggered {dag_id} run {run['dag_run_id']} with conf {json.dumps(run['conf'])}", flush=True)
    assert run["conf"] == conf
    deadline = time.monotonic() + RUN_FINISHES_WITHIN_S
    while run["state"] not in ("success", "failed"):
        if time.monotonic() > deadline:
            pytest.fail(f"{dag_id} run {run_id} still {run['state']} after {RUN_FINISHES_WITHIN_S} s:\n{task_report(api, dag_id, run_id)}")
        time.sleep(10)
        run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    if run["state"] != "success":
        pytest.fail(f"{dag_id} run {run['dag_run_id']} {run['state']}:\n{task_report(api, dag_id, run_id)}")
    return run


def task_report(api: Api, dag_id: str, run_id: str) -> str:
    """Each task's state, and the log tail of every task that did not succeed."""
    lines = []
    for ti in api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]:
        lines.append(f"  {ti['task_id']}: {ti['state']} (try {ti['try_number']})")
        if ti["state"] not in ("success", "skipped", None) and ti["try_number"]:
            path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}?full_content=true"
            try:
                content = api.call("GET", path).get("content", [])
                text = "\n".join(log_line(c) for c in content)
            except AssertionError as exc:
                text = str(exc)
            lines.append(_tail(text, 60))
    return "\n".join(lines)


def log_line(entry: object) -> str:
    """One entry of a structured task log; a failure's exception (`error_detail`) is kept, not just its event."""
    if not isinstance(entry, dict):
        return str(entry)
    errors = entry.get("error_detail") or []
    return "\n".join([entry.get("event", ""), *(f"{e.get('exc_type')}: {e.get('exc_value')}" for e in errors if isinstance(e, dict))])


def xcom(api: Api, dag_id: str, run_id: str, task_id: str) -> dict:
    quoted = urllib.parse.quote(run_id, safe="")
    value = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}/xcomEntries/return_value")["value"]
    return json.loads(value) if isinstance(value, str) else value


def run_seconds(run: dict) -> float:
    start, end = (datetime.fromisoformat(run[key].replace("Z", "+00:00")) for key in ("start_date", "end_date"))
    return (end - start).total_seconds()


def test_the_stack_trains_and_scores_end_to_end(stack: Stack) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    gen = params["generate"]
    day = date.fromisoformat(str(gen["start_date"])) + timedelta(days=int(gen["days"]) - 1)

    t = step("compose build (the project image)")
    stack.run("build", timeout=3600)
    done(stack, "build", t)
    size = int(subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", IMAGE], capture_output=True, text=True).stdout)
    print(f"    image {IMAGE}: {size / 2**30:.2f} GiB", flush=True)

    t = step("compose up -d, then every service healthy")
    stack.run("up", "-d", timeout=HEALTHY_WITHIN_S)
    states = wait_healthy(stack)
    done(stack, "up_to_healthy", t)
    print("    " + ", ".join(f"{s} {st}" for s, st in states.items()), flush=True)

    t = step(f"nightshift generate in airflow-scheduler: {gen['customers']} customers x {gen['days']} days into the landing volume")
    print("    " + stack.run("exec", "-T", "airflow-scheduler", "nightshift", "generate", timeout=1200).stdout.strip(), flush=True)
    done(stack, "generate", t)

    t = step("log in: POST /auth/token")
    login = Api(AIRFLOW).call(
        "POST", "/auth/token", {"username": stack.env["AIRFLOW_ADMIN_USER"], "password": stack.env["AIRFLOW_ADMIN_PASSWORD"]}
    )
    api = Api(AIRFLOW, login["access_token"])
    with pytest.raises(AssertionError, match="HTTP 401"):
        Api(AIRFLOW).call("GET", "/api/v2/dags")
    with pytest.raises(AssertionError, match=r"HTTP 403 .*Invalid JWT"):
        Api(AIRFLOW, "not-a-token").call("GET", "/api/v2/dags")
    wait_for_dag(api, "train_model")
    wait_for_dag(api, "nightly_scoring")
    done(stack, "login_and_dags_parsed", t)

    t = step(f"train_model as of {day}")
    window = int(params["train"]["window_days"])
    train = trigger_and_wait(
        api, "train_model", datetime(day.year, day.month, day.day, tzinfo=UTC), {"window_days": window, "force_promote": False}
    )
    done(stack, "train_model_wall", t)
    stack.timings["train_model_run"] = run_seconds(train)
    trained = xcom(api, "train_model", train["dag_run_id"], "train")
    print(f"    version {trained['model_version']}, champion={trained['champion']}, gate {trained['gate']['outcome']}", flush=True)
    assert trained["champion"], f"the first version was not promoted: {trained['gate']}"

    t = step(f"nightly_scoring with score_date {day}")
    scoring = trigger_and_wait(api, "nightly_scoring", datetime.now(UTC), {"score_date": day.isoformat()})
    done(stack, "nightly_scoring_wall", t)
    stack.timings["nightly_scoring_run"] = run_seconds(scoring)
    scored = xcom(api, "nightly_scoring", scoring["dag_run_id"], "score")

    t = step("check: the champion in the MLflow registry, its artifacts on the server, its training set in the DVC remote, the rows")
    registry = Api(MLFLOW, login=(stack.env["MLFLOW_ADMIN_USER"], stack.env["MLFLOW_ADMIN_PASSWORD"]))
    name = params["model"]["name"]
    champion = registry.call("GET", f"/api/2.0/mlflow/registered-models/alias?name={name}&alias={params['model']['champion_alias']}")
    version = champion["model_version"]
    assert version["version"] == str(trained["model_version"]) == str(scored["model_version"])
    artifacts = registry.call("GET", f"/api/2.0/mlflow/artifacts/list?run_id={version['run_id']}")
    assert artifacts.get("files"), f"run {version['run_id']} of {name} v{version['version']} has no artifacts on the MLflow server"
    run = registry.call("GET", f"/api/2.0/mlflow/runs/get?run_id={version['run_id']}")["run"]
    run_tags = {tag["key"]: tag["value"] for tag in run["data"]["tags"]}
    md5 = run_tags["dvc.training_set.md5"]
    assert run_tags["dvc.training_set.remote"] == "stack"
    # The training set is restorable by the md5 alone: its listing is in the stack's DVC remote (DVC's files/md5 layout).
    listing = f"/data/dvc-remote/files/md5/{md5[:2]}/{md5[2:]}"
    stack.run("exec", "-T", "airflow-scheduler", "test", "-s", listing)
    print(f"    training set {md5} in the DVC remote ({listing})", flush=True)
    query = (
        "SELECT count(*), count(DISTINCT customer_id), min(model_version), max(model_version), "
        f"min(churn_probability) >= 0 AND max(churn_probability) <= 1 FROM churn_scores WHERE score_date = '{day.isoformat()}'"
    )
    rows, customers, low, high, in_range = warehouse(stack, query).split(",")
    print(f"    champion {name} v{version['version']} (run {version['run_id']}), {len(artifacts['files'])} artifact entries", flush=True)
    print(f"    churn_scores {day}: {rows} rows, model_version {low}..{high}", flush=True)
    assert int(rows) == int(customers) == int(scored["rows"]) > 0
    assert low == high == str(version["version"])
    assert in_range == "t"
    done(stack, "checks", t)
    stack.facts.update(scored_day=day, scored_rows=int(rows))

    t = step("check: the MLflow registry without a login, with a wrong password, with a login but no grant")
    check_registry_access(stack, name, params["model"]["champion_alias"], str(version["version"]))
    champion_after = registry.call("GET", f"/api/2.0/mlflow/registered-models/alias?name={name}&alias={params['model']['champion_alias']}")
    assert champion_after["model_version"]["version"] == version["version"], "the refused requests moved champion"
    done(stack, "registry_access", t)

    print("\nstack timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in stack.timings.items()), flush=True)
    print(f"image size: {size / 2**30:.2f} GiB", flush=True)


def warehouse(stack: Stack, query: str, check: bool = True) -> str:
    """One query against the stack's warehouse database, as its own role, rows as comma-separated lines."""
    proc = stack.run("exec", "-T", "postgres", "psql", "-U", "nightshift", "-d", "warehouse", "-tAF,", "-c", query, check=check)
    return proc.stdout.strip() if proc.returncode == 0 else f"psql failed: {(proc.stdout + proc.stderr).strip()}"


def check_registry_access(stack: Stack, name: str, alias: str, version: str) -> None:
    """Nothing changes the registry without a login; a login without a grant reads nothing; `airflow` is no admin."""
    admin = Api(MLFLOW, login=(stack.env["MLFLOW_ADMIN_USER"], stack.env["MLFLOW_ADMIN_PASSWORD"]))
    airflow = Api(MLFLOW, login=("airflow", stack.env["MLFLOW_AIRFLOW_PASSWORD"]))
    viewer_login = ("stackviewer", secrets.token_hex(16))
    assert admin.status("POST", "/api/2.0/mlflow/users/create", {"username": viewer_login[0], "password": viewer_login[1]}) == 200
    callers = {
        "anonymous": (Api(MLFLOW), {401}),
        "wrong password": (Api(MLFLOW, login=(stack.env["MLFLOW_ADMIN_USER"], "not-the-password")), {401}),
        "user without a grant": (Api(MLFLOW, login=viewer_login), {403}),
    }
    calls = {
        "create a registered model": ("POST", "/api/2.0/mlflow/registered-models/create", {"name": f"{name}_intruder"}),
        "register a version": ("POST", "/api/2.0/mlflow/model-versions/create", {"name": name, "source": "s3://elsewhere/model"}),
        f"point {alias} at a version": (
            "POST",
            "/api/2.0/mlflow/registered-models/alias",
            {"name": name, "alias": alias, "version": version},
        ),
        f"read {alias}": ("GET", f"/api/2.0/mlflow/registered-models/alias?name={name}&alias={alias}", None),
    }
    for who, (api, refused) in callers.items():
        for what, (method, path, body) in calls.items():
            if who == "user without a grant" and what.startswith("create"):
                continue  # creating a new model is open to every logged-in user; it then manages only that one
            code = api.status(method, path, body)
            print(f"    {who}: {what} -> HTTP {code}", flush=True)
            assert code in refused, f"{who} could {what}: HTTP {code}"
    # The Airflow services' login reads the champion but cannot manage users.
    assert airflow.status("GET", calls[f"read {alias}"][1]) == 200
    code = airflow.status("POST", "/api/2.0/mlflow/users/create", {"username": "made_by_airflow", "password": secrets.token_hex(16)})
    print(f"    airflow: read {alias} -> HTTP 200, create a user -> HTTP {code}", flush=True)
    assert code == 403


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker compose exec airflow-scheduler nightshift ARGS`, as a person types it; printed, never failed on."""
    proc = stack.run("exec", "-T", "airflow-scheduler", "nightshift", *args, check=False, timeout=900)
    print(f"    $ nightshift {' '.join(args)}  (exit {proc.returncode})", flush=True)
    for line in _tail((proc.stdout + proc.stderr).strip(), 12).splitlines():
        print(f"      {line}", flush=True)
    return proc


def test_the_cli_in_the_stack_acts_on_the_stack_warehouse(stack: Stack) -> None:
    """`nightshift scores` reads the warehouse's churn_scores; a failed day is recorded and accepted there."""
    if "scored_day" not in stack.facts:
        pytest.fail("the end-to-end test did not get to a scored day: nothing to check the CLI against")
    day, rows = stack.facts["scored_day"], stack.facts["scored_rows"]
    bad_day, reason = day - timedelta(days=1), "stack test: three negative minutes, known and harmless"
    problems: list[str] = []
    t = step(f"nightshift scores {day}, then a bad {bad_day}: generate --bad, quality validate, quality accept")
    listed = cli(stack, "scores", day.isoformat())
    first = (listed.stdout.strip().splitlines() or [""])[0]
    if listed.returncode != 0 or first != f"{rows} rows in churn_scores for {day}":
        problems.append(f"`nightshift scores {day}` printed {first!r}, the warehouse holds {rows} rows")
    made = cli(stack, "generate", "--bad", "negative_minutes", "--bad-date", bad_day.isoformat())
    assert made.returncode == 0, "nightshift generate --bad failed"
    validated = cli(stack, "quality", "validate", bad_day.isoformat())
    if validated.returncode == 0 or "minutes" not in validated.stdout + validated.stderr:
        problems.append(f"`nightshift quality validate {bad_day}` did not fail on the negative minutes")
    failed = warehouse(stack, f"SELECT count(*) FROM data_quality_runs WHERE logical_date = '{bad_day}' AND NOT success", check=False)
    print(f"    warehouse data_quality_runs, failed validations of {bad_day}: {failed}", flush=True)
    if failed in ("", "0") or failed.startswith("psql failed"):
        problems.append(f"no failed validation of {bad_day} in the warehouse's data_quality_runs: {failed}")
    accepted = cli(stack, "quality", "accept", bad_day.isoformat(), "--reason", reason, "--by", "stack-test")
    if accepted.returncode != 0:
        problems.append(f"`nightshift quality accept {bad_day}` failed (exit {accepted.returncode})")
    kept = warehouse(stack, f"SELECT accepted_by, reason FROM data_quality_acceptances WHERE logical_date = '{bad_day}'", check=False)
    print(f"    warehouse data_quality_acceptances of {bad_day}: {kept}", flush=True)
    if kept != f"stack-test,{reason}":
        problems.append(f"the acceptance of {bad_day} is not in the warehouse's data_quality_acceptances: {kept}")
    done(stack, "cli_checks", t)
    assert not problems, "the CLI in the stack did not act on the stack's warehouse:\n  " + "\n  ".join(problems)
