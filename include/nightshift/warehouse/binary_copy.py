"""PostgreSQL binary COPY of score batches: validated and encoded only as the server asks for data.

Only (customer_id, churn_probability) and the row's reasons (``nightshift.score_reasons``) travel per
row; each batch is checked (types, nulls, range) and turned into COPY tuples with numpy assignments,
which PostgreSQL parses faster than CSV (no float text round trip). A batch without reason columns
(scores from elsewhere) is stored with NULL reasons.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Union

import numpy as np
import pandas as pd

from nightshift.score_reasons import REASON_COLUMNS, REASON_PAIRS

if TYPE_CHECKING:
    import pyarrow as pa

# PostgreSQL's binary COPY framing: signature, flags, header extension length ... trailer.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
# The columns each COPY tuple holds, in order.
COPY_COLUMNS: tuple[str, ...] = ("customer_id", "churn_probability", *REASON_COLUMNS)
# A binary COPY tuple: field count, then (byte length, big-endian value) per column. Its fixed head:
_COPY_HEAD = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("customer_id", ">i8"), ("p_len", ">i4"), ("churn_probability", ">f8")])
# then per reason the feature's name (length and UTF-8 bytes) and its contribution, each a -1 length when NULL.
_COPY_VALUE = np.dtype([("length", ">i4"), ("value", ">f8")])
_COPY_NULL = np.frombuffer(struct.pack("!i", -1), dtype=np.uint8)

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


# One reason of every row of a batch: the feature's code (-1: none), the names the codes index (UTF-8), the contributions (NaN: none).
Reason = tuple[np.ndarray, list[bytes], np.ndarray]


def _reason_column(batch: ScoreBatch, name: str, contribution: str) -> Reason:
    if isinstance(batch, pd.DataFrame):
        codes, names = pd.factorize(batch[name])
        values = pd.to_numeric(batch[contribution]).to_numpy(np.float64, na_value=np.nan)
        return codes, [str(v).encode() for v in names], values
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column(name)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    values = pc.fill_null(batch.column(contribution).cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)
    return codes, [str(v).encode() for v in encoded.dictionary.to_pylist()], values


def batch_reasons(batch: ScoreBatch, offset: int) -> list[Reason]:
    """The reasons of one batch (all NULL when it has no reason column); ValueError naming every problem."""
    names = set(batch.columns) if isinstance(batch, pd.DataFrame) else set(batch.schema.names)
    n = len(batch)
    if not names & set(REASON_COLUMNS):
        return [(np.full(n, -1), [], np.full(n, np.nan))] * len(REASON_PAIRS)
    missing = [c for c in REASON_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"score batch starting at row {offset} has reason columns but lacks {missing}")
    where = f"rows {offset}..{offset + n - 1}"
    reasons, problems = [], []
    for name, contribution in REASON_PAIRS:
        codes, words, values = _reason_column(batch, name, contribution)
        half = int(((codes >= 0) == np.isnan(values)).sum())
        if half:
            problems.append(f"{half} row(s) in {where} have only one of {name!r} and {contribution!r}: both are set or both NULL")
        if np.isinf(values).any():
            problems.append(f"column {contribution!r}: {int(np.isinf(values).sum())} row(s) in {where} are infinite")
        if any(b"\x00" in w for w in words):
            problems.append(f"column {name!r} in {where} contains a NUL character, which PostgreSQL text cannot hold")
        reasons.append((np.asarray(codes, dtype=np.int64), words, values))
    if problems:
        raise ValueError("invalid score batch: " + "; ".join(problems))
    return reasons


def _scatter(out: np.ndarray, starts: np.ndarray, data: np.ndarray) -> None:
    """Write ``data`` (one row of bytes per start, or one row for all) at each of ``starts`` in ``out``."""
    out[starts[:, None] + np.arange(data.shape[-1])] = data


def encode_rows(ids: np.ndarray, probabilities: np.ndarray, reasons: list[Reason]) -> bytes:
    """The binary COPY tuples of one batch: a name's length varies, so each field is written at its row's offset."""
    n = len(ids)
    head = np.empty(n, dtype=_COPY_HEAD)
    head["fields"], head["id_len"], head["customer_id"] = len(COPY_COLUMNS), 8, ids
    head["p_len"], head["churn_probability"] = 8, probabilities
    # Per reason, each row's name and contribution byte lengths; code -1 picks the last entry (NULL).
    name_lengths = [np.array([4 + len(w) for w in words] + [4])[codes] for codes, words, _ in reasons]
    value_lengths = [np.where(codes >= 0, _COPY_VALUE.itemsize, 4) for codes, _, _ in reasons]
    row_lengths = _COPY_HEAD.itemsize + sum(name_lengths, np.zeros(n, np.int64)) + sum(value_lengths, np.zeros(n, np.int64))
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(row_lengths[:-1], out=starts[1:])
    out = np.empty(int(row_lengths.sum()), dtype=np.uint8)
    _scatter(out, starts, head.view(np.uint8).reshape(n, _COPY_HEAD.itemsize))
    at = starts + _COPY_HEAD.itemsize
    for (codes, words, values), name_length, value_length in zip(reasons, name_lengths, value_lengths, strict=True):
        for code in np.unique(codes):
            text = _COPY_NULL if code < 0 else np.frombuffer(struct.pack("!i", len(words[code])) + words[code], dtype=np.uint8)
            _scatter(out, at[codes == code], text)
        at += name_length
        present = codes >= 0
        cells = np.empty(int(present.sum()), dtype=_COPY_VALUE)
        cells["length"], cells["value"] = 8, values[present]
        _scatter(out, at[present], cells.view(np.uint8).reshape(len(cells), _COPY_VALUE.itemsize))
        _scatter(out, at[~present], _COPY_NULL)
        at += value_length
    return out.tobytes()


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
        chunk = encode_rows(ids, probs, batch_reasons(batch, self.rows))
        self.rows += len(ids)
        self.probability_sum += float(probs.sum())
        return chunk
