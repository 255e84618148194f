"""The warehouse URL of the `nightshift` commands: the one the tasks use, the embedded server only in local mode."""

from __future__ import annotations

import logging
import os

from nightshift.airflow.context import warehouse_url
from nightshift.local.airflow_env import local_airflow_home
from nightshift.local.embedded_pg import start_embedded


def database_url() -> str:
    """The Airflow `warehouse` connection or NIGHTSHIFT_DATABASE_URL (nightshift.airflow.context.warehouse_url).

    Neither set: the embedded server (started if needed) while local defaults are on, else an
    error naming the settings. The connection is looked up under local mode's AIRFLOW_HOME unless
    one is exported: the Airflow config (and secrets backend) of the Airflow `nightshift airflow`
    runs, not whatever ~/airflow holds.
    """
    os.environ.setdefault("AIRFLOW_HOME", str(local_airflow_home()))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return warehouse_url(embedded=start_embedded)
    finally:
        # Importing Airflow sets up logging for its own processes (INFO, to stdout): a command's
        # stdout is its answer (`psql "$(nightshift db url --show-password)"`), its logs stay on stderr.
        root.handlers[:] = handlers
        root.setLevel(level)
