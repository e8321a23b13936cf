"""The local executor: runs the stages in this process, each object through all its stages in turn.

Running an object's stages back to back lets a stage hand its record straight to the next one
(each output is still saved, for resume); one progress bar per stage advances as objects pass it.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

from pipelines.stage import Stage
from pipelines.worker import RunContext, ingest, object_stage


@contextmanager
def stage_progress(enabled: bool, names: list[str], total: int):
    """Progress bars on stderr (rich), one per stage; yields `advance(stage_name)`."""
    if not enabled or total == 0:
        yield lambda name: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(file=sys.stderr), transient=False) as progress:
        tasks = {name: progress.add_task(name, total=total) for name in names}
        yield lambda name: progress.advance(tasks[name])


class LocalExecutor:
    """In-process; no Ray needed."""

    name = "local"

    def __init__(self, progress: bool = True):
        self.progress = progress

    def map_source(self, stage: Stage, rows: list[dict], ctx: RunContext) -> list[dict]:
        out = []
        with stage_progress(self.progress, [stage.name], len(rows)) as advance:
            for row in rows:
                out.append(ingest(stage, row, ctx))
                advance(stage.name)
        return out

    def map_objects(self, stages: list[Stage], rows: list[dict], ctx: RunContext, events=lambda *a, **k: None) -> list[dict]:
        started: set[str] = set()
        out = []
        with stage_progress(self.progress, [s.name for s in stages], len(rows)) as advance:
            for row in rows:
                memo: dict = {}
                for index, stage in enumerate(stages, 1):
                    if stage.name not in started:
                        started.add(stage.name)
                        events("stage_start", stage=stage.name)
                    row = object_stage(stage, index, row, ctx, memo)
                    advance(stage.name)
                out.append(row)
        for stage in stages:
            events("stage_end", stage=stage.name)
        return out

    def close(self) -> None:
        pass
