"""ASCII FBX (7.x) reader: Blender's importer refuses ASCII FBX, so these are parsed here.

Reads Models (node transforms: Lcl Translation / Rotation / Scaling, Pre/PostRotation, rotation
order, Geometric* offsets), their Geometry (Vertices, PolygonVertexIndex, UVs, per-polygon
materials) and Materials (DiffuseColor, a connected diffuse texture file), wired by Connections.
Polygons are fan-triangulated; every polygon corner becomes its own vertex (UVs are per corner).
Frame and units: the file's own. Artist parts: one per mesh Model, in file order.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from partverse.errors import MeshLoadError
from partverse.records import ArtistPart, Material, Mesh

_LINE = re.compile(r"^\s*([A-Za-z0-9_|]+):\s*(.*?)\s*$")
_ORDERS = {0: "XYZ", 1: "XZY", 2: "YZX", 3: "YXZ", 4: "ZXY", 5: "ZYX"}


class Node:
    __slots__ = ("name", "values", "children", "text")

    def __init__(self, name: str, values: str):
        self.name, self.values, self.children, self.text = name, values, [], []

    def child(self, name: str):
        return next((c for c in self.children if c.name == name), None)

    def array(self, path: Path, name: str) -> np.ndarray | None:
        node = self.child(name)
        if node is None:
            return None
        data = node.child("a")
        raw = ",".join([data.values, *data.text]) if data is not None else ""
        arr = np.fromstring(raw, sep=",") if raw.strip() else np.zeros(0)
        declared = node.values.lstrip("*").split("{")[0].strip()
        if declared.isdigit() and int(declared) != len(arr):
            raise MeshLoadError(path, f"FBX array {name} declares {declared} values but holds {len(arr)}")
        return arr


def parse(path: Path, text: str) -> Node:
    """The tree of `Name: values { ... }` records of an ASCII FBX file."""
    root = Node("root", "")
    stack = [root]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("}"):
            if len(stack) == 1:
                raise MeshLoadError(path, "unbalanced '}' in ASCII FBX")
            stack.pop()
            continue
        match = _LINE.match(stripped)
        if match is None:  # continuation of a long value list
            if stack[-1].children:
                stack[-1].children[-1].text.append(stripped)
            continue
        node = Node(match.group(1), match.group(2).rstrip("{").strip())
        stack[-1].children.append(node)
        if match.group(2).endswith("{"):
            stack.append(node)
    if len(stack) != 1:
        raise MeshLoadError(path, f"ASCII FBX ends inside {stack[-1].name!r}: truncated file")
    return root


def _header(values: str) -> tuple[int, str, str]:
    parts = [p.strip() for p in values.split(",")]
    name = parts[1].strip('"').split("::", 1)[-1] if len(parts) > 1 else ""
    return int(parts[0]), name, parts[2].strip('"') if len(parts) > 2 else ""


def _props(node: Node) -> dict[str, list[str]]:
    props = node.child("Properties70")
    out = {}
    for p in props.children if props is not None else []:
        items = [x.strip().strip('"') for x in p.values.split(",")]
        out[items[0]] = items[4:]
    return out


def _rotation(deg, order: str) -> np.ndarray:
    rx, ry, rz = np.radians(np.asarray(deg, float))
    c, s = np.cos, np.sin
    mats = {"X": np.array([[1, 0, 0], [0, c(rx), -s(rx)], [0, s(rx), c(rx)]]),
            "Y": np.array([[c(ry), 0, s(ry)], [0, 1, 0], [-s(ry), 0, c(ry)]]),
            "Z": np.array([[c(rz), -s(rz), 0], [s(rz), c(rz), 0], [0, 0, 1]])}
    out = np.eye(3)
    for axis in order:  # the first axis of the order is applied first
        out = mats[axis] @ out
    return out


def _vec(props, key, default) -> np.ndarray:
    return np.array([float(x) for x in props[key][:3]]) if key in props and len(props[key]) >= 3 else np.array(default, float)


def _local(props: dict, geometric: bool = False) -> np.ndarray:
    prefix = "Geometric" if geometric else "Lcl "
    order = _ORDERS.get(int(float(props.get("RotationOrder", ["0"])[0])), "XYZ")
    t = _vec(props, prefix + "Translation", (0, 0, 0))
    r = _rotation(_vec(props, prefix + "Rotation", (0, 0, 0)), order)
    s = _vec(props, prefix + "Scaling", (1, 1, 1))
    if not geometric:
        r = _rotation(_vec(props, "PreRotation", (0, 0, 0)), "XYZ") @ r @ np.linalg.inv(_rotation(_vec(props, "PostRotation", (0, 0, 0)), "XYZ"))
    m = np.eye(4)
    m[:3, :3] = r * s
    m[:3, 3] = t
    return m


def _triangulate(path: Path, index: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, 3) corner indices, (T,) polygon of each triangle and (C,) control point per corner."""
    index = index.astype(np.int64)
    ends = index < 0
    vertex = np.where(ends, ~index, index)
    if len(vertex) and (vertex.max() >= num_vertices or not ends[-1]):
        raise MeshLoadError(path, f"FBX polygon index {int(vertex.max())} >= {num_vertices} vertices or unterminated polygon")
    end_pos = np.flatnonzero(ends)
    starts = np.concatenate([[0], end_pos[:-1] + 1])
    sizes = end_pos - starts + 1
    tris = np.maximum(sizes - 2, 0)
    poly = np.repeat(np.arange(len(sizes)), tris)
    k = np.arange(len(poly)) - np.repeat(np.cumsum(tris) - tris, tris) + 1
    first = starts[poly]
    return np.stack([first, first + k, first + k + 1], axis=1), poly, vertex


