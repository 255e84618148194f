"""churn_scores against a real PostgreSQL: schema, atomic per-date publish, audit, connection retry."""

from __future__ import annotations

import datetime as dt
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import pytest

from nightshift.score_reasons import REASON_COLUMNS
from nightshift.warehouse.audit import scoring_run
from nightshift.warehouse.connection import WarehouseUnavailableError
from nightshift.warehouse.publish import REWRITTEN, SWAPPED, ScoreLineage, SwapPolicy, publish_score_batches
from nightshift.warehouse.readers import count_scores, read_scores
from nightshift.warehouse.schema import LOCK_NAMESPACE, SCORES_COLUMNS, ensure_schema
from tests.pg_helpers import free_port, query
from tests.score_frames import assert_same_scores, make_scores, publish_scores

pytestmark = pytest.mark.integration

DAY_A = dt.date(2024, 3, 1)
DAY_B = dt.date(2024, 3, 2)


LINEAGE = ScoreLineage("churn_xgb", "7", "stream-run", "features-v1", dt.datetime(2024, 3, 2, 4, 5, 6, tzinfo=dt.UTC))


def batch(ids: Sequence[int] | np.ndarray, probability: float = 0.25) -> pd.DataFrame:
    ids = np.asarray(ids, dtype="int64")
    return pd.DataFrame({"customer_id": ids, "churn_probability": np.full(len(ids), probability)})


@pytest.fixture
def url(pg_url: str) -> str:
    """The session server with an empty churn_scores table: no rows, no date partitions."""
    query(pg_url, "DROP TABLE IF EXISTS churn_scores")
    ensure_schema(pg_url)
    return pg_url


def test_ensure_schema_is_idempotent_and_enforces_contract(pg_url: str) -> None:
    query(pg_url, "DROP TABLE IF EXISTS churn_scores, scoring_runs")
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
        ("reason_1", "text", "YES"),
        ("reason_1_contribution", "double precision", "YES"),
        ("reason_2", "text", "YES"),
        ("reason_2_contribution", "double precision", "YES"),
        ("reason_3", "text", "YES"),
        ("reason_3_contribution", "double precision", "YES"),
    ]
    pk = query(
        pg_url,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'churn_scores'::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
    )
    assert pk == [("score_date",), ("customer_id",)]
    assert query(pg_url, "SELECT relkind FROM pg_class WHERE oid = 'churn_scores'::regclass") == [("p",)]
    # The database itself rejects an out-of-range probability, whoever writes.
    publish_scores(pg_url, make_scores([1], run_id="r"), DAY_A)
    with pytest.raises(psycopg2.errors.CheckViolation, match="churn_probability_in_unit_interval"):
        query(pg_url, "INSERT INTO churn_scores VALUES (%s, 2, 1.5, 'm', '1', 'r', 'd', now())", (DAY_A,))
    runs = query(
        pg_url,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'scoring_runs' ORDER BY ordinal_position",
    )
    assert runs == [
        ("id", "bigint", "NO"),
        ("score_date", "date", "NO"),
        ("model_name", "text", "NO"),
        ("model_version", "text", "NO"),
        ("run_id", "text", "NO"),
        ("rows", "bigint", "YES"),
        ("started_at", "timestamp with time zone", "NO"),
        ("finished_at", "timestamp with time zone", "YES"),
        ("status", "text", "NO"),
        ("error", "text", "YES"),
        ("role", "text", "NO"),
        ("features_path", "text", "YES"),
        ("scores_path", "text", "YES"),
    ]
    with pytest.raises(psycopg2.errors.CheckViolation):
        query(
            pg_url,
            "INSERT INTO scoring_runs (score_date, model_name, model_version, run_id, status) "
            "VALUES ('2024-01-01', 'm', '1', 'r', 'half-done')",
        )


