"""The `caption` stage: one caption per object and one per part (`partverse.caption.run`).

Input record: what the render stage yields: a `pipelines.records.SegmentedMesh` with `renders`
set (output: the same record with `captions` set to the rows, so export_parts and write_release
put them in the release), or a bare `partverse.render.objects.ObjectRenders` (output: a
`partverse.caption.run.CaptionSet`, uid + rows). Rows follow the release `captions` schema.

Resources depend on the backend: "transformers" holds a model, so it runs as an actor pool with
one GPU per actor and `batch_size` objects per call (`process_batch` fills one generate batch
with the parts of several objects); "openai" is a CPU stage whose concurrency is bounded inside
the backend (`concurrency` requests in flight); "metadata" is a plain CPU stage.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

from partverse.errors import PartverseError
from pipelines.stage import Resources, Stage


@dataclass
class CaptionStage(Stage):
    name: ClassVar[str] = "caption"
    version: ClassVar[str] = "1"
    extras: ClassVar[tuple[str, ...]] = ("caption",)

    backend: str = "metadata"
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    endpoint: str = "http://127.0.0.1:8000/v1"
    batch_size: int = 4
    max_new_tokens: int = 256
    device: str = "auto"
    concurrency: int = 8
    max_retries: int = 4
    timeout_s: float = 120.0
    mark: str | None = None  # how parts are marked in the composites; default: what the render stage recorded
    use_name_hint: bool = True

    def __post_init__(self) -> None:
        self.config()

    def config(self):
        from partverse.caption.backends import CaptionConfig

        return CaptionConfig(
            backend=self.backend, model=self.model, endpoint=self.endpoint, batch_size=self.batch_size,
            max_new_tokens=self.max_new_tokens, device=self.device, concurrency=self.concurrency,
            max_retries=self.max_retries, timeout_s=self.timeout_s, use_name_hint=self.use_name_hint,
        )

    @property
    def resources(self) -> Resources:  # type: ignore[override]
        if self.backend == "transformers":
            return Resources(num_cpus=1.0, num_gpus=1.0, batch_size=self.batch_size, actor=True)
        if self.backend == "openai":
            return Resources(num_cpus=1.0, batch_size=self.batch_size, actor=True, timeout_s=self.timeout_s * (self.max_retries + 1) * 2)
        return Resources(num_cpus=1.0)

    def setup(self) -> None:
        from partverse.caption.backends import make_backend

        self._backend = make_backend(self.config())
        self._backend.setup()

    def process_batch(self, records: list[Any]) -> Iterator[Any]:
        from partverse.caption.run import CaptionSet, caption_objects
        from partverse.render.objects import ObjectRenders

        from pipelines.records import SegmentedMesh

        renders_list = []
        for r in records:
            renders = r.renders if isinstance(r, SegmentedMesh) else r
            if not isinstance(renders, ObjectRenders):
                what = "a SegmentedMesh without renders (put the render stage before caption)" if isinstance(r, SegmentedMesh) \
                    else f"a {type(r).__name__}"
                raise PartverseError(f"caption stage: cannot take {what}; expected ObjectRenders from the render stage")
            renders_list.append(renders)
        if not hasattr(self, "_backend"):
            self.setup()
        for record, renders, rows in zip(records, renders_list, caption_objects(renders_list, self._backend, self.config(), self.mark)):
            yield dataclasses.replace(record, captions=rows) if isinstance(record, SegmentedMesh) else CaptionSet(renders.uid, rows)

    def process(self, record: Any) -> Iterator[Any]:
        yield from self.process_batch([record])
