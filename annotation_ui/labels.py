"""Per-face label arrays: compressed transport and the edit operations, all vectorized numpy.

Transport: a (F,) int32 array as little-endian bytes, compressed with zstd, base64 in JSON
(`PackedLabels` in schemas.py). Decoding refuses anything that does not decompress to exactly
F * 4 bytes, so an oversized or truncated payload never reaches the database.
"""
from __future__ import annotations

import base64
import binascii
import io

import numpy as np
import zstandard

MAX_NAME_LENGTH = 200
FEW = 8  # up to this many segments are looked up by comparison passes; more by one bincount


class LabelError(ValueError):
    """A label array or edit is invalid; the message names the problem (HTTP 422)."""


def encode(labels: np.ndarray) -> bytes:
    """(F,) integer array -> zstd-compressed int32 little-endian bytes (level 1: labels are runs)."""
    return zstandard.ZstdCompressor(level=1).compress(memoryview(np.ascontiguousarray(labels, dtype="<i4")))


def present_segments(labels: np.ndarray) -> np.ndarray:
    """Sorted ids of the segments present in validated (F,) labels: O(F) bincount, no sort."""
    return np.flatnonzero(np.bincount(labels)) if labels.size else np.zeros(0, np.int64)


def decode(blob: bytes, count: int) -> np.ndarray:
    """zstd bytes -> (count,) int32; refuses output of any other size without inflating past it."""
    raw = _inflate(blob, 4 * count, f"({count} int32 values)")
    return np.frombuffer(raw, dtype="<i4").astype(np.int32)


