"""churn_scores against a real embedded PostgreSQL: schema, atomic per-date publish, server lifecycle."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import psycopg2
import pytest

from nightshift import warehouse
from nightshift.embedded_pg import EmbeddedPostgresError, start_embedded, stop_embedded
from nightshift.warehouse import count_scores, ensure_schema, publish_scores, read_scores

pytestmark = pytest.mark.integration

DAY_A = dt.date(2024, 3, 1)
DAY_B = dt.date(2024, 3, 2)


class EmbeddedPg(Protocol):
    """What conftest's session fixture ``embedded_pg`` provides (conftest is not importable as a module)."""

    pgdata: Path
    port: int
    url: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_scores(ids: Sequence[int], run_id: str, seed: int = 0, model_version: str = "3") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.asarray(ids, dtype="int64"),
            "churn_probability": rng.random(len(ids)),
            "model_name": "churn_xgb",
            "model_version": model_version,
            "run_id": run_id,
            "data_version": "snap-2024-03-01",
            "scored_at": pd.Timestamp("2024-03-02 01:02:03.456789", tz="UTC"),
        }
    )


def assert_same_scores(stored: pd.DataFrame, expected: pd.DataFrame, day: dt.date) -> None:
    """Stored rows equal the published frame exactly (floats bit-for-bit, timestamps to the microsecond)."""
    exp = expected.sort_values("customer_id").reset_index(drop=True)
    assert (stored["score_date"] == day).all()
    assert stored["customer_id"].tolist() == exp["customer_id"].tolist()
    np.testing.assert_array_equal(stored["churn_probability"].to_numpy(), exp["churn_probability"].to_numpy())
    for col in ("model_name", "model_version", "run_id", "data_version"):
        assert stored[col].tolist() == exp[col].astype(str).tolist(), col
    assert (stored["scored_at"] == pd.to_datetime(exp["scored_at"], utc=True)).all()


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.fixture
def url(pg_url: str) -> str:
    """The session server with an empty churn_scores table."""
    ensure_schema(pg_url)
    query(pg_url, "TRUNCATE churn_scores")
    return pg_url


def test_ensure_schema_is_idempotent_and_enforces_contract(pg_url: str) -> None:
    query(pg_url, "DROP TABLE IF EXISTS churn_scores")
    for _ in range(3):
        ensure_schema(pg_url)
    cols = query(
        pg_url,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'churn_scores' ORDER BY ordinal_position",
    )
    assert cols == [
        ("score_date", "date", "NO"),
        ("customer_id", "bigint", "NO"),
        ("churn_probability", "double precision", "NO"),
        ("model_name", "text", "NO"),
        ("model_version", "text", "NO"),
        ("run_id", "text", "NO"),
        ("data_version", "text", "NO"),
        ("scored_at", "timestamp with time zone", "NO"),
    ]
    pk = query(
        pg_url,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'churn_scores'::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
    )
    assert pk == [("score_date",), ("customer_id",)]
    # The database itself rejects an out-of-range probability, whoever writes.
    with pytest.raises(psycopg2.errors.CheckViolation):
        query(pg_url, "INSERT INTO churn_scores VALUES ('2024-01-01', 1, 1.5, 'm', '1', 'r', 'd', now())")


def test_publish_writes_all_rows_exactly(url: str) -> None:
    frame = make_scores(range(1, 2001), run_id="run-1")
    assert publish_scores(url, frame, DAY_A) == 2000
    assert count_scores(url, DAY_A) == 2000
    assert_same_scores(read_scores(url, DAY_A), frame, DAY_A)


def test_awkward_text_and_naive_timestamps_round_trip(url: str) -> None:
    frame = make_scores([5, 3, 9], run_id='run "quoted", with\nnewline')
    frame["model_version"] = ["1,2", "é ü", "NULL"]
    frame["scored_at"] = pd.Timestamp("2024-03-02 01:02:03")  # naive: taken as UTC
    assert publish_scores(url, frame, DAY_A) == 3
    stored = read_scores(url, DAY_A)
    assert_same_scores(stored, frame, DAY_A)
    assert stored["scored_at"].iloc[0] == pd.Timestamp("2024-03-02 01:02:03", tz="UTC")


