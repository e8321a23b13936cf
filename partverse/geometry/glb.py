"""A small GLB writer for partverse meshes: positions, UVs, vertex colours, indices, PBR materials
with their textures. Textures are encoded once per call (JPEG sources stay JPEG, others PNG)."""
from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass, field

import numpy as np

from partverse.geometry.normalize import bounding_box
from partverse.records import Material


@dataclass
class Primitive:
    """One draw call: positions (n, 3) float32, indices (m, 3) uint32, optional uv (n, 2) in
    trimesh convention (v up; flipped on write), colors (n, 4) uint8, material index or -1."""

    positions: np.ndarray
    indices: np.ndarray
    uv: np.ndarray | None = None
    colors: np.ndarray | None = None
    material: int = -1


@dataclass
class GlbBuilder:
    """Accumulates nodes (one mesh each) and writes a GLB with `to_bytes()`."""

    materials: list[Material]
    image_cache: dict = field(default_factory=dict)  # id(PIL image) -> (mime, bytes), shareable across calls
    _bin: bytearray = field(default_factory=bytearray)
    _json: dict = field(default_factory=lambda: {"asset": {"version": "2.0", "generator": "partverse"},
                                                  "scene": 0, "scenes": [{"nodes": []}], "nodes": [], "meshes": [],
                                                  "accessors": [], "bufferViews": [], "buffers": []})
    _material_map: dict = field(default_factory=dict)

    def add_node(self, name: str, primitives: list[Primitive]) -> None:
        prims = [self._primitive(p) for p in primitives if len(p.indices)]
        if not prims:
            return
        self._json["meshes"].append({"name": name, "primitives": prims})
        self._json["nodes"].append({"name": name, "mesh": len(self._json["meshes"]) - 1})
        self._json["scenes"][0]["nodes"].append(len(self._json["nodes"]) - 1)

    def extras(self, values: dict) -> None:
        self._json["asset"]["extras"] = values

    def to_bytes(self) -> bytes:
        self._json["buffers"] = [{"byteLength": len(self._bin)}]
        for key in [k for k, v in self._json.items() if v == [] and k not in ("nodes", "meshes")]:
            del self._json[key]
        raw = json.dumps(self._json, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 4)
        body = bytes(self._bin) + b"\x00" * (-len(self._bin) % 4)
        total = 12 + 8 + len(raw) + 8 + len(body)
        return b"".join([struct.pack("<4sII", b"glTF", 2, total), struct.pack("<II", len(raw), 0x4E4F534A), raw,
                         struct.pack("<II", len(body), 0x004E4942), body])

    def _view(self, data: bytes, target: int | None = None) -> int:
        self._bin.extend(b"\x00" * (-len(self._bin) % 4))
        view = {"buffer": 0, "byteOffset": len(self._bin), "byteLength": len(data)}
        if target:
            view["target"] = target
        self._bin.extend(data)
        self._json["bufferViews"].append(view)
        return len(self._json["bufferViews"]) - 1

    def _accessor(self, array: np.ndarray, ctype: int, kind: str, target: int | None, bounds: bool = False, normalized: bool = False) -> int:
        acc = {"bufferView": self._view(np.ascontiguousarray(array).tobytes(), target), "componentType": ctype,
               "count": int(len(array)), "type": kind}
        if bounds:
            lo, hi = bounding_box(array)
            acc["min"], acc["max"] = lo.tolist(), hi.tolist()
        if normalized:
            acc["normalized"] = True
        self._json["accessors"].append(acc)
        return len(self._json["accessors"]) - 1

    def _primitive(self, p: Primitive) -> dict:
        attrs = {"POSITION": self._accessor(p.positions.astype(np.float32), 5126, "VEC3", 34962, bounds=True)}
        if p.uv is not None:
            uv = p.uv.astype(np.float32).copy()
            uv[:, 1] = 1.0 - uv[:, 1]
            attrs["TEXCOORD_0"] = self._accessor(uv, 5126, "VEC2", 34962)
        if p.colors is not None:
            attrs["COLOR_0"] = self._accessor(p.colors.astype(np.uint8), 5121, "VEC4", 34962, normalized=True)
        prim = {"attributes": attrs, "mode": 4,
                "indices": self._accessor(p.indices.astype(np.uint32).reshape(-1), 5125, "SCALAR", 34963)}
        if p.material >= 0:
            prim["material"] = self._material(p.material, with_uv=p.uv is not None)
        return prim

    def _material(self, index: int, with_uv: bool) -> int:
        key = (index, with_uv)
        if key not in self._material_map:
            m = self.materials[index]
            pbr = {"baseColorFactor": list(m.base_color_factor), "metallicFactor": m.metallic_factor,
                   "roughnessFactor": m.roughness_factor}
            out = {"name": m.name, "pbrMetallicRoughness": pbr, "alphaMode": m.alpha_mode, "doubleSided": m.double_sided}
            if any(m.emissive_factor):
                out["emissiveFactor"] = list(m.emissive_factor)
            if with_uv:
                for slot, image, holder in (("baseColorTexture", m.base_color_texture, pbr),
                                            ("metallicRoughnessTexture", m.metallic_roughness_texture, pbr),
                                            ("normalTexture", m.normal_texture, out),
                                            ("emissiveTexture", m.emissive_texture, out)):
                    if image is not None:
                        holder[slot] = {"index": self._texture(image)}
            self._json.setdefault("materials", []).append(out)
            self._material_map[key] = len(self._json["materials"]) - 1
        return self._material_map[key]

    def _texture(self, image) -> int:
        mime, data = encode_image(image, self.image_cache)
        images = self._json.setdefault("images", [])
        images.append({"bufferView": self._view(data), "mimeType": mime})
        self._json.setdefault("textures", []).append({"source": len(images) - 1})
        return len(self._json["textures"]) - 1


_MAGIC = {"PNG": (b"\x89PNG", "image/png"), "JPEG": (b"\xff\xd8", "image/jpeg")}


def original_bytes(image) -> tuple[str, bytes] | None:
    """(mime, bytes) of the encoded file a lazily opened PIL image was read from, if it kept them
    (trimesh opens textures from in-memory buffers): writing these keeps textures byte-identical."""
    fp = getattr(image, "fp", None)
    known = _MAGIC.get(getattr(image, "format", None) or "")
    if known is None or not hasattr(fp, "getvalue"):
        return None
    data = fp.getvalue()
    return (known[1], data) if data.startswith(known[0]) else None


def encode_image(image, cache: dict) -> tuple[str, bytes]:
    """(mime type, encoded bytes) of a PIL image, cached by object id in `cache`: the original
    file bytes when available, else PNG (JPEG sources re-encoded as JPEG, quality 95)."""
    key = id(image)
    if key not in cache:
        found = original_bytes(image)
        if found is not None:
            cache[key] = (*found, image)  # keep the image alive so its id stays unique
        else:
            buf = io.BytesIO()
            if getattr(image, "format", None) == "JPEG" and image.mode in ("RGB", "L"):
                image.save(buf, format="JPEG", quality=95)
                cache[key] = ("image/jpeg", buf.getvalue(), image)
            else:
                image.save(buf, format="PNG", compress_level=1)
                cache[key] = ("image/png", buf.getvalue(), image)
    mime, data, _ = cache[key]
    return mime, data
