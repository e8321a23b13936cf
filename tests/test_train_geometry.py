"""Occupancy labels (closed and open meshes), marching cubes, metrics."""
from __future__ import annotations

import numpy as np
import trimesh

from partverse.train.mesh import grid_points, marching_cubes
from partverse.train.metrics import box_fit, chamfer, fscore, iou, surface_metrics
from partverse.train.occupancy import box_surface, occupancy, sample_surface, winding_number


def test_winding_number_sphere_and_open_hemisphere():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    q = np.random.default_rng(0).uniform(-1.3, 1.3, (500, 3))
    truth = np.linalg.norm(q, axis=1) < 0.98
    far = np.abs(np.linalg.norm(q, axis=1) - 1) > 0.05
    w = winding_number(sphere.vertices, sphere.faces, q)
    assert np.array_equal((np.abs(w) >= 0.5)[far], truth[far])
    # remove the top cap: the sphere is now open but the winding number still says "inside" near the bottom
    centres = sphere.triangles_center
    opened = sphere.faces[centres[:, 2] < 0.8]
    inner = np.array([[0, 0, -0.5], [0, 0, 0.0], [0.3, 0.0, -0.2]])
    assert np.all(np.abs(winding_number(sphere.vertices, opened, inner)) >= 0.5)


def test_occupancy_open_mesh_policy_matches_closed_answer():
    box = trimesh.creation.box(extents=[1, 1, 1])
    rng = np.random.default_rng(1)
    q = rng.uniform(-0.8, 0.8, (3000, 3))
    truth = np.all(np.abs(q) < 0.5, axis=1)
    surf, _ = sample_surface(box.vertices, box.faces, 4000, rng)
    margin = np.abs(np.abs(q).max(1) - 0.5) > 0.03
    closed = occupancy(box.vertices, box.faces, q, surf, thickness=0.0)
    assert np.array_equal(closed[margin], truth[margin])
    top = box.faces[box.triangles_center[:, 2] < 0.49]  # drop the lid: open box
    opened = occupancy(box.vertices, top, q, surf, thickness=0.0)
    assert (opened[margin] == truth[margin]).mean() > 0.97
    # a flat sheet has no volume: the thickness shell makes it occupied near the surface
    sheet_v = np.array([[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0]], float)
    sheet_f = np.array([[0, 1, 2], [0, 2, 3]])
    sheet_s, _ = sample_surface(sheet_v, sheet_f, 4000, rng)
    near = np.array([[0.1, 0.1, 0.005], [0.0, 0.0, 0.2]])
    assert occupancy(sheet_v, sheet_f, near, sheet_s, thickness=0.02).tolist() == [True, False]


def test_box_surface_points_lie_on_faces():
    pts, nrm = box_surface(np.array([-0.2, 0.0, 0.1]), np.array([0.4, 0.3, 0.5]), 2000, np.random.default_rng(0))
    lo, hi = np.array([-0.2, 0.0, 0.1]), np.array([0.4, 0.3, 0.5])
    on_face = np.isclose(pts, lo, atol=1e-6) | np.isclose(pts, hi, atol=1e-6)
    assert on_face.any(axis=1).all() and np.all((pts >= lo - 1e-6) & (pts <= hi + 1e-6))
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1)


def test_marching_cubes_of_sphere_logits_and_metrics():
    r = 48
    pts = grid_points(r)
    logits = (0.6 - np.linalg.norm(pts, axis=1)).reshape(r, r, r)
    v, f = marching_cubes(logits)
    assert len(f) > 100
    radii = np.linalg.norm(v, axis=1)
    assert np.allclose(radii, 0.6, atol=0.02)
    mesh = trimesh.Trimesh(v, f)
    assert mesh.is_watertight and mesh.volume > 0  # outward winding
    ref = trimesh.creation.icosphere(subdivisions=4, radius=0.6).sample(30000)
    got = mesh.sample(30000)
    m = surface_metrics(got, ref)
    assert m["fscore_0.02"] > 0.95 and m["chamfer_l1"] < 0.01 and m["fscore_0.1"] == 1.0
    assert marching_cubes(np.full((8, 8, 8), -1.0))[1].shape == (0, 3)


