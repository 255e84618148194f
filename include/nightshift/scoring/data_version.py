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


def _schema(files: list[Path], path: Path) -> pa.Schema:
    """The one schema the data files under `path` share (Spark's metadata left out)."""
    import pyarrow.parquet as pq

    schemas = [pq.read_schema(str(file)).remove_metadata() for file in files]
    for file, schema in zip(files, schemas, strict=True):
        if not schema.equals(schemas[0]):
            raise ValueError(f"{file} does not have the schema of the other Parquet files under {path}: {schema}")
    return schemas[0]


def _column(files: list[Path], name: str, kind: pa.DataType) -> pa.Array:
    """Column `name` of all files, in file order, as one array: only this column is decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Each call opens its own readers: a ParquetFile is not safe to share between threads.
    chunks = [chunk for file in files for chunk in pq.ParquetFile(str(file)).read(columns=[name]).column(0).chunks]
    # The type given: a day of empty files has no chunk to take it from.
    return pa.chunked_array(chunks, type=kind).combine_chunks()


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


def _column_digest(files: list[Path], field: pa.Field, order: pa.Array) -> bytes:
    digest = hashlib.sha256()
    for part in _column_bytes(_column(files, field.name, field.type).take(order)):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.digest()


def data_version(path: Path, keys: Sequence[str]) -> str:
    """The data version of the Parquet file or folder at `path`: names, types and values in `keys` order, hashed.

    The day is never held whole (a 10M-row day is 2.3 GB of doubles): the key columns give the
    order, then each column is read, put in that order and hashed on its own, one per core at a
    time (Arrow and hashlib release the GIL), and the column digests are hashed in schema order.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.compute as pc

    files = parquet_files(path)
    schema = _schema(files, path)
    present = [k for k in keys if k in schema.names]
    if not present:
        raise ValueError(f"cannot order the rows of {path} for a data version: none of the key columns {list(keys)} in {schema.names}")
    key_table = pa.table({k: _column(files, k, schema.field(k).type) for k in present})
    order = pc.sort_indices(key_table, sort_keys=[(k, "ascending") for k in present])
    digest = hashlib.sha256()
    digest.update("|".join(f"{f.name}:{f.type}" for f in schema).encode())
    digest.update(f"rows={len(order)}".encode())
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for column_digest in pool.map(lambda field: _column_digest(files, field, order), schema):
            digest.update(column_digest)
    return digest.hexdigest()[:VERSION_CHARS]
