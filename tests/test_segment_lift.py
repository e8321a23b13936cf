"""Lifting 2D masks to faces, checked exactly where the answer is known; the SAM-2 input
modalities; the alpha-expansion graph cut; bad meshes."""
import itertools

import numpy as np
import pytest

from partverse.errors import ConfigError, PartverseError
from partverse.geometry.adjacency import connected_face_components
from partverse.io import load
from partverse.records import ArtistPart, Mesh
from partverse.segment import metrics
from partverse.segment.facegraph import build_face_graph
from partverse.segment.graphcut import Candidates, _min_cut_maxflow, _min_cut_scipy, alpha_expansion, potts_energy
from partverse.segment.lift import LiftConfig, link_masks, lift_masks, row_argmax, view_votes
from partverse.segment.psb import read_seg
from partverse.segment.repartition import crease_weights
from partverse.segment.sam2_images import MODALITIES, check_modalities, jet, render_modalities
from partverse.segment.sam2_masks import paint_masks
from partverse.segment.samesh import SAMESH_LIFT, mesh_graph, render_views
from tests.conftest import shared


def _boxes():
    """Four boxes of different sizes, apart from each other: every face is seen by some view."""
    import trimesh

    parts = []
    for i, (x, y, size) in enumerate([(-0.6, -0.5, 0.5), (0.6, -0.5, 0.4), (-0.6, 0.5, 0.35), (0.6, 0.5, 0.6)]):
        box = trimesh.creation.box(extents=(size, size * 0.8, size * 1.2)).subdivide()
        box.apply_translation((x, y, 0.1 * i))
        parts.append(box)
    vertices = np.vstack([p.vertices for p in parts])
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    faces = np.vstack([p.faces + o for p, o in zip(parts, offsets)])
    part = np.repeat(np.arange(len(parts)), [len(p.faces) for p in parts]).astype(np.int32)
    return Mesh(vertices, faces, part, np.full(len(faces), -1, np.int32), [ArtistPart(f"box{i}", "gltf-primitive") for i in range(4)])


def test_masks_of_the_true_parts_lift_back_to_the_parts_exactly():
    mesh = _boxes()
    views = render_views(mesh.vertices, mesh.faces, resolution=128)
    assert views.face_ids.min() >= -1 and views.face_ids.max() < mesh.num_faces
    # SAM-2 stand-in: per view, the true part of each pixel, numbered differently in every view
    true = mesh.face_artist_part.astype(np.int64)
    shuffle = np.stack([np.random.default_rng(v).permutation(4) for v in range(len(views.face_ids))])
    masks = np.where(views.face_ids >= 0, shuffle[np.arange(12)[:, None, None], true[np.maximum(views.face_ids, 0)]], -1)
    pairs, areas = mesh_graph(mesh)
    labels = lift_masks(views.face_ids, masks, pairs, areas, LiftConfig(min_face_pixels=1))
    assert len(np.unique(labels)) == 4
    assert metrics.rand_index_error(labels, true) == 0.0


def test_a_whole_object_mask_is_over_linked_and_dropped():
    mesh = _boxes()
    views = render_views(mesh.vertices, mesh.faces, resolution=96)
    true = mesh.face_artist_part.astype(np.int64)
    masks = np.where(views.face_ids >= 0, true[np.maximum(views.face_ids, 0)], -1)
    masks[0] = np.where(views.face_ids[0] >= 0, 0, -1)  # view 0: one mask over everything
    pairs, areas = mesh_graph(mesh)
    labels = lift_masks(views.face_ids, masks, pairs, areas, LiftConfig(min_face_pixels=1))
    assert metrics.rand_index_error(labels, true) == 0.0


def test_sparse_mask_ids_lift_as_their_dense_ranks_and_no_views_is_refused():
    mesh = _boxes()
    views = render_views(mesh.vertices, mesh.faces, resolution=64)
    true = mesh.face_artist_part.astype(np.int64)
    masks = np.where(views.face_ids >= 0, true[np.maximum(views.face_ids, 0)], -1)
    pairs, areas = mesh_graph(mesh)
    dense = lift_masks(views.face_ids, masks, pairs, areas, LiftConfig(min_face_pixels=1))
    # instance ids of a million apart, and other negative values for "no mask"
    sparse = np.where(masks >= 0, masks * 1_000_003 + 7, np.where(views.face_ids >= 0, -5, -1))
    np.testing.assert_array_equal(lift_masks(views.face_ids, sparse, pairs, areas, LiftConfig(min_face_pixels=1)), dense)
    with pytest.raises(PartverseError, match="no views"):
        lift_masks(views.face_ids[:0], masks[:0], pairs, areas, LiftConfig())


