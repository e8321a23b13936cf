"""Welding and face connectivity without scipy.sparse agree with the k-d tree / sparse-graph
definitions they replace, including their fallback paths."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from partverse.geometry import adjacency
from partverse.geometry.adjacency import (
    close_pairs,
    edge_connected_components,
    exact_duplicates,
    relabel_by_first_occurrence,
    union_find,
    weld_vertices_radius,
)


def scipy_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    graph = sp.coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    return relabel_by_first_occurrence(connected_components(graph, directed=False)[1])


def same_partition(x: np.ndarray, y: np.ndarray) -> bool:
    return np.array_equal(relabel_by_first_occurrence(x.reshape(-1)), relabel_by_first_occurrence(y.reshape(-1)))


def test_union_find_matches_scipy():
    rng = np.random.default_rng(0)
    path = rng.permutation(5000)  # one long path through randomly numbered nodes
    cases = [(5000, path[:-1], path[1:]), (6, np.zeros(0, int), np.zeros(0, int)), (20000, np.arange(1, 20000), np.arange(19999))]
    for n, m in [(1000, 600), (1000, 1500), (50, 200)]:
        cases.append((n, rng.integers(0, n, m), rng.integers(0, n, m)))
    for n, a, b in cases:
        root = union_find(n, a, b)
        assert same_partition(root, scipy_labels(n, a, b))
        # the label of every node is the smallest node of its component
        assert (root <= np.arange(n)).all() and (root[root] == root).all()
        assert np.array_equal(adjacency.first_occurrence_rank(root), scipy_labels(n, a, b))
    with pytest.raises(ValueError, match="outside 0..4"):
        union_find(5, np.array([0]), np.array([5]))


def relabel_reference(labels: np.ndarray) -> np.ndarray:
    """Renumbering by first occurrence, by its definition (np.unique, first indices ranked)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse.reshape(-1)]


def test_relabel_by_first_occurrence_matches_its_definition():
    rng = np.random.default_rng(3)
    cases = [rng.integers(0, 50, 1000), rng.integers(-7, 7, 300), np.array([5, 5, 2, 9, 2]),
             rng.integers(0, 2**40, 100),  # too wide for a lookup table: the sorting path
             rng.integers(0, 9, (20, 3)).astype(np.uint8), np.array([3.5, -1.0, 3.5]), np.zeros(0, np.int64)]
    for labels in cases:
        ours = relabel_by_first_occurrence(labels)
        assert ours.dtype == np.int64 and np.array_equal(ours, relabel_reference(labels))


@pytest.mark.parametrize("steps", [32, 2])  # 2: dense clusters go to the k-d tree
def test_close_pairs_match_kdtree(monkeypatch, steps):
    monkeypatch.setattr(adjacency, "MAX_SWEEP_STEPS", steps)
    rng = np.random.default_rng(1)
    base = rng.random((2000, 3))
    jitter = base[rng.integers(0, 2000, 400)] + rng.normal(scale=1e-7, size=(400, 3))
    grid = np.stack(np.meshgrid(*[np.arange(8.0)] * 3), -1).reshape(-1, 3) * 1e-7  # 512 points, one cluster
    points = np.unique(np.concatenate([base, jitter, grid + 0.5]), axis=0)
    for radius in (3e-7, 1e-9, 0.0):
        ours = {tuple(p) for p in close_pairs(points, radius).tolist()}
        theirs = {tuple(p) for p in cKDTree(points).query_pairs(radius, output_type="ndarray").tolist()} if radius > 0 else set()
        assert ours == theirs


def test_exact_duplicates_group_identical_rows(monkeypatch):
    points = np.array([[0, 0, 0], [1, 2, 3], [-0.0, 0, 0], [1, 2, 3], [1, 2, 3.0000001]], float)
    group, first = exact_duplicates(points)
    assert group.tolist() == [0, 1, 0, 1, 2] and first.tolist() == [0, 1, 4]
    monkeypatch.setattr(adjacency, "_HASH", np.zeros(3, np.uint64))  # every row collides: exact fallback
    group, first = exact_duplicates(points)
    assert group.tolist() == [0, 1, 0, 1, 2] and first.tolist() == [0, 1, 4]


