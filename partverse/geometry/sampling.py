"""Seeded, area-weighted surface sampling, vectorized over all parts of an object at once.

Determinism contract: the samples are a function of (vertices, faces, groups, n, seed) only, where
`seed` is an int or the `np.random.SeedSequence` of `sample_seed(seed, uid)`; one random stream is
drawn per call (per object), never one per part. Same inputs, same samples, on any machine with
the same numpy random streams (SFC64 seeded by `seed`, see `sample_generator`; numpy >= 1.17).

How a call draws (the stream order): first, for every group, the number of samples landing on
each face, drawn exactly from multinomial(n, face areas / group area) (`Generator.multinomial`
over a zero-padded table of the groups' weights: one conditional binomial per face, groups in
label order, or size class by size class for very uneven groups; see `_multinomial_counts`); then
one permutation of 0..n-1 that shuffles the face-sorted samples of every group into i.i.d. order;
then one 64-bit word per sample (`random_raw`, groups in label order) whose top two 24-bit fields
are the uniforms that place it on its triangle (sqrt-warped barycentric, so uniform by area). The
stream does not depend on `CHUNK_SAMPLES`.

Cost, warm, on the 2-core CI machine: the counts are O(G * widest group) table cells and O(F)
binomials (~0.2 ms for 18 parts of 1104 faces, the largest fixed cost); the face rows and the
per-sample placement are compiled loops (`sampling_kernels`, numba), ~4 ns per sample plus ~1.8 ns
for its random word; 14 ns per sample in all on the truck (4096 samples x 18 parts in 1.0 ms),
against 24-46 ns for the numpy passes they replaced. Points and normals share one output
allocation: as two, they were returned to the OS and page-faulted back on every call.
"""
from __future__ import annotations

import hashlib

import numpy as np

from partverse.geometry import sampling_kernels
from partverse.geometry.sampling_kernels import ROW_FLOATS


def face_areas_normals(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F,) float64 areas and (F, 3) float64 unit normals (zero for degenerate faces)."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.sqrt(np.einsum("ij,ij->i", cross, cross))
    normals = np.divide(cross, norm[:, None], out=np.zeros_like(cross), where=norm[:, None] > 0)
    return norm / 2.0, normals


def sample_seed(seed: int, key: str) -> np.random.SeedSequence:
    """The seed of one object's sample stream: (seed, sha256 of `key`, e.g. the object uid)."""
    words = np.frombuffer(hashlib.sha256(key.encode()).digest()[:16], dtype="<u4")
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *(int(w) for w in words)])


def sample_generator(seed: int | np.random.SeedSequence) -> np.random.Generator:
    """The generator of one sampling call: SFC64 (numpy's fastest bit generator, ~1.8 ns per 64-bit
    word here against ~3.2 for PCG64) seeded with `seed`."""
    return np.random.Generator(np.random.SFC64(seed))