def test_face_ids_outside_the_mesh_are_refused():
    ids = np.array([[[0, 1], [5, -1]]])
    with pytest.raises(PartverseError, match=r"outside \[-1, 3\) for a 3-face mesh"):
        view_votes(ids, np.zeros_like(ids), 3, 1)


@pytest.mark.parametrize("min_pixels", [1, 3])
def test_each_face_keeps_its_best_mask_per_view(min_pixels):
    """view_votes against a plain count of every (view, face, mask) pixel triple: per view a face
    keeps the mask with most of its pixels (the lowest mask on ties), with >= min_pixels pixels,
    in the column of that view's masks (views' masks side by side)."""
    rng = np.random.default_rng(7)
    faces, views, size = 40, 5, 24
    ids = rng.integers(-1, faces, size=(views, size, size))
    masks = rng.integers(-1, 4, size=(views, size, size))
    masks[2] = -1  # a view with no mask: it adds no column
    masks[3][masks[3] >= 0] += 2  # masks 0 and 1 of view 3 are unused: their columns stay empty
    votes, mask_view = view_votes(ids, masks, faces, min_pixels)
    per_view = masks.reshape(views, -1).max(axis=1) + 1
    offset = np.r_[0, np.cumsum(per_view)]
    expected = np.zeros((faces, offset[-1]))
    for v in range(views):
        hit = (ids[v] >= 0) & (masks[v] >= 0)
        counts = np.zeros((faces, max(per_view[v], 1)))
        np.add.at(counts, (ids[v][hit], masks[v][hit]), 1)
        best = counts.argmax(axis=1)  # the first (lowest) mask among the most pixels
        top = counts[np.arange(faces), best]
        keep = top >= min_pixels
        expected[np.flatnonzero(keep), offset[v] + best[keep]] = top[keep]
    assert votes.shape == expected.shape and (expected > 0).sum() > 50
    np.testing.assert_array_equal(votes.toarray(), expected)
    np.testing.assert_array_equal(mask_view, np.repeat(np.arange(views), per_view))
    assert all(np.all(np.diff(votes.indices[a:b]) > 0) for a, b in zip(votes.indptr[:-1], votes.indptr[1:]))  # ascending


def test_row_argmax_picks_the_largest_positive_entry_and_the_lowest_column_on_ties():
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    dense = np.round(rng.random((60, 9)) * 3) * (rng.random((60, 9)) < 0.4)  # many ties, zero rows
    dense[0] = 0
    best, has = row_argmax(sp.csr_matrix(dense))
    np.testing.assert_array_equal(has, dense.max(axis=1) > 0)
    np.testing.assert_array_equal(best[has], dense.argmax(axis=1)[has])
    assert has.sum() > 40 and not has[0]


def test_small_masks_win_over_large_ones():
    big = np.ones((4, 4), bool)
    small = np.zeros((4, 4), bool)
    small[:2, :2] = True
    label = paint_masks(np.stack([small, big]))
    assert (label[:2, :2] == label[0, 0]).all() and label[0, 0] != label[3, 3]
    assert paint_masks(np.stack([small, big]), min_pixels=5)[0, 0] == -1


def _painted_by_argmax(masks: np.ndarray, min_pixels: int) -> np.ndarray:
    """Reference painting, all masks at once: sorted largest first, the last one over a pixel owns it."""
    if len(masks) == 0:
        return np.full(masks.shape[1:], -1, dtype=np.int64)
    stacked = masks[np.argsort(-masks.reshape(len(masks), -1).sum(axis=1), kind="stable")]
    label = np.where(stacked.any(axis=0), len(stacked) - 1 - np.argmax(stacked[::-1], axis=0), -1)
    counts = np.bincount(label[label >= 0].ravel(), minlength=len(stacked))
    label[(label >= 0) & (counts[np.maximum(label, 0)] < min_pixels)] = -1
    return label


