"""The local stack's wiring, read from docker-compose.yaml, the Dockerfile and .env.example (no Docker needed).

`make stack-test` runs the stack itself; this checks on every run what would otherwise only
show up there: services, health checks, start order, connections, shared paths and secrets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from nightshift.airflow.context import WAREHOUSE_CONN_ID

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
PYTHON_SERVICES = ("mlflow", "mlflow-init", "spark-master", "spark-worker", "airflow-init", *AIRFLOW)
# Services that do their work and exit; the others run until the stack stops.
ONE_SHOT = ("airflow-init", "mlflow-init")
# ${NAME}, ${NAME:?message}, ${NAME:-default}: compose's interpolation.
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?([?-])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (ROOT / "docker-compose.yaml").read_text()


def interpolate(text: str) -> str:
    """The compose file as compose reads it: a default where one is given, else a stand-in value named for the variable."""
    return VARIABLE.sub(lambda m: m.group(3) if m.group(2) == "-" else f"value-of-{m.group(1).lower()}", text)


@pytest.fixture(scope="module")
def services(compose_text: str) -> dict:
    return yaml.safe_load(interpolate(compose_text))["services"]


@pytest.fixture(scope="module")
def raw_services(compose_text: str) -> dict:
    return yaml.safe_load(compose_text)["services"]


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_stack_has_its_services_and_no_compose_version_key(compose_text: str, services: dict) -> None:
    assert set(services) == {"postgres", *PYTHON_SERVICES}
    # Compose v2 ignores `version` with a warning and docker-compose 1.29 reads the spec without it.
    assert "version" not in yaml.safe_load(compose_text)
    assert services["postgres"]["image"] == "postgres:16"


def test_every_python_service_runs_the_one_project_image(services: dict) -> None:
    assert {(services[name].get("image"), services[name].get("build")) for name in PYTHON_SERVICES} == {("nightshift:local", ".")}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "\nFROM python:3.11-slim-bookworm\n" in dockerfile
    for needed in ("openjdk-17-jre-headless", "JAVA_HOME=", "requirements.txt -c /opt/nightshift/constraints.txt", "--no-cache-dir"):
        assert needed in dockerfile, needed
    # In the image a missing setting fails the task that needs it instead of writing to a local default.
    assert "NIGHTSHIFT_LOCAL_DEFAULTS=off" in dockerfile


def test_every_long_running_service_has_a_health_check(services: dict) -> None:
    long_running = set(services) - set(ONE_SHOT)
    assert {name for name in long_running if services[name].get("healthcheck", {}).get("test")} == long_running
    for name in ONE_SHOT:
        assert "healthcheck" not in services[name], name


def test_services_start_in_order_on_conditions(services: dict) -> None:
    def conditions(name: str) -> dict[str, str]:
        depends = services[name].get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions starts it before what it needs is ready"
        return {dep: spec["condition"] for dep, spec in depends.items()}

    assert conditions("airflow-init") == {"postgres": "service_healthy"}
    assert conditions("mlflow") == {"postgres": "service_healthy"}
    assert conditions("mlflow-init") == {"mlflow": "service_healthy"}
    assert conditions("spark-worker") == {"spark-master": "service_healthy"}
    for name in AIRFLOW:
        assert conditions(name)["postgres"] == "service_healthy", name
        assert conditions(name)["airflow-init"] == "service_completed_successfully", name
    # Tasks need the execution API, the MLflow server with their login on it, and an executor from the start.
    assert (
        conditions("airflow-scheduler").items()
        >= {
            "airflow-apiserver": "service_healthy",
            "mlflow-init": "service_completed_successfully",
            "spark-worker": "service_healthy",
        }.items()
    )


def test_airflow_components_share_executor_secrets_and_connections(services: dict) -> None:
    envs = [services[name]["environment"] for name in ("airflow-init", *AIRFLOW)]
    shared = (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__CORE__AUTH_MANAGER",
        "AIRFLOW_CONN_SPARK_DEFAULT",
        f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}",
        "MLFLOW_TRACKING_URI",
    )
    for key in shared:
        assert len({env[key] for env in envs}) == 1, f"{key} differs between the Airflow components"
    env = envs[0]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    spark = json.loads(env["AIRFLOW_CONN_SPARK_DEFAULT"])
    assert (spark["conn_type"], spark["host"], spark["port"]) == ("spark", "spark://spark-master", 7077)
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    warehouse = urlsplit(env[f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"])
    assert (warehouse.hostname, warehouse.path) == ("postgres", "/warehouse")


def test_every_airflow_component_keeps_training_sets_in_one_dvc_repository_that_init_creates(services: dict) -> None:
    # train_model's version_training_set pushes through the repository's default remote: both are volumes.
    for name in ("airflow-init", *AIRFLOW):
        env, volumes = services[name]["environment"], services[name].get("volumes", [])
        assert env["NIGHTSHIFT_DVC_REPO"] == "/data/dvc", name
        assert {"dvc:/data/dvc", "dvc-remote:/data/dvc-remote"} <= set(volumes), name
    init = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init and "dvc init --no-scm" in init
    assert 'dvc remote add --default --force stack "$NIGHTSHIFT_DVC_REMOTE_URL"' in init.replace("$$", "$")
    assert services["airflow-init"]["environment"]["NIGHTSHIFT_DVC_REMOTE_URL"] == "/data/dvc-remote"


def test_the_api_server_gets_the_ui_login_from_the_environment(services: dict) -> None:
    env = services["airflow-apiserver"]["environment"]
    assert {"AIRFLOW_ADMIN_USER", "AIRFLOW_ADMIN_PASSWORD"} <= set(env)
    assert "nightshift.airflow.ui_users" in " ".join(services["airflow-apiserver"]["command"])


def test_every_spark_process_names_itself_by_its_service(services: dict) -> None:
    # With no name set, Spark resolves the container's host name, which need not resolve at all.
    for name in ("spark-master", "spark-worker", "airflow-scheduler"):
        assert services[name]["environment"]["SPARK_LOCAL_HOSTNAME"] == name
    # spark-class's Master and Worker take `--option value`; `--option=value` is read as the master URL.
    for name in ("spark-master", "spark-worker"):
        command = [str(word) for word in services[name]["command"]]
        assert command[0] == "spark-class" and not [w for w in command if w.startswith("--") and "=" in w], name


def test_each_database_has_its_own_role_created_at_first_start(services: dict) -> None:
    env = services["airflow-scheduler"]["environment"]
    urls = {
        "airflow": env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
        "mlflow": services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"],
        "warehouse": env[f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"],
    }
    roles = {db: (urlsplit(url).username, urlsplit(url).path.lstrip("/")) for db, url in urls.items()}
    assert roles == {"airflow": ("airflow", "airflow"), "mlflow": ("mlflow", "mlflow"), "warehouse": ("nightshift", "warehouse")}
    init = (ROOT / "docker" / "postgres" / "create-databases.sh").read_text()
    for role, db in roles.values():
        assert f"create_database {role} {db} " in init
    mounts = services["postgres"]["volumes"]
    assert any(m.startswith("./docker/postgres/create-databases.sh:/docker-entrypoint-initdb.d/") for m in mounts)


def test_data_and_work_folders_sit_at_the_same_path_for_the_driver_and_the_executors(services: dict) -> None:
    def mounts(name: str) -> dict[str, str]:
        return {entry.split(":")[1]: entry.split(":")[0] for entry in services[name]["volumes"]}

    driver, executors = mounts("airflow-scheduler"), mounts("spark-worker")
    env = services["airflow-scheduler"]["environment"]
    for setting in ("NIGHTSHIFT_DATA_DIR", "NIGHTSHIFT_WORK_DIR", "NIGHTSHIFT_QUARANTINE_DIR"):
        path = env[setting]
        assert path in driver and driver[path] == executors.get(path), f"{setting}={path} is not one shared volume"
    # The api-server serves the GX data docs the tasks write.
    gx_results = "/opt/nightshift/great_expectations/uncommitted"
    assert mounts("airflow-apiserver")[gx_results] == driver[gx_results]


def test_published_ports_do_not_collide(services: dict) -> None:
    published = [p.rsplit(":", 2)[-2] for s in services.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))
    assert "127.0.0.1:8080:8080" in services["airflow-apiserver"]["ports"]
    assert "127.0.0.1:5000:5000" in services["mlflow"]["ports"]


def test_no_port_is_published_on_every_interface_by_default(raw_services: dict, services: dict) -> None:
    # "5000:5000" publishes on 0.0.0.0: anyone who reaches the machine reaches the service.
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine by default"
    # Another address is a setting in .env: the login-protected UIs share one, the Spark UIs (no login) have their own.
    expected = {
        "airflow-apiserver": "${NIGHTSHIFT_BIND_ADDRESS:-127.0.0.1}:8080:8080",
        "mlflow": "${NIGHTSHIFT_BIND_ADDRESS:-127.0.0.1}:5000:5000",
        "spark-master": "${NIGHTSHIFT_SPARK_UI_BIND_ADDRESS:-127.0.0.1}:8081:8081",
        "spark-worker": "${NIGHTSHIFT_SPARK_UI_BIND_ADDRESS:-127.0.0.1}:8082:8082",
    }
    assert {name: s["ports"] for name, s in raw_services.items() if s.get("ports")} == {n: [p] for n, p in expected.items()}


def mlflow_script(services: dict) -> str:
    command = services["mlflow"]["command"]
    return command if isinstance(command, str) else " ".join(str(word) for word in command)


def test_the_mlflow_server_runs_its_basic_auth_app_with_nothing_granted_by_default(services: dict, raw_services: dict) -> None:
    script, env = mlflow_script(services), services["mlflow"]["environment"]
    assert "mlflow server --app-name basic-auth" in script
    # The config file it reads is written at start: a logged-in user who is not admin gets only what it was granted.
    assert env["MLFLOW_AUTH_CONFIG_PATH"] and 'cat > "$$MLFLOW_AUTH_CONFIG_PATH"' in script
    assert "default_permission = NO_PERMISSIONS" in script
    assert "database_uri = $$NIGHTSHIFT_MLFLOW_AUTH_DB_URI" in script
    auth_db = urlsplit(env["NIGHTSHIFT_MLFLOW_AUTH_DB_URI"])
    assert (auth_db.username, auth_db.hostname, auth_db.path) == ("mlflow", "postgres", "/mlflow_auth")
    assert "\nadd_database mlflow mlflow_auth\n" in (ROOT / "docker" / "postgres" / "create-databases.sh").read_text()
    # The admin login and the form-signing key come from .env, without defaults.
    raw = raw_services["mlflow"]["environment"]
    for key, variable in {
        "MLFLOW_AUTH_ADMIN_USERNAME": "MLFLOW_ADMIN_USER",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "MLFLOW_ADMIN_PASSWORD",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "MLFLOW_SECRET_KEY",
    }.items():
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", raw[key]), f"mlflow: {key} is {raw[key]!r}"
    # The app needs Flask-WTF (mlflow's auth extra), pinned like every other package.
    assert "mlflow[auth]==" in (ROOT / "requirements.txt").read_text()
    assert re.search(r"(?im)^flask-wtf==[0-9.]+$", (ROOT / "constraints.txt").read_text())


def test_every_airflow_component_logs_in_to_mlflow_as_its_own_user(raw_services: dict) -> None:
    for name in ("airflow-init", *AIRFLOW):
        env = raw_services[name]["environment"]
        assert env["MLFLOW_TRACKING_USERNAME"] == "airflow", name
        assert re.fullmatch(r"\$\{MLFLOW_AIRFLOW_PASSWORD:\?[^}]+\}", env["MLFLOW_TRACKING_PASSWORD"]), name
        assert not {"MLFLOW_ADMIN_USER", "MLFLOW_ADMIN_PASSWORD"} & set(re.findall(r"\$\{([A-Z_]+)", json.dumps(env))), name
    # mlflow-init, logged in as the admin, creates that user and its grants before the scheduler starts tasks.
    init = raw_services["mlflow-init"]
    assert init["environment"]["MLFLOW_TRACKING_USERNAME"].startswith("${MLFLOW_ADMIN_USER:?")
    assert init["environment"]["MLFLOW_TRACKING_PASSWORD"].startswith("${MLFLOW_ADMIN_PASSWORD:?")
    assert init["environment"]["MLFLOW_AIRFLOW_PASSWORD"].startswith("${MLFLOW_AIRFLOW_PASSWORD:?")
    assert "/opt/nightshift/docker/mlflow/provision.py" in init["command"]
    assert "!docker/mlflow/" in (ROOT / ".dockerignore").read_text().splitlines()


def test_no_secret_is_written_in_the_compose_file(compose_text: str, raw_services: dict) -> None:
    # A credential in a URL or a secret-named setting is always a required variable, never a value or a default.
    for user, password in re.findall(r"://([^:/@\s]+):([^@\s]+)@", compose_text):
        assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", password), f"password of {user} written in the compose file"
    secret_name = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN")
    for name, service in raw_services.items():
        for key, value in (service.get("environment") or {}).items():
            if secret_name.search(key) and not key.endswith("_FILE"):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", str(value)), f"{name}: {key} is not a required variable"


def test_every_variable_the_compose_file_uses_is_listed_in_env_example(compose_text: str) -> None:
    used = {match.group(1): match.group(2) for match in VARIABLE.finditer(compose_text)}
    listed = env_example()
    assert set(used) == set(listed), "used in docker-compose.yaml vs listed in .env.example"
    # A required variable is empty in the example, so a copy nobody filled in does not start.
    assert {name for name, kind in used.items() if kind == "?" and listed[name]} == set()
    assert {name for name, kind in used.items() if kind != "?"} == {name for name, value in listed.items() if value}


def test_the_real_env_file_is_git_ignored() -> None:
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
