"""Integration fixtures: one real embedded PostgreSQL per test session, on a free port, in a temp folder."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nightshift.embedded_pg import start_embedded, stop_embedded


@dataclass(frozen=True)
class EmbeddedPg:
    pgdata: Path
    port: int
    url: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def embedded_pg() -> Iterator[EmbeddedPg]:
    # Not tmp_path_factory: its root is 0700, and as root the server runs as an unprivileged
    # account that must be able to enter the folder.
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