def test_bit_packed_masks_paint_as_the_unpacked_ones():
    from partverse.segment.sam2_masks import paint_packed

    rng = np.random.default_rng(4)
    h, w = 37, 45  # a width that is no multiple of 8
    blobs = rng.random((60, h, w)) < rng.random((60, 1, 1)) * 0.3
    blobs[10] = blobs[11]  # equal areas: the earlier mask is painted first
    blobs[20] = False  # an empty mask
    for masks in (blobs, blobs[:1], blobs[:0]):
        for min_pixels in (0, 30):
            packed, pixels = np.packbits(masks, axis=-1), masks.sum(axis=(1, 2))
            np.testing.assert_array_equal(paint_packed(packed, pixels, w, min_pixels), _painted_by_argmax(masks, min_pixels))
            np.testing.assert_array_equal(paint_masks(masks, min_pixels), _painted_by_argmax(masks, min_pixels))


# --- SAM-2 input modalities ------------------------------------------------------------------

def test_every_modality_renders_view_sized_images_over_valid_face_ids():
    mesh = load(shared("assets", "kenney_truck_green.glb"))  # textured: the shaded images carry colour
    views = render_modalities(mesh, MODALITIES, resolution=48)
    assert views.face_ids.shape == (12, 48, 48) and views.face_ids.dtype == np.int64
    assert views.face_ids.min() == -1 and views.face_ids.max() < mesh.num_faces
    hit = views.face_ids >= 0
    for name in MODALITIES:
        image = views.images[name]
        assert image.shape == (12, 48, 48, 3) and image.dtype == np.uint8
        assert not image[~hit].any(), f"{name}: background must be black"
        assert (image[hit].max(axis=-1) > 0).mean() > 0.95, f"{name}: the object must be visible"
    # sdf: one colour per face within a view, and the view's whole colour range is used
    sdf, ids = views.images["sdf"][0], views.face_ids[0]
    face, first = np.unique(ids[ids >= 0], return_index=True)
    colour_of_face = sdf[ids >= 0][first]
    assert (sdf[ids >= 0] == colour_of_face[np.searchsorted(face, ids[ids >= 0])]).all()
    assert len(np.unique(sdf[ids >= 0].reshape(-1, 3), axis=0)) > 3
    # shaded: the truck's green texture shows (normal maps and jet colours would not be this green)
    shaded = views.images["shaded"][hit].astype(int)
    assert ((shaded[:, 1] > shaded[:, 0] + 20) & (shaded[:, 1] > shaded[:, 2] + 20)).mean() > 0.1


def test_sdf_images_do_not_depend_on_where_the_mesh_sits_or_its_size():
    import dataclasses

    from partverse.segment.facegraph import build_face_graph

    mesh = load(shared("psb", "off", "1.off"))
    moved = dataclasses.replace(mesh, vertices=mesh.vertices * 10.0 + np.array([5.0, 0.0, 0.0]))
    reference = render_modalities(mesh, ("sdf",), resolution=48).images["sdf"]  # graph built inside
    hit = reference.max(axis=-1) > 0
    assert len(np.unique(reference[hit], axis=0)) > 50  # a real thickness map, not one flat colour
    for m in (mesh, moved):  # as `run_samesh` calls it: the face graph of the mesh in its own frame
        sdf = render_modalities(m, ("sdf",), resolution=48, graph=build_face_graph(m.vertices, m.faces)).images["sdf"]
        assert (np.abs(sdf.astype(int) - reference).max(axis=-1)[hit] <= 1).mean() > 0.99  # colour rounding


def test_modalities_are_checked_and_parsed():
    assert check_modalities("normals, shaded") == ("normals", "shaded")
    for bad in ("depth", (), ("sdf", "sdf")):
        with pytest.raises(ConfigError, match="must be one or more distinct of normals, sdf, shaded"):
            check_modalities(bad)


def test_jet_runs_blue_to_red():
    colours = jet(np.array([0.0, 0.5, 1.0, 7.0]))
    assert colours[0].argmax() == 2 and colours[2].argmax() == 0 and (colours[3] == colours[2]).all()
    assert colours[1][1] == 255


# --- lifting exactness on shared multi-part assets, with and without the graph cut ---------------

