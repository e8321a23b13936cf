"""Normalization, stats, filters, artist-prior segmentation and textured part export on real assets."""
from __future__ import annotations

import json
import numpy as np
import pytest
import trimesh

from partverse.errors import ConfigError
from partverse.geometry.filters import FilterConfig, check_filters
from partverse.geometry.normalize import HALF_EXTENT, normalize, to_file_frame
from partverse.geometry.parts import export_parts, mesh_to_glb
from partverse.geometry.sampling import sample_surface
from partverse.geometry.stats import mesh_stats
from partverse.io import load
from partverse.records import ArtistPart, Mesh
from partverse.segment import METHODS, segment
from partverse.segment.artist import artist_segmentation
from tests.conftest import shared


def triangles(mesh: Mesh) -> np.ndarray:
    """(F, 9) corner coordinates, rows sorted: an order-free fingerprint of a triangle soup."""
    tri = np.round(mesh.vertices[mesh.faces].reshape(-1, 9), 5)
    return tri[np.lexsort(tri.T[::-1])]


def test_normalize_is_unit_cube_and_reversible():
    mesh = load(shared("assets", "khronos_cesium_milk_truck.glb"))
    norm = normalize(mesh)
    lo, hi = norm.vertices.min(0), norm.vertices.max(0)
    assert np.isclose((hi - lo).max(), 2 * HALF_EXTENT)
    assert np.allclose((hi + lo) / 2, 0, atol=1e-9)
    assert np.allclose(to_file_frame(norm, norm.vertices), mesh.vertices, atol=1e-9)
    assert np.array_equal(norm.faces, mesh.faces) and mesh.vertices is not norm.vertices


def test_stats_and_filters():
    mesh = load(shared("assets", "kaykit_chest_gold.glb"))
    stats = mesh_stats(mesh)
    assert stats["faces"] == 1568 and stats["artist_parts"] == 2 and stats["textured"]
    assert stats["area"] > 0 and stats["components"] >= 2
    assert check_filters(stats) is None
    assert check_filters(stats, FilterConfig(max_faces=1000)) == "too many faces: 1568 > 1000"
    assert check_filters(stats, FilterConfig(min_artist_parts=3)).startswith("too few artist parts")
    untextured = mesh_stats(load(shared("assets", "quat_bed_bunk.glb")))
    assert check_filters(untextured, FilterConfig(require_texture=True)).startswith("no texture")
    with pytest.raises(ConfigError, match="max_faces = -3"):
        FilterConfig(max_faces=-3)
    with pytest.raises(ConfigError, match="unknown field"):
        FilterConfig.from_dict({"max_face": 3})


def test_stats_count_non_manifold_and_degenerate():
    box = trimesh.creation.box()
    faces = np.vstack([box.faces, box.faces[:1], [[0, 0, 1]]])  # a doubled face and a degenerate one
    mesh = Mesh(vertices=np.asarray(box.vertices, float), faces=faces, face_artist_part=np.zeros(len(faces), np.int32),
                face_material=np.full(len(faces), -1, np.int32), artist_parts=[ArtistPart("box", "whole")])
    stats = mesh_stats(mesh)
    assert stats["degenerate_faces"] == 1 and stats["non_manifold_edges"] == 3 and stats["components"] == 1


def test_sampling_is_seeded_and_area_weighted():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 5], [3, 0, 5], [0, 3, 5]], float)
    f = np.array([[0, 1, 2], [3, 4, 5]])
    p1, n1, idx = sample_surface(v, f, 20000, seed=3)
    p2, _, _ = sample_surface(v, f, 20000, seed=3)
    assert np.array_equal(p1, p2) and p1.dtype == np.float32
    assert abs((idx == 1).mean() - 0.9) < 0.02  # the second triangle has 9x the area
    assert np.allclose(np.abs(n1[:, 2]), 1.0)
    assert (p1[idx == 0, :2].sum(1) <= 1 + 1e-6).all()


def test_weld_keeps_unwelded_part_whole():
    """A box stored as 12 separate triangles is one segment, not 12."""
    box = trimesh.creation.box()
    soup = box.vertices[box.faces].reshape(-1, 3)
    mesh = Mesh(vertices=soup, faces=np.arange(36).reshape(12, 3), face_artist_part=np.zeros(12, np.int32),
                face_material=np.full(12, -1, np.int32), artist_parts=[ArtistPart("box", "whole")])
    assert np.array_equal(artist_segmentation(mesh), np.zeros(12, np.int32))


