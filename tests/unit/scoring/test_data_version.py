"""churn_scores.data_version (nightshift.scoring.data_version): a hash of the features' content, not their files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nightshift.feature_list import KEYS
from nightshift.scoring.data_version import data_version
from nightshift.scoring.score import fingerprint

pytestmark = pytest.mark.unit


def _features(n: int = 9) -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array(range(1, n + 1), pa.int64()),
            "as_of_date": pa.array([date(2026, 3, 1)] * n, pa.date32()),
            "sessions_7d": pa.array([float(i) * 1.5 for i in range(n)], pa.float64()),
            "tickets_7d": pa.array([None if i == 4 else i % 3 for i in range(n)], pa.int32()),
            "plan": pa.array(["basic", "standard", None, "premium", "basic", "basic", "premium", "standard", "basic"][:n]),
        }
    )


def _write(folder: Path, parts: list[pa.Table]) -> Path:
    folder.mkdir()
    for i, part in enumerate(parts):
        pq.write_table(part, folder / f"part-{i:05d}-{1000 - i}.snappy.parquet")
    (folder / "_SUCCESS").write_text("")
    return folder


def test_the_same_rows_in_one_file_or_three_in_another_order_have_one_version(tmp_path: Path) -> None:
    table = _features()
    one = _write(tmp_path / "one", [table])
    # Three parts, rows reversed inside each and the parts in another order, row groups of two rows.
    reordered = [table.slice(6, 3), table.slice(0, 3), table.slice(3, 3)]
    three = tmp_path / "three"
    three.mkdir()
    for i, part in enumerate(reordered):
        pq.write_table(part.take(list(reversed(range(part.num_rows)))), three / f"part-{i}.parquet", row_group_size=2)
    # What score_day writes into churn_scores.data_version.
    assert fingerprint(one) == fingerprint(three)
    assert fingerprint(one) == data_version(one, KEYS)
    assert len(fingerprint(one)) == 16


def test_one_changed_value_null_or_type_gives_another_version(tmp_path: Path) -> None:
    table = _features()
    base = data_version(_write(tmp_path / "base", [table]), KEYS)

    sessions = table.column("sessions_7d").to_pylist()
    sessions[7] += 0.25
    changed = table.set_column(2, "sessions_7d", pa.array(sessions, pa.float64()))
    assert data_version(_write(tmp_path / "value", [changed]), KEYS) != base

    tickets = table.column("tickets_7d").to_pylist()
    tickets[4] = 0  # the null becomes the value a null is hashed as: still another version
    filled = table.set_column(3, "tickets_7d", pa.array(tickets, pa.int32()))
    assert data_version(_write(tmp_path / "null", [filled]), KEYS) != base

    plans = table.column("plan").to_pylist()
    plans[0], plans[1] = "basicstandard", ""  # same characters, split differently
    moved = table.set_column(4, "plan", pa.array(plans))
    assert data_version(_write(tmp_path / "text", [moved]), KEYS) != base

    wider = table.set_column(0, "customer_id", table.column("customer_id").cast(pa.int32()))
    assert data_version(_write(tmp_path / "type", [wider]), KEYS) != base


def test_a_folder_without_data_files_is_an_error_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "features"
    empty.mkdir()
    (empty / "_SUCCESS").write_text("")
    with pytest.raises(FileNotFoundError, match="no Parquet data files under .*features"):
        data_version(empty, KEYS)


def test_part_files_with_different_schemas_are_an_error_naming_the_file(tmp_path: Path) -> None:
    table = _features()
    folder = _write(tmp_path / "mixed", [table.slice(0, 4)])
    pq.write_table(table.slice(4).drop_columns(["plan"]), folder / "part-00001.parquet")
    with pytest.raises(ValueError, match="part-00001.parquet does not have the schema of the other Parquet files"):
        data_version(folder, KEYS)


def test_the_version_does_not_depend_on_how_the_rows_are_cut_into_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Key-ordered rows stream a piece at a time; rows in another order are sorted and hashed whole.
    table = _features()
    in_order = _write(tmp_path / "in_order", [table])
    shuffled = _write(tmp_path / "shuffled", [table.take([8, 0, 7, 1, 6, 2, 5, 3, 4])])
    whole = data_version(in_order, KEYS)
    monkeypatch.setattr("nightshift.scoring.data_version.STREAM_ROWS", 2)  # nulls and text split across pieces
    assert data_version(in_order, KEYS) == whole
    assert data_version(shuffled, KEYS) == whole


_PEAK_OF_HASHING = """
import sys
from pathlib import Path
import pyarrow as pa
from nightshift.scoring.data_version import data_version
before = pa.default_memory_pool().max_memory()
data_version(Path(sys.argv[1]), ("as_of_date", "customer_id"))
print(pa.default_memory_pool().max_memory() - before)
"""


def _arrow_peak_of_hashing(path: Path, rows: int) -> int:
    import subprocess
    import sys

    import numpy as np

    day = pa.table(
        {
            "as_of_date": pa.array(np.full(rows, 20_500, dtype=np.int32)).cast(pa.date32()),
            "customer_id": pa.array(np.arange(rows, dtype=np.int64)),
            "sessions_7d": pa.array(np.random.default_rng(0).random(rows)),
        }
    )
    pq.write_table(day, path, row_group_size=100_000)
    # A fresh process: Arrow's peak allocation is process-wide.
    return int(subprocess.run([sys.executable, "-c", _PEAK_OF_HASHING, str(path)], capture_output=True, text=True, check=True).stdout)


def test_a_day_in_key_order_is_hashed_in_memory_that_does_not_grow_with_its_rows(tmp_path: Path) -> None:
    small = _arrow_peak_of_hashing(tmp_path / "small.parquet", 1_000_000)
    large = _arrow_peak_of_hashing(tmp_path / "large.parquet", 4_000_000)
    assert large < 1.5 * small, f"hashing 1M rows held {small / 2**20:.1f} MiB of Arrow memory, 4M rows {large / 2**20:.1f} MiB"