def test_unpartitioned_table_from_before_is_converted_keeping_its_rows(url: str) -> None:
    query(url, "DROP TABLE churn_scores")
    # churn_scores as the first release created it: one plain table.
    query(
        url,
        "CREATE TABLE churn_scores (score_date date NOT NULL, customer_id bigint NOT NULL, "
        "churn_probability double precision NOT NULL, model_name text NOT NULL, model_version text NOT NULL, "
        "run_id text NOT NULL, data_version text NOT NULL, scored_at timestamptz NOT NULL, "
        "PRIMARY KEY (score_date, customer_id))",
    )
    query(
        url,
        "INSERT INTO churn_scores SELECT d, c, 0.5, 'm', '1', 'r', 'v', now() "
        "FROM unnest(ARRAY[DATE '2024-03-01', DATE '2024-03-02']) d, generate_series(1, 40) c",
    )
    for _ in range(2):
        ensure_schema(url)
    assert query(url, "SELECT relkind FROM pg_class WHERE oid = 'churn_scores'::regclass") == [("p",)]
    partitions = query(url, "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'churn_scores'::regclass ORDER BY 1")
    assert partitions == [("churn_scores_d20240301",), ("churn_scores_d20240302",)]
    assert count_scores(url, DAY_A) == count_scores(url, DAY_B) == 40
    assert query(url, "SELECT to_regclass('churn_scores_unpartitioned')") == [(None,)]
    frame = make_scores(range(1, 11), run_id="after")
    assert publish_scores(url, frame, DAY_A) == 10
    assert_same_scores(read_scores(url, DAY_A), frame, DAY_A)


REASONS = ", ".join(REASON_COLUMNS)


def _reasons(url: str, day: dt.date, table: str = "churn_scores") -> list[tuple[Any, ...]]:
    return query(url, f"SELECT customer_id, {REASONS} FROM {table} WHERE score_date = %s ORDER BY customer_id", (day,))


def test_a_warehouse_from_before_reasons_gets_their_columns_and_keeps_its_rows(url: str) -> None:
    query(url, "DROP TABLE IF EXISTS churn_scores, churn_scores_shadow")
    before = [c for c in SCORES_COLUMNS if not c.startswith("reason_")]
    for table in ("churn_scores", "churn_scores_shadow"):
        query(url, f"CREATE TABLE {table} ({', '.join(before)}, PRIMARY KEY (score_date, customer_id)) PARTITION BY LIST (score_date)")
    query(url, "CREATE TABLE churn_scores_d20240301 PARTITION OF churn_scores FOR VALUES IN ('2024-03-01')")
    query(url, "INSERT INTO churn_scores SELECT '2024-03-01', c, 0.5, 'm', '1', 'r', 'v', now() FROM generate_series(1, 20) c")

    done = ensure_schema(url)
    assert done == [f"{t}: add column {c}" for t in ("churn_scores", "churn_scores_shadow") for c in REASON_COLUMNS]
    assert ensure_schema(url) == []
    # The old rows stay, with no reasons; the old date's partition takes a rerun with reasons, the shadow table too.
    assert _reasons(url, DAY_A)[:2] == [(1, *[None] * 6), (2, *[None] * 6)] and count_scores(url, DAY_A) == 20
    frame = batch([1, 2]).assign(reason_1="tickets_7d", reason_1_contribution=0.5)
    frame = frame.assign(**{c: None for c in REASON_COLUMNS[2:]})
    for table in ("churn_scores", "churn_scores_shadow"):
        published = publish_score_batches(url, DAY_A, LINEAGE, [frame], table=table)
        assert _reasons(url, DAY_A, table) == [(i, "tickets_7d", 0.5, None, None, None, None) for i in (1, 2)]
    assert published.replaced == 0


