"""Face-id renders: ids in range, hits land on their pixel, agree with trimesh's own ray caster."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from partverse.io import load
from partverse.render.cameras import Camera, icosahedron_views, orbit_views
from partverse.render.faceid import RayScene, normals_to_rgb, render_face_ids, render_normals
from tests.conftest import shared


def _unit(v: np.ndarray) -> np.ndarray:
    c = (v.min(0) + v.max(0)) / 2
    return (v - c) / np.abs(v - c).max()


@pytest.fixture(scope="module")
def truck():
    m = load(shared("assets", "kenney_truck_green.glb"))
    return _unit(m.vertices), m.faces


def test_icosahedron_views_are_12_distinct_cameras_at_radius():
    cams = icosahedron_views(2.0, resolution=32)
    pos = np.array([c.position for c in cams])
    assert len(cams) == 12
    np.testing.assert_allclose(np.linalg.norm(pos, axis=1), 2.0)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    assert np.sort(d, axis=1)[:, 1].min() > 1.0  # all distinct, evenly spread


def test_project_maps_pixel_centre_rays_back_to_their_pixels():
    cam = Camera((0.3, 1.0, 2.0), (0.1, 0.0, 0.0), fov_deg=45, width=40, height=30)
    o, d = cam.rays()
    xy, depth = cam.project(o + 3.0 * d)
    rows, cols = np.divmod(np.arange(40 * 30), 40)
    np.testing.assert_allclose(xy, np.stack([cols + 0.5, rows + 0.5], 1), atol=1e-9)
    assert (depth > 0).all()


def test_face_ids_in_range_and_hits_reproject_to_their_pixel(truck):
    v, f = truck
    scene = RayScene(v, f)
    for cam in icosahedron_views(2.0, resolution=96)[:4]:
        r = scene.render(cam)
        assert r.face_id.dtype == np.int64 and r.face_id.shape == (96, 96)
        assert r.face_id.min() >= -1 and r.face_id.max() < len(f)
        hit = r.face_id >= 0
        assert 0.05 < hit.mean() < 0.95
        assert np.isinf(r.depth[~hit]).all() and (r.barycentric[~hit] == 0).all()
        rc = np.argwhere(hit)
        b = r.barycentric[hit].astype(np.float64)
        assert (b > -1e-4).all()
        np.testing.assert_allclose(b.sum(1), 1.0, atol=1e-5)
        p = np.einsum("pk,pkc->pc", b, v[f[r.face_id[hit]]])
        xy, depth = cam.project(p)
        np.testing.assert_allclose(xy, rc[:, ::-1] + 0.5, atol=2e-3)
        np.testing.assert_allclose(depth, r.depth[hit], rtol=1e-4, atol=1e-4)


def test_face_ids_agree_with_trimesh_triangle_ray_caster(truck):
    v, f = truck
    cam = orbit_views(1, radius=2.5, resolution=48)[0]
    r = render_face_ids(v, f, cam)
    o, d = cam.rays()
    ref = trimesh.ray.ray_triangle.RayMeshIntersector(trimesh.Trimesh(v, f, process=False))
    ref_ids = ref.intersects_first(o, d)
    ours = r.face_id.ravel()
    assert ((ours >= 0) == (ref_ids >= 0)).mean() > 0.995  # silhouettes agree but for edge grazes
    both = (ours >= 0) & (ref_ids >= 0)
    same = ours[both] == ref_ids[both]  # differences are ties on shared edges / coplanar faces
    assert same.mean() > 0.98


def test_normals_are_unit_and_face_the_camera(truck):
    v, f = truck
    cam = icosahedron_views(2.0, resolution=64)[3]
    for smooth in (False, True):
        n = render_normals(v, f, cam, smooth=smooth)
        hit = np.any(n != 0, axis=-1)
        np.testing.assert_allclose(np.linalg.norm(n[hit], axis=1), 1.0, atol=1e-5)
        _, d = cam.rays()
        if not smooth:
            assert (np.einsum("pc,pc->p", n[hit], d.reshape(64, 64, 3)[hit]) <= 1e-6).all()
    rgb = normals_to_rgb(n)
    assert rgb.dtype == np.uint8 and (rgb[~hit] == 0).all()


def test_bad_inputs_raise_clear_errors():
    from partverse.errors import PartverseError

    with pytest.raises(PartverseError, match="face indices outside"):
        RayScene(np.zeros((3, 3)), np.array([[0, 1, 5]]))
    with pytest.raises(PartverseError, match="no faces"):
        RayScene(np.zeros((3, 3)), np.zeros((0, 3), dtype=np.int64))


def test_fit_distance_frames_the_box_in_every_view():
    from partverse.render.cameras import at_distance, fit_distance

    lo, hi = np.array([-3.0, 0.0, -1.0]), np.array([3.0, 4.5, 1.5])
    ring = orbit_views(6, 1.0, 25.0, 40.0, 64, tuple((lo + hi) / 2))
    cams = at_distance(ring, fit_distance(ring, lo, hi, margin=1.0))
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    edge = 0.0
    for cam in cams:
        xy, depth = cam.project(corners)
        assert (depth > 0).all() and (xy >= -1e-6).all() and (xy <= 64 + 1e-6).all()
        edge = max(edge, float(np.max(np.minimum(xy, 64 - xy) < 1e-3)))
    assert edge == 1.0  # tight: some corner touches the image border in some view


@pytest.mark.parametrize("name", ["quat_bed_bunk.glb", "objaverse_0c3ca2b32545416f8f1e6f0e87def1a6.glb"])
def test_native_embree_scene_casts_exactly_what_embreex_casts(name, monkeypatch):
    """The C-API scene (one device, shared buffers, numba cast loop) against embreex's own scene
    on the same library: the same face, barycentrics and distance for every ray, including the
    inward rays from face centroids that graze shared edges (robust flag on both)."""
    from partverse.render import embree_native

    m = load(shared("assets", name))
    v, f = m.vertices, m.faces
    assert embree_native.library_path() is not None  # the render extra's wheel bundles libembree4
    native = RayScene(v, f)
    assert native._native is not None
    monkeypatch.setattr(embree_native, "library_path", lambda: None)
    fallback = RayScene(v, f)
    assert fallback._native is None
    tri = v[f]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-30)
    origins = tri.mean(axis=1) - normal * 1e-5 * np.linalg.norm(v.max(0) - v.min(0))
    for o, d in [(origins, -normal), orbit_views(1, radius=2.5 * np.abs(v).max(), resolution=64)[0].rays()]:
        a, b = native.cast(o, d), fallback.cast(o, d)
        assert (a[0] >= 0).mean() > 0.2  # a real share of the rays hit something
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_native_scenes_are_independent_and_outlive_their_inputs():
    """Scenes share one device; each keeps its own copy of the buffers embree reads."""
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
    f = np.array([[0, 1, 2]])
    first = RayScene(v.copy(), f.copy())
    second = RayScene(v + [0, 0, 5], f)
    o, d = np.array([[0.2, 0.2, -1.0]]), np.array([[0.0, 0.0, 1.0]])
    del v, f
    import gc

    gc.collect()
    assert first.cast(o, d)[0][0] == 0 and second.cast(o, d)[0][0] == 0
    np.testing.assert_allclose(first.cast(o, d)[2], [1.0], rtol=1e-6)
    np.testing.assert_allclose(second.cast(o, d)[2], [6.0], rtol=1e-6)


def test_a_forked_child_builds_and_casts_on_its_own_device(monkeypatch):
    """The device and the cast threads are per process: a child forked after the parent cast rays
    on several threads makes its own (the parent's embree and cast threads do not exist in the
    child) and gets the same hits."""
    import multiprocessing

    from partverse.render import embree_native

    monkeypatch.setattr(embree_native, "_cores", lambda: 3)  # threads even on a one-core machine
    monkeypatch.setattr(embree_native, "PARALLEL_RAYS", 1000)
    m = load(shared("assets", "objaverse_002e462c8bfa4267a9c9f038c7966f3b.glb"))  # 30k faces: parallel build
    v, f = m.vertices, m.faces
    o, d = orbit_views(1, radius=2.5 * np.abs(v).max(), resolution=64)[0].rays()  # 4096 rays: 3 threads
    expected = RayScene(v, f).cast(o, d)[0]
    assert (expected >= 0).any() and embree_native._state["pool"] is not None
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        hits = pool.apply_async(_cast_in_child, (v, f, o, d)).get(timeout=60)
    np.testing.assert_array_equal(hits, expected)


def test_casts_split_over_threads_give_the_same_hits(monkeypatch):
    """A batch cast on several threads (each its own slice of the rays) equals the one-thread cast."""
    from partverse.render import embree_native

    m = load(shared("assets", "quat_barracks.glb"))
    scene = RayScene(m.vertices, m.faces)
    o, d = orbit_views(2, radius=2.5 * np.abs(m.vertices).max(), resolution=48)[1].rays()
    monkeypatch.setattr(embree_native, "PARALLEL_RAYS", 10**9)
    serial = scene.cast(o, d)
    monkeypatch.setattr(embree_native, "_cores", lambda: 5)
    monkeypatch.setattr(embree_native, "PARALLEL_RAYS", 97)  # uneven slices
    threaded = scene.cast(o, d)
    assert (serial[0] >= 0).sum() > 100
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


def _cast_in_child(v, f, o, d):
    return RayScene(v, f).cast(o, d)[0]