def test_artist_segmentation_refines_artist_parts():
    mesh = load(shared("assets", "kenney_truck_green.glb"))
    labels = segment(mesh, "artist")
    assert labels.dtype == np.int32 and labels.shape == (mesh.num_faces,)
    k = labels.max() + 1
    assert set(np.unique(labels)) == set(range(k)) and k >= len(mesh.artist_parts)
    # every segment lies inside exactly one artist part
    pairs = np.unique(np.stack([labels, mesh.face_artist_part], 1), axis=0)
    assert len(pairs) == k
    # deterministic and frame independent
    assert np.array_equal(labels, segment(normalize(mesh), "artist"))


@pytest.mark.parametrize("name", ["quat_barracks.glb", "three_robot_expressive.glb", "kaykit_knight.glb"])
def test_autopartgen_merge_limits_part_count(name):
    mesh = load(shared("assets", name))
    fine = artist_segmentation(mesh)
    merged = artist_segmentation(mesh, max_parts=15)
    assert fine.max() + 1 > 15 and merged.max() + 1 == 15
    assert set(np.unique(merged)) == set(range(15))
    # merging only joins whole fine segments: each fine segment maps into one merged segment
    assert len(np.unique(np.stack([fine, merged], 1), axis=0)) == fine.max() + 1
    with pytest.raises(ValueError, match="max_parts"):
        artist_segmentation(mesh, max_parts=0)


def reference_merge_smallest(mesh, labels, pairs, max_parts):
    """The loop `artist.merge_smallest` replaced: the smallest active segment by a scan, and a
    segment touching none matched against every other by a Python comparison of node paths."""
    from collections import Counter

    from partverse.geometry.adjacency import relabel_by_first_occurrence
    from partverse.segment.artist import _merge, _segment_tables

    k = int(labels.max()) + 1
    area, center, paths = _segment_tables(mesh, labels, k)
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    neighbours = [Counter() for _ in range(k)]
    for (x, y), n in Counter(zip(a[a != b].tolist(), b[a != b].tolist())).items():
        neighbours[x][y] += n
        neighbours[y][x] += n
    parent, active = np.arange(k), np.ones(k, bool)
    for _ in range(k - max_parts):
        s = int(np.flatnonzero(active)[np.argmin(area[active])])
        if neighbours[s]:
            t = max(neighbours[s].items(), key=lambda kv: (kv[1], -kv[0]))[0]
        else:
            candidates = np.flatnonzero(active)
            candidates = candidates[candidates != s]
            common = [_common_prefix(paths[s], paths[c]) for c in candidates]
            dist = np.linalg.norm(center[candidates] - center[s], axis=1)
            t = int(candidates[np.lexsort((dist, -np.array(common)))[0]])
        _merge(s, t, parent, active, area, center, neighbours)
    root = parent.copy()
    while not np.array_equal(root, root[root]):
        root = root[root]
    return relabel_by_first_occurrence(root[labels])


def _common_prefix(p: tuple[str, ...], q: tuple[str, ...]) -> int:
    n = 0
    for x, y in zip(p, q):
        if x != y:
            break
        n += 1
    return n


