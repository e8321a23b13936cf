"""Lifting 2D masks to faces, checked exactly where the answer is known."""
import numpy as np
import pytest

from partverse.errors import PartverseError
from partverse.records import ArtistPart, Mesh
from partverse.segment import metrics
from partverse.segment.lift import LiftConfig, lift_masks, view_votes
from partverse.segment.sam2_masks import paint_masks
from partverse.segment.samesh import mesh_graph, render_views


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


def test_face_ids_outside_the_mesh_are_refused():
    ids = np.array([[[0, 1], [5, -1]]])
    with pytest.raises(PartverseError, match=r"outside \[-1, 3\) for a 3-face mesh"):
        view_votes(ids, np.zeros_like(ids), 3, 1)


def test_small_masks_win_over_large_ones():
    big = np.ones((4, 4), bool)
    small = np.zeros((4, 4), bool)
    small[:2, :2] = True
    label = paint_masks(np.stack([small, big]))
    assert (label[:2, :2] == label[0, 0]).all() and label[0, 0] != label[3, 3]
    assert paint_masks(np.stack([small, big]), min_pixels=5)[0, 0] == -1
