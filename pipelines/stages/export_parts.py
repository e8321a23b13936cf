"""export_parts: one Part per label (faces, box, surface samples, textured GLB) -> release rows.

Produces the object's row of the `objects` table and its rows of the `parts` table
(`partverse.data.schema`); `face_labels` in the object row are the part ids of the exported parts.
When the render stage ran, each part row's `renders` holds its highlight composite (view
"composite", what the captioner saw) and its part-centric render (view "part"); when the caption
stage ran, its rows travel on in `ObjectRows.captions` to write_release.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from partverse.errors import ConfigError
from pipelines.records import ObjectRows, SegmentedMesh
from pipelines.stage import Resources, Stage


def _license(record: SegmentedMesh) -> str | None:
    asset = record.prepared.asset
    if asset.license:
        return asset.license
    meta = record.prepared.mesh.metadata or {}
    value = meta.get("license") or meta.get("licence")
    return str(value) if value else None


def _degenerate_samples(mesh, part, num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples of a zero-area part (no surface to sample by area): its face corners drawn
    uniformly (seeded), with zero normals meaning "undefined". Returns two (N, 3) float32."""
    corners = mesh.vertices[mesh.faces[part.face_indices]].reshape(-1, 3)
    rng = np.random.default_rng([seed, int(part.part_id)])
    points = corners[rng.integers(0, len(corners), num_samples)].astype(np.float32)
    return points, np.zeros_like(points)


@dataclass
class ExportParts(Stage):
    name = "export_parts"
    version = "5"  # 5: SFC64 sample stream; 4: binomial face counts; 3: one per-object stream; 2: renders + captions
    resources = Resources(num_cpus=1)

    num_samples: int = 4096
    seed: int = 0

    def __post_init__(self):
        if self.num_samples < 1:
            raise ConfigError(f"num_samples: must be >= 1, got {self.num_samples}")

    def process(self, record: SegmentedMesh) -> Iterator[ObjectRows]:
        from partverse.geometry.parts import export_parts, mesh_to_glb

        mesh, asset, seg = record.prepared.mesh, record.prepared.asset, record.segmentation
        names = record.part_names or None
        parts = export_parts(mesh, seg.face_labels, names=names, num_samples=self.num_samples, seed=self.seed, uid=asset.uid)
        for p in parts:
            if len(p.points) != self.num_samples:
                p.points, p.normals = _degenerate_samples(mesh, p, self.num_samples, self.seed)
        face_labels = np.full(mesh.num_faces, -1, dtype=np.int32)
        for p in parts:
            face_labels[p.face_indices] = p.part_id
        if (face_labels < 0).any():
            raise ValueError(f"{asset.source_uri}: {int((face_labels < 0).sum())} faces belong to no exported part")
        license = _license(record)
        object_row = {
            "uid": asset.uid, "sha256": asset.sha256, "source": asset.source, "source_uri": asset.source_uri,
            "license": license, "metadata_json": json.dumps(asset.metadata, sort_keys=True, default=str),
            "num_faces": mesh.num_faces, "num_vertices": mesh.num_vertices, "num_parts": len(parts),
            "label_source": record.label_source, "segmentation_method": seg.method,
            "segmentation_params_json": json.dumps(seg.params, sort_keys=True, default=str),
            "face_labels": face_labels, "transform": np.asarray(mesh.transform, dtype=np.float64).reshape(16),
            "normalized_glb": mesh_to_glb(mesh),
        }
        part_rows = [
            {
                "uid": asset.uid, "part_id": int(p.part_id), "name": p.name, "license": license,
                "num_faces": int(len(p.face_indices)), "face_indices": np.asarray(p.face_indices, dtype=np.int32),
                "bbox_min": np.asarray(p.bbox_min, dtype=np.float32), "bbox_max": np.asarray(p.bbox_max, dtype=np.float32),
                "points": np.asarray(p.points, dtype=np.float32).reshape(-1),
                "normals": np.asarray(p.normals, dtype=np.float32).reshape(-1), "glb": p.glb,
            }
            for p in parts
        ]
        renders = _part_renders(getattr(record, "renders", None))
        for row in part_rows:
            row["renders"] = renders.get(row["part_id"])
        captions = [dict(c) for c in getattr(record, "captions", None) or []]
        yield ObjectRows(uid=asset.uid, object_row=object_row, part_rows=part_rows, captions=captions)


def _part_renders(renders) -> dict[int, list[dict]]:
    """part_id -> [{"view": "composite", "png"}, {"view": "part", "png"}] from an ObjectRenders (or {})."""
    if renders is None:
        return {}
    return {int(p.part_id): [{"view": "composite", "png": p.composite_png}, {"view": "part", "png": p.part_png}]
            for p in renders.parts}
