"""Parquet written so that the same rows give the same bytes under the same file name.

Spark's own writer cannot: it names part files with a random UUID per write, adds `_SUCCESS`
and `.crc` side files, writes rows in whatever order its tasks finished, and parquet-mr
lists each column's encodings in hash-set order, which differs between JVMs. A directory
written that way hashes differently on every run, so DVC (the `.dir` md5 in `dvc.lock`) sees
a new output each time and reruns everything downstream.

Here the rows go to the driver as Arrow, are sorted by the key that identifies them and are
written by pyarrow to one fixed file name: same rows, same bytes, same directory hash. The
outputs this serves (a training set: customers x weekly dates) fit the driver comfortably.

Floating-point columns are rounded to `DECIMALS` places first. Spark adds doubles in the order
shuffle blocks arrive, which varies with load, so a 30-day sum of minutes can differ in its last
bit (about 1e-13) between two runs over the same data, and so would every byte after it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

PART_FILE = "part-00000.parquet"
# Far above float64 noise (~1e-13 on these magnitudes), far below any feature's meaning (raw minutes
# have 2 decimals): a sum lands on the same rounded value whatever order it was added in.
DECIMALS = 6


def write_sorted_table(table: pa.Table, out_dir: Path, sort_by: Sequence[str]) -> Path:
    """Write `table` to `out_dir/part-00000.parquet` (the folder replaced), rows in `sort_by` order.

    `sort_by` must identify a row: rows sharing a key could come out in either order, so a
    duplicate key is an error that names it.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not sort_by:
        raise ValueError(f"writing {out_dir}: need the columns that identify a row to sort by")
    missing = [c for c in sort_by if c not in table.column_names]
    if missing:
        raise ValueError(f"writing {out_dir}: cannot sort by {missing}, not among its columns {table.column_names}")
    counts = table.group_by(list(sort_by)).aggregate([([], "count_all")])
    duplicated = counts.filter(pc.greater(counts["count_all"], 1))
    if duplicated.num_rows:
        first = {c: duplicated[c][0].as_py() for c in sort_by}
        raise ValueError(f"writing {out_dir}: {duplicated.num_rows} keys {list(sort_by)} hold more than one row, e.g. {first}")
    ordered = _rounded(table).sort_by([(c, "ascending") for c in sort_by])
    # Written beside the target and swapped in, so a failed write leaves no half-written folder behind.
    staging = out_dir.with_name(f".{out_dir.name}.writing")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    pq.write_table(ordered, staging / PART_FILE, compression="snappy")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return out_dir / PART_FILE


def _rounded(table: pa.Table) -> pa.Table:
    """Float columns rounded to DECIMALS places, nulls kept.

    numpy's round (scale, round half to even, unscale) maps two neighbours to one value.
    Arrow's `round` does not: it returns a value unchanged when its scaled value is already
    whole, so 1326.87 and the double just below it stay apart.
    """
    import numpy as np
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            column = table.column(i).combine_chunks()
            values = np.round(column.to_numpy(zero_copy_only=False), DECIMALS)
            table = table.set_column(i, field, pa.array(values, type=field.type, mask=column.is_null().to_numpy(zero_copy_only=False)))
    return table


def write_stable_parquet(frame: DataFrame, out_dir: Path, sort_by: Sequence[str]) -> Path:
    """Write a Spark DataFrame to `out_dir` (replaced) as one Parquet file whose bytes depend only on its rows."""
    return write_sorted_table(frame.toArrow(), out_dir, sort_by)