def test_reasons_round_trip_exactly_and_a_half_reason_is_refused(url: str) -> None:
    import pyarrow as pa

    frame = pd.DataFrame(
        {
            "customer_id": [4, 1, 2, 3],
            "churn_probability": [0.1, 0.9, 0.5, 0.2],
            "reason_1": [None, "failed_payments_30d", "tickets_7d", "plan_bäsic"],
            "reason_1_contribution": [None, 1.25, 0.5, 1e-300],
            "reason_2": [None, "tickets_7d", None, "x"],
            "reason_2_contribution": [None, 0.75, None, 0.1],
            "reason_3": [None, "a" * 300, None, None],
            "reason_3_contribution": [None, 0.5, None, None],
        }
    )
    # pandas frames and Arrow batches (strings and dictionary-encoded strings), mixed in one stream.
    arrow = pa.RecordBatch.from_pandas(frame.iloc[2:], preserve_index=False)
    dictionary = pa.RecordBatch.from_arrays(
        [
            arrow.column(c).dictionary_encode() if c.startswith("reason_") and "contribution" not in c else arrow.column(c)
            for c in arrow.schema.names
        ],
        names=arrow.schema.names,
    )
    publish_score_batches(url, DAY_A, LINEAGE, [frame.iloc[:2], dictionary])
    expected = [tuple(None if pd.isna(v) else v for v in row) for row in frame.sort_values("customer_id").itertuples(index=False)]
    assert _reasons(url, DAY_A) == [(r[0], *r[2:]) for r in expected]
    assert query(url, "SELECT customer_id, churn_probability FROM churn_scores ORDER BY 1") == [(r[0], r[1]) for r in expected]

    half = frame.assign(reason_2_contribution=[0.3, 0.75, None, 0.1])  # customer 4: a contribution without a feature
    with pytest.raises(ValueError, match="1 row.*only one of 'reason_2' and 'reason_2_contribution'"):
        publish_score_batches(url, DAY_A, LINEAGE, [half])
    with pytest.raises(ValueError, match=r"has reason columns but lacks \['reason_3_contribution'\]"):
        publish_score_batches(url, DAY_A, LINEAGE, [frame.drop(columns="reason_3_contribution")])
    # Scores without reason columns are stored with NULL reasons.
    publish_score_batches(url, DAY_B, LINEAGE, [batch([5, 6])])
    assert _reasons(url, DAY_B) == [(5, *[None] * 6), (6, *[None] * 6)]
    assert len(_reasons(url, DAY_A)) == 4


def _partition_oid(url: str, day: dt.date = DAY_A) -> int | None:
    return query(url, "SELECT to_regclass(%s)::oid", (f"churn_scores_d{day:%Y%m%d}",))[0][0]


def test_a_new_date_becomes_its_own_partition_and_a_rerun_swaps_in_a_new_one(url: str) -> None:
    publish_scores(url, make_scores(range(1, 101), run_id="first"), DAY_A)
    oid = _partition_oid(url)
    publish_scores(url, make_scores(range(1, 51), run_id="second"), DAY_A)
    assert _partition_oid(url) not in (None, oid)  # the freshly loaded table, not the old one rewritten
    assert count_scores(url, DAY_A) == 50
    # Nothing staged is left behind, and the run's lineage did not stay as column defaults.
    assert query(url, "SELECT count(*) FROM pg_class WHERE relname LIKE 'churn_scores_load%%'") == [(0,)]
    defaults = query(
        url,
        "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'churn_scores_d20240301'::regclass",
    )
    assert defaults == [(0,)]


def test_publish_writes_all_rows_exactly(url: str) -> None:
    frame = make_scores(range(1, 2001), run_id="run-1")
    assert publish_scores(url, frame, DAY_A) == 2000
    assert count_scores(url, DAY_A) == 2000
    assert_same_scores(read_scores(url, DAY_A), frame, DAY_A)


def test_awkward_text_and_naive_timestamps_round_trip(url: str) -> None:
    frame = make_scores([5, 3, 9], run_id='run "quoted", with\nnewline')
    frame["model_version"] = "é ü,\\N NULL"
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


