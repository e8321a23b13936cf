"""segment: per-face labels for a PreparedMesh by a named method (`partverse.segment`).

`method` picks an entry of `partverse.segment.METHODS` ("artist" is the artist-structure prior);
`options` are that method's keyword parameters. Both are part of the output key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from partverse.errors import ConfigError
from partverse.records import PreparedMesh, Segmentation
from pipelines.records import SegmentedMesh
from pipelines.stage import Resources, Stage

# methods that hold a model: one actor per GPU on Ray, `setup` loads the model once
_MODEL_METHODS = {"sam2": Resources(num_cpus=1, num_gpus=1, actor=True)}


def _methods() -> list[str]:
    import partverse.segment as seg

    return sorted(seg.METHODS)


@dataclass
class Segment(Stage):
    name = "segment"
    version = "1"

    method: str = "artist"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        allowed = _methods()
        if self.method not in allowed:
            raise ConfigError(f"method: {self.method!r} is not a segmentation method; allowed: {', '.join(allowed)}")

    @property
    def resources(self) -> Resources:  # type: ignore[override]
        return _MODEL_METHODS.get(self.method, Resources(num_cpus=1))

    def process(self, record: PreparedMesh) -> Iterator[SegmentedMesh]:
        from partverse.segment import segment

        result = segment(record.mesh, self.method, **self.options)
        if isinstance(result, Segmentation):
            seg = result
            seg.uid = record.asset.uid
        else:
            labels = np.asarray(result, dtype=np.int32)
            seg = Segmentation(uid=record.asset.uid, face_labels=labels, method=self.method, params=dict(self.options))
        if seg.face_labels.shape != (record.mesh.num_faces,):
            raise ValueError(f"{record.asset.source_uri}: segmentation {self.method} gave {seg.face_labels.shape} labels "
                             f"for {record.mesh.num_faces} faces")
        yield SegmentedMesh(prepared=record, segmentation=seg, label_source="auto")
