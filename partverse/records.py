"""The record types passed between stages (ARCHITECTURE.md "Records").

Every record is a slotted dataclass; stages take and yield these, never loose dicts.
Arrays carry their shape in the field comment: "(F, 3) int64" means one row per face.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(slots=True)
class ArtistPart:
    """One unit of the artist's own structure that faces came from.

    kind: "gltf-primitive" (a glTF node's mesh primitive), "obj-group", "fbx-node",
    or "whole" (formats without structure: PLY, OFF, STL).
    """

    name: str  # short human-readable name, e.g. "wheel_front_left"
    kind: str
    node_path: str = ""  # "/"-joined node names from the scene root ("" for "whole")
    mesh: str | None = None  # glTF mesh name / OBJ object name
    primitive: int | None = None  # glTF primitive index within its mesh


@dataclass(slots=True)
class Material:
    """A PBR metallic-roughness material; textures are decoded PIL images (or None)."""

    name: str = ""
    base_color_factor: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    base_color_texture: Any = None  # PIL.Image.Image | None
    metallic_factor: float = 1.0
    roughness_factor: float = 1.0
    metallic_roughness_texture: Any = None
    normal_texture: Any = None
    emissive_factor: tuple[float, float, float] = (0.0, 0.0, 0.0)
    emissive_texture: Any = None
    alpha_mode: str = "OPAQUE"
    double_sided: bool = False

    @property
    def textured(self) -> bool:
        return self.base_color_texture is not None


@dataclass(slots=True, eq=False)
class Mesh:
    """One triangle mesh with per-face provenance, as returned by `partverse.io.load`.

    vertices: (V, 3) float64
    faces: (F, 3) int64, indices into vertices
    face_artist_part: (F,) int32, index into artist_parts
    face_material: (F,) int32, index into materials, -1 = no material
    uv: (V, 2) float32 or None (vertices are split at UV seams, as in the file)
    vertex_colors: (V, 4) uint8 or None
    transform: (4, 4) float64 mapping the current frame back to the file's frame
        (identity after loading; set by normalization so the mapping is reversible)
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_artist_part: np.ndarray
    face_material: np.ndarray
    artist_parts: list[ArtistPart]
    materials: list[Material] = field(default_factory=list)
    uv: np.ndarray | None = None
    vertex_colors: np.ndarray | None = None
    transform: np.ndarray = field(default_factory=lambda: np.eye(4))
    warnings: list[str] = field(default_factory=list)
    source: str = ""  # path or URI it was loaded from
    metadata: dict = field(default_factory=dict)  # e.g. glTF asset.extras (licence, author)

    @property
    def num_faces(self) -> int:
        return int(len(self.faces))

    @property
    def num_vertices(self) -> int:
        return int(len(self.vertices))

    @property
    def textured(self) -> bool:
        return self.uv is not None and any(m.textured for m in self.materials)


@dataclass(slots=True)
class Asset:
    """A raw file in the content-addressed store."""

    uid: str
    source: str  # "local", "objaverse", "objaverse-xl/<source>"
    source_uri: str
    sha256: str
    license: str | None
    path: str  # file in the store (for multi-file formats: the main file)
    metadata: dict = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class PreparedMesh:
    """A loaded, validated mesh in the normalized frame (unit cube), with filter stats."""

    asset: Asset
    mesh: Mesh
    stats: dict


@dataclass(slots=True, eq=False)
class Segmentation:
    """Per-face labels for a PreparedMesh and how they were made."""

    uid: str
    face_labels: np.ndarray  # (F,) int32, 0..K-1
    method: str
    params: dict
    segment_stats: list[dict] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Annotation:
    """Human-final labels: per-face labels, part names, accept / reject, who and when."""

    uid: str
    face_labels: np.ndarray  # (F,) int32
    part_names: dict[int, str]
    status: str  # "accepted" | "rejected" | "auto"
    reason: str | None
    author: str | None
    revision: int
    updated_at: str | None = None


@dataclass(slots=True, eq=False)
class Part:
    """One part of one object."""

    uid: str  # the object's uid
    part_id: int
    name: str
    face_indices: np.ndarray  # (Fp,) int64 into the object's faces
    bbox_min: np.ndarray  # (3,) float32, normalized frame
    bbox_max: np.ndarray  # (3,) float32
    points: np.ndarray  # (N, 3) float32 surface samples
    normals: np.ndarray  # (N, 3) float32
    glb: bytes  # textured part mesh
    renders: dict[str, bytes] = field(default_factory=dict)  # PNG bytes by view name
    captions: dict[str, Any] = field(default_factory=dict)  # brief, detailed, model, prompt...
