"""The Airflow UI's login in the stack: the password comes from the environment, or nothing starts."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from nightshift.airflow.ui_users import MissingSettingError, ui_passwords, write_passwords_file

pytestmark = pytest.mark.unit

ENV = {
    "AIRFLOW_ADMIN_USER": "ops",
    "AIRFLOW_ADMIN_PASSWORD": "s3cret",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "ops:admin",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "/opt/airflow/passwords.json",
}


def test_the_admin_password_comes_from_the_environment() -> None:
    assert ui_passwords(ENV) == {"ops": "s3cret"}


@pytest.mark.parametrize("name", ["AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_ADMIN_USER", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
def test_a_missing_or_empty_setting_is_refused_by_name(name: str) -> None:
    with pytest.raises(MissingSettingError, match=name):
        ui_passwords({**ENV, name: ""})
    with pytest.raises(MissingSettingError, match=name):
        ui_passwords({k: v for k, v in ENV.items() if k != name})


def test_a_configured_user_without_a_password_is_refused() -> None:
    # The simple auth manager would generate one and print it in a log.
    with pytest.raises(MissingSettingError, match="viewer"):
        ui_passwords({**ENV, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "ops:admin,viewer:viewer"})


def test_the_passwords_file_is_replaced_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "airflow" / "passwords.json"
    write_passwords_file(path, {"ops": "old"})
    write_passwords_file(path, {"ops": "s3cret"})
    assert json.loads(path.read_text()) == {"ops": "s3cret"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["passwords.json"]