def _artist_part_masks(mesh, resolution):
    """The 12 views, SAM-2 stand-in masks (the artist part of each pixel, numbered differently in
    every view), the mesh graph and the true pieces (connected pieces of the artist parts)."""
    views = render_modalities(mesh, ("normals",), resolution=resolution)
    part = mesh.face_artist_part.astype(np.int64)
    shuffle = np.stack([np.random.default_rng(v).permutation(len(mesh.artist_parts)) for v in range(12)])
    masks = np.where(views.face_ids >= 0, shuffle[np.arange(12)[:, None, None], part[np.maximum(views.face_ids, 0)]], -1)
    pairs, areas = mesh_graph(mesh)
    pieces = connected_face_components(mesh.num_faces, pairs, part[pairs[:, 0]] == part[pairs[:, 1]])
    return views, masks, pairs, areas, pieces


@pytest.mark.parametrize("asset", ["kenney_platformer_character.glb"])
@pytest.mark.parametrize("graph_cut", [False, True])
def test_masks_of_artist_parts_lift_back_to_the_parts_exactly(asset, graph_cut):
    mesh = load(shared("assets", asset))
    views, masks, pairs, areas, pieces = _artist_part_masks(mesh, 192)
    config = LiftConfig(min_face_pixels=1, graph_cut=graph_cut)
    labels = lift_masks(views.face_ids, masks, pairs, areas, config, graph=build_face_graph(mesh.vertices, mesh.faces))
    assert len(np.unique(labels)) == pieces.max() + 1
    assert metrics.rand_index_error(labels, pieces) == 0.0


def test_a_large_part_seen_from_every_side_is_not_cut_into_patchwork():
    # the truck's body: two views share 0.25-0.63 of the smaller mask's faces; at link_ratio 0.5
    # its masks fell into four clusters and the 18 pieces came back as 36 segments
    mesh = load(shared("assets", "kenney_truck_green.glb"))
    views, masks, pairs, areas, pieces = _artist_part_masks(mesh, 256)
    seconds = {}
    labels = lift_masks(views.face_ids, masks, pairs, areas, SAMESH_LIFT, graph=build_face_graph(mesh.vertices, mesh.faces),
                        seconds=seconds)
    assert set(seconds) == {"votes_links_clusters", "smooth", "graph_cut", "relabel"} and seconds["graph_cut"] > 0
    assert len(np.unique(labels)) == pieces.max() + 1  # 36 for 18 at link_ratio 0.5, 25 at 0.4 without joins
    assert metrics.rand_index_error(labels, pieces) == 0.0
    # one mask over the whole object in every view: its connected pieces (32 segments before)
    whole = lift_masks(views.face_ids, np.where(views.face_ids >= 0, 0, -1), pairs, areas, SAMESH_LIFT,
                       graph=build_face_graph(mesh.vertices, mesh.faces))
    components = connected_face_components(mesh.num_faces, pairs, np.ones(len(pairs), bool))
    assert metrics.rand_index_error(whole, components) == 0.0


def test_masks_link_on_min_shared_faces_or_all_of_the_smaller_one():
    def clusters(first, second, faces, min_shared):
        """Two views of a strip of faces, one mask each over the faces given."""
        face = np.arange(faces)
        ids = np.stack([np.where(np.isin(face, first), face, -1), np.where(np.isin(face, second), face, -1)])[:, None, :]
        votes, mask_view = view_votes(ids, np.where(ids >= 0, 0, -1), faces, 1)
        return link_masks(votes, mask_view, LiftConfig(min_shared_faces=min_shared, link_ratio=0.5))

    # 2-face masks sharing one face: half of each, but neither all of one nor min_shared_faces
    assert len(set(clusters([0, 1], [1, 2], 3, 8))) == 2
    assert len(set(clusters([0, 1], [1, 2], 3, 1))) == 1
    assert len(set(clusters([0, 1], [0, 1, 2], 3, 8))) == 1  # all of the smaller one: linked
    # 20-face masks sharing 10 faces: half of the smaller one; linked on 8 shared faces, not 12
    assert len(set(clusters(range(20), range(10, 30), 30, 8))) == 1
    assert len(set(clusters(range(20), range(10, 30), 30, 12))) == 2