def _info(layer: Node, key: str) -> str:
    node = layer.child(key)
    return node.values.strip('"') if node is not None else ""


def read_ascii_fbx(path: Path) -> Mesh:
    """Load an ASCII FBX file as one Mesh (see module docstring)."""
    root = parse(path, path.read_text(errors="replace"))
    objects = root.child("Objects")
    if objects is None:
        raise MeshLoadError(path, "ASCII FBX has no Objects section")
    models, geometries, materials, textures = {}, {}, {}, {}
    for node in objects.children:
        oid, name, _ = _header(node.values)
        {"Model": models, "Geometry": geometries, "Material": materials, "Texture": textures}.get(node.name, {})[oid] = (name, node)
    parent, geom_of, mats_of, tex_of = {}, {}, {}, {}
    conns = root.child("Connections")
    for c in conns.children if conns is not None else []:
        items = [x.strip().strip('"') for x in c.values.split(",")]
        kind, child, par = items[0], int(items[1]), int(items[2])
        if child in models and (par in models or par == 0):
            parent[child] = par
        elif child in geometries and par in models:
            geom_of[par] = child
        elif child in materials and par in models:
            mats_of.setdefault(par, []).append(child)
        elif child in textures and par in materials and kind == "OP" and "Diffuse" in (items[3] if len(items) > 3 else ""):
            tex_of[par] = child
    return _assemble(path, models, geometries, materials, textures, parent, geom_of, mats_of, tex_of)


def _global(oid: int, models: dict, parent: dict) -> tuple[np.ndarray, str]:
    matrix, names, seen = np.eye(4), [], set()
    while oid in models and oid not in seen:
        seen.add(oid)
        name, node = models[oid]
        matrix = _local(_props(node)) @ matrix
        names.append(name)
        oid = parent.get(oid, 0)
    return matrix, "/".join(reversed(names))


def _material(path: Path, node: Node, texture) -> tuple[Material, str | None]:
    props = _props(node)
    color = [float(x) for x in props.get("DiffuseColor", props.get("Diffuse", ["1", "1", "1"]))[:3]]
    mat = Material(name=_header(node.values)[1], base_color_factor=(*color, 1.0), metallic_factor=0.0)
    warning = None
    if texture is not None:
        tex_props = texture[1]
        fname = next((c.values.strip('"') for c in tex_props.children if c.name in ("RelativeFilename", "FileName")), "")
        target = path.parent / fname.replace("\\", "/")
        if fname and target.is_file():
            from PIL import Image

            mat.base_color_texture = Image.open(target)
        elif fname:
            warning = f"material {mat.name!r}: texture file {fname!r} not found; loaded without it"
    return mat, warning


