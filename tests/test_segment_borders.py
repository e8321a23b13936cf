"""Border refinement (`segment.borders`): the band of candidate labels, and borders settling on creases."""
import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from partverse.segment.borders import band_candidates, border_weights, refine_borders
from partverse.segment.facegraph import build_face_graph, link_matrix
from partverse.segment.geometric import GeometricConfig, crease_strength, geometric_hierarchy
from tests.test_segment_geometric import _psb


@pytest.fixture(scope="module")
def bearing():
    return _psb("341")


@pytest.mark.parametrize("rings", [1, 3])
def test_band_holds_every_label_within_the_rings_and_no_other(bearing, rings):
    mesh, _ = bearing
    graph, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, GeometricConfig(border_rings=0))
    labels = hierarchy.labels_for_count(12)
    rng = np.random.default_rng(0)
    blocked = rng.random(len(graph.pairs)) < 0.05  # links no border may move across
    free = graph.pairs[~blocked]
    face, label = band_candidates(free, labels, rings)
    keys = face * 12 + label
    assert np.all(np.diff(keys) > 0)  # sorted, no repeats
    hops = link_matrix(graph.num_faces, free, np.ones(len(free)))
    for k in range(12):
        near = dijkstra(hops, indices=np.flatnonzero(labels == k), min_only=True, unweighted=True, limit=rings + 0.5)
        expected = np.flatnonzero(np.isfinite(near) & (labels != k))
        assert np.array_equal(np.sort(face[label == k]), expected), k


def test_band_of_one_label_per_face_is_every_face_within_the_rings(bearing):
    """Every face its own label: the band holds, per face, every other face within 3 links (the
    nonzeros of (I + A)^3), many more entries than faces (the compiled lists grow)."""
    import scipy.sparse as sp

    mesh, _ = bearing
    graph, _ = geometric_hierarchy(mesh.vertices, mesh.faces, GeometricConfig(border_rings=0))
    n = graph.num_faces
    face, label = band_candidates(graph.pairs, np.arange(n), 3)
    reach = sp.identity(n, format="csr") + link_matrix(n, graph.pairs, np.ones(len(graph.pairs)))
    reach = (reach @ reach @ reach).tocsr()
    reach.data[:] = 1
    reach.setdiag(0)
    reach.eliminate_zeros()
    assert len(face) > 4 * n
    assert np.array_equal(face * n + label, np.sort(reach.tocoo().row * n + reach.tocoo().col))


def test_labels_of_one_colour_have_moves_that_cannot_interact(bearing):
    from partverse.segment.graphcut import Candidates, colour_labels

    mesh, _ = bearing
    graph, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, GeometricConfig(border_rings=0))
    labels = hierarchy.labels_for_count(60)  # many small segments: dense conflicts
    k = int(labels.max()) + 1
    face, label = band_candidates(graph.pairs, labels, 3)
    n = graph.num_faces
    candidates = Candidates.build(np.r_[np.arange(n), face], np.r_[labels, label], np.zeros(n + len(face)), n)
    colour = colour_labels(candidates, graph.pairs, labels)
    assert k > 30 and colour.max() + 1 < k / 3  # a handful of max flows, not one per label
    may = np.zeros((n, k), dtype=bool)  # face may switch to label
    may[face, label] = True
    for c in range(colour.max() + 1):
        mine = np.flatnonzero(colour == c)
        owner = np.where(may[:, mine].any(axis=1), mine[np.argmax(may[:, mine], axis=1)], -1)
        assert (may[:, mine].sum(axis=1) <= 1).all()  # no face may switch to two of them
        a, b = owner[graph.pairs[:, 0]], owner[graph.pairs[:, 1]]
        assert not ((a >= 0) & (b >= 0) & (a != b)).any()  # no link joins two of their moves


