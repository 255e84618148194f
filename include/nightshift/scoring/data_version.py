"""The data version of a day's features: a hash of their content, not of the files that hold it.

Spark splits and names its part files as it likes, so hashing file bytes gives a new version for
the same rows. This hashes the column names and types, then every column's values in key order,
read in Arrow (no pandas copy of the day): the same rows give the same version whatever the
layout, one changed value gives another.

Each column's hash is fed chunk by chunk and does not depend on where the chunks split, so rows
already in key order (as the feature job writes them) stream through in row-group-sized pieces:
memory stays flat however large the day. Rows in another order are put in key order first, which
holds one column of the day at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# Hex digits kept: churn_scores carries it on every row, and 64 bits tell a day's versions apart.
VERSION_CHARS = 16
# Rows per streamed piece: about 0.5 MB of doubles, so a pool of hashing threads holds a few MB.
STREAM_ROWS = 65_536


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


def _pieces(files: list[Path], names: list[str]) -> Iterator[pa.RecordBatch]:
    """Columns `names` of all files, in file order, a piece at a time: only these columns are decoded."""
    import pyarrow.parquet as pq

    for file in files:
        # Each call opens its own readers: a ParquetFile is not safe to share between threads. Without
        # pre-buffering, only the row group being decoded is read, not every row group's bytes up front.
        reader = pq.ParquetFile(str(file), pre_buffer=False)
        yield from reader.iter_batches(batch_size=STREAM_ROWS, columns=names, use_threads=False)


def _column(files: list[Path], name: str, kind: pa.DataType) -> pa.Array:
    """Column `name` of all files, in file order, as one array."""
    import pyarrow as pa

    # The type given: a day of empty files has no chunk to take it from.
    return pa.chunked_array([piece.column(0) for piece in _pieces(files, [name])], type=kind).combine_chunks()


class _ColumnHash:
    """A column's hash, fed in pieces: the positions of its nulls, then its values with nulls as zero/empty.

    Null positions count from the column's first row and each stream is hashed on its own, so the
    hash of a column is the same however its rows are cut into pieces.
    """

    def __init__(self) -> None:
        self._rows = 0
        self._nulls = hashlib.sha256()
        self._values = hashlib.sha256()
        self._lengths = hashlib.sha256()

    def update(self, array: pa.Array) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if array.null_count:
            positions = np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False)) + self._rows
            self._nulls.update(positions.astype("<i8").tobytes())
        self._rows += len(array)
        kind = array.type
        if pa.types.is_temporal(kind) and kind.bit_width in (32, 64):
            # Dates and timestamps by their stored integers (days, or units since the epoch).
            array = array.view(pa.int32() if kind.bit_width == 32 else pa.int64())
            kind = array.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
            if array.null_count:
                array = array.fill_null(False if pa.types.is_boolean(kind) else 0)
            self._values.update(np.ascontiguousarray(array.to_numpy(zero_copy_only=False)).data.cast("B"))
            return
        # Text and anything else: each value's length, then the values, so ("ab", "c") differs from ("a", "bc").
        text = array if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) else array.cast(pa.large_string())
        text = text.fill_null(pa.scalar("" if pa.types.is_large_string(text.type) else b"", text.type))
        self._lengths.update(np.ascontiguousarray(pc.binary_length(text).to_numpy(zero_copy_only=False), dtype="<i8").tobytes())
        self._values.update(b"".join(v.encode() if isinstance(v, str) else v for v in text.to_pylist()))

    def digest(self) -> bytes:
        return hashlib.sha256(self._nulls.digest() + self._lengths.digest() + self._values.digest()).digest()


def _ascending(batch: pa.RecordBatch, previous: tuple | None) -> bool:
    """Whether the batch's rows (and the last row before it) are in non-decreasing key order, no key null."""
    import numpy as np

    if any(column.null_count for column in batch.columns):
        return False  # nulls sort last in key order; a null key is rare enough to take the sorting path
    if previous is not None and len(batch) and tuple(c[0].as_py() for c in batch.columns) < previous:
        return False
    # Row i <= row i+1 when, from the first key on, i's key is smaller, or equal and the rest decide.
    keys = [np.asarray(column.to_numpy(zero_copy_only=False)) for column in batch.columns]
    ordered = np.ones(max(len(batch) - 1, 0), dtype=bool)
    for values in reversed(keys):
        ordered = (values[:-1] < values[1:]) | ((values[:-1] == values[1:]) & ordered)
    return bool(ordered.all())


def _in_key_order(files: list[Path], keys: list[str]) -> bool:
    """Whether the rows of `files`, read in file order, are already in `keys` order (read a piece at a time)."""
    previous: tuple | None = None
    for batch in _pieces(files, keys):
        if not _ascending(batch, previous):
            return False
        if len(batch):
            previous = tuple(c[-1].as_py() for c in batch.columns)
    return True


def _streamed_digest(files: list[Path], field: pa.Field) -> bytes:
    column = _ColumnHash()
    for piece in _pieces(files, [field.name]):
        column.update(piece.column(0).cast(field.type))
    return column.digest()


def _sorted_digest(files: list[Path], field: pa.Field, order: pa.Array) -> bytes:
    column = _ColumnHash()
    column.update(_column(files, field.name, field.type).take(order))
    return column.digest()


def data_version(path: Path, keys: Sequence[str]) -> str:
    """The data version of the Parquet file or folder at `path`: names, types and values in `keys` order, hashed.

    The day is never held whole (a 10M-row day is 2.3 GB of doubles): columns are hashed one per
    core at a time (Arrow and hashlib release the GIL), each streamed piece by piece when the rows
    are already in key order, else read whole and put in that order; the column digests are then
    hashed in schema order.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = parquet_files(path)
    schema = _schema(files, path)
    present = [k for k in keys if k in schema.names]
    if not present:
        raise ValueError(f"cannot order the rows of {path} for a data version: none of the key columns {list(keys)} in {schema.names}")
    rows = sum(pq.ParquetFile(str(file)).metadata.num_rows for file in files)
    if _in_key_order(files, present):
        column_digest = partial(_streamed_digest, files)
    else:
        key_table = pa.table({k: _column(files, k, schema.field(k).type) for k in present})
        column_digest = partial(_sorted_digest, files, order=pc.sort_indices(key_table, sort_keys=[(k, "ascending") for k in present]))
    digest = hashlib.sha256()
    digest.update("|".join(f"{f.name}:{f.type}" for f in schema).encode())
    digest.update(f"rows={rows}".encode())
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for one in pool.map(column_digest, schema):
            digest.update(one)
    return digest.hexdigest()[:VERSION_CHARS]
