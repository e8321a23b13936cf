"""annotation: use the human labels from the annotation hand-off where they exist.

With `annotations_dir` set and `<dir>/<uid>.npz` present (`partverse.data.annotations`) with one
label per face, the object's labels and part names become the human ones (label_source "human");
an object the annotator rejected goes to quarantine with the annotator's reason. Otherwise the
automatic labels stay (label_source "auto"). The annotation file's hash is part of the output key,
so a new annotation re-runs this object's annotation and later stages only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from partverse.io.store import file_sha256
from partverse.records import Segmentation
from pipelines.records import SegmentedMesh
from pipelines.stage import Rejected, Resources, Stage


@dataclass
class AnnotationStage(Stage):
    name = "annotation"
    version = "1"
    resources = Resources(num_cpus=1)
    path_params = ("annotations_dir",)

    annotations_dir: str | None = None

    def _file(self, uid: str) -> Path | None:
        if not self.annotations_dir:
            return None
        p = Path(self.annotations_dir) / f"{uid}.npz"
        return p if p.is_file() else None

    def fingerprint(self, uid: str) -> str:
        p = self._file(uid)
        return file_sha256(p) if p else ""

    def process(self, record: SegmentedMesh) -> Iterator[SegmentedMesh]:
        from partverse.data.annotations import load_annotation

        uid = record.prepared.asset.uid
        ann = load_annotation(self.annotations_dir, uid) if self._file(uid) else None
        if ann is None:
            yield record
            return
        if ann.status == "rejected":
            raise Rejected(f"{record.prepared.asset.source_uri}: rejected by annotator {ann.author}: {ann.reason}")
        num_faces = record.prepared.mesh.num_faces
        if ann.face_labels.shape != (num_faces,):
            record.prepared.mesh.warnings.append(
                f"annotation {uid}.npz has {ann.face_labels.size} labels for {num_faces} faces: kept automatic labels")
            yield SegmentedMesh(prepared=record.prepared, segmentation=record.segmentation, label_source="auto")
            return
        seg = Segmentation(uid=uid, face_labels=ann.face_labels.astype("int32"), method="human",
                           params={"author": ann.author, "revision": ann.revision, "status": ann.status,
                                   "auto_method": record.segmentation.method})
        yield SegmentedMesh(prepared=record.prepared, segmentation=seg, label_source="human", part_names=dict(ann.part_names))