def test_metric_edge_cases():
    a = np.random.default_rng(0).random((100, 3))
    assert chamfer(a, a)["chamfer_l2"] == 0 and fscore(a, a, 0.02) == 1.0
    assert fscore(a, a + 1.0, 0.1) == 0.0 and chamfer(a, np.zeros((0, 3)))["chamfer_l1"] == float("inf")
    g1 = np.zeros((4, 4, 4), bool)
    g1[:2] = True
    g2 = np.zeros_like(g1)
    g2[1:3] = True
    assert iou(g1, g2) == 1 / 3 and iou(np.zeros_like(g1), np.zeros_like(g1)) == 1.0
    assert box_fit(np.array([[0, 0, 0], [2, 2, 2]]), np.array([-1, -1, -1]), np.array([1, 1, 1])) == 0.5


def test_thickness_shell_is_measured_on_the_mesh_not_on_sparse_samples():
    # an open square sheet: its only "inside" is the thickness shell; few stored samples must not matter
    sheet_v = np.array([[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0]], float)
    sheet_f = np.array([[0, 1, 2], [0, 2, 3]])
    rng = np.random.default_rng(3)
    q = np.c_[rng.uniform(-0.45, 0.45, (2000, 2)), rng.uniform(-0.03, 0.03, 2000)]
    inside = occupancy(sheet_v, sheet_f, q, None, thickness=0.02)
    truth = np.abs(q[:, 2]) < 0.02
    sparse = occupancy(sheet_v, sheet_f, q, sample_surface(sheet_v, sheet_f, 4096, rng)[0], thickness=0.02)
    print("agreement dense", (inside == truth).mean(), "4096 samples", (sparse == truth).mean())
    assert (inside == truth).mean() > 0.97 > (sparse == truth).mean()


def test_free_space_queries_are_labelled_outside_the_part_box():
    from partverse.train.batches import part_labels, vae_batch
    from partverse.train.data import synthetic_objects

    parts = synthetic_objects(1, 0, max_parts=2)[0].parts
    labels = part_labels(parts, 512, 0.01, 0.0, seed=0)  # closed primitives: no thickness shell needed
    b = vae_batch(labels, 3, 0, 4, 64, 32, 32, (8, 4), free=256)
    assert b["queries"].shape == (4, 32 + 256 + 32, 3) and b["near_mask"][:, :288].sum() == 0
    rng = np.random.default_rng([0, 3, 1])
    idx = rng.integers(len(parts), size=4)
    for row, k in enumerate(idx):  # every label, free ones included, is the part's true occupancy
        part = parts[k]
        want = occupancy(part.vertices, part.faces, b["queries"][row], None, 0.0)
        assert (want == (b["occ"][row] > 0.5)).mean() > 0.99
    # the free queries reach all of [-1, 1]^3, far beyond the precomputed set
    free = b["queries"][:, 32:288]
    assert free.min() < -0.9 and free.max() > 0.9


def test_a_prediction_without_surface_is_counted_not_averaged_as_infinity():
    import json

    from partverse.train.evaluate import _score, _summarise
    from partverse.train.data import part_from_mesh

    box = trimesh.creation.box(extents=(1, 1, 1))
    part = part_from_mesh(box.vertices, box.faces, np.random.default_rng(0))
    grid = np.zeros((16, 16, 16), bool)
    grid[4:12, 4:12, 4:12] = True
    decoded = marching_cubes(grid.astype(np.float32) - 0.5)
    empty = (np.zeros((0, 3)), np.zeros((0, 3), np.int64))  # nothing decoded inside this part's box
    rows = [_score(np.stack([grid, np.zeros_like(grid)]), [decoded, empty], [part, part], 16, 0.01)]
    report = _summarise(rows, ["a"])
    first = rows[0]["parts"][0]
    assert report["empty_parts"] == 1 and report["num_parts"] == 2 and report["empty_objects"] == 0
    assert report["part_mean"]["chamfer_l2"] == first["chamfer_l2"]  # the one prediction that has a surface
    assert report["part_mean"]["fscore_0.1"] == first["fscore_0.1"] / 2  # the empty one scores 0 there
    assert report["objects"][0]["parts"][1]["chamfer_l2"] is None
    json.dumps(report, allow_nan=False)  # strict JSON