def _two_model_versions(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[7, "model_version"] = "4"
    return f


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
        (_two_model_versions, ["model_version", "2 different values", "same lineage"]),
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


def test_duplicate_ids_across_batches_are_refused_by_the_key_and_roll_back(url: str) -> None:
    good = make_scores(range(1, 51), run_id="good-run")
    publish_scores(url, good, DAY_A)
    # Each batch is valid on its own; only the primary key sees that customers 30..40 come twice.
    batches = [batch(range(1, 41)), batch(range(30, 61))]
    with pytest.raises(ValueError, match=r"duplicated customer_id.*\(2024-03-01, (3\d|40)\)"):
        publish_score_batches(url, DAY_A, LINEAGE, batches)
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
            cur.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, DAY_A.toordinal()))
        threads = [threading.Thread(target=run, args=(f,)) for f in sets.values()]
        for t in threads:
            t.start()
        waiting = 0
        for _ in range(100):
            waiting = query(
                url,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'nightshift'",
            )[0][0]
            if waiting == 2:
                break
            time.sleep(0.05)
        assert waiting == 2
        assert_same_scores(read_scores(url, DAY_A), old, DAY_A)  # staged rows are invisible to readers
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, DAY_A.toordinal()))
    finally:
        holder.close()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    stored = read_scores(url, DAY_A)
    runs = set(stored["run_id"])
    assert len(runs) == 1
    assert_same_scores(stored, sets[runs.pop()], DAY_A)


def test_streamed_arrow_batches_round_trip_and_audit_the_run(url: str, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(21)
    ids = rng.permutation(np.arange(1, 30_001))
    probs = rng.random(len(ids))
    pq.write_table(pa.table({"customer_id": ids, "churn_probability": probs}), tmp_path / "s.parquet", row_group_size=4096)
    ensure_schema(url)
    with scoring_run(url, DAY_A, "churn_xgb", "7", "stream-run") as run:
        batches = pq.ParquetFile(tmp_path / "s.parquet").iter_batches(batch_size=5000)
        published = publish_score_batches(url, DAY_A, LINEAGE, batches, scoring_run=run)

    assert (published.rows, published.replaced) == (30_000, 0)
    assert published.mean_probability == pytest.approx(probs.mean())
    stored = read_scores(url, DAY_A)
    order = np.argsort(ids)
    assert stored["customer_id"].tolist() == ids[order].tolist()
    np.testing.assert_array_equal(stored["churn_probability"].to_numpy(), probs[order])
    assert set(stored["model_version"]) == {"7"} and set(stored["run_id"]) == {"stream-run"}
    assert (stored["scored_at"] == pd.Timestamp(LINEAGE.scored_at)).all()
    assert query(url, "SELECT status, rows FROM scoring_runs WHERE id = %s", (run,)) == [("succeeded", 30_000)]


def _arrow_null_id() -> Any:
    import pyarrow as pa

    return pa.record_batch({"customer_id": pa.array([1, None, 3], pa.int64()), "churn_probability": [0.1, 0.2, 0.3]})


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (lambda: batch([201, 202], probability=float("nan")), "churn_probability': 2 row(s) in rows 100..101"),
        (lambda: batch([201, 202], probability=1.0000001), "outside [0, 1] (e.g. [1.0000001"),
        (_arrow_null_id, "customer_id': 1 row(s) in rows 100..102 are null"),
        (lambda: batch([201]).astype({"customer_id": "float64"}), "'customer_id' must be integers"),
        (lambda: batch([201]).drop(columns=["churn_probability"]), "lacks column(s) ['churn_probability']"),
    ],
    ids=["nan", "above-one", "null-id", "float-id", "missing-column"],
)
def test_bad_batch_mid_stream_aborts_the_copy_and_keeps_the_day(url: str, second: Callable[[], Any], expected: str) -> None:
    good = make_scores(range(1, 101), run_id="good-run")
    publish_scores(url, good, DAY_A)
    # The first batch is already COPYed when the second fails: the abort must still leave the day as it was.
    with pytest.raises(ValueError) as excinfo:
        publish_score_batches(url, DAY_A, LINEAGE, [batch(range(1, 101)), second()])
    assert expected in str(excinfo.value)
    assert_same_scores(read_scores(url, DAY_A), good, DAY_A)


def test_empty_stream_is_refused(url: str) -> None:
    publish_scores(url, make_scores(range(1, 11), run_id="good-run"), DAY_A)
    with pytest.raises(ValueError, match="refusing to replace"):
        publish_score_batches(url, DAY_A, LINEAGE, iter([]))
    assert count_scores(url, DAY_A) == 10


