"""Check a glTF / GLB file's container and JSON before trimesh reads it.

trimesh 5.2 silently loads several malformed files as wrong geometry or empty scenes (out-of-range
indices, node loops, truncated chunks). Everything here is checked against the declared sizes
before any array is allocated, so a hostile count cannot make the loader hang or run out of memory.
`check_gltf(path) -> GltfFile` raises MeshLoadError("PATH: reason") on the first fatal problem.
"""
from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from partverse.errors import MeshLoadError

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
COMPONENT_DTYPE = {5120: "<i1", 5121: "<u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
TYPE_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
SUPPORTED_REQUIRED = {
    "KHR_draco_mesh_compression", "KHR_materials_pbrSpecularGlossiness", "KHR_texture_transform",
    "KHR_mesh_quantization", "KHR_materials_unlit", "KHR_texture_basisu", "EXT_texture_webp",
}
MAX_FILE_BYTES = 2 << 30  # refuse files over 2 GiB before reading them


@dataclass
class GltfFile:
    """A checked glTF: its JSON, its buffers (bytes) and the GLB bytes when it was binary."""

    header: dict
    buffers: list[bytes]
    glb: bytes | None = None
    warnings: list[str] = field(default_factory=list)


def check_gltf(path: Path) -> GltfFile:
    """Read and check `path` (.glb or .gltf). Raises MeshLoadError naming the problem."""
    size = path.stat().st_size
    if size == 0:
        raise MeshLoadError(path, "empty file (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise MeshLoadError(path, f"file of {size} bytes exceeds the {MAX_FILE_BYTES}-byte limit")
    data = path.read_bytes()
    if data.startswith(b"version https://git-lfs"):
        raise MeshLoadError(path, "not a glTF/GLB: Git LFS pointer (fetch the file with `git lfs pull`)")
    if data[:4] == GLB_MAGIC:
        header, bin_chunk = _read_glb(path, data)
        glb = data
    else:
        if path.suffix.lower() == ".glb":
            raise MeshLoadError(path, f"not a GLB: bad magic {data[:4]!r} (expected b'glTF')")
        header, bin_chunk, glb = _parse_json(path, data), None, None
    gltf = GltfFile(header=header, buffers=[], glb=glb)
    _check_structure(path, header)
    gltf.buffers = _load_buffers(path, header, bin_chunk, gltf.warnings)
    _check_views_and_accessors(path, header, gltf.buffers)
    _check_meshes(path, header, gltf.buffers)
    _check_nodes(path, header)
    _check_images(path, header, gltf.warnings)
    return gltf


def _parse_json(path: Path, raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MeshLoadError(path, f"JSON is not valid UTF-8 at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise MeshLoadError(path, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(header, dict):
        raise MeshLoadError(path, f"glTF JSON must be an object, got {type(header).__name__}")
    return header


def _read_glb(path: Path, data: bytes) -> tuple[dict, bytes | None]:
    if len(data) < 12:
        raise MeshLoadError(path, f"truncated GLB header ({len(data)} of 12 bytes)")
    _, version, length = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise MeshLoadError(path, f"unsupported GLB version {version} (only 2)")
    if length != len(data):
        what = "truncated GLB" if length > len(data) else "GLB length mismatch"
        raise MeshLoadError(path, f"{what}: header declares {length} bytes but the file has {len(data)}"
                            + _mangled_hint(data))
    chunks, offset = [], 12
    while offset < len(data):
        if offset + 8 > len(data):
            raise MeshLoadError(path, f"truncated chunk header at byte {offset}")
        clen, ctype = struct.unpack_from("<II", data, offset)
        start = offset + 8
        if start + clen > len(data):
            name = {CHUNK_JSON: "JSON", CHUNK_BIN: "BIN"}.get(ctype, f"0x{ctype:08x}")
            raise MeshLoadError(path, f"truncated {name} chunk: declares {clen} bytes, {len(data) - start} remain")
        chunks.append((ctype, data[start:start + clen]))
        offset = start + clen
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise MeshLoadError(path, "first GLB chunk is not JSON")
    header = _parse_json(path, chunks[0][1].rstrip(b" \x00"))
    bins = [c for t, c in chunks[1:] if t == CHUNK_BIN]
    return header, (bins[0] if bins else None)


def _mangled_hint(data: bytes) -> str:
    return "; the file contains UTF-8 replacement bytes (EF BF BD): a binary file saved through a text filter" \
        if b"\xef\xbf\xbd" in data[:64] else ""


def _list(path: Path, header: dict, key: str) -> list:
    value = header.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MeshLoadError(path, f"'{key}' must be an array of objects")
    return value


def _int(path: Path, obj: dict, key: str, where: str, limit: int | None = None, required: bool = False) -> int | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise MeshLoadError(path, f"{where}.{key} is missing")
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MeshLoadError(path, f"{where}.{key} must be a non-negative integer, got {value!r}")
    if limit is not None and value >= limit:
        raise MeshLoadError(path, f"{where}.{key} = {value} is out of range (only {limit})")
    return value


def _check_structure(path: Path, header: dict) -> None:
    version = header.get("asset", {}).get("version") if isinstance(header.get("asset"), dict) else None
    if not isinstance(version, str) or not version.startswith("2"):
        raise MeshLoadError(path, f"unsupported glTF asset.version {version!r} (only 2.x)")
    for key in ("scenes", "nodes", "meshes", "accessors", "bufferViews", "buffers", "materials",
                "textures", "images", "samplers", "skins", "cameras", "animations"):
        _list(path, header, key)
    required = header.get("extensionsRequired", [])
    if not isinstance(required, list):
        raise MeshLoadError(path, "'extensionsRequired' must be an array")
    unknown = sorted(set(map(str, required)) - SUPPORTED_REQUIRED)
    if unknown:
        raise MeshLoadError(path, f"requires unsupported glTF extensions: {', '.join(unknown)}")
    _check_materials(path, header)


def _check_materials(path: Path, header: dict) -> None:
    textures = len(header.get("textures", []))
    for i, mat in enumerate(header.get("materials", [])):
        where = f"materials[{i}]"
        for key in ("pbrMetallicRoughness", "extensions", "extras"):
            if key in mat and not isinstance(mat[key], dict):
                raise MeshLoadError(path, f"{where}.{key} must be an object, got {type(mat[key]).__name__}")
        pbr = mat.get("pbrMetallicRoughness", {})
        refs = [(f"{where}.pbrMetallicRoughness.{k}", pbr.get(k)) for k in ("baseColorTexture", "metallicRoughnessTexture")]
        refs += [(f"{where}.{k}", mat.get(k)) for k in ("normalTexture", "occlusionTexture", "emissiveTexture")]
        for ref_where, ref in refs:
            if ref is None:
                continue
            if not isinstance(ref, dict):
                raise MeshLoadError(path, f"{ref_where} must be an object")
            for num in ("scale", "strength"):
                if num in ref and not isinstance(ref[num], (int, float)):
                    raise MeshLoadError(path, f"{ref_where}.{num} must be a number, got {ref[num]!r}")
            _int(path, ref, "index", ref_where, limit=textures, required=True)
            ext = ref.get("extensions", {})
            if not isinstance(ext, dict) or not all(isinstance(v, dict) for v in ext.values()):
                raise MeshLoadError(path, f"{ref_where}.extensions must map names to objects")
        for num in ("metallicFactor", "roughnessFactor"):
            if num in pbr and not isinstance(pbr[num], (int, float)):
                raise MeshLoadError(path, f"{where}.pbrMetallicRoughness.{num} must be a number, got {pbr[num]!r}")


def _load_buffers(path: Path, header: dict, bin_chunk: bytes | None, warnings: list[str]) -> list[bytes]:
    buffers = []
    for i, buf in enumerate(header.get("buffers", [])):
        length = _int(path, buf, "byteLength", f"buffers[{i}]", required=True)
        uri = buf.get("uri")
        if uri is None:
            if i != 0 or bin_chunk is None:
                raise MeshLoadError(path, f"buffers[{i}] has no uri and there is no GLB BIN chunk")
            data = bin_chunk
        elif not isinstance(uri, str):
            raise MeshLoadError(path, f"buffers[{i}].uri must be a string")
        else:
            data = _read_uri(path, uri, f"buffers[{i}]")
        if len(data) < length:
            raise MeshLoadError(path, f"truncated BIN data: buffers[{i}] declares {length} bytes, has {len(data)}")
        buffers.append(data)
    return buffers


def _read_uri(path: Path, uri: str, where: str) -> bytes:
    if uri.startswith("data:"):
        try:
            return base64.b64decode(uri.split(",", 1)[1])
        except Exception as exc:
            raise MeshLoadError(path, f"{where}: bad base64 data URI ({exc})") from exc
    target = path.parent / unquote(uri).replace("\\", "/")
    if not target.is_file():
        raise MeshLoadError(path, f"{where}: missing external file {uri!r}")
    return target.read_bytes()


def _check_views_and_accessors(path: Path, header: dict, buffers: list[bytes]) -> None:
    views = header.get("bufferViews", [])
    for i, view in enumerate(views):
        where = f"bufferViews[{i}]"
        b = _int(path, view, "buffer", where, limit=len(buffers), required=True)
        off = _int(path, view, "byteOffset", where) or 0
        length = _int(path, view, "byteLength", where, required=True)
        if off + length > len(buffers[b]):
            raise MeshLoadError(path, f"{where} ends at byte {off + length} past the end of buffers[{b}] ({len(buffers[b])} bytes)")
    for i, acc in enumerate(header.get("accessors", [])):
        where = f"accessors[{i}]"
        count = _int(path, acc, "count", where, required=True)
        ctype = acc.get("componentType")
        if ctype not in COMPONENT_BYTES:
            raise MeshLoadError(path, f"{where}.componentType {ctype!r} is not a glTF component type")
        if acc.get("type") not in TYPE_WIDTH:
            raise MeshLoadError(path, f"{where}.type {acc.get('type')!r} is not one of {sorted(TYPE_WIDTH)}")
        view_index = _int(path, acc, "bufferView", where, limit=len(views))
        if view_index is None:
            continue  # zeros (or draco / sparse data)
        elem = COMPONENT_BYTES[ctype] * TYPE_WIDTH[acc["type"]]
        view = views[view_index]
        stride = view.get("byteStride") or elem
        off = _int(path, acc, "byteOffset", where) or 0
        end = off + stride * max(count - 1, 0) + elem if count else off
        if end > view["byteLength"]:
            raise MeshLoadError(path, f"{where} needs {end} bytes but bufferViews[{view_index}] has {view['byteLength']}")


def accessor_array(header: dict, buffers: list[bytes], index: int) -> np.ndarray:
    """(count, width) array of an accessor already checked by `check_gltf` (no sparse)."""
    acc = header["accessors"][index]
    width = TYPE_WIDTH[acc["type"]]
    dtype = np.dtype(COMPONENT_DTYPE[acc["componentType"]])
    if "bufferView" not in acc:
        return np.zeros((acc["count"], width), dtype)
    view = header["bufferViews"][acc["bufferView"]]
    raw = buffers[view["buffer"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride") or dtype.itemsize * width
    return np.ndarray((acc["count"], width), dtype, buffer=raw, offset=start, strides=(stride, dtype.itemsize))


def _check_nodes(path: Path, header: dict) -> None:
    nodes = header.get("nodes", [])
    parent: dict[int, int] = {}
    for i, node in enumerate(nodes):
        children = node.get("children", [])
        if not isinstance(children, list):
            raise MeshLoadError(path, f"nodes[{i}].children must be an array")
        for c in children:
            if not isinstance(c, int) or not 0 <= c < len(nodes):
                raise MeshLoadError(path, f"nodes[{i}].children has {c!r}, out of range (only {len(nodes)} nodes)")
            if c in parent:
                raise MeshLoadError(path, f"node {c} has two parents ({parent[c]} and {i}): not a tree")
            parent[c] = i
        _int(path, node, "mesh", f"nodes[{i}]", limit=len(header.get("meshes", [])))
        for key, size in (("matrix", 16), ("translation", 3), ("rotation", 4), ("scale", 3)):
            value = node.get(key)
            if value is not None and (not isinstance(value, list) or len(value) != size
                                      or not all(isinstance(x, (int, float)) for x in value)):
                raise MeshLoadError(path, f"nodes[{i}].{key} must be {size} numbers")
            if value is not None and not np.isfinite(value).all():
                raise MeshLoadError(path, f"nodes[{i}].{key} has a non-finite value")
    for start in range(len(nodes)):
        seen, node = {start}, start
        while node in parent:
            node = parent[node]
            if node in seen:
                raise MeshLoadError(path, f"node hierarchy has a cycle through node {start} (a node is its own ancestor)")
            seen.add(node)
    scenes = header.get("scenes", [])
    if not scenes:
        raise MeshLoadError(path, "no scenes: the file defines nothing to display")
    scene = _int(path, header, "scene", "glTF", limit=len(scenes)) or 0
    roots = scenes[scene].get("nodes", [])
    if not isinstance(roots, list) or not all(isinstance(r, int) and 0 <= r < len(nodes) for r in roots):
        raise MeshLoadError(path, f"scenes[{scene}].nodes must be node indices below {len(nodes)}")
    name = scenes[scene].get("name")
    if name is not None and not isinstance(name, str):
        raise MeshLoadError(path, f"scenes[{scene}].name must be a string, got {name!r}")


def _check_meshes(path: Path, header: dict, buffers: list[bytes]) -> None:
    accessors = header.get("accessors", [])
    for m, mesh in enumerate(header.get("meshes", [])):
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not all(isinstance(p, dict) for p in prims):
            raise MeshLoadError(path, f"meshes[{m}].primitives must be an array of objects")
        for k, prim in enumerate(prims):
            where = f"meshes[{m}].primitives[{k}]"
            attrs = prim.get("attributes")
            if not isinstance(attrs, dict) or "POSITION" not in attrs:
                raise MeshLoadError(path, f"{where} has no POSITION attribute")
            for name in attrs:
                _int(path, attrs, name, f"{where}.attributes", limit=len(accessors), required=True)
            idx = _int(path, prim, "indices", where, limit=len(accessors))
            _int(path, prim, "material", where, limit=len(header.get("materials", [])))
            pos = accessors[attrs["POSITION"]]
            if pos["type"] != "VEC3" or pos["componentType"] not in (5126, 5120, 5121, 5122, 5123):
                raise MeshLoadError(path, f"accessor {attrs['POSITION']} (POSITION of {where}) is not VEC3")
            if "KHR_draco_mesh_compression" in (prim.get("extensions") or {}):
                continue
            _check_position_data(path, header, buffers, attrs["POSITION"])
            if idx is not None and "bufferView" in accessors[idx]:
                indices = accessor_array(header, buffers, idx)
                if len(indices) and int(indices.max()) >= pos["count"]:
                    raise MeshLoadError(path, f"index {int(indices.max())} >= {pos['count']} vertices in accessor {idx} ({where})")


def _check_position_data(path: Path, header: dict, buffers: list[bytes], index: int) -> None:
    pos = header["accessors"][index]
    if "bufferView" not in pos or "sparse" in pos:
        return
    values = accessor_array(header, buffers, index)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise MeshLoadError(path, f"non-finite vertex {bad} ({values[bad].tolist()}) in accessor {index}")


def _check_images(path: Path, header: dict, warnings: list[str]) -> None:
    for i, image in enumerate(header.get("images", [])):
        uri = image.get("uri")
        if isinstance(uri, str) and not uri.startswith("data:"):
            target = path.parent / unquote(uri).replace("\\", "/")
            if not target.is_file():
                warnings.append(f"images[{i}]: missing external texture {uri!r}; loaded without it")
