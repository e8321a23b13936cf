"""Every malformed file ends as a clear error or an explicit warning, in a subprocess with a time
bound, so that a crash (segfault) or a hang inside a loader is a test failure."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, SHARED_DATA, shared

TIME_LIMIT_S = 60


def _probe_child(path: str, conn) -> None:
    from partverse.errors import MeshLoadError
    from partverse.io import load

    try:
        mesh = load(path)
    except MeshLoadError as exc:
        conn.send({"error": str(exc)})
    else:
        conn.send({"faces": mesh.num_faces, "warnings": mesh.warnings})


# expected words in the reason, per file: the problem, not only "could not be read"
EXPECTED = {
    "assimp_BoxWithInfinites.glb": "non-finite vertex",
    "assimp_IndexOutOfRange/IndexOutOfRange.gltf": "index 255 >= 24 vertices in accessor 0",
    "assimp_IndexOutOfRange/AllIndicesOutOfRange.gltf": ">= 24 vertices in accessor 0",
    "assimp_MissingBin/BoxTextured.gltf": "missing external file 'BoxTextured0.bin'",
    "assimp_NoScene.gltf": "no scenes",
    "assimp_RecursiveNodes.gltf": "cycle",
    "assimp_payload_JVN42386607.ply": "element 'vertex' twice",
    "assimp_wrongTypes/badArray.gltf": "meshes[0].primitives must be an array",
    "assimp_wrongTypes/badExtension.gltf": "extensions must map names to objects",
    "assimp_wrongTypes/badNumber.gltf": "normalTexture.scale must be a number",
    "assimp_wrongTypes/badObject.gltf": "pbrMetallicRoughness must be an object",
    "assimp_wrongTypes/badString.gltf": "name must be a string",
    "assimp_wrongTypes/badUint.gltf": "index must be a non-negative integer",
    "tinyobj_invalid_face/invalid-face-definition.obj": "no triangle",
    "tinyobj_test-nan.obj": "non-finite vertex",
    "trimesh_ply_empty_header.ply": "no faces",
    "validator_glb_chunk_too_big.glb": "header declares 13 bytes",
    "validator_glb_empty_file.glb": "empty file",
    "validator_glb_invalid_magic.glb": "bad magic",
    "validator_glb_truncated_chunk_data.glb": "truncated GLB",
    "validator_index_buffer_oob/index_buffer_oob.gltf": "index 5 >= 4 vertices",
    "validator_node_loop.gltf": "cycle",
    "wild_lfs_pointer_CesiumMilkTruck.glb": "Git LFS pointer",
    "wild_utf8_mangled_gears.glb": "UTF-8 replacement bytes",
}
WARNED = {"trimesh_notenoughindices.obj": "fewer than 3 vertices"}


def run_probe(path) -> dict:
    """Load `path` in a forked child (trimesh already imported by the parent, so each probe is
    fast); a crash shows as a non-zero exit code, a hang as a timeout."""
    import multiprocessing

    import trimesh  # noqa: F401  (imported once here, inherited by every fork)

    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_probe_child, args=(str(path), sender))
    child.start()
    sender.close()
    ready = receiver.poll(TIME_LIMIT_S)  # also true when the child died and closed the pipe
    try:
        result = receiver.recv() if ready else None
    except EOFError:
        result = None
    child.join(5)
    if child.is_alive():
        child.kill()
        child.join()
    assert ready, f"loading {path} did not finish within {TIME_LIMIT_S} s"
    assert child.exitcode == 0 and result is not None, f"loader crashed on {path} (exit code {child.exitcode})"
    return result


def test_every_bad_input_is_listed():
    rows = shared("bad_inputs", "SOURCES.tsv").read_text().splitlines()[1:]
    assert {r.split("\t")[0] for r in rows} == set(EXPECTED) | set(WARNED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_refused_with_reason_naming_file(name):
    path = shared("bad_inputs", name)
    result = run_probe(path)
    assert "error" in result, f"{name} loaded silently: {result}"
    assert result["error"].startswith(f"{path}: ")
    assert EXPECTED[name] in result["error"]


def test_a_directory_is_refused_naming_its_mesh_files(tmp_path):
    from partverse.errors import MeshLoadError
    from partverse.io import load

    folder = shared("bad_inputs", "assimp_IndexOutOfRange")
    with pytest.raises(MeshLoadError, match="a directory, not a mesh file: its mesh files are "
                                            "AllIndicesOutOfRange.gltf, IndexOutOfRange.gltf$") as caught:
        load(folder)
    assert str(caught.value).startswith(f"{folder}: ")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(MeshLoadError, match=r"a directory, not a mesh file with no mesh file in it \(\.fbx, "):
        load(tmp_path)


def test_mesh_files_finds_the_assets_that_come_as_folders():
    from partverse.io import mesh_files

    assets = shared("assets")
    found = [str(p.relative_to(assets)) for p in mesh_files(assets)]
    # an OBJ + MTL or glTF + BIN asset is a folder of its own; textures, .bin and .mtl are not meshes
    assert {"obj_spider/spider.obj", "obj_kuka_segment/segment.obj",
            "polyhaven_painted_wooden_cabinet/painted_wooden_cabinet_1k.gltf", "quat_barracks.glb",
            "fbx_jeep1.fbx", "ply_cow.ply"} <= set(found)
    assert not [f for f in found if f.endswith((".bin", ".mtl", ".jpg", ".png", ".tsv"))]
    assert found == sorted(found) and len(found) == 24  # the data README's 24 assets
    top = [p.name for p in mesh_files(assets, recursive=False)]
    assert "spider.obj" not in top and "quat_barracks.glb" in top and len(top) == 21


@pytest.mark.parametrize("name", sorted(WARNED))
def test_harmless_problem_loads_with_warning(name):
    result = run_probe(shared("bad_inputs", name))
    assert result.get("faces", 0) > 0
    assert any(WARNED[name] in w for w in result["warnings"])


def _segfault() -> None:
    import ctypes
    import faulthandler

    faulthandler.disable()  # keep pytest's traceback dump out of the log
    ctypes.string_at(0)


def test_probe_detects_a_crash():
    """The harness itself: a segfaulting child is reported, not taken for a result."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_segfault)
    child.start()
    child.join(TIME_LIMIT_S)
    assert child.exitcode not in (0, None)


def test_huge_declared_counts_are_refused_before_allocation(tmp_path):
    ply = tmp_path / "huge.ply"
    ply.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\nproperty float x\n"
                    b"property float y\nproperty float z\nelement face 4000000000\nproperty list uchar int vertex_indices\n"
                    b"end_header\n" + b"\x00" * 64)
    off = tmp_path / "huge.off"
    off.write_text("OFF\n2000000000 2000000000 0\n0 0 0\n")
    gltf = tmp_path / "huge.gltf"
    gltf.write_text(json.dumps({
        "asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": 36, "uri": "data:application/octet-stream;base64," + "A" * 48}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3_000_000_000, "type": "VEC3"}]}))
    for path, words in ((ply, "declares at least"), (off, "more than"), (gltf, "needs")):
        result = run_probe(path)
        assert words in result.get("error", ""), result


def test_cli_inspect_exit_code_and_one_line(tmp_path):
    path = SHARED_DATA / "bad_inputs" / "wild_lfs_pointer_CesiumMilkTruck.glb"
    shared("bad_inputs")
    proc = subprocess.run([sys.executable, "-m", "partverse", "inspect", str(path)], capture_output=True, text=True,
                          timeout=TIME_LIMIT_S, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"{path}: not a glTF/GLB: Git LFS pointer (fetch the file with `git lfs pull`)"]
