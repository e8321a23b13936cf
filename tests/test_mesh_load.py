"""Every real asset loads with its artist structure; counts agree with independent readers."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import trimesh

from partverse.io import load
from tests.conftest import shared

GLTF_ASSETS = [
    "kenney_truck_green.glb", "kenney_motorcycle.glb", "kenney_platformer_character.glb", "kaykit_knight.glb",
    "kaykit_chest_gold.glb", "kaykit_hex_house.glb", "quat_turret_gundouble.glb", "quat_boat_sail.glb",
    "quat_bed_bunk.glb", "quat_barracks.glb", "polyhaven_painted_wooden_cabinet/painted_wooden_cabinet_1k.gltf",
    "khronos_cesium_milk_truck.glb", "three_robot_expressive.glb", "o3dv_car.glb",
    "objaverse_002e462c8bfa4267a9c9f038c7966f3b.glb", "objaverse_0c3ca2b32545416f8f1e6f0e87def1a6.glb",
    "objaverse_288ead7c2fb343b58e3f627781260364.glb", "sketchfab_partcrafter_dagger.glb",
]


def sources() -> dict[str, dict]:
    """assets/SOURCES.tsv rows by file name (the curator's independent counts)."""
    lines = shared("assets", "SOURCES.tsv").read_text().splitlines()
    keys = lines[0].split("\t")
    return {row.split("\t")[0]: dict(zip(keys, row.split("\t"))) for row in lines[1:]}


def gltf_json(path) -> dict:
    data = path.read_bytes()
    if data[:4] == b"glTF":
        length = struct.unpack_from("<I", data, 12)[0]
        return json.loads(data[20:20 + length])
    return json.loads(data)


def instanced_primitives(header: dict) -> tuple[int, int]:
    """(triangle count, primitive instances) of the default scene, walking the node tree."""
    faces = instances = 0
    stack = list(header["scenes"][header.get("scene", 0)]["nodes"])
    while stack:
        node = header["nodes"][stack.pop()]
        stack.extend(node.get("children", []))
        if "mesh" in node:
            for prim in header["meshes"][node["mesh"]]["primitives"]:
                if prim.get("mode", 4) != 4:
                    continue
                acc = header["accessors"][prim["indices"]] if "indices" in prim else header["accessors"][prim["attributes"]["POSITION"]]
                faces += acc["count"] // 3
                instances += 1
    return faces, instances


@pytest.mark.parametrize("name", GLTF_ASSETS)
def test_gltf_counts_match_json_and_trimesh_order(name):
    path = shared("assets", name)
    mesh = load(path)
    faces, instances = instanced_primitives(gltf_json(path))
    assert mesh.num_faces == faces
    assert len(mesh.artist_parts) == instances
    assert mesh.face_artist_part.min() == 0 and mesh.face_artist_part.max() == instances - 1
    # same face order and positions as trimesh's Scene.dump(concatenate=True)
    dumped = trimesh.util.concatenate(trimesh.load(str(path), force="scene").dump())
    assert np.allclose(mesh.vertices[mesh.faces], dumped.vertices[dumped.faces], atol=1e-5)
    assert mesh.textured == (sources()[name]["textured"] == "True")


def test_artist_part_names_come_from_nodes():
    mesh = load(shared("assets", "kenney_truck_green.glb"))
    names = {p.name for p in mesh.artist_parts}
    assert {"body", "underside", "wheel-front-left", "wheel-back-right"} <= names
    assert all(p.kind == "gltf-primitive" for p in mesh.artist_parts)
    house = load(shared("assets", "kaykit_hex_house.glb"))
    assert [p.primitive for p in house.artist_parts] == [0, 1, 2, 3, 4]
    assert len({p.node_path for p in house.artist_parts}) == 1


@pytest.mark.parametrize("name,parts,materials", [("obj_spider/spider.obj", 19, 4), ("obj_kuka_segment/segment.obj", 2, 2)])
def test_obj_groups_materials_and_file_order(name, parts, materials):
    path = shared("assets", name)
    mesh = load(path)
    reference = trimesh.util.concatenate(trimesh.load(str(path), force="scene").dump())
    assert mesh.num_faces == len(reference.faces)
    assert len(mesh.artist_parts) == parts and len(mesh.materials) == materials
    # parts appear in file order: the group names in the order of their `g` lines
    text = path.read_text(errors="replace").splitlines()
    groups = list(dict.fromkeys(ln[2:].strip() for ln in text if ln.startswith("g ")))
    if groups:
        assert [p.name for p in mesh.artist_parts] == groups


def test_obj_windows_texture_paths_are_resolved():
    mesh = load(shared("assets", "obj_spider/spider.obj"))
    textured = [m for m in mesh.materials if m.base_color_texture is not None]
    assert len(textured) == 4
    assert mesh.uv is not None and mesh.uv.shape == (mesh.num_vertices, 2)


@pytest.mark.parametrize("name,faces", [("ply_cow.ply", 5804), ("ply_wuson.ply", 3732)])
def test_ply_single_part_in_file_order(name, faces):
    path = shared("assets", name)
    mesh = load(path)
    reference = trimesh.load(str(path), process=False)
    assert mesh.num_faces == faces == len(reference.faces)
    assert np.array_equal(mesh.faces, reference.faces)
    assert len(mesh.artist_parts) == 1 and mesh.artist_parts[0].kind == "whole"


def test_off_and_stl_load(tmp_path):
    box = trimesh.creation.box()
    for ext in ("off", "stl"):
        target = tmp_path / f"box.{ext}"
        box.export(target)
        mesh = load(target)
        assert mesh.num_faces == 12 and len(mesh.artist_parts) == 1


def test_draco_compressed_glb_loads(tmp_path):
    pytest.importorskip("DracoPy")
    source = load(shared("assets", "kenney_motorcycle.glb"))
    scene = trimesh.load(str(shared("assets", "kenney_motorcycle.glb")), force="scene")
    target = tmp_path / "draco.glb"
    target.write_bytes(trimesh.exchange.gltf.export_glb(scene, extension_draco=True))
    assert b"KHR_draco_mesh_compression" in target.read_bytes()[:4000]
    mesh = load(target)
    assert mesh.num_faces == source.num_faces
    assert len(mesh.artist_parts) == len(source.artist_parts)
    assert np.allclose(np.sort(mesh.vertices, axis=0), np.sort(source.vertices, axis=0), atol=1e-2)


def test_asset_extras_licence_is_kept():
    mesh = load(shared("assets", "objaverse_0c3ca2b32545416f8f1e6f0e87def1a6.glb"))
    assert "license" in json.dumps(mesh.metadata.get("asset_extras", {})).lower()


@pytest.mark.blender
def test_fbx_binary_loads_through_blender():
    import importlib.util
    import sys

    if importlib.util.find_spec("bpy") is None:
        pytest.skip("bpy is not installed")
    imported_before = "bpy" in sys.modules
    mesh = load(shared("assets", "fbx_jeep1.fbx"))
    assert imported_before or "bpy" not in sys.modules  # Blender ran in its own process
    names = {p.name for p in mesh.artist_parts}
    assert {"main", "frw", "rrw", "flw", "rlw", "lsteer", "rsteer"} == names
    assert all(p.kind == "fbx-node" for p in mesh.artist_parts)
    # Blender drops 2 of the 2032 triangles (zero-area faces) on import
    assert 2020 <= mesh.num_faces <= 2032
    assert mesh.textured


def test_ascii_fbx_is_read_without_blender():
    """Blender's importer refuses ASCII FBX; partverse parses it (nodes, transforms, materials)."""
    import re

    path = shared("assets", "fbx_kenney_bed_bunk.fbx")
    mesh = load(path)
    text = path.read_text()
    blocks = re.findall(r"PolygonVertexIndex: \*\d+ \{\s*a: ([^}]*)\}", text)
    index = np.concatenate([np.array(b.replace("\n", "").split(","), dtype=np.int64) for b in blocks])
    assert mesh.num_faces == len(index) - 2 * int((index < 0).sum())  # corners - 2 x polygons
    assert [p.name for p in mesh.artist_parts] == ["bedBunk", "coverBottom", "coverTop", "pillowBottom", "pillowTop"]
    assert mesh.artist_parts[3].node_path == "bedBunk/pillowBottom"
    assert [m.name for m in mesh.materials] == ["wood", "carpetWhite", "carpet"]
    assert set(np.unique(mesh.face_material)) == {0, 1, 2}
    # the covers sit inside the bed frame once the node transforms are applied
    frame = mesh.vertices[mesh.faces[mesh.face_artist_part == 0]].reshape(-1, 3)
    cover = mesh.vertices[mesh.faces[mesh.face_artist_part == 1]].reshape(-1, 3)
    assert (cover.min(0) >= frame.min(0) - 0.05).all() and (cover.max(0) <= frame.max(0) + 0.05).all()


def test_truncated_ascii_fbx_is_refused(tmp_path):
    from partverse.errors import MeshLoadError

    text = shared("assets", "fbx_kenney_bed_bunk.fbx").read_text()
    target = tmp_path / "cut.fbx"
    target.write_text(text[: len(text) // 2])
    with pytest.raises(MeshLoadError, match="cut.fbx: .*(truncated|declares)"):
        load(target)


def test_missing_texture_loads_with_warning(tmp_path):
    import shutil

    folder = tmp_path / "cabinet"
    shutil.copytree(shared("assets", "polyhaven_painted_wooden_cabinet"), folder)
    shutil.rmtree(folder / "textures")
    mesh = load(folder / "painted_wooden_cabinet_1k.gltf")
    assert mesh.num_faces == 2227 and not mesh.textured
    assert any("missing external texture 'textures/painted_wooden_cabinet_diff_1k.jpg'" in w for w in mesh.warnings)


def test_instances_and_mirroring_transforms_are_baked(tmp_path):
    box = trimesh.creation.box()
    scene = trimesh.Scene()
    scene.add_geometry(box, geom_name="box", node_name="left", transform=trimesh.transformations.translation_matrix([-2, 0, 0]))
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    mirror[0, 3] = 2.0
    scene.add_geometry(box, geom_name="box", node_name="right", transform=mirror)
    target = tmp_path / "instances.glb"
    target.write_bytes(trimesh.exchange.gltf.export_glb(scene))
    mesh = load(target)
    assert mesh.num_faces == 24 and sorted(p.name for p in mesh.artist_parts) == ["left", "right"]
    assert np.isclose(mesh.vertices[:, 0].min(), -2.5) and np.isclose(mesh.vertices[:, 0].max(), 2.5)
    # the mirrored instance keeps outward normals: its winding was reversed
    tri = mesh.vertices[mesh.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centre = np.array([[-2, 0, 0] if p.name == "left" else [2, 0, 0] for p in mesh.artist_parts])[mesh.face_artist_part]
    outward = np.einsum("ij,ij->i", normals, tri.mean(1) - centre)
    assert (outward > 0).all()


def test_psb_off_files_keep_the_benchmark_face_order():
    """Princeton benchmark .seg files give one label per face of the .off in file order; the fast
    all-triangle OFF reader agrees with trimesh's reader."""
    for off in sorted(shared("psb", "off").glob("*.off")):
        mesh = load(off)
        seg = next(shared("psb", "seg", off.stem).glob("*.seg"))
        assert mesh.num_faces == len(seg.read_text().split()), off.name
    off = shared("psb", "off", "21.off")
    reference = trimesh.load(str(off), process=False)
    mesh = load(off)
    assert np.array_equal(mesh.faces, reference.faces) and np.allclose(mesh.vertices, reference.vertices)


def test_point_primitives_are_skipped_with_a_warning(tmp_path):
    scene = trimesh.Scene([trimesh.creation.box(), trimesh.PointCloud(np.random.default_rng(0).random((10, 3)))])
    target = tmp_path / "mixed.glb"
    target.write_bytes(trimesh.exchange.gltf.export_glb(scene))
    mesh = load(target)
    assert mesh.num_faces == 12 and len(mesh.artist_parts) == 1
    assert any("mode 0 (points) has no triangles; skipped" in w for w in mesh.warnings)