def _assemble(path, models, geometries, materials, textures, parent, geom_of, mats_of, tex_of) -> Mesh:
    out_v, out_f, out_uv, part_of, mat_of, parts, warnings = [], [], [], [], [], [], []
    material_ids = list(materials)
    mats = []
    for mid in material_ids:
        mat, warning = _material(path, materials[mid][1], textures.get(tex_of.get(mid)))
        mats.append(mat)
        warnings += [warning] if warning else []
    offset = 0
    for oid, (name, _) in models.items():
        if oid not in geom_of:
            continue
        geom = geometries[geom_of[oid]][1]
        verts = geom.array(path, "Vertices")
        index = geom.array(path, "PolygonVertexIndex")
        if verts is None or index is None or len(verts) % 3:
            raise MeshLoadError(path, f"FBX geometry of model {name!r} has no Vertices / PolygonVertexIndex")
        verts = verts.reshape(-1, 3)
        tri, poly, corner_vertex = _triangulate(path, index, len(verts))
        matrix, node_path = _global(oid, models, parent)
        matrix = matrix @ _local(_props(models[oid][1]), geometric=True)
        positions = verts[corner_vertex] @ matrix[:3, :3].T + matrix[:3, 3]
        out_uv.append(_uv(path, geom, corner_vertex))
        local = _polygon_materials(path, geom, int((index < 0).sum()))[poly]
        slots = np.array([material_ids.index(m) for m in mats_of.get(oid, [])] or [-1])
        face_mat = np.where((local >= 0) & (local < len(slots)), slots[np.clip(local, 0, len(slots) - 1)], -1)
        out_v.append(positions)
        out_f.append(tri + offset)
        part_of.append(np.full(len(tri), len(parts), np.int32))
        mat_of.append(face_mat.astype(np.int32))
        parts.append(ArtistPart(name=name, kind="fbx-node", node_path=node_path, mesh=geometries[geom_of[oid]][0] or name))
        offset += len(positions)
    if not parts:
        raise MeshLoadError(path, "no mesh models in the FBX")
    uv = None if all(u is None for u in out_uv) else np.concatenate(
        [u if u is not None else np.zeros((len(v), 2), np.float32) for u, v in zip(out_uv, out_v)])
    return Mesh(vertices=np.concatenate(out_v), faces=np.concatenate(out_f), face_artist_part=np.concatenate(part_of),
                face_material=np.concatenate(mat_of), artist_parts=parts, materials=mats, uv=uv, warnings=warnings,
                source=str(path), metadata={"generator": "ascii-fbx"})


def _uv(path: Path, geom: Node, corner_vertex: np.ndarray) -> np.ndarray | None:
    """(C, 2) float32 UV per polygon corner, or None."""
    layer = geom.child("LayerElementUV")
    data = layer.array(path, "UV") if layer is not None else None
    if data is None or len(data) % 2:
        return None
    data = data.reshape(-1, 2)
    mapping, reference = _info(layer, "MappingInformationType"), _info(layer, "ReferenceInformationType")
    if mapping == "ByPolygonVertex":
        ids = np.arange(len(corner_vertex))
    elif mapping in ("ByVertice", "ByVertex", "ByControlPoint"):
        ids = corner_vertex
    else:
        return None
    if reference == "IndexToDirect":
        index = layer.array(path, "UVIndex")
        if index is None or len(index) <= ids.max(initial=0):
            raise MeshLoadError(path, "FBX UVIndex is shorter than the polygon corners")
        ids = index.astype(np.int64)[ids]
    if len(ids) and (ids.min() < 0 or ids.max() >= len(data)):
        raise MeshLoadError(path, f"FBX UV index {int(ids.max())} >= {len(data)} UVs")
    return data[ids].astype(np.float32)


def _polygon_materials(path: Path, geom: Node, num_polygons: int) -> np.ndarray:
    layer = geom.child("LayerElementMaterial")
    if layer is None:
        return np.zeros(num_polygons, np.int64)
    values = layer.array(path, "Materials")
    mapping = _info(layer, "MappingInformationType")
    if values is None or len(values) == 0:
        return np.zeros(num_polygons, np.int64)
    if mapping == "AllSame" or len(values) != num_polygons:
        return np.full(num_polygons, int(values[0]), np.int64)
    return values.astype(np.int64)
