"""Shared fixtures: one real embedded PostgreSQL and one local SparkSession per test session."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Airflow reads AIRFLOW_HOME when first imported: keep tests away from ~/airflow and the
# project's own .airflow, whatever the developer's shell exports.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="nightshift-airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")

from nightshift.local.embedded_pg import start_embedded, stop_embedded
from tests.pg_helpers import free_port


@dataclass(frozen=True)
class EmbeddedPg:
    pgdata: Path
    port: int
    url: str


@pytest.fixture(scope="session")
def embedded_pg() -> Iterator[EmbeddedPg]:
    # Not tmp_path_factory: its root is 0700, and as root the server runs as an unprivileged
    # account that must be able to enter the folder (else the data would be placed under
    # /var/lib/nightshift, outside this temp folder).
    root = Path(tempfile.mkdtemp(prefix="nightshift-pg-"))
    root.chmod(0o711)
    pgdata = root / "pgdata"
    port = free_port()
    try:
        url = start_embedded(pgdata, port)
        yield EmbeddedPg(pgdata=pgdata, port=port, url=url)
    finally:
        stop_embedded(pgdata)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(embedded_pg: EmbeddedPg) -> str:
    return embedded_pg.url


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for every test that needs Spark (the JVM starts once)."""
    from nightshift.features.spark_session import local_session

    # py4j logs from a finaliser at interpreter exit, after logging has shut down.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session = local_session("nightshift-tests", master="local[2]")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
