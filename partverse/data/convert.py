"""Row dicts -> Arrow tables with the release schemas (`partverse.data.schema`).

Array columns accept numpy arrays: (N, 3) points / normals become the raw float32 bytes of the
2.x schema, fixed-size lists (boxes, transforms) and int lists are filled from numpy without
per-value Python work. Errors name the table, the column, the uid and the problem.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from partverse.data import manifest as mf
from partverse.data.schema import NUM_SAMPLES, SAMPLE_COLUMNS, SAMPLE_DTYPE, TABLES, parts_schema


class WriterError(mf.ReleaseError):
    """Rows that cannot be written: the message names the table, the uid and the problem."""


class _RowError(Exception):
    def __init__(self, index: int, reason: str):
        self.index, self.reason = index, reason


def rows_to_table(table: str, rows: Iterable[dict[str, Any]], num_samples: int | None = None) -> pa.Table:
    """Convert row dicts of one release table to an Arrow table with the release schema.

    Missing keys become nulls; unknown keys are an error naming them. For `parts`, the number of
    surface samples is taken from the first row with points unless `num_samples` is given.
    """
    rows = list(rows)
    if table == "parts":
        num_samples = num_samples or _infer_num_samples(rows)
        schema = parts_schema(num_samples)
    else:
        schema = TABLES[table]()
    known = set(schema.names)
    for row in rows:
        extra = set(row) - known
        if extra:
            raise WriterError(f"{table} row uid={row.get('uid')!r}: unknown columns {sorted(extra)}; known: {schema.names}")
        if not row.get("uid"):
            raise WriterError(f"{table} row {row!r:.120}: missing uid")
    arrays = [_column(table, field, [row.get(field.name) for row in rows], rows) for field in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _infer_num_samples(rows: list[dict]) -> int:
    for row in rows:
        if row.get("points") is not None:
            size = np.asarray(row["points"]).size
            if size % 3:
                raise WriterError(f"parts row uid={row.get('uid')!r}: points has {size} values, not a multiple of 3")
            return size // 3
    return NUM_SAMPLES


def _column(table: str, field: pa.Field, values: list, rows: list[dict]) -> pa.Array:
    t = field.type
    try:
        if field.name in SAMPLE_COLUMNS and pa.types.is_binary(t):
            return _samples(values, field)
        if pa.types.is_fixed_size_list(t):
            return _fixed_list(values, t)
        if pa.types.is_list(t) and pa.types.is_integer(t.value_type):
            return _int_list(values, t)
        if field.name == "renders":
            values = [_renders(v) for v in values]
        if pa.types.is_string(t):
            values = [None if v is None else str(v) for v in values]
        return pa.array(values, type=t)
    except _RowError as exc:
        row = rows[exc.index]
        raise WriterError(f"{table}.{field.name} (uid={row.get('uid')!r}, part_id={row.get('part_id')!r}): {exc.reason}") from None
    except (pa.ArrowException, ValueError, TypeError) as exc:
        bad = _first_bad(field, values, rows)
        raise WriterError(f"{table}.{field.name}{bad}: cannot store as {t}: {exc}") from exc


def _first_bad(field: pa.Field, values: list, rows: list[dict]) -> str:
    for value, row in zip(values, rows):
        try:
            pa.array([value], type=field.type)
        except Exception:
            return f" (uid={row.get('uid')!r}, part_id={row.get('part_id')!r})"
    return ""


def _fixed_list(values: list, t: pa.FixedSizeListType) -> pa.Array:
    size, dtype = t.list_size, t.value_type.to_pandas_dtype()
    flat = np.zeros((len(values), size), dtype=dtype)
    valid = np.ones(len(values), dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            valid[i] = False
            continue
        a = np.asarray(v, dtype=dtype).reshape(-1)
        if a.size != size:
            raise _RowError(i, f"{a.size} values, the column holds exactly {size}")
        flat[i] = a
    mask = None if valid.all() else pa.array(~valid)
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), type=t, mask=mask)


def _samples(values: list, field: pa.Field) -> pa.Array:
    """(N, 3) float arrays (or their 3N flat form) -> binary values of their float32 bytes, (rows,)."""
    n = int(field.metadata[b"partverse.shape"].decode().strip("[]").split(",")[0])
    flat = np.empty((len(values), 3 * n), dtype=SAMPLE_DTYPE)
    for i, v in enumerate(values):
        if v is None:
            raise _RowError(i, f"missing: every part has {n} surface samples")
        a = np.asarray(v, dtype=SAMPLE_DTYPE).reshape(-1)
        if a.size != 3 * n:
            raise _RowError(i, f"{a.size} values, the column holds exactly {3 * n} ({n} x 3 float32)")
        flat[i] = a
    offsets = np.arange(len(values) + 1, dtype=np.int32) * (12 * n)
    return pa.Array.from_buffers(pa.binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(flat)])


def _int_list(values: list, t: pa.ListType) -> pa.Array:
    dtype = t.value_type.to_pandas_dtype()
    parts = [np.zeros(0, dtype) if v is None else np.asarray(v).astype(dtype, copy=False).reshape(-1) for v in values]
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype)
    mask = pa.array([v is None for v in values]) if any(v is None for v in values) else None
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat), type=t, mask=mask)


def _renders(value: Any) -> list[dict] | None:
    """Renders as {view: png_bytes} or [{"view", "png"}] -> the list-of-struct form."""
    if value is None:
        return None
    if isinstance(value, dict):
        return [{"view": k, "png": value[k]} for k in sorted(value)]
    return list(value)