def _dust(pieces: int, seed: int) -> Mesh:
    """Separate triangles on a coarse grid (equal areas, tied distances), spread over artist parts
    at nested node paths, plus pairs of triangles sharing an edge (segments with a neighbour)."""
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0, 0], [0.4, 0, 0], [0, 0.4, 0]], float)
    offsets = rng.integers(0, 6, (pieces, 3)).astype(float)
    vertices = (base[None] + offsets[:, None]).reshape(-1, 3)
    faces = np.arange(3 * pieces).reshape(-1, 3)
    twins = faces[: pieces // 4][:, [1, 2, 0]].copy()  # the same triangle again: shares all its edges
    faces = np.vstack([faces, twins])
    nodes = ["root/a", "root/a/x", "root/a/y", "root/b", "other", "root/a/x/deep"]
    parts = [ArtistPart(f"p{i}", "gltf-primitive", node_path=n) for i, n in enumerate(nodes)]
    part = rng.integers(0, len(nodes), len(faces)).astype(np.int32)
    part[pieces:] = part[: pieces // 4]
    return Mesh(vertices=vertices, faces=faces, face_artist_part=part, face_material=np.full(len(faces), -1, np.int32),
                artist_parts=parts)


@pytest.mark.parametrize("trees", [False, True], ids=["scan", "trees"])
@pytest.mark.parametrize("name", ["quat_barracks.glb", "three_robot_expressive.glb", "dust:0", "dust:1"])
def test_merge_smallest_matches_the_loop_it_replaced(name, trees, monkeypatch):
    """Same merges as the scan it replaced, on real assets (barracks: 462 pieces, many touching no
    other) and on dust with ties in area and distance and nested node paths; `trees`: every run
    searched through its k-d tree, rebuilt often (in use, only runs with 4096+ active segments)."""
    from partverse.geometry.adjacency import edge_connected_components, face_adjacency, weld_vertices_radius
    from partverse.segment import artist_index
    from partverse.segment.artist import merge_smallest

    if trees:
        monkeypatch.setattr(artist_index, "TREE_MIN_RUN", 2)
        monkeypatch.setattr(artist_index, "TREE_MOVED", -np.inf if name == "dust:1" else 4)

    mesh = _dust(300, int(name[5:])) if name.startswith("dust:") else load(shared("assets", name))
    welded = weld_vertices_radius(mesh.vertices, mesh.faces)
    fine = edge_connected_components(welded, mesh.face_artist_part)
    pairs, _ = face_adjacency(welded)
    k = fine.max() + 1
    assert k > 40
    for max_parts in (1, 2, 7, k // 3, k - 1):
        np.testing.assert_array_equal(merge_smallest(mesh, fine, pairs, max_parts),
                                      reference_merge_smallest(mesh, fine, pairs, max_parts))


def test_unknown_method_lists_available():
    mesh = load(shared("assets", "quat_bed_bunk.glb"))
    with pytest.raises(ConfigError, match="available: artist"):
        segment(mesh, "nope")
    assert "artist" in METHODS


@pytest.mark.parametrize("name", ["kenney_truck_green.glb", "polyhaven_painted_wooden_cabinet/painted_wooden_cabinet_1k.gltf",
                                  "obj_spider/spider.obj", "o3dv_car.glb"])
def test_part_export_round_trip(tmp_path, name):
    mesh = normalize(load(shared("assets", name)))
    labels = artist_segmentation(mesh)
    parts = export_parts(mesh, labels, num_samples=256, seed=7)
    assert [p.part_id for p in parts] == list(range(labels.max() + 1))
    faces = np.concatenate([p.face_indices for p in parts])
    assert np.array_equal(np.sort(faces), np.arange(mesh.num_faces))  # nothing lost, nothing doubled
    reloaded = []
    for p in parts:
        target = tmp_path / f"{p.part_id}.glb"
        target.write_bytes(p.glb)
        part_mesh = load(target)
        assert part_mesh.num_faces == len(p.face_indices)
        corners = mesh.vertices[mesh.faces[p.face_indices]].reshape(-1, 3)
        assert np.allclose(p.bbox_min, corners.min(0), atol=1e-6) and np.allclose(p.bbox_max, corners.max(0), atol=1e-6)
        assert p.points.shape == (256, 3) and p.normals.shape == (256, 3)
        assert (p.points >= p.bbox_min - 1e-5).all() and (p.points <= p.bbox_max + 1e-5).all()
        used = set(mesh.face_material[p.face_indices].tolist())
        if mesh.textured and any(mesh.materials[m].textured for m in used if m >= 0):
            assert part_mesh.textured, f"part {p.part_id} lost its texture"
        reloaded.append(part_mesh)
    joined = np.concatenate([triangles(m) for m in reloaded])
    assert np.allclose(joined[np.lexsort(joined.T[::-1])], triangles(mesh), atol=1e-4)
    # up to the recorded transform: back in the file's frame
    original = load(shared("assets", name))
    assert np.allclose(to_file_frame(mesh, mesh.vertices), original.vertices, atol=1e-6)
    again = export_parts(mesh, labels, num_samples=256, seed=7)
    assert all(np.array_equal(a.points, b.points) for a, b in zip(parts, again))


def test_textures_survive_byte_for_byte_in_pixels(tmp_path):
    mesh = normalize(load(shared("assets", "kenney_truck_green.glb")))
    (part,) = export_parts(mesh, np.zeros(mesh.num_faces, np.int32), num_samples=16)
    target = tmp_path / "p.glb"
    target.write_bytes(part.glb)
    again = load(target)
    a = np.asarray(mesh.materials[0].base_color_texture.convert("RGBA"))
    b = np.asarray(again.materials[0].base_color_texture.convert("RGBA"))
    assert a.shape == b.shape and np.array_equal(a, b)
    assert np.allclose(again.uv, again.uv) and again.uv is not None


def test_whole_object_glb_keeps_artist_parts(tmp_path):
    mesh = normalize(load(shared("assets", "kenney_motorcycle.glb")))
    target = tmp_path / "n.glb"
    target.write_bytes(mesh_to_glb(mesh))
    again = load(target)
    assert sorted(p.name for p in again.artist_parts) == sorted(p.name for p in mesh.artist_parts)
    assert again.num_faces == mesh.num_faces and again.textured


def test_cli_segment_and_parts(tmp_path):
    path = shared("assets", "kaykit_chest_gold.glb")
    labels = tmp_path / "labels.npy"
    from typer.testing import CliRunner

    from partverse.cli import _register_all, app

    _register_all()
    run = lambda *args: CliRunner().invoke(app, list(args))  # noqa: E731  (in-process: the real commands)
    proc = run("segment", str(path), "--method", "artist", "--out", str(labels))
    assert proc.exit_code == 0, proc.output
    saved = np.load(labels)
    assert saved.dtype == np.int32 and np.array_equal(saved, artist_segmentation(load(path)))
    proc = run("parts", str(path), "--labels", str(labels), "--out", str(tmp_path / "parts"))
    assert proc.exit_code == 0, proc.output
    manifest = json.loads((tmp_path / "parts" / "parts.json").read_text())
    assert len(manifest["parts"]) == saved.max() + 1
    assert sum(p["faces"] for p in manifest["parts"]) == len(saved)
    for entry in manifest["parts"]:
        assert (tmp_path / "parts" / entry["file"]).is_file()
        assert all(-0.5 - 1e-6 <= x <= 0.5 + 1e-6 for x in entry["bbox_min"] + entry["bbox_max"])
    proc = run("inspect", str(path), "--json")
    info = json.loads(proc.stdout)
    assert proc.exit_code == 0 and info["faces"] == 1568 and info["textured"] is True
    assert {"faces", "vertices", "artist_parts", "materials", "textured", "warnings"} <= set(info)
    for command in ("inspect", "segment", "parts"):
        assert run(command, "--help").exit_code == 0


@pytest.mark.parametrize("chunk", [1 << 20, 600])  # one step for all groups, or one group per step
def test_group_sampling_stays_in_each_group(monkeypatch, chunk):
    from partverse.geometry import sampling
    from partverse.geometry.sampling import sample_groups

    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 5], [3, 0, 5], [0, 3, 5], [9, 9, 9]], float)
    f = np.array([[0, 1, 2], [3, 4, 5], [6, 6, 6]])
    unchunked = sample_groups(v, f, np.array([1, 4, 2]), 500, seed=1)
    monkeypatch.setattr(sampling, "CHUNK_SAMPLES", chunk)
    points, normals, face = sample_groups(v, f, np.array([1, 4, 2]), 500, seed=1)
    assert points.shape == (3, 500, 3)
    assert (face[0] == 0).all() and (face[1] == 2).all() and (face[2] == 1).all()  # labels 1, 2, 4 in order
    assert np.allclose(points[1], 9) and np.allclose(normals[1], 0)  # zero-area group: its only face
    assert np.allclose(points[2][:, 2], 5) and np.array_equal(points, sample_groups(v, f, np.array([1, 4, 2]), 500, seed=1)[0])
    # the stream does not depend on how the groups are chunked
    assert all(np.array_equal(a, b) for a, b in zip(unchunked, (points, normals, face)))