def test_lineage_rejects_blank_and_nul_text() -> None:
    with pytest.raises(ValueError, match="model_version must be a non-empty string.*run_id contains a NUL"):
        ScoreLineage("churn_xgb", " ", "a\x00b", "d", dt.datetime(2024, 1, 1))
    assert ScoreLineage("m", "1", "r", "d", dt.datetime(2024, 1, 1)).scored_at.tzinfo == dt.UTC


# Runs in a child process that is killed with SIGKILL while its COPY is open: no Python cleanup,
# no rollback sent, the socket simply dies. The generator parks after five batches are streamed.
_KILLED_PUBLISHER = """
import datetime as dt, sys, time
import numpy as np, pandas as pd
from nightshift.warehouse.publish import ScoreLineage, publish_score_batches

def batches():
    for i in range(100):
        if i == 5:
            print("copying", flush=True)
            time.sleep(600)
        ids = np.arange(i * 10_000 + 1, (i + 1) * 10_000 + 1)
        yield pd.DataFrame({"customer_id": ids, "churn_probability": np.full(len(ids), 0.5)})

lineage = ScoreLineage("churn_xgb", "9", "killed-run", "v", dt.datetime(2024, 3, 2, tzinfo=dt.timezone.utc))
publish_score_batches(sys.argv[1], dt.date.fromisoformat(sys.argv[2]), lineage, batches())
"""


def _copy_backends(url: str) -> list[int]:
    rows = query(
        url,
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'nightshift' AND state = 'active' "
        "AND query LIKE 'COPY \"churn_scores_load%%'",
    )
    return [r[0] for r in rows]


def test_killed_during_copy_leaves_the_day_intact_and_a_retry_completes(url: str) -> None:
    before = make_scores(range(1, 501), run_id="before-kill")
    publish_scores(url, before, DAY_A)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PUBLISHER, url, DAY_A.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        ready, _, _ = select.select([child.stdout], [], [], 120)
        assert ready and child.stdout.readline().strip() == "copying", child.stderr.read() if child.poll() else ""
        # The server is inside the COPY, 50,000 rows staged, waiting for more.
        backends: list[int] = []
        for _ in range(100):
            backends = _copy_backends(url)
            if backends:
                break
            time.sleep(0.05)
        assert len(backends) == 1
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()

    assert_same_scores(read_scores(url, DAY_A), before, DAY_A)
    assert query(url, "SELECT count(*) FROM pg_class WHERE relname LIKE 'churn_scores_load%%'") == [(0,)]
    retry = make_scores(range(1, 701), run_id="retry")
    assert publish_scores(url, retry, DAY_A) == 700
    assert_same_scores(read_scores(url, DAY_A), retry, DAY_A)
    # The dead session is gone, its staging table with it.
    for _ in range(100):
        if not query(url, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backends[0],)):
            break
        time.sleep(0.05)
    assert not query(url, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backends[0],))


class CountPoller:
    """Another connection counting DAY_A's rows over and over, each count its own snapshot, as a dashboard's queries are."""

    def __init__(self, url: str) -> None:
        self.url, self.counts, self.stop = url, [], threading.Event()
        self.thread = threading.Thread(target=self._poll)

    def _poll(self) -> None:
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self.stop.is_set():
                    cur.execute("SELECT count(*) FROM churn_scores WHERE score_date = %s", (DAY_A,))
                    self.counts.append(cur.fetchone()[0])
        finally:
            conn.close()

    def wait_for(self, rows: int) -> None:
        deadline = time.monotonic() + 10
        while (not self.counts or self.counts[-1] != rows) and time.monotonic() < deadline:
            time.sleep(0.01)

    def finish(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)


def paced_batches(rows: int) -> Iterator[pd.DataFrame]:
    """rows ids in 2,500-row batches, paced so that a reader polls many times while the publish is under way."""
    for start in range(1, rows + 1, 2_500):
        time.sleep(0.03)
        yield batch(range(start, min(start + 2_500, rows + 1)))


