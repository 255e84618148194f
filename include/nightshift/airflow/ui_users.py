"""The Airflow UI's login in a deployment: users and passwords from the environment.

Airflow's simple auth manager takes its users from `[core] simple_auth_manager_users` and reads
their passwords from a JSON file, generating a random one for any user it does not find there.
A deployment that must not depend on a generated password printed in a log writes that file
from the environment before the api-server starts: `python -m nightshift.airflow.ui_users`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from nightshift.config import MissingSettingError

log = logging.getLogger(__name__)

USERS_VAR = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"
PASSWORDS_FILE_VAR = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
ADMIN_USER_VAR = "AIRFLOW_ADMIN_USER"
ADMIN_PASSWORD_VAR = "AIRFLOW_ADMIN_PASSWORD"


def ui_passwords(env: Mapping[str, str]) -> dict[str, str]:
    """The admin user's password from the environment; every configured user must be that one.

    Refuses an empty or missing variable by name: a deployment with no password set must not
    start with a generated one nobody chose.
    """
    missing = [name for name in (ADMIN_USER_VAR, ADMIN_PASSWORD_VAR, USERS_VAR, PASSWORDS_FILE_VAR) if not env.get(name)]
    if missing:
        raise MissingSettingError(f"the Airflow UI login needs {', '.join(missing)} in the environment (see .env.example)")
    user = env[ADMIN_USER_VAR]
    configured = [entry.split(":")[0].strip() for entry in env[USERS_VAR].split(",") if entry.strip()]
    others = [name for name in configured if name != user]
    if others:
        raise MissingSettingError(
            f"{USERS_VAR} lists {', '.join(others)} with no password in the environment: only {ADMIN_USER_VAR}={user} has one"
        )
    return {user: env[ADMIN_PASSWORD_VAR]}


def write_passwords_file(path: Path, passwords: Mapping[str, str]) -> None:
    """Replace the simple auth manager's password file, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(dict(passwords), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main() -> int:
    try:
        passwords = ui_passwords(os.environ)
    except MissingSettingError as exc:
        print(f"nightshift.airflow.ui_users: {exc}", file=sys.stderr)
        return 1
    path = Path(os.environ[PASSWORDS_FILE_VAR])
    write_passwords_file(path, passwords)
    print(f"Airflow UI login: user {', '.join(passwords)} (password from {ADMIN_PASSWORD_VAR}), file {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