def delta(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The change from (F,) `old` to (F,) `new` as one (2k,) int32: k changed face indices, then their labels."""
    changed = np.flatnonzero(old != new).astype(np.int32)
    return np.concatenate([changed, new[changed].astype(np.int32)])


def encode_delta(old: np.ndarray, new: np.ndarray) -> tuple[bytes, int]:
    """zstd of `delta(old, new)` and k, the number of changed faces."""
    d = delta(old, new)
    return encode(d), d.size // 2


def apply_delta(labels: np.ndarray, blob: bytes) -> np.ndarray:
    """(F,) labels with an `encode_delta` blob applied (a new array); a delta never holds more than F faces."""
    count = labels.shape[0]
    data = np.frombuffer(_inflate(blob, 8 * count, "(a delta)", exact=False), dtype="<i4")
    if data.size % 2:
        raise LabelError(f"label delta: {data.size} int32 values, expected an even number")
    idx, values = data[: data.size // 2], data[data.size // 2 :]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= count):
        raise LabelError(f"label delta: face index outside 0..{count - 1}")
    out = labels.copy()
    out[idx] = values
    return out


def _inflate(blob: bytes, want: int, what: str, exact: bool = True) -> bytes:
    """Decompress at most `want` bytes (exactly `want` when `exact`), never inflating past want + 1."""
    chunks, got = [], 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)) as reader:
            while got <= want:  # read at most one byte past the expected size: no decompression bombs
                chunk = reader.read(want + 1 - got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
    except zstandard.ZstdError as exc:
        raise LabelError(f"labels: not valid zstd data ({exc})") from None
    if got > want or (exact and got != want):
        size = f"{got} bytes" if got < want else f"more than {want} bytes"
        raise LabelError(f"labels: decompressed to {size}, expected {'' if exact else 'at most '}{want} {what}")
    return b"".join(chunks)


def decode_b64(data: str, count: int) -> np.ndarray:
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise LabelError("labels.data: not valid base64") from None
    return decode(blob, count)


def encode_b64(labels: np.ndarray) -> str:
    return base64.b64encode(encode(labels)).decode("ascii")


def validate(labels: np.ndarray, num_faces: int) -> np.ndarray:
    """Check a (F,) label array against a task with `num_faces` faces."""
    if labels.shape != (num_faces,):
        raise LabelError(f"labels: {labels.shape[0] if labels.ndim else 0} values for a mesh with {num_faces} faces")
    if num_faces and int(labels.min()) < 0:
        bad = int(np.flatnonzero(labels < 0)[0])
        raise LabelError(f"labels: face {bad} has negative label {int(labels[bad])}")
    if num_faces and int(labels.max()) >= max(num_faces, 1):
        raise LabelError(f"labels: label {int(labels.max())} >= {num_faces} faces (at most one segment per face)")
    return labels


def segment_counts(labels: np.ndarray) -> np.ndarray:
    """Faces per segment id of validated (F,) labels: (S,) int64, S = max label + 1 (bincount, O(F))."""
    return np.bincount(labels) if labels.size else np.zeros(0, np.int64)


def validate_names(part_names: dict[str, str], labels: np.ndarray, known: frozenset[str] = frozenset()) -> dict[str, str]:
    """Names keyed by segment id (as a string); every key must be a segment present in `labels`.

    Keys in `known` are segments the caller knows to be present (their presence is not re-checked).
    """
    counts = segment_counts(labels) if len(part_names) - len(known) > FEW else None
    clean: dict[str, str] = {}
    for key, name in part_names.items():
        try:
            segment = int(key)
        except ValueError:
            raise LabelError(f"part_names: key {key!r} is not a segment id") from None
        if key not in known and not _present(labels, counts, segment):
            raise LabelError(f"part_names: segment {segment} does not occur in the labels")
        clean[str(segment)] = _clean_name(segment, name)
    return clean


def _clean_name(segment: int, name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise LabelError(f"part_names[{segment}]: name must be 1..{MAX_NAME_LENGTH} characters")
    return name


def _present(labels: np.ndarray, counts: np.ndarray | None, segment: int) -> bool:
    """Whether `segment` occurs: from `segment_counts` when given, else one comparison pass (SIMD)."""
    if counts is not None:
        return 0 <= segment < counts.size and bool(counts[segment])
    return bool((labels == segment).any()) if 0 <= segment < 2**31 else False


def _member(labels: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """(F,) bool: labels in `wanted`; a few SIMD comparisons beat np.isin for the handful a merge names."""
    if wanted.size > FEW:
        return np.isin(labels, wanted)
    mask = labels == wanted[0]
    for w in wanted[1:]:
        mask |= labels == w
    return mask


def merge(labels: np.ndarray, part_names: dict[str, str], segments: list[int]) -> tuple[np.ndarray, dict[str, str]]:
    """Merge `segments` into the smallest of them; it keeps its name, or the first name among the others."""
    wanted = np.unique(np.asarray(segments, dtype=np.int64))
    if wanted.size < 2:
        raise LabelError("merge: give at least two distinct segments")
    counts = segment_counts(labels) if wanted.size > FEW else None
    missing = np.array([w for w in wanted.tolist() if not _present(labels, counts, w)], np.int64)
    if missing.size:
        raise LabelError(f"merge: segments {missing.tolist()} do not occur in the labels")
    target = int(wanted[0])
    out = labels.copy()
    out[_member(out, wanted)] = target
    names = {k: v for k, v in part_names.items() if int(k) not in set(wanted.tolist())}
    inherited = [part_names[str(s)] for s in wanted.tolist() if str(s) in part_names]
    if inherited:
        names[str(target)] = inherited[0]
    return out, names


def split(
    labels: np.ndarray, part_names: dict[str, str], faces: list[int], name: str | None = None
) -> tuple[np.ndarray, dict[str, str], int]:
    """Move `faces` (indices into the (F,) labels) to a new segment, max label + 1; returns its id."""
    idx = np.unique(np.asarray(faces, dtype=np.int64))
    if idx.size == 0:
        raise LabelError("split: give at least one face")
    if idx[0] < 0 or idx[-1] >= labels.shape[0]:
        bad = int(idx[0] if idx[0] < 0 else idx[-1])
        raise LabelError(f"split: face {bad} does not exist (mesh has {labels.shape[0]} faces)")
    new = int(labels.max()) + 1
    touched = set(np.unique(labels[idx]).tolist())
    out = labels.copy()
    out[idx] = new
    # a named segment survives unless the split took all of its faces (only touched ones need a look)
    suspects = [int(k) for k in part_names if int(k) in touched]
    counts = segment_counts(out) if len(suspects) > FEW else None
    gone = {s for s in suspects if not _present(out, counts, s)}
    names = {k: v for k, v in part_names.items() if int(k) not in gone}
    if name is not None:
        names[str(new)] = _clean_name(new, name)
    return out, names, new


def rename(labels: np.ndarray, part_names: dict[str, str], segment: int, name: str) -> dict[str, str]:
    """Name `segment`; the other names were valid for these labels already and are not re-checked."""
    others = frozenset(part_names) - {str(segment)}
    return validate_names({**part_names, str(segment): name}, labels, known=others)