def test_reader_polling_during_a_rewrite_sees_the_old_or_the_new_day(url: str) -> None:
    old_rows, new_rows = 20_000, 35_000
    publish_scores(url, make_scores(range(1, old_rows + 1), run_id="old"), DAY_A)
    reader = CountPoller(url)
    reader.thread.start()
    try:
        publish_score_batches(url, DAY_A, LINEAGE, paced_batches(new_rows))
        reader.wait_for(new_rows)
    finally:
        reader.finish()
    counts = reader.counts
    assert set(counts) == {old_rows, new_rows}
    assert counts == sorted(counts)  # old until the commit, new from then on: never back, never between
    assert counts.count(old_rows) > 10


def _pkey_of(url: str, table: str) -> list[tuple[Any, ...]]:
    """The table's primary key index and the parent index it is attached to (empty if none)."""
    return query(
        url,
        "SELECT i.indexrelid::regclass::text, inh.inhparent::regclass::text FROM pg_index i "
        "LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid WHERE i.indrelid = %s::regclass AND i.indisprimary",
        (table,),
    )


def test_rerun_is_idempotent_and_each_one_swaps_in_a_complete_partition(url: str) -> None:
    frame = make_scores(range(1, 3001), run_id="same-run", seed=4)
    publish_scores(url, make_scores(range(1, 2001), run_id="first", seed=3), DAY_A)
    publish_scores(url, frame, DAY_B)
    seen = {_partition_oid(url)}
    for _ in range(2):
        published = publish_score_batches(url, DAY_A, LINEAGE, [batch(range(1, 1501)), batch(range(1501, 3001))])
        assert (published.method, published.rows, published.lock_attempts) == (SWAPPED, 3000, 1)
        oid = _partition_oid(url)
        assert oid not in seen
        seen.add(oid)
        stored = read_scores(url, DAY_A)
        assert stored["customer_id"].tolist() == list(range(1, 3001))
        assert set(stored["run_id"]) == {LINEAGE.run_id}
    assert published.replaced == 3000  # the second rerun replaced the first rerun's rows
    # One partition per date, the swapped one keyed and indexed as a partition of churn_scores, nothing left over.
    partitions = query(url, "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'churn_scores'::regclass ORDER BY 1")
    assert partitions == [("churn_scores_d20240301",), ("churn_scores_d20240302",)]
    assert _pkey_of(url, "churn_scores_d20240301") == [("churn_scores_d20240301_pkey", "churn_scores_pkey")]
    assert query(url, "SELECT count(*) FROM pg_class WHERE relname LIKE 'churn_scores_load%%'") == [(0,)]
    assert query(url, "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'churn_scores_d20240301'::regclass") == [(0,)]
    assert_same_scores(read_scores(url, DAY_B), frame, DAY_B)
    with pytest.raises(psycopg2.errors.UniqueViolation):  # the key still holds on the swapped partition
        query(url, "INSERT INTO churn_scores SELECT * FROM churn_scores WHERE score_date = %s LIMIT 1", (DAY_A,))


def test_readers_during_a_swap_see_the_old_or_the_new_day_even_from_an_older_snapshot(url: str) -> None:
    old_rows, new_rows = 20_000, 35_000
    publish_scores(url, make_scores(range(1, old_rows + 1), run_id="old"), DAY_A)
    reader = CountPoller(url)
    # A report transaction whose snapshot predates the swap but which reads churn_scores only after it.
    report = psycopg2.connect(url)
    report.set_session(isolation_level="REPEATABLE READ")
    try:
        with report.cursor() as cur:
            cur.execute("SELECT 1")
        reader.thread.start()
        # Autovacuum's ANALYZE of the just-loaded partition also conflicts with the swap's lock, and yields
        # only after deadlock_timeout (1 s): a wait longer than that makes this test about readers alone.
        patient = SwapPolicy(lock_timeout_ms=3_000, attempts=4, backoff_seconds=0.25)
        published = publish_score_batches(url, DAY_A, LINEAGE, paced_batches(new_rows), swap=patient)
        reader.wait_for(new_rows)
        with report.cursor() as cur:
            cur.execute("SELECT count(*) FROM churn_scores WHERE score_date = %s", (DAY_A,))
            late_snapshot_count = cur.fetchone()[0]
    finally:
        reader.finish()
        report.close()
    counts = reader.counts
    assert published.method == SWAPPED
    assert set(counts) == {old_rows, new_rows}
    assert counts == sorted(counts)  # old until the commit, new from then on: never back, never between
    assert counts.count(old_rows) > 10
    # Rows of a plain transaction would be invisible to that snapshot: it would see an empty day.
    assert late_snapshot_count == new_rows


