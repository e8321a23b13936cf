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



def _methods() -> list[str]:
    import partverse.segment as seg

    return sorted(seg.METHODS)


@dataclass
class Segment(Stage):
    name = "segment"
    version = "1"

    method: str = "artist"
    options: dict[str, Any] = field(default_factory=dict)
    num_gpus: float = 0.0  # GPUs per SAM-2 actor on Ray (samesh, or auto with options.sam2); 0 = CPU

    def __post_init__(self):
        allowed = _methods()
        if self.method not in allowed:
            raise ConfigError(f"method: {self.method!r} is not a segmentation method; allowed: {', '.join(allowed)}")
        if self.num_gpus < 0:
            raise ConfigError(f"num_gpus: {self.num_gpus!r} must be >= 0")
        if self.method == "samesh" and not self.options.get("sam2"):
            raise ConfigError("options.sam2: method 'samesh' needs a SAM-2 model path or hub id")
        self._generator = None

    @property
    def uses_sam2(self) -> bool:
        return self.method == "samesh" or (self.method == "auto" and bool(self.options.get("sam2")))

    @property
    def resources(self) -> Resources:  # type: ignore[override]
        # a SAM-2 method holds a model: an actor pool on Ray, the model loaded once per actor in `setup`
        if self.uses_sam2:
            return Resources(num_cpus=1, num_gpus=self.num_gpus, actor=True)
        return Resources(num_cpus=1)

    def params(self) -> dict[str, Any]:
        params = super().params()
        params.pop("num_gpus")  # where it runs does not change what it writes
        return params

    def setup(self) -> None:
        if self.uses_sam2 and self._generator is None:
            from partverse.segment.sam2_masks import Sam2MaskGenerator

            self._generator = Sam2MaskGenerator(self.options["sam2"], self._mask_config(),
                                                device=self.options.get("device"))

    def _mask_config(self):
        from partverse.segment.sam2_masks import MaskConfig

        config = self.options.get("mask_config")
        if isinstance(config, dict):
            try:
                return MaskConfig(**config)
            except TypeError as exc:
                raise ConfigError(f"options.mask_config: {exc}") from exc
        return config or MaskConfig()

    def process(self, record: PreparedMesh) -> Iterator[SegmentedMesh]:
        from partverse.segment import segment

        options = dict(self.options)
        if self.uses_sam2:
            self.setup()  # no-op after the first record
            options.pop("mask_config", None)
            options["generator"] = self._generator
        result = segment(record.mesh, self.method, **options)
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