def sample_surface(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int | np.random.SeedSequence = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` points drawn uniformly by area over the triangles, the same for the same seed.

    vertices (V, 3), faces (F, 3) -> points (n, 3) float32, normals (n, 3) float32 (face normals),
    face_index (n,) int64. A surface of zero area (only degenerate faces) is sampled with equal
    weight per face, with zero normals. Raises ValueError when there are no faces. Same stream as
    `sample_groups` with a single group."""
    if len(faces) == 0:
        raise ValueError("cannot sample a surface without faces")
    points, normals, face_index = sample_groups(vertices, faces, np.zeros(len(faces), np.int64), n, seed)
    return points[0], normals[0], face_index[0]


def sample_surface_iid(vertices: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator,
                       require_area: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`count` i.i.d. area-weighted points on (F, 3) faces of (V, 3) vertices, drawn from `rng`:
    the face (`rng.choice` by area; equal weights when the surface has no area, or ValueError with
    `require_area`), then two uniforms folded into the triangle. Returns points and unit face
    normals, (count, 3) float32 each (zero normals on degenerate faces). The stream of the
    trainer's samples (`train.occupancy`) and of the layout import's part rows (`data.rows`); the
    pipeline's part samples use the stratified, seed-stable `sample_groups` instead. Raises
    ValueError when there are no faces."""
    if len(faces) == 0:
        raise ValueError("cannot sample a surface without faces")
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(cross, axis=1)
    total = norm.sum()
    if require_area and not total > 0:
        raise ValueError(f"mesh with {len(faces)} faces has zero surface area")
    pick = rng.choice(len(tri), size=count, p=norm / total if total > 0 else None)
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[pick]
    points = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    normals = cross[pick] / np.maximum(norm[pick], 1e-20)[:, None]
    return points.astype(np.float32), normals.astype(np.float32)


CHUNK_SAMPLES = 1 << 13  # samples placed per step: their uniforms and face-sorted faces stay in L2 (1 MiB here)


def group_faces(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces sorted by group (stable): (F,) order, (G,) start and (G,) end of every group in it."""
    if len(groups) < 2 or bool((groups[1:] >= groups[:-1]).all()):
        order = np.arange(len(groups))
        sorted_groups = groups
    else:
        order = np.argsort(groups, kind="stable")
        sorted_groups = groups[order]
    starts = np.flatnonzero(np.concatenate([[len(groups) > 0], sorted_groups[1:] != sorted_groups[:-1]]))
    ends = np.append(starts[1:], len(groups))
    return order, starts, ends


PADDING_CELLS = 1 << 15  # padding cells beyond 2 per face allowed in one table before groups are split by size


def _multinomial_counts(weights: np.ndarray, starts: np.ndarray, ends: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(F,) int64 samples per face: for every group (faces starts[g]:ends[g] of `weights`, each
    group's weights summing to 1), an exact multinomial(n, weights) draw: numpy's conditional
    binomials (one per face, in face order, stopping once the group's n samples are placed).

    The groups are the rows of one zero-padded (G, widest group) table, drawn by one
    `Generator.multinomial` call; when the padding would exceed 2 cells per face + PADDING_CELLS,
    groups are drawn in size classes instead (sizes within 4x, one table each, smaller first).
    A sample that rounding leaves to a padding cell goes to its group's last face."""
    sizes = ends - starts
    group = np.repeat(np.arange(len(sizes)), sizes)
    column = np.arange(len(weights)) - np.repeat(starts, sizes)
    counts = np.empty(len(weights), np.int64)
    padding = len(sizes) * int(sizes.max()) - len(weights)
    if padding <= 2 * len(weights) + PADDING_CELLS:
        classes = [(np.arange(len(sizes)), slice(None))]
    else:
        size_class = np.log2(sizes).astype(np.int64) // 2
        classes = [(np.flatnonzero(size_class == c), np.flatnonzero(size_class[group] == c)) for c in np.unique(size_class).tolist()]
    for rows, faces in classes:  # a few size classes, not groups
        width = int(sizes[rows].max())
        row = np.zeros(len(sizes), np.int64)
        row[rows] = np.arange(len(rows))
        cell = row[group[faces]] * width + column[faces]
        table = np.zeros(len(rows) * width)
        table[cell] = weights[faces]
        table = table.reshape(len(rows), width)
        table /= table.sum(axis=1, keepdims=True)  # pairwise sums: rows within a few ulps of 1 (numpy refuses > 1 + 1e-12)
        counts[faces] = rng.multinomial(n, table).reshape(-1)[cell]
    counts[ends - 1] += n - np.add.reduceat(counts, starts)  # rounding remainders, almost always 0
    return counts


def sample_groups(vertices: np.ndarray, faces: np.ndarray, groups: np.ndarray, n: int,
                  seed: int | np.random.SeedSequence = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` area-weighted samples for every group of faces, in one vectorized pass over all groups.

    vertices (V, 3), faces (F, 3), groups (F,) int labels. Returns points (G, n, 3) float32,
    normals (G, n, 3) float32 (face normals) and face_index (G, n) int64, groups in sorted label
    order. Within a group the samples are i.i.d. and uniform by area; a group of zero area is
    sampled with equal weight per face (zero normals). Same inputs and seed, same samples (see the
    module docstring for the stream)."""
    return _sample_groups(vertices, faces, groups, n, seed, with_faces=True)


def sample_sorted_groups(corners: np.ndarray, starts: np.ndarray, ends: np.ndarray, n: int,
                         seed: int | np.random.SeedSequence = 0) -> tuple[np.ndarray, np.ndarray]:
    """The points and normals of `sample_groups`, for faces already sorted by group: corners
    (3, 3, F) from `face_corners`, group g = faces starts[g]:ends[g]. Lets a caller that needs the
    corners anyway (boxes) gather them once."""
    points, normals, _ = _sample_sorted(corners, starts, ends, n, seed, with_faces=False)
    return points, normals


def _face_tables(corners: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (3, 3, F) corners of faces sorted by group: (F,) sampling weights summing to 1 in every
    group (area shares; equal shares in a zero-area group) and the (F, 12) float32 face rows the
    placement loop reads per sample (`sampling_kernels.face_rows`)."""
    f = corners.shape[2]
    rows, double_area = np.empty((f, ROW_FLOATS), np.float32), np.empty(f)
    sampling_kernels.kernels().face_rows(np.ascontiguousarray(corners, np.float64), rows, double_area)
    sizes = ends - starts
    group_area = np.add.reduceat(double_area, starts)
    if (group_area > 0).all():
        weights = double_area / np.repeat(group_area, sizes)
    else:  # zero-area groups: equal shares
        weights = np.where(np.repeat(group_area <= 0, sizes), 1.0, double_area)
        weights /= np.repeat(np.add.reduceat(weights, starts), sizes)
    return weights, rows


def face_corners(vertices: np.ndarray, faces: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """(3, 3, F) float64 corner coordinates, [coordinate, corner, face], of (F, 3) `faces` (of
    `faces[order]` when given), gathered as planes: `take`s of contiguous coordinate and corner
    rows, several times faster than `vertices[faces]` (24-byte row gathers)."""
    planes = np.ascontiguousarray(np.asarray(vertices, np.float64).T)
    corner_ids = np.asarray(faces, np.int64).T
    corner_ids = np.ascontiguousarray(corner_ids) if order is None else corner_ids.take(order, axis=1)
    return planes.take(corner_ids, axis=1)


def _sample_groups(vertices, faces, groups, n: int, seed, with_faces: bool):
    groups = np.asarray(groups).reshape(-1)
    faces = np.asarray(faces, np.int64)
    if len(groups) != len(faces):
        raise ValueError(f"groups has {len(groups)} entries for {len(faces)} faces")
    order, starts, ends = group_faces(groups)
    points, normals, pick = _sample_sorted(face_corners(vertices, faces, order), starts, ends, n, seed, with_faces)
    return points, normals, (order[pick] if with_faces else None)


def _sample_sorted(corners: np.ndarray, starts: np.ndarray, ends: np.ndarray, n: int, seed, with_faces: bool):
    """Points, normals and (when `with_faces`) the sorted-face position of every sample."""
    g = len(starts)
    points, normals = np.empty((2, g, n, 3), np.float32)  # one block: fewer heap trims and page faults per call
    positions = np.empty((g, n), np.int64) if with_faces else None
    if g == 0 or n == 0:
        return points, normals, positions
    weights, rows = _face_tables(corners, starts, ends)
    rng = sample_generator(seed)
    counts = _multinomial_counts(weights, starts, ends, n, rng)
    shuffle = rng.permutation(n)  # one shuffle, applied to every group: i.i.d. order in each
    place = sampling_kernels.kernels().place
    flat_rows, flat_points, flat_normals = rows.reshape(-1), points.reshape(-1), normals.reshape(-1)
    flat_positions = positions.reshape(-1) if with_faces else np.empty(0, np.int64)
    per_chunk = max(1, CHUNK_SAMPLES // n)  # whole groups per chunk
    for first in range(0, g, per_chunk):  # cache-sized chunks of groups, not faces
        last = min(g, first + per_chunk)
        raw = rng.bit_generator.random_raw((last - first) * n)  # one word per sample, whatever the chunking
        place(counts, starts[first], ends[last - 1], shuffle, raw, flat_rows, flat_points, flat_normals,
              flat_positions, first * n, last - first, n)
    return points, normals, positions
