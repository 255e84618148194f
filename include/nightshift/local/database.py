"""The warehouse URL of local mode: NIGHTSHIFT_DATABASE_URL, else the embedded server (started if needed)."""

from __future__ import annotations

import os

from nightshift.local.embedded_pg import start_embedded


def database_url() -> str:
    """NIGHTSHIFT_DATABASE_URL if set, else the embedded server's URL (started if needed)."""
    url = os.environ.get("NIGHTSHIFT_DATABASE_URL")
    if url:
        return url
    return start_embedded()
