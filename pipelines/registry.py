"""Stage names -> stage classes. Add a stage with one line in `STAGES` ("module:Class").

Classes are imported on first use so that listing stages never imports torch, Ray or bpy.
"""
from __future__ import annotations

import importlib

from partverse.errors import ConfigError
from pipelines.stage import Stage

STAGES: dict[str, str] = {
    "ingest_local": "pipelines.stages.ingest_local:IngestLocal",
    "prepare": "pipelines.stages.prepare:Prepare",
    "segment": "pipelines.stages.segment:Segment",
    "annotation": "pipelines.stages.annotation:AnnotationStage",
    "export_parts": "pipelines.stages.export_parts:ExportParts",
    "write_release": "pipelines.stages.write_release:WriteRelease",
    "render": "pipelines.stages.render:RenderStage",
    "caption": "pipelines.stages.caption:CaptionStage",
    "objaverse_select": "pipelines.stages.objaverse:ObjaverseSelect",
    "objaverse_download": "pipelines.stages.objaverse:ObjaverseDownload",
}


def register_stage(name: str, target: str) -> None:
    """Register a stage class at runtime ("module:Class"), e.g. from a plugin or a test."""
    STAGES[name] = target


def stage_class(name: str) -> type[Stage]:
    if name not in STAGES:
        raise ConfigError(f"stage {name!r} is not known; allowed: {', '.join(sorted(STAGES))}")
    module, _, cls = STAGES[name].partition(":")
    return getattr(importlib.import_module(module), cls)
