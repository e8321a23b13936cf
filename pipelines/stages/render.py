"""The `render` stage: views of each labelled object, visible part pixels, best views, part-centric
renders and highlight composites (`partverse.render.objects.render_object`).

Input record, any of:
  - a `pipelines.records.SegmentedMesh` (what the annotation stage yields): labels are its
    segmentation's face_labels, names its part_names; the output is the same record with
    `renders` set, so later stages (caption, export_parts) still have the mesh and labels;
  - (PreparedMesh, Annotation | Segmentation): labels are the record's face_labels, names its
    part_names (Annotation) or none (Segmentation);
  - a PreparedMesh alone: the artist's own parts are the labels (face_artist_part);
  - any object with `uid`, `mesh` (records.Mesh) and `face_labels` (and optionally `part_names`).
Output record (other inputs): `partverse.render.objects.ObjectRenders`; with `out_dir` set it is also saved to
out_dir/<uid>/ (`partverse.render.store`), so `partverse caption --run` can pick it up.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import numpy as np

from partverse.errors import PartverseError
from partverse.records import PreparedMesh
from pipelines.stage import Resources, Stage


def labelled_inputs(record: Any) -> tuple[str, Any, np.ndarray, dict[int, str]]:
    """(uid, mesh, face_labels (F,), part_names) from the record kinds the stage accepts."""
    from pipelines.records import SegmentedMesh

    if isinstance(record, SegmentedMesh):
        names = record.part_names or {}
        return (record.prepared.asset.uid, record.prepared.mesh, np.asarray(record.segmentation.face_labels),
                {int(k): str(v) for k, v in names.items()})
    if isinstance(record, (tuple, list)) and len(record) == 2 and isinstance(record[0], PreparedMesh):
        prepared, labels = record
        names = getattr(labels, "part_names", None) or {}
        return prepared.asset.uid, prepared.mesh, np.asarray(labels.face_labels), {int(k): str(v) for k, v in names.items()}
    if isinstance(record, PreparedMesh):
        mesh = record.mesh
        return record.asset.uid, mesh, np.asarray(mesh.face_artist_part), {i: p.name for i, p in enumerate(mesh.artist_parts)}
    if all(hasattr(record, a) for a in ("uid", "mesh", "face_labels")):
        return record.uid, record.mesh, np.asarray(record.face_labels), dict(getattr(record, "part_names", {}) or {})
    raise PartverseError(f"render stage: cannot take a {type(record).__name__}; expected SegmentedMesh, (PreparedMesh, Annotation|Segmentation), PreparedMesh, or an object with uid, mesh, face_labels")


@dataclass
class RenderStage(Stage):
    name: ClassVar[str] = "render"
    version: ClassVar[str] = "1"
    extras: ClassVar[tuple[str, ...]] = ("render",)
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)
    path_params: ClassVar[tuple[str, ...]] = ("out_dir",)

    layout: str = "orbit"
    views: int = 8
    elevation_deg: float = 20.0
    fov_deg: float = 40.0
    resolution: int = 512
    mark: str = "box"
    dim_rest: float = 0.0
    tint: float = 0.0
    tile: int = 448
    out_dir: str | None = None

    def __post_init__(self) -> None:
        self.config()  # validate now: errors name the field, the value and the allowed values

    def config(self):
        from partverse.render.composite import HighlightStyle
        from partverse.render.objects import RenderConfig

        style = HighlightStyle(mark=self.mark, dim_rest=self.dim_rest, tint=self.tint, tile=self.tile)
        return RenderConfig(self.layout, self.views, self.elevation_deg, self.fov_deg, self.resolution, style=style)

    def setup(self) -> None:
        from partverse.extras import require

        require("embreex", "render")

    def process(self, record: Any) -> Iterator[Any]:
        from partverse.render.objects import render_object

        uid, mesh, labels, names = labelled_inputs(record)
        out = render_object(uid, mesh, labels, names, self.config())
        if self.out_dir:
            from partverse.render.store import save_renders

            save_renders(self.out_dir, out)
        from pipelines.records import SegmentedMesh

        if isinstance(record, SegmentedMesh):
            yield dataclasses.replace(record, renders=out, captions=[])
            return
        yield out
