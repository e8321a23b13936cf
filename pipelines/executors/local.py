"""The local executor: runs each stage over all objects in this process, one stage after another."""
from __future__ import annotations

import sys
from contextlib import contextmanager

from pipelines.stage import Stage
from pipelines.worker import RunContext, ingest, object_stage


@contextmanager
def stage_progress(enabled: bool, name: str, total: int):
    """A progress bar for one stage on stderr (rich); yields an `advance()` callable."""
    if not enabled or total == 0:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    columns = (TextColumn(f"{name:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(name, total=total)
        yield lambda: progress.advance(task)


class LocalExecutor:
    """In-process; no Ray needed. Stages run breadth-first so each has its own progress bar."""

    name = "local"

    def __init__(self, progress: bool = True):
        self.progress = progress

    def map_source(self, stage: Stage, rows: list[dict], ctx: RunContext) -> list[dict]:
        stage.setup()
        out = []
        with stage_progress(self.progress, stage.name, len(rows)) as advance:
            for row in rows:
                out.append(ingest(stage, row, ctx))
                advance()
        return out

    def map_objects(self, stages: list[Stage], rows: list[dict], ctx: RunContext, events=lambda *a, **k: None) -> list[dict]:
        for index, stage in enumerate(stages, 1):
            events("stage_start", stage=stage.name)
            todo = [r for r in rows if r["status"] == "ok"]
            if todo:
                stage.setup()
            with stage_progress(self.progress, stage.name, len(todo)) as advance:
                done = {}
                for row in todo:
                    done[row["uid"]] = object_stage(stage, index, row, ctx)
                    advance()
            rows = [done.get(r["uid"], r) for r in rows]
            events("stage_end", stage=stage.name)
        return rows

    def close(self) -> None:
        pass
