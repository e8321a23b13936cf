"""Records passed between the pipeline's stages that are not library records.

`partverse.records` holds the library's records (Asset, PreparedMesh, Segmentation, Part);
these add what only the pipeline needs: an input file before ingest, a segmented mesh with the
source of its labels, and the release rows of one object.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from partverse.records import PreparedMesh, Segmentation


@dataclass(slots=True)
class SourceFile:
    """A file to ingest, with the sidecar files it references (relative path -> absolute path)."""

    path: str
    source: str = "local"
    source_uri: str = ""
    license: str | None = None
    sidecars: dict[str, str] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    @property
    def uid_hint(self) -> str:
        return self.source_uri or self.path


@dataclass(slots=True, eq=False)
class SegmentedMesh:
    """A prepared mesh with per-face labels; label_source is "auto" or "human".

    The optional `render` and `caption` stages attach their results and pass the record on:
    renders is a `partverse.render.objects.ObjectRenders`, captions the release `captions` rows
    (object row part_id -1 first, then one per part)."""

    prepared: PreparedMesh
    segmentation: Segmentation
    label_source: str = "auto"
    part_names: dict[int, str] = field(default_factory=dict)
    renders: Any = None
    captions: list[dict] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class ObjectRows:
    """One object's rows of the release tables (`partverse.data.schema`)."""

    uid: str
    object_row: dict
    part_rows: list[dict]
    captions: list[dict] = field(default_factory=list)  # rows of the `captions` table (may be empty)
