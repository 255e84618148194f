"""PostgreSQL binary COPY of score batches: validated and encoded only as the server asks for data.

Only (customer_id, churn_probability) travel per row; each batch is checked (types, nulls,
range) and turned into COPY tuples with a few numpy assignments, which PostgreSQL parses
faster than CSV (no float text round trip).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Union

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

# PostgreSQL's binary COPY framing: signature, flags, header extension length ... trailer.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
# One binary COPY tuple: field count, then (byte length, big-endian value) per column. Encoding a
# batch is a few numpy assignments, and PostgreSQL parses it faster than CSV (no float text round trip).
_COPY_ROW = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("customer_id", ">i8"), ("p_len", ">i4"), ("churn_probability", ">f8")])

ScoreBatch = Union[pd.DataFrame, "pa.RecordBatch", "pa.Table"]


def batch_arrays(batch: ScoreBatch, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """customer_id (int64) and churn_probability (float64) of one batch; ValueError naming every problem."""
    names = list(batch.columns) if isinstance(batch, pd.DataFrame) else list(batch.schema.names)
    missing = [c for c in ("customer_id", "churn_probability") if c not in names]
    if missing:
        raise ValueError(f"score batch starting at row {offset} lacks column(s) {missing}")
    if isinstance(batch, pd.DataFrame):
        ids_col, p_col = batch["customer_id"], batch["churn_probability"]
        id_nulls, p_nulls = int(ids_col.isna().sum()), int(p_col.isna().sum())
        id_type, p_type = ids_col.dtype, p_col.dtype
        ids_int = pd.api.types.is_integer_dtype(id_type)
        p_numeric = pd.api.types.is_numeric_dtype(p_type) and not pd.api.types.is_bool_dtype(p_type)
    else:
        import pyarrow as pa

        ids_col, p_col = batch.column("customer_id"), batch.column("churn_probability")
        id_nulls, p_nulls = ids_col.null_count, p_col.null_count
        id_type, p_type = ids_col.type, p_col.type
        ids_int = pa.types.is_integer(id_type)
        p_numeric = pa.types.is_floating(p_type) or pa.types.is_integer(p_type)
    n = len(batch)
    where = f"rows {offset}..{offset + n - 1}"
    problems = []
    if id_nulls:
        problems.append(f"column 'customer_id': {id_nulls} row(s) in {where} are null")
    if not ids_int:
        problems.append(f"column 'customer_id' must be integers, got {id_type}")
    if p_nulls:
        problems.append(f"column 'churn_probability': {p_nulls} row(s) in {where} are null")
    if not p_numeric:
        problems.append(f"column 'churn_probability' must be numbers, got {p_type}")
    if problems:
        raise ValueError("invalid score batch: " + "; ".join(problems))
    ids = np.asarray(ids_col)
    if ids.dtype.kind == "u" and ids.size and ids.max() > np.iinfo(np.int64).max:
        raise ValueError(f"invalid score batch: column 'customer_id' in {where} exceeds the bigint range")
    probs = np.asarray(p_col, dtype=np.float64)
    bad = ~((probs >= 0) & (probs <= 1))  # NaN fails both comparisons, so it is caught here too
    if bad.any():
        raise ValueError(
            f"invalid score batch: column 'churn_probability': {int(bad.sum())} row(s) in {where} are NaN or "
            f"outside [0, 1] (e.g. {probs[bad][:5].tolist()})"
        )
    return ids.astype(np.int64, copy=False), probs


class BinaryCopySource:
    """A file-like COPY source that validates and encodes score batches only when PostgreSQL asks for data.

    Batches are pulled one at a time, so memory holds one encoded batch whatever the day's size.
    """

    def __init__(self, batches: Iterable[ScoreBatch]) -> None:
        self._batches = iter(batches)
        self._buffer = memoryview(_COPY_HEADER)
        self._finished = False
        self.rows = 0
        self.probability_sum = 0.0
        # psycopg2 reports an exception raised in read() as a generic "COPY from stdin failed"; keep the original.
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            while not self._buffer and not self._finished:
                self._buffer = memoryview(self._next_chunk())
        except BaseException as exc:
            self.error = exc
            raise
        n = len(self._buffer) if size is None or size < 0 else size
        chunk, self._buffer = self._buffer[:n], self._buffer[n:]
        return chunk.tobytes()

    def _next_chunk(self) -> bytes:
        batch = next(self._batches, None)
        if batch is None:
            self._finished = True
            return _COPY_TRAILER
        ids, probs = batch_arrays(batch, self.rows)
        rows = np.empty(len(ids), dtype=_COPY_ROW)
        rows["fields"] = 2
        rows["id_len"] = 8
        rows["customer_id"] = ids
        rows["p_len"] = 8
        rows["churn_probability"] = probs
        self.rows += len(ids)
        self.probability_sum += float(probs.sum())
        return rows.tobytes()