def test_rerun_same_date_replaces_rows(url: str) -> None:
    runs = [
        make_scores(range(1, 501), run_id="run-1", seed=1),
        make_scores(range(1, 601), run_id="run-2", seed=2),
        make_scores(range(100, 400), run_id="run-3", seed=3),  # fewer, partly different customers
    ]
    for frame in runs:
        assert publish_scores(url, frame, DAY_A) == len(frame)
    assert count_scores(url, DAY_A) == 300
    stored = read_scores(url, DAY_A)
    assert set(stored["run_id"]) == {"run-3"}
    assert_same_scores(stored, runs[-1], DAY_A)


def test_publishing_one_date_leaves_other_dates_alone(url: str) -> None:
    frame_a = make_scores(range(1, 101), run_id="run-a", seed=10)
    publish_scores(url, frame_a, DAY_A)
    publish_scores(url, make_scores(range(1, 151), run_id="run-b", seed=11), DAY_B)
    publish_scores(url, make_scores(range(50, 80), run_id="run-b2", seed=12), DAY_B)
    assert count_scores(url, DAY_A) == 100
    assert count_scores(url, DAY_B) == 30
    assert_same_scores(read_scores(url, DAY_A), frame_a, DAY_A)


def _prob_too_high(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[3, "churn_probability"] = 1.5
    return f


def _prob_null(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[2, "churn_probability"] = np.nan
    return f


def _duplicate_customer(f: pd.DataFrame) -> pd.DataFrame:
    f.at[4, "customer_id"] = f.at[5, "customer_id"]
    return f


def _null_customer(f: pd.DataFrame) -> pd.DataFrame:
    f["customer_id"] = f["customer_id"].astype("float64")
    f.loc[1, "customer_id"] = np.nan
    return f


def _missing_run_id(f: pd.DataFrame) -> pd.DataFrame:
    return f.drop(columns=["run_id"])


def _empty(f: pd.DataFrame) -> pd.DataFrame:
    return f.iloc[0:0]


def _wrong_score_date(f: pd.DataFrame) -> pd.DataFrame:
    f["score_date"] = DAY_B
    return f


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (_prob_too_high, ["churn_probability", "outside [0, 1]", "1.5"]),
        (_prob_null, ["churn_probability", "null"]),
        (_duplicate_customer, ["customer_id", "duplicated", "106"]),
        (_null_customer, ["customer_id", "null"]),
        (_missing_run_id, ["missing", "run_id"]),
        (_empty, ["empty"]),
        (_wrong_score_date, ["score_date", str(DAY_A)]),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_bad_frame_is_rejected_and_published_rows_survive(
    url: str, corrupt: Callable[[pd.DataFrame], pd.DataFrame], expected: list[str]
) -> None:
    good = make_scores(range(101, 201), run_id="good-run", seed=7)
    publish_scores(url, good, DAY_A)
    before = read_scores(url, DAY_A)

    bad = corrupt(make_scores(range(101, 201), run_id="bad-run", seed=8))
    with pytest.raises(ValueError) as excinfo:
        publish_scores(url, bad, DAY_A)
    for fragment in expected:
        assert fragment in str(excinfo.value)
    pd.testing.assert_frame_equal(read_scores(url, DAY_A), before)


def test_database_side_failure_rolls_back(url: str) -> None:
    good = make_scores(range(1, 51), run_id="good-run")
    publish_scores(url, good, DAY_A)
    bad = make_scores(range(1, 51), run_id="bad-run")
    bad.loc[10, "model_name"] = "nul\x00byte"  # passes validation; PostgreSQL text cannot hold NUL
    with pytest.raises(psycopg2.Error):
        publish_scores(url, bad, DAY_A)
    assert_same_scores(read_scores(url, DAY_A), good, DAY_A)


def test_concurrent_reruns_serialise_and_readers_see_one_complete_set(url: str) -> None:
    old = make_scores(range(1, 101), run_id="old")
    publish_scores(url, old, DAY_A)
    sets = {
        "x": make_scores(range(1, 301), run_id="x", seed=1),
        "y": make_scores(range(200, 401, 2), run_id="y", seed=2),
    }
    errors: list[BaseException] = []

    def run(frame: pd.DataFrame) -> None:
        try:
            publish_scores(url, frame, DAY_A)
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    # Hold the date's publish lock so both publishers are mid-transaction at the same time.
    holder = psycopg2.connect(url)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, %s)", (warehouse._LOCK_NAMESPACE, DAY_A.toordinal()))
        threads = [threading.Thread(target=run, args=(f,)) for f in sets.values()]
        for t in threads:
            t.start()
        waiting = 0
        for _ in range(100):
            waiting = query(
                url,
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND application_name = 'nightshift'",
            )[0][0]
            if waiting == 2:
                break
            time.sleep(0.05)
        assert waiting == 2
        assert_same_scores(read_scores(url, DAY_A), old, DAY_A)  # staged rows are invisible to readers
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", (warehouse._LOCK_NAMESPACE, DAY_A.toordinal()))
    finally:
        holder.close()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    stored = read_scores(url, DAY_A)
    runs = set(stored["run_id"])
    assert len(runs) == 1
    assert_same_scores(stored, sets[runs.pop()], DAY_A)


def test_database_url_prefers_env_then_reuses_embedded(
    embedded_pg: EmbeddedPg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_DATABASE_URL", "postgresql://someone@db.example:5432/x")
    assert warehouse.database_url() == "postgresql://someone@db.example:5432/x"
    monkeypatch.delenv("NIGHTSHIFT_DATABASE_URL")
    monkeypatch.setenv("NIGHTSHIFT_PGDATA", str(embedded_pg.pgdata))
    monkeypatch.setenv("NIGHTSHIFT_PG_PORT", str(embedded_pg.port))
    pid_before = (embedded_pg.pgdata / "postmaster.pid").read_text().splitlines()[0]
    assert warehouse.database_url() == embedded_pg.url
    assert start_embedded(embedded_pg.pgdata, embedded_pg.port) == embedded_pg.url
    assert (embedded_pg.pgdata / "postmaster.pid").read_text().splitlines()[0] == pid_before  # same server


def test_stop_then_start_keeps_data_and_server_outlives_its_starter(url: str, embedded_pg: EmbeddedPg) -> None:
    frame = make_scores(range(1, 251), run_id="persist")
    publish_scores(url, frame, DAY_A)

    stop_embedded(embedded_pg.pgdata)
    stop_embedded(embedded_pg.pgdata)  # stopping a stopped server is a no-op
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=3).close()

    # Start from a separate process that exits at once: the server must keep serving other processes.
    code = (
        "import sys; from pathlib import Path; from nightshift.embedded_pg import start_embedded; "
        "print(start_embedded(Path(sys.argv[1]), int(sys.argv[2])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(embedded_pg.pgdata), str(embedded_pg.port)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert out.stdout.strip() == embedded_pg.url
    assert count_scores(url, DAY_A) == 250
    assert_same_scores(read_scores(url, DAY_A), frame, DAY_A)


def test_start_failure_names_folder_and_log(embedded_pg: EmbeddedPg) -> None:
    stop_embedded(embedded_pg.pgdata)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
            squatter.bind(("127.0.0.1", free_port()))
            squatter.listen()
            busy = squatter.getsockname()[1]
            with pytest.raises(EmbeddedPostgresError) as excinfo:
                start_embedded(embedded_pg.pgdata, busy)
        message = str(excinfo.value)
        assert str(embedded_pg.pgdata) in message
        assert str(embedded_pg.pgdata / "postgres.log") in message
        assert "Address already in use" in message  # the log tail says why
    finally:
        assert start_embedded(embedded_pg.pgdata, embedded_pg.port) == embedded_pg.url
