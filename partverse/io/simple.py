"""PLY, OFF and STL loaders: one artist part ("whole"), the file's own face order.

Headers are checked against the file size before trimesh allocates anything, so a huge declared
count is refused at once instead of hanging.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from partverse.errors import MeshLoadError
from partverse.io import register
from partverse.io.scene import scene_to_mesh
from partverse.io.validate import validate_mesh
from partverse.records import ArtistPart, Mesh

MAX_BYTES = 1 << 30
_PLY_SIZES = {"char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
              "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8, "float64": 8}


def check_ply_header(path: Path, data: bytes) -> None:
    """Refuse PLY headers that are malformed, duplicate elements or declare more data than the file holds."""
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise MeshLoadError(path, "not a PLY file: missing 'ply' magic or 'end_header'")
    lines = data[:end].decode("ascii", errors="replace").splitlines()
    fmt = next((ln.split()[1] for ln in lines if ln.startswith("format") and len(ln.split()) > 1), None)
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise MeshLoadError(path, f"PLY format {fmt!r} is not ascii / binary_little_endian / binary_big_endian")
    elements: list[list] = []  # [name, count, min bytes per row]
    for ln in lines:
        tok = ln.split()
        if tok[:1] == ["element"]:
            if len(tok) != 3 or not tok[2].isdigit():
                raise MeshLoadError(path, f"malformed PLY element line {ln!r}")
            if any(e[0] == tok[1] for e in elements):
                raise MeshLoadError(path, f"PLY header declares element {tok[1]!r} twice")
            elements.append([tok[1], int(tok[2]), 0])
        elif tok[:1] == ["property"] and elements:
            size = _PLY_SIZES.get(tok[2] if tok[1:2] == ["list"] and len(tok) > 2 else tok[1] if len(tok) > 1 else "")
            if size is None:
                raise MeshLoadError(path, f"unknown PLY property type in {ln!r}")
            elements[-1][2] += size if fmt != "ascii" else 2  # ascii: at least one digit and a separator
    if not any(e[0] == "face" and e[1] > 0 for e in elements):
        raise MeshLoadError(path, "PLY declares no faces")
    vertex = next((e for e in elements if e[0] == "vertex"), None)
    if vertex is None or vertex[1] == 0:
        raise MeshLoadError(path, "PLY declares no vertices")
    needed = sum(count * row for _, count, row in elements)
    available = len(data) - end - len("end_header")
    if needed > available:
        raise MeshLoadError(path, f"PLY header declares at least {needed} bytes of data, the file has {available}")


def check_off_header(path: Path, data: bytes) -> None:
    """Refuse OFF files whose declared vertex / face counts cannot fit in the file."""
    text = re.sub(rb"#[^\n]*", b"", data[:4096]).split()
    if not text or not text[0].endswith(b"OFF"):
        raise MeshLoadError(path, "not an OFF file: missing 'OFF' header")
    counts = text[1:4]
    if len(counts) < 2 or not all(c.isdigit() for c in counts[:2]):
        raise MeshLoadError(path, "OFF header has no vertex / face counts")
    nv, nf = int(counts[0]), int(counts[1])
    if nf == 0:
        raise MeshLoadError(path, "OFF declares no faces")
    if nv * 6 + nf * 8 > len(data):  # "x y z\n" >= 6 bytes, "3 a b c\n" >= 8 bytes
        raise MeshLoadError(path, f"OFF header declares {nv} vertices and {nf} faces, more than {len(data)} bytes can hold")


def read_triangle_off(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Fast path for a plain all-triangle OFF file: (V, 3) float64 vertices and (F, 3) int64
    faces parsed in one numpy call, or None when the file needs the general reader."""
    text = re.sub(rb"#[^\n]*", b"", data)
    if not text.lstrip().startswith(b"OFF"):
        return None
    numbers = np.array(text.lstrip()[3:].split(), dtype=np.float64) if len(text) < MAX_BYTES else None
    if numbers is None or len(numbers) < 3:
        return None
    nv, nf = int(numbers[0]), int(numbers[1])
    body = numbers[3:]
    if len(body) != nv * 3 + nf * 4:
        return None
    faces = body[nv * 3:].reshape(nf, 4)
    if not (faces[:, 0] == 3).all():
        return None
    return body[:nv * 3].reshape(nv, 3), faces[:, 1:].astype(np.int64)


@register(".ply", ".off", ".stl")
def load_single(path: Path) -> Mesh:
    """Load a PLY / OFF / STL file as one Mesh with a single artist part."""
    import trimesh

    size = path.stat().st_size
    if size == 0:
        raise MeshLoadError(path, "empty file (0 bytes)")
    if size > MAX_BYTES:
        raise MeshLoadError(path, f"file of {size} bytes exceeds the {MAX_BYTES}-byte limit")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".ply":
        check_ply_header(path, data)
    elif suffix == ".off":
        check_off_header(path, data)
    fast = read_triangle_off(data) if suffix == ".off" else None
    try:
        if fast is not None:
            scene = trimesh.Scene(trimesh.Trimesh(vertices=fast[0], faces=fast[1], process=False))
        else:
            scene = trimesh.load(str(path), process=False, maintain_order=True, force="scene")
    except Exception as exc:
        raise MeshLoadError(path, f"{suffix[1:].upper()} could not be read: {type(exc).__name__}: {exc}") from exc
    stem = path.stem
    mesh = scene_to_mesh(scene, str(path), lambda sc, node, geom: ArtistPart(name=stem, kind="whole"))
    return validate_mesh(mesh, path)