def reference_weld(vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    diagonal = float(np.linalg.norm(np.ptp(vertices, axis=0))) or 1.0
    pairs = cKDTree(vertices).query_pairs(tol * diagonal, output_type="ndarray")
    return scipy_labels(len(vertices), pairs[:, 0], pairs[:, 1])[faces]


def test_weld_radius_matches_reference_and_ignores_frame():
    rng = np.random.default_rng(2)
    corners = rng.random((300, 3))
    soup = corners[rng.integers(0, 300, (500, 3))].reshape(-1, 3)  # shared corners, stored unwelded
    soup += rng.normal(scale=2e-8, size=soup.shape) * (rng.random((len(soup), 1)) < 0.3)
    faces = np.arange(len(soup)).reshape(-1, 3)
    welded = weld_vertices_radius(soup, faces)
    assert same_partition(welded, reference_weld(soup, faces))
    assert same_partition(welded, weld_vertices_radius(soup * 1e3 - 5.0, faces))
    assert len(np.unique(welded)) <= 300


def reference_components(faces: np.ndarray, groups: np.ndarray) -> np.ndarray:
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    owner = np.repeat(np.arange(len(faces)), 3)
    keys = np.stack([groups[owner], edges[:, 0], edges[:, 1]], 1)
    _, edge_id = np.unique(keys, axis=0, return_inverse=True)
    n = len(faces) + int(edge_id.max()) + 1
    labels = scipy_labels(n, owner, len(faces) + edge_id.reshape(-1))
    return relabel_by_first_occurrence(labels[: len(faces)])


@pytest.mark.parametrize("offset", [0, 1 << 40])  # huge vertex ids: the lexsort path
def test_edge_components_match_sparse_graph(offset):
    rng = np.random.default_rng(3)
    faces = rng.integers(0, 400, (900, 3))
    faces = np.concatenate([faces, faces[:50]])  # doubled faces: non-manifold edges
    groups = rng.integers(0, 3, len(faces))
    labels = edge_connected_components(faces + offset, groups)
    assert np.array_equal(labels, reference_components(faces, groups))
    assert np.array_equal(edge_connected_components(faces + offset), reference_components(faces, np.zeros(len(faces), int)))


def test_non_manifold_edge_joins_same_group_faces_across_others():
    # three faces on one edge (0, 1): groups 0, 1, 0 -> faces 0 and 2 are one piece
    faces = np.array([[0, 1, 2], [0, 1, 3], [1, 0, 4]])
    assert edge_connected_components(faces, np.array([0, 1, 0])).tolist() == [0, 1, 0]
    assert edge_connected_components(np.zeros((0, 3), int)).shape == (0,)


def reference_adjacency(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face pairs by the definition, in the documented order: edges shared by k faces (k ascending),
    then the positions i < j of the two faces on the edge, then the edge (low, high vertex)."""
    on_edge: dict[tuple[int, int], list[int]] = {}
    for f, tri in enumerate(faces.tolist()):
        for u, v in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            on_edge.setdefault((min(u, v), max(u, v)), []).append(f)
    rows = [(len(fs), i, j, e, fs[i], fs[j]) for e, fs in on_edge.items()
            for i in range(len(fs)) for j in range(i + 1, len(fs)) if fs[i] != fs[j]]
    rows.sort(key=lambda r: r[:4])
    return (np.array([r[4:] for r in rows], np.int64).reshape(-1, 2),
            np.array([r[3] for r in rows], np.int64).reshape(-1, 2))


@pytest.mark.parametrize("offset", [0, 1 << 40])  # huge vertex ids: renumbered densely first
def test_face_adjacency_matches_the_definition_on_non_manifold_soups(offset):
    rng = np.random.default_rng(5)
    for _ in range(60):
        faces = rng.integers(0, rng.integers(3, 25), size=(rng.integers(1, 80), 3))  # fans, doubled and degenerate faces
        pairs, shared = adjacency.face_adjacency(faces + offset)
        ref_pairs, ref_shared = reference_adjacency(faces)
        assert np.array_equal(pairs, ref_pairs) and np.array_equal(shared - offset, ref_shared)
    # a vertex on hundreds of edges (a fan's centre, shuffled, some faces doubled): its edges are
    # sorted by merge sort rather than insertion sort
    ring = np.arange(1, 301)
    fan = np.stack([np.zeros(300, np.int64), ring, np.roll(ring, -1)], axis=1)
    fan = rng.permutation(np.concatenate([fan, fan[:40], fan[:5, ::-1]]))
    pairs, shared = adjacency.face_adjacency(fan + offset)
    ref_pairs, ref_shared = reference_adjacency(fan)
    assert np.array_equal(pairs, ref_pairs) and np.array_equal(shared - offset, ref_shared)
    assert adjacency.face_adjacency(np.zeros((0, 3), int))[0].shape == (0, 2)