def _folded_grid(columns: int, rows: int):
    """A strip of `columns` x 2 `rows` unit squares folded by 90 degrees across its middle: `rows`
    rows of squares on the floor (z = 0, y < 0), `rows` up the wall (y = 0, z > 0), normals on the
    inside of the fold (a concave crease). Returns vertices, faces and each face's row (0..2 rows - 1)."""
    s = np.arange(-rows, rows + 1, dtype=float)
    x = np.arange(columns + 1, dtype=float)
    xx, ss = np.meshgrid(x, s, indexing="ij")  # (columns + 1, 2 rows + 1)
    vertices = np.stack([xx, np.minimum(ss, 0.0), np.maximum(ss, 0.0)], -1).reshape(-1, 3)
    n = 2 * rows + 1
    i, j = np.meshgrid(np.arange(columns), np.arange(2 * rows), indexing="ij")
    a, b, c, d = i * n + j, (i + 1) * n + j, (i + 1) * n + j + 1, i * n + j + 1
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    row = np.concatenate([j.ravel(), j.ravel()])
    return vertices, faces, row


def test_a_border_a_row_off_a_crease_settles_on_it():
    vertices, faces, row = _folded_grid(12, 8)
    graph = build_face_graph(vertices, faces, convex_weight=0.02)
    crease = row[graph.pairs[:, 0]] != row[graph.pairs[:, 1]]
    crease &= np.minimum(row[graph.pairs[:, 0]], row[graph.pairs[:, 1]]) == 7
    assert np.allclose(graph.bend[crease], np.pi / 2)  # a concave crease between row 7 and row 8
    weights = border_weights(graph.length, crease_strength(graph, 0.3), None, graph.pairs)
    on_wall = (row >= 8).astype(np.int64)
    for off in (row >= 9, row >= 7):  # a row up the wall, or a row out on the floor (two links per row)
        refined = refine_borders(graph.pairs, weights, off.astype(np.int64), rings=3)
        assert np.array_equal(refined, on_wall)
    # out of reach (three rows = six links off): moving along the flat costs the same, so it stays
    far = (row >= 11).astype(np.int64)
    assert np.array_equal(refine_borders(graph.pairs, weights, far, rings=3), far)
    assert np.array_equal(refine_borders(graph.pairs, weights, far, rings=6), on_wall)


def test_nothing_moves_across_blocked_links_or_without_rings():
    vertices, faces, row = _folded_grid(6, 4)
    graph = build_face_graph(vertices, faces, convex_weight=0.02)
    weights = border_weights(graph.length, crease_strength(graph, 0.3), None, graph.pairs)
    labels = (row >= 5).astype(np.int64)
    assert np.array_equal(refine_borders(graph.pairs, weights, labels, rings=0), labels)
    blocked = np.abs(row[graph.pairs[:, 0]] - row[graph.pairs[:, 1]]) > 0  # every link between rows
    assert np.array_equal(refine_borders(graph.pairs, weights, labels, rings=3, blocked=blocked), labels)


def test_refined_segmentation_keeps_artist_parts_and_target_counts(bearing):
    from partverse.io import load
    from partverse.segment import metrics
    from partverse.segment.artist import artist_segmentation
    from partverse.segment.geometric import cut_hierarchy
    from tests.conftest import shared

    mesh = load(shared("assets", "kaykit_knight.glb"))
    artist = artist_segmentation(mesh).astype(np.int64)
    config = GeometricConfig(border_rings=3)
    _, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, config, face_group=artist)
    unrefined = cut_hierarchy(hierarchy, GeometricConfig(border_rings=0))
    labels = cut_hierarchy(hierarchy, config)
    assert not np.array_equal(labels, unrefined)  # borders did move
    assert metrics.achievable_segmentation_accuracy(labels, artist) == 1.0
    mesh, _ = bearing
    for k in (3, 5, 9):
        _, hierarchy = geometric_hierarchy(mesh.vertices, mesh.faces, GeometricConfig(border_rings=3, num_parts=k))
        assert cut_hierarchy(hierarchy, GeometricConfig(border_rings=3, num_parts=k)).max() + 1 == k