def test_a_reader_holding_the_table_makes_a_rerun_fall_back_to_an_in_place_rewrite(url: str, caplog: pytest.LogCaptureFixture) -> None:
    old = make_scores(range(1, 1001), run_id="old")
    publish_scores(url, old, DAY_A)
    oid = _partition_oid(url)
    # A long report on one snapshot: its open transaction holds ACCESS SHARE on churn_scores until it ends.
    holder = psycopg2.connect(url)
    holder.set_session(isolation_level="REPEATABLE READ")
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT count(*) FROM churn_scores WHERE score_date = %s", (DAY_A,))
            assert cur.fetchone()[0] == 1000
        policy = SwapPolicy(lock_timeout_ms=50, attempts=3, backoff_seconds=0.01)
        with caplog.at_level(logging.WARNING, logger="nightshift.warehouse"):
            published = publish_score_batches(url, DAY_A, LINEAGE, [batch(range(1, 601))], swap=policy)
        assert (published.method, published.lock_attempts, published.rows, published.replaced) == (REWRITTEN, 3, 600, 1000)
        tries = [r.getMessage() for r in caplog.records if "stayed locked by a reader" in r.getMessage()]
        assert [t.rsplit("(", 1)[1] for t in tries] == ["attempt 1 of 3)", "attempt 2 of 3)", "attempt 3 of 3)"]
        with holder.cursor() as cur:  # the report was never interrupted and still reads its own snapshot
            cur.execute("SELECT count(*) FROM churn_scores WHERE score_date = %s", (DAY_A,))
            assert cur.fetchone()[0] == 1000
    finally:
        holder.close()
    assert _partition_oid(url) == oid
    stored = read_scores(url, DAY_A)
    assert stored["customer_id"].tolist() == list(range(1, 601))
    assert set(stored["run_id"]) == {LINEAGE.run_id}
    assert query(url, "SELECT count(*) FROM pg_class WHERE relname LIKE 'churn_scores_load%%'") == [(0,)]
    # Once the report ends, the next rerun swaps again.
    assert publish_score_batches(url, DAY_A, LINEAGE, [batch(range(1, 11))], swap=policy).method == SWAPPED


@pytest.mark.parametrize(("lock_timeout_ms", "attempts", "backoff_seconds"), [(0, 3, 0.1), (100, 0, 0.1), (100, 3, -1.0)])
def test_swap_policy_refuses_values_that_cannot_work(lock_timeout_ms: int, attempts: int, backoff_seconds: float) -> None:
    with pytest.raises(ValueError, match="warehouse.swap needs"):
        SwapPolicy(lock_timeout_ms, attempts, backoff_seconds)


def test_unreachable_database_retries_with_backoff_then_names_host_and_cause(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PG_CONNECT_ATTEMPTS", "3")
    monkeypatch.setenv("NIGHTSHIFT_PG_CONNECT_BACKOFF_SECONDS", "0.01")
    port = free_port()
    dead = f"postgresql://postgres:s3cret@127.0.0.1:{port}/nightshift"
    with caplog.at_level(logging.WARNING, logger="nightshift.warehouse"):
        with pytest.raises(WarehouseUnavailableError) as excinfo:
            publish_score_batches(dead, DAY_A, LINEAGE, [batch([1])])
    message = str(excinfo.value)
    assert f"PostgreSQL at 127.0.0.1:{port} is unreachable after 3 attempt(s)" in message
    assert "Connection refused" in message
    assert "s3cret" not in message
    delays = [r.getMessage().rsplit("retrying in ", 1)[1] for r in caplog.records if "retrying in" in r.getMessage()]
    assert delays == ["0.01s", "0.02s"]  # exponential: the base, then twice it
    assert isinstance(excinfo.value, psycopg2.OperationalError)  # callers catching psycopg2's error still do