def test_clusters_never_seen_together_join_most_shared_first():
    import scipy.sparse as sp

    from partverse.segment.lift import join_unseen_together

    # masks (columns): a in view 0 over faces 0-3; b in view 1 over faces 2-5; c in view 1 over 0-1
    member = {0: [0, 1, 2, 3], 1: [2, 3, 4, 5], 2: [0, 1]}
    rows = np.concatenate(list(member.values()))
    cols = np.repeat(list(member), [len(f) for f in member.values()])
    votes = sp.csr_matrix((np.full(len(rows), 5.0), (rows, cols)), shape=(6, 3))
    mask_view = np.array([0, 1, 1])
    # a-c share all of c (1.0), a-b half of each (0.5); b and c are seen together in view 1: once a
    # and c are one, b cannot join them
    np.testing.assert_array_equal(join_unseen_together(np.array([0, 1, 2]), mask_view, votes, 0.2), [0, 1, 0])
    np.testing.assert_array_equal(join_unseen_together(np.array([0, 1, -1]), mask_view, votes, 0.2), [0, 0, -1])
    np.testing.assert_array_equal(join_unseen_together(np.array([0, 1, -1]), mask_view, votes, 0.6), [0, 1, -1])
    assert LiftConfig(join_ratio=None).join_ratio is None
    with pytest.raises(ConfigError, match="join_ratio = 2"):
        LiftConfig(join_ratio=2)


def test_graph_cut_needs_the_face_graph():
    mesh = _boxes()
    ids = np.zeros((1, 2, 2), np.int64)
    pairs, areas = mesh_graph(mesh)
    with pytest.raises(PartverseError, match="graph_cut needs the"):
        lift_masks(ids, ids, pairs, areas, LiftConfig(graph_cut=True))
    with pytest.raises(ConfigError, match="smoothness = -1"):
        LiftConfig(smoothness=-1)


# --- the alpha-expansion graph cut ----------------------------------------------------------

def _energy_by_enumeration(candidates, pairs, weights, num_labels):
    return min(potts_energy(candidates, pairs, weights, np.array(c)) for c in itertools.product(range(num_labels), repeat=candidates.num_faces))


def _solvers():
    solvers = [_min_cut_scipy]
    try:
        import maxflow

        solvers.append(lambda *args: _min_cut_maxflow(maxflow, *args))
    except ImportError:  # PyMaxflow is optional: scipy's max flow is the fallback
        pass
    return solvers


def test_min_cut_is_exact_with_every_available_solver():
    for solver in _solvers():
        rng = np.random.default_rng(0)
        for _ in range(60):
            n = int(rng.integers(1, 7))
            lin, head, tail = rng.normal(size=n), rng.integers(0, n, 8), rng.integers(0, n, 8)
            cap = rng.random(8)
            x = solver(n, lin, head, tail, cap)
            value = lambda x: lin @ x + (cap * (1 - x[head]) * x[tail]).sum()  # noqa: E731
            best = min(value(np.array(b, float)) for b in itertools.product([0, 1], repeat=n))
            assert value(x.astype(float)) <= best + 1e-3


def test_pair_incidence_lists_each_faces_pairs_in_order():
    from partverse.segment.graphcut_kernels import incidence

    rng = np.random.default_rng(1)
    pairs = rng.integers(0, 50, (300, 2))
    indptr, indices = incidence(50, pairs[:, 0].copy(), pairs[:, 1].copy())
    for f in range(50):
        touching = np.flatnonzero((pairs[:, 0] == f) | (pairs[:, 1] == f))
        both = np.flatnonzero((pairs[:, 0] == f) & (pairs[:, 1] == f))  # a loop is listed twice
        assert np.array_equal(indices[indptr[f]:indptr[f + 1]], np.sort(np.r_[touching, both]))


@pytest.mark.parametrize("batched", [False, True])
def test_alpha_expansion_is_within_twice_the_optimum(batched):
    """Converged, no expansion move lowers the energy, which bounds it by twice the optimum
    (Boykov et al.); batched moves (one max flow per colour of labels) converge the same way."""
    rng = np.random.default_rng(0)
    for _ in range(40):
        faces, k = int(rng.integers(2, 6)), 3
        start = rng.integers(0, k, faces)
        face, label = np.repeat(np.arange(faces), k), np.tile(np.arange(k), faces)
        keep = (rng.random(len(face)) < 0.7) | (label == start[face])
        candidates = Candidates.build(face[keep], label[keep], 2 * rng.random(keep.sum()), faces)
        pairs = np.array([(i, j) for i in range(faces) for j in range(i + 1, faces) if rng.random() < 0.6]).reshape(-1, 2)
        weights = rng.random(len(pairs))
        out = alpha_expansion(candidates, pairs, weights, start, batched=batched)
        assert np.isfinite(candidates.cost_of(out)).all()
        energy = potts_energy(candidates, pairs, weights, out)
        assert energy <= potts_energy(candidates, pairs, weights, start)
        assert energy <= 2 * _energy_by_enumeration(candidates, pairs, weights, k) + 1e-9


