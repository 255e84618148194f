"""Same rows, same bytes (nightshift.features.stable_parquet): the writer behind DVC-stable training sets."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from nightshift.features.stable_parquet import PART_FILE, write_sorted_table

pytestmark = pytest.mark.unit


def _table(order: list[int]) -> pa.Table:
    rows = [(date(2026, 1, 5 + 7 * (i % 3)), 100 + i, 0.1 * i, i % 2) for i in range(12)]
    picked = [rows[i] for i in order]
    return pa.table(
        {
            "as_of_date": [r[0] for r in picked],
            "customer_id": pa.array([r[1] for r in picked], pa.int64()),
            "minutes_7d": [r[2] for r in picked],
            "label": pa.array([r[3] for r in picked], pa.int32()),
        }
    )


def test_row_order_does_not_change_the_bytes_or_the_file_name(tmp_path: Path) -> None:
    first = write_sorted_table(_table(list(range(12))), tmp_path / "a", ["as_of_date", "customer_id"])
    second = write_sorted_table(_table([7, 3, 11, 0, 5, 9, 1, 10, 2, 8, 4, 6]), tmp_path / "b", ["as_of_date", "customer_id"])
    assert [p.name for p in (tmp_path / "a").iterdir()] == [PART_FILE] == [p.name for p in (tmp_path / "b").iterdir()]
    assert first.read_bytes() == second.read_bytes()


def test_last_bit_noise_of_a_float_sum_does_not_change_the_bytes(tmp_path: Path) -> None:
    # Spark's sum of doubles depends on the order shuffle blocks arrive: the same sum can differ in its last bit.
    table = _table(list(range(12)))
    added_otherwise = [sum([0.1 * i, 0.2, 0.3]) for i in range(12)]
    assert added_otherwise != [sum([0.3, 0.2, 0.1 * i]) for i in range(12)]
    a = write_sorted_table(table.set_column(2, "minutes_7d", pa.array(added_otherwise)), tmp_path / "a", ["as_of_date", "customer_id"])
    noisy = [sum([0.3, 0.2, 0.1 * i]) for i in range(12)]
    b = write_sorted_table(table.set_column(2, "minutes_7d", pa.array(noisy)), tmp_path / "b", ["as_of_date", "customer_id"])
    assert a.read_bytes() == b.read_bytes()


def test_neighbouring_doubles_of_a_sum_are_written_as_one_value(tmp_path: Path) -> None:
    import numpy as np

    # Two runs' 30-day sums of minutes, seen one double apart; 1326.87 scales to a whole number exactly.
    sums = np.array([1326.87, 858.94, 335.53] * 4)
    table = _table(list(range(12)))
    a = write_sorted_table(table.set_column(2, "minutes_7d", pa.array(sums)), tmp_path / "a", ["as_of_date", "customer_id"])
    below = np.nextafter(sums, -np.inf)
    b = write_sorted_table(table.set_column(2, "minutes_7d", pa.array(below)), tmp_path / "b", ["as_of_date", "customer_id"])
    assert a.read_bytes() == b.read_bytes()


def test_nulls_stay_nulls(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    table = _table(list(range(12)))
    with_null = table.set_column(2, "minutes_7d", pa.array([None, *[0.1 * i for i in range(1, 12)]], pa.float64()))
    out = write_sorted_table(with_null, tmp_path / "out", ["as_of_date", "customer_id"])
    assert pq.read_table(out)["minutes_7d"].null_count == 1


def test_a_changed_value_changes_the_bytes(tmp_path: Path) -> None:
    table = _table(list(range(12)))
    changed = table.set_column(2, "minutes_7d", pa.array([0.1 * i + (i == 4) for i in range(12)]))
    a = write_sorted_table(table, tmp_path / "a", ["as_of_date", "customer_id"])
    b = write_sorted_table(changed, tmp_path / "b", ["as_of_date", "customer_id"])
    assert a.read_bytes() != b.read_bytes()


def test_rows_come_out_in_key_order_and_the_folder_is_replaced(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "training_set"
    out.mkdir()
    (out / "part-00000-3f2a-c000.snappy.parquet").write_bytes(b"an older write")
    (out / "_SUCCESS").write_bytes(b"")
    write_sorted_table(_table([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]), out, ["as_of_date", "customer_id"])
    assert [p.name for p in out.iterdir()] == [PART_FILE]
    keys = pq.read_table(out / PART_FILE).select(["as_of_date", "customer_id"]).to_pylist()
    assert keys == sorted(keys, key=lambda r: (r["as_of_date"], r["customer_id"]))
    assert not list(tmp_path.glob(".*writing"))


def test_a_key_that_does_not_identify_a_row_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"3 keys \['as_of_date'\] hold more than one row"):
        write_sorted_table(_table(list(range(12))), tmp_path / "out", ["as_of_date"])


def test_a_sort_column_the_table_lacks_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot sort by \['score_date'\]"):
        write_sorted_table(_table(list(range(12))), tmp_path / "out", ["score_date", "customer_id"])
