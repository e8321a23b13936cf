"""Read a GLB's triangles with numpy (no bpy, no trimesh): the task's face order.

Faces are numbered the way the pipeline numbers them (partverse.io.load: trimesh's scene dump
order): nodes in trimesh's traversal order, each node's primitives in order, triangles in index
order; node transforms applied. Only
triangle primitives (mode 4) are read; other modes are refused with the primitive named.
"""
from __future__ import annotations

import json
import struct

import numpy as np

from .errors import GlbError

_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def _chunks(data: bytes, name: str) -> tuple[dict, bytes]:
    if len(data) < 20 or data[:4] != b"glTF":
        raise GlbError(f"{name}: not a GLB file (magic {data[:4]!r})")
    _, _, total = struct.unpack_from("<4sII", data)
    json_len, json_type = struct.unpack_from("<II", data, 12)
    if json_type != 0x4E4F534A:
        raise GlbError(f"{name}: first chunk is not JSON")
    doc = json.loads(data[20:20 + json_len])
    off = 20 + json_len
    binary = b""
    if off + 8 <= len(data):
        bin_len, _ = struct.unpack_from("<II", data, off)
        binary = data[off + 8:off + 8 + bin_len]
    return doc, binary


def _accessor(doc: dict, binary: bytes, index: int, name: str) -> np.ndarray:
    acc = doc["accessors"][index]
    if "bufferView" not in acc:
        raise GlbError(f"{name}: accessor {index} has no bufferView (sparse accessors are not supported)")
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = np.dtype(_COMPONENTS[acc["componentType"]])
    width = _WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride") or dtype.itemsize * width
    count = acc["count"]
    if start + stride * (count - 1) + dtype.itemsize * width > len(binary):
        raise GlbError(f"{name}: accessor {index} reads past the end of the binary chunk")
    raw = np.frombuffer(binary, dtype=np.uint8, count=stride * (count - 1) + dtype.itemsize * width, offset=start)
    if stride == dtype.itemsize * width:
        return raw.view(dtype).reshape(count, width)
    rows = np.lib.stride_tricks.as_strided(raw, shape=(count, dtype.itemsize * width), strides=(stride, 1))
    return np.ascontiguousarray(rows).view(dtype).reshape(count, width)


def _local_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T  # column-major in glTF
    t = np.array(node.get("translation", [0, 0, 0]), dtype=np.float64)
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m = np.eye(4)
    m[:3, :3] = r * np.array(node.get("scale", [1, 1, 1]), dtype=np.float64)
    m[:3, 3] = t
    return m


def _walk(doc: dict):
    """(node index, world matrix) in trimesh's traversal order (a stack: last root first, children
    pushed in order), so faces come out in `trimesh.Scene.dump(concatenate=True)` order."""
    scenes = doc.get("scenes") or [{"nodes": list(range(len(doc.get("nodes", []))))}]
    scene = scenes[doc.get("scene", 0)]
    stack = [(i, np.eye(4)) for i in scene.get("nodes", [])]
    while stack:
        index, parent = stack.pop()
        node = doc["nodes"][index]
        world = parent @ _local_matrix(node)
        yield index, world
        stack.extend((c, world) for c in node.get("children", []))


def read_glb(data: bytes, name: str = "mesh.glb") -> tuple[np.ndarray, np.ndarray]:
    """GLB bytes -> (vertices (V, 3) float32 in glTF's Y-up frame, faces (F, 3) int32)."""
    doc, binary = _chunks(data, name)
    verts, faces, offset = [], [], 0
    for node_index, world in _walk(doc):
        node = doc["nodes"][node_index]
        if "mesh" not in node:
            continue
        for p, prim in enumerate(doc["meshes"][node["mesh"]]["primitives"]):
            where = f"{name}: node {node_index} primitive {p}"
            if prim.get("mode", 4) != 4:
                raise GlbError(f"{where}: mode {prim['mode']} is not triangles")
            if "POSITION" not in prim.get("attributes", {}):
                raise GlbError(f"{where}: no POSITION attribute")
            pos = _accessor(doc, binary, prim["attributes"]["POSITION"], name).astype(np.float64)
            if "indices" in prim:
                idx = _accessor(doc, binary, prim["indices"], name).reshape(-1).astype(np.int64)
            else:
                idx = np.arange(len(pos), dtype=np.int64)
            if idx.size % 3:
                raise GlbError(f"{where}: {idx.size} indices is not a multiple of 3")
            if idx.size and int(idx.max()) >= len(pos):
                raise GlbError(f"{where}: index {int(idx.max())} >= {len(pos)} vertices")
            verts.append(pos @ world[:3, :3].T + world[:3, 3])
            faces.append(idx.reshape(-1, 3) + offset)
            offset += len(pos)
    if not faces:
        raise GlbError(f"{name}: no triangle meshes in the default scene")
    return np.concatenate(verts).astype(np.float32), np.concatenate(faces).astype(np.int32)