@pytest.mark.parametrize("batched", [False, True])
def test_graph_cut_on_a_psb_model_lowers_the_energy_within_the_candidates(batched):
    mesh = load(shared("psb", "off", "341.off"))
    truth = read_seg(shared("psb", "seg", "341", "341_0.seg"), mesh.num_faces).astype(np.int64)
    graph = build_face_graph(mesh.vertices, mesh.faces)
    rng = np.random.default_rng(3)
    # noisy start: a tenth of the faces take a neighbour's label; votes favour the truth
    noisy = truth.copy()
    flip = rng.random(len(graph.pairs)) < 0.1
    noisy[graph.pairs[flip, 0]] = truth[graph.pairs[flip, 1]]
    face = np.r_[np.arange(mesh.num_faces), np.arange(mesh.num_faces), graph.pairs[:, 0], graph.pairs[:, 1]]
    label = np.r_[truth, noisy, noisy[graph.pairs[:, 1]], noisy[graph.pairs[:, 0]]]
    cost = np.r_[np.full(mesh.num_faces, 0.2), np.full(mesh.num_faces, 0.6), np.full(2 * len(graph.pairs), 1.5)]
    candidates = Candidates.build(face, label, cost, mesh.num_faces)
    weights = crease_weights(graph, 1.0)
    out = alpha_expansion(candidates, graph.pairs, weights, noisy, batched=batched)
    assert potts_energy(candidates, graph.pairs, weights, out) < potts_energy(candidates, graph.pairs, weights, noisy)
    assert np.isfinite(candidates.cost_of(out)).all() and set(np.unique(out)) <= set(np.unique(label))
    assert metrics.rand_index_error(out, truth) < metrics.rand_index_error(noisy, truth)
    assert np.array_equal(out, alpha_expansion(candidates, graph.pairs, weights, noisy, batched=batched))
    with pytest.raises(PartverseError, match="outside the faces' candidate sets"):
        alpha_expansion(candidates, graph.pairs, weights, np.full(mesh.num_faces, 10**6))


# --- bad meshes ------------------------------------------------------------------------------

def test_zero_area_faces_and_dust_are_labelled_and_an_empty_mesh_is_refused():
    boxes = _boxes()
    rng = np.random.default_rng(0)
    dust = rng.random((30, 3)) * 0.01 + 1.5  # 10 tiny triangles far from everything
    degenerate = np.array([[0, 0, 1], [2, 2, 2], [3, 4, 3]])  # zero area: never hit by a ray
    vertices = np.vstack([boxes.vertices, dust])
    faces = np.vstack([boxes.faces, len(boxes.vertices) + np.arange(30).reshape(10, 3), degenerate])
    part = np.r_[boxes.face_artist_part, np.full(13, 3)].astype(np.int32)
    mesh = Mesh(vertices, faces, part, np.full(len(faces), -1, np.int32), boxes.artist_parts)
    views = render_modalities(mesh, MODALITIES, resolution=96)
    assert views.face_ids.max() < mesh.num_faces and not np.isin(np.arange(len(faces) - 3, len(faces)), views.face_ids).any()
    masks = np.where(views.face_ids >= 0, part.astype(np.int64)[np.maximum(views.face_ids, 0)], -1)
    pairs, areas = mesh_graph(mesh)
    for graph_cut in (False, True):
        labels = lift_masks(views.face_ids, masks, pairs, areas, LiftConfig(graph_cut=graph_cut),
                            graph=build_face_graph(mesh.vertices, mesh.faces))
        assert labels.shape == (len(faces),) and labels.min() == 0
        assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1))
    empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32), [])
    with pytest.raises(PartverseError, match="no faces|empty"):
        render_modalities(empty, ("normals",), resolution=16)
