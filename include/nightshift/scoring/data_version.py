"""The data version of a day's features: a hash of their content, not of the files that hold it.

Spark splits and names its part files as it likes, so hashing file bytes gives a new version for
the same rows. This hashes the column names and types, then every column's values in key order,
read in Arrow (no pandas copy of the day): the same rows give the same version whatever the
layout, one changed value gives another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# Hex digits kept: churn_scores carries it on every row, and 64 bits tell a day's versions apart.
VERSION_CHARS = 16


def parquet_files(path: Path) -> list[Path]:
    """The data files of a Parquet file or folder, skipping Spark's _SUCCESS and hidden .crc files."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith(("_", ".")))
    if not files:
        raise FileNotFoundError(f"no Parquet data files under {path}: nothing to take a data version of")
    return files


def _read(path: Path) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.ParquetFile(str(file)).read().replace_schema_metadata(None) for file in parquet_files(path)]
    try:
        return pa.concat_tables(tables)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"the Parquet files under {path} do not share one schema: {exc}") from exc


def _column_bytes(array: pa.Array) -> list[bytes]:
    """A column's values in a canonical form: its null mask, then the values with nulls as zero/empty."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    # No nulls (the usual feature column): an empty mask, and the values straight from Arrow's buffer.
    mask = np.packbits(array.is_null().to_numpy(zero_copy_only=False)).tobytes() if array.null_count else b""
    kind = array.type
    if pa.types.is_temporal(kind) and kind.bit_width in (32, 64):
        # Dates and timestamps by their stored integers (days, or units since the epoch).
        array, kind = array.view(pa.int32() if kind.bit_width == 32 else pa.int64()), pa.int64()
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        if array.null_count:
            array = array.fill_null(False if pa.types.is_boolean(kind) else 0)
        return [mask, np.ascontiguousarray(array.to_numpy(zero_copy_only=False)).data.cast("B")]
    # Text and anything else: each value's length, then the values, so ("ab", "c") differs from ("a", "bc").
    text = array if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) else array.cast(pa.large_string())
    text = text.fill_null(pa.scalar("" if pa.types.is_large_string(text.type) else b"", text.type))
    lengths = pc.binary_length(text).to_numpy(zero_copy_only=False)
    joined = b"".join(v.encode() if isinstance(v, str) else v for v in text.to_pylist())
    return [mask, np.ascontiguousarray(lengths).tobytes(), joined]


def table_version(table: pa.Table, keys: Sequence[str]) -> str:
    """Content hash of `table` in `keys` order (the keys it has), independent of its row order and chunking."""
    import pyarrow.compute as pc

    present = [k for k in keys if k in table.column_names]
    if not present:
        raise ValueError(f"cannot order the rows for a data version: none of the key columns {list(keys)} in {table.column_names}")
    order = pc.sort_indices(table.select(present), sort_keys=[(k, "ascending") for k in present])
    digest = hashlib.sha256()
    digest.update("|".join(f"{f.name}:{f.type}" for f in table.schema).encode())
    digest.update(f"rows={table.num_rows}".encode())
    # One column at a time, put in key order and hashed, then dropped: the day is never held twice.
    for name in table.column_names:
        for part in _column_bytes(table.column(name).combine_chunks().take(order)):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return digest.hexdigest()[:VERSION_CHARS]


def data_version(path: Path, keys: Sequence[str]) -> str:
    """The data version of the Parquet file or folder at `path`: its content in `keys` order, hashed."""
    return table_version(_read(path), keys)
