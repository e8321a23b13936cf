"""Label operations on per-face arrays, all vectorized numpy (no Python loop over faces).

`labels` is an (F,) int32 array of segment ids (0 <= id < F); `names` maps str(segment id) to a
part name. Every operation returns new arrays and never mutates its inputs, and keeps the server's
rules (annotation_ui/labels.py): merge keeps the smallest id, names only for present segments.
"""
from __future__ import annotations

import base64

import numpy as np

from .errors import LabelOpError

REJECT_REASONS = ("too complex", "unsuitable", "broken geometry", "other")
MAX_NAME_LENGTH = 200


def segment_sizes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids (S,), face counts (S,)) of the segments present in (F,) labels, ids ascending."""
    counts = np.bincount(labels) if labels.size else np.zeros(0, np.int64)
    ids = np.flatnonzero(counts)
    return ids, counts[ids]


def keep_present(labels: np.ndarray, names: dict[str, str]) -> dict[str, str]:
    """Names of the segments that still occur in (F,) labels."""
    if not names:
        return {}
    counts = np.bincount(labels, minlength=1)
    return {k: v for k, v in names.items() if int(k) < counts.size and counts[int(k)] > 0}


def merge(labels: np.ndarray, names: dict[str, str], faces: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """Merge every segment touched by `faces` ((n,) face indices) into the smallest of their ids.
    The merged segment keeps its own name, or else the first name among the merged ones."""
    touched = np.unique(labels[np.asarray(faces, dtype=np.int64)])
    if touched.size < 2:
        raise LabelOpError(f"merge: the selected faces touch {touched.size} segment(s); select faces of at least two")
    target = int(touched[0])
    lut = np.arange(int(labels.max()) + 1, dtype=np.int32)
    lut[touched] = target
    out = lut[labels]
    inherited = [names[str(s)] for s in touched.tolist() if str(s) in names]
    new_names = {k: v for k, v in names.items() if int(k) not in set(touched.tolist())}
    if inherited:
        new_names[str(target)] = inherited[0]
    return out, new_names


def split(labels: np.ndarray, names: dict[str, str], faces: np.ndarray,
          name: str | None = None) -> tuple[np.ndarray, dict[str, str], int]:
    """Move `faces` ((n,) face indices) to a new segment; returns (labels, names, new id).
    The new id is max + 1, or the smallest id left free when max + 1 would reach F."""
    idx = np.unique(np.asarray(faces, dtype=np.int64))
    if idx.size == 0:
        raise LabelOpError("split: select at least one face")
    if idx[0] < 0 or idx[-1] >= labels.size:
        raise LabelOpError(f"split: face {int(idx[-1])} does not exist (mesh has {labels.size} faces)")
    new = int(labels.max()) + 1
    if new >= labels.size:
        rest = np.ones(labels.size, bool)
        rest[idx] = False
        used = np.bincount(labels[rest], minlength=labels.size + 1) > 0
        new = int(np.flatnonzero(~used)[0])
    out = labels.copy()
    out[idx] = new
    new_names = keep_present(out, names)
    if name:
        new_names[str(new)] = check_name(name)
    return out, new_names, new


def check_name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME_LENGTH:
        raise LabelOpError(f"name {name!r}: must be 1..{MAX_NAME_LENGTH} characters")
    return clean


def rename(labels: np.ndarray, names: dict[str, str], segment: int, name: str) -> dict[str, str]:
    """Names with segment `segment` called `name`; the segment must occur in (F,) labels."""
    if segment < 0 or segment > int(labels.max(initial=-1)) or not np.any(labels == segment):
        raise LabelOpError(f"rename: segment {segment} does not occur in the labels")
    return {**names, str(segment): check_name(name)}


def face_centroids(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) float vertices, (F, 3) int faces -> (F, 3) float32 centroids."""
    return vertices[faces].mean(axis=1, dtype=np.float64).astype(np.float32)


def mirror_selection(centroids: np.ndarray, selected: np.ndarray, axis: int,
                     center: float | None = None, tolerance: float | None = None) -> np.ndarray:
    """Faces whose centroid lies within `tolerance` of a selected face's centroid mirrored across
    the plane axis = center.

    centroids (F, 3) float; selected (n,) face indices; axis 0/1/2. `center` defaults to the
    middle of the bounding box on that axis, `tolerance` to 1% of the box diagonal. Returns sorted
    (m,) face indices. Uses a uniform grid of cell `tolerance` (27 neighbour cells, searchsorted),
    numpy only: Blender has no scipy.
    """
    if axis not in (0, 1, 2):
        raise LabelOpError(f"mirror: axis must be 0, 1 or 2 (x, y, z), got {axis}")
    sel = np.asarray(selected, dtype=np.int64)
    if sel.size == 0 or centroids.size == 0:
        return np.zeros(0, np.int64)
    pts = centroids.astype(np.float64)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    if center is None:
        center = float(lo[axis] + hi[axis]) / 2
    if tolerance is None:
        tolerance = float(np.linalg.norm(hi - lo)) * 0.01
    tolerance = max(float(tolerance), 1e-9)
    query = pts[sel]
    query[:, axis] = 2 * center - query[:, axis]
    origin = np.minimum(lo, query.min(axis=0)) - tolerance
    cells = np.floor((pts - origin) / tolerance).astype(np.int64)
    qcells = np.floor((query - origin) / tolerance).astype(np.int64)
    span = int(max(cells.max(), qcells.max())) + 3
    keys = (cells[:, 0] * span + cells[:, 1]) * span + cells[:, 2]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    found = []
    for offset in np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1]), -1).reshape(-1, 3):
        c = qcells + offset
        qk = (c[:, 0] * span + c[:, 1]) * span + c[:, 2]
        start = np.searchsorted(sorted_keys, qk, "left")
        stop = np.searchsorted(sorted_keys, qk, "right")
        n = stop - start
        if not n.any():
            continue
        owner = np.repeat(np.arange(qk.size), n)  # ragged ranges [start, stop) flattened
        pos = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n) + np.repeat(start, n)
        cand = order[pos]
        close = np.einsum("ij,ij->i", pts[cand] - query[owner], pts[cand] - query[owner]) <= tolerance**2
        found.append(cand[close])
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


def decompress(data: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            raise ImportError("the zstandard module is needed to read labels (Blender bundles it; "
                              "else pip install zstandard into Blender's Python)") from None
        return zstd.decompress(data)
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def compress(data: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:
        from compression import zstd
        return zstd.compress(data, 1)
    return zstandard.ZstdCompressor(level=1).compress(data)


def pack(labels: np.ndarray) -> dict:
    """(F,) labels -> the server's PackedLabels JSON (zstd int32 little-endian, base64)."""
    raw = np.ascontiguousarray(labels, dtype="<i4").tobytes()
    return {"encoding": "zstd+int32le", "count": int(labels.size), "data": base64.b64encode(compress(raw)).decode()}


def unpack(packed: dict) -> np.ndarray:
    """The server's PackedLabels JSON -> (count,) int32 labels."""
    if packed.get("encoding") != "zstd+int32le":
        raise LabelOpError(f"labels: unknown encoding {packed.get('encoding')!r}")
    raw = decompress(base64.b64decode(packed["data"]))
    if len(raw) != 4 * packed["count"]:
        raise LabelOpError(f"labels: {len(raw)} bytes for {packed['count']} faces")
    return np.frombuffer(raw, dtype="<i4").astype(np.int32)
