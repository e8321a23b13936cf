"""The Ray executor: the same stages on Ray Data; CPU stages as tasks, model stages as actor pools.

Rows carry only keys and status; records travel through the run directory (which must be on
storage every node sees, like the content-addressed store). When Ray gives up on a task (a node
died more often than `max_retries`), the incomplete objects are run again, then one by one; an
object whose own run still fails goes to quarantine naming the Ray error, so none is lost.
"""
from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from partverse.extras import require
from pipelines.config import RayConfig, StageConfig
from pipelines.outputs import QuarantineTable, StageOutputs
from pipelines.stage import Stage
from pipelines.worker import RunContext, ingest, object_stage

_REPO = str(Path(__file__).resolve().parents[2])


def _plain(row: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}


def _task(fn: Callable[[dict], dict], name: str) -> Callable[[dict], dict]:
    def run(row: dict) -> dict:
        return fn(_plain(row))

    run.__name__ = run.__qualname__ = name  # Ray Data names the operator (and its progress bar) after it
    return run


class _StageActor:
    """Actor-pool worker for a model stage: `setup` once, then one object per call."""

    def __init__(self, stage: Stage, index: int, ctx: RunContext):
        self.stage, self.index, self.ctx = stage, index, ctx
        stage.setup()

    def __call__(self, row: dict) -> dict:
        return object_stage(self.stage, self.index, _plain(row), self.ctx)


class RayExecutor:
    name = "ray"

    def __init__(self, cfg: RayConfig, stage_cfgs: list[StageConfig] | None = None, progress: bool = True):
        self.ray = require("ray", "ray")
        require("ray.data", "ray")
        self.cfg = cfg
        self.overrides = {sc.name: sc for sc in (stage_cfgs or [])}
        self._owns = False
        if not self.ray.is_initialized():
            env = {"env_vars": {"PYTHONPATH": os.pathsep.join([_REPO, *filter(None, [os.environ.get("PYTHONPATH")])])}}
            if cfg.address:
                self.ray.init(address=cfg.address, runtime_env=env, log_to_driver=False)
            else:
                self.ray.init(num_cpus=cfg.num_cpus, object_store_memory=cfg.object_store_memory,
                              include_dashboard=False, runtime_env=env, log_to_driver=False)
            self._owns = True
        dctx = self.ray.data.DataContext.get_current()
        dctx.enable_progress_bars = progress
        dctx.print_on_execution_start = False

    def _remote_args(self, stage: Stage) -> dict[str, Any]:
        res, sc = stage.resources, self.overrides.get(stage.name)
        args = {"num_cpus": (sc and sc.num_cpus) or res.num_cpus, "max_retries": self.cfg.max_retries}
        gpus = sc.num_gpus if sc and sc.num_gpus is not None else res.num_gpus
        if gpus:
            args["num_gpus"] = gpus
        return args

    def _dataset(self, rows: list[dict]):
        return self.ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 256)))

    def _collect(self, ds) -> list[dict]:
        return [_plain(r) for r in ds.take_all()]

    def map_source(self, stage: Stage, rows: list[dict], ctx: RunContext) -> list[dict]:
        if not rows:
            return []

        def fn(row, stage=stage, ctx=ctx):
            stage.setup()
            return ingest(stage, row, ctx)

        ds = self._dataset(rows).map(_task(fn, stage.name), **self._remote_args(stage))
        try:
            return self._collect(ds)
        except Exception:  # noqa: BLE001 - Ray gave up on a task: ingest is idempotent, run the rows one by one
            return [self._one_source(stage, row, ctx) for row in rows]

    def _one_source(self, stage: Stage, row: dict, ctx: RunContext) -> dict:
        try:
            return self._collect(self._dataset([row]).map(_task(lambda r: ingest(stage, r, ctx), stage.name),
                                                          **self._remote_args(stage)))[0]
        except Exception as exc:  # noqa: BLE001
            return ingest(_Crashed(stage, exc), row, ctx)

    def _pipeline(self, stages: list[Stage], rows: list[dict], ctx: RunContext):
        ds = self._dataset(rows)
        for index, stage in enumerate(stages, 1):
            sc = self.overrides.get(stage.name)
            if stage.resources.actor:
                size = (sc and sc.concurrency) or 1
                ds = ds.map(_StageActor, fn_constructor_args=(stage, index, ctx), concurrency=size,
                            **{k: v for k, v in self._remote_args(stage).items() if k != "max_retries"})
            else:
                def fn(row, stage=stage, index=index):
                    return object_stage(stage, index, row, ctx)

                ds = ds.map(_task(fn, stage.name), **self._remote_args(stage))
        return ds

    def map_objects(self, stages: list[Stage], rows: list[dict], ctx: RunContext, events=lambda *a, **k: None) -> list[dict]:
        if not rows or not stages:
            return rows
        events("stage_start", stage="+".join(s.name for s in stages))
        try:
            out = self._collect(self._pipeline(stages, rows, ctx))
        except Exception:  # noqa: BLE001 - finished objects are saved: a second pass only runs the rest
            try:
                out = self._collect(self._pipeline(stages, rows, ctx))
            except Exception:  # noqa: BLE001 - isolate the object that keeps failing
                out = [self._one_object(stages, row, ctx) for row in rows]
        events("stage_end", stage="+".join(s.name for s in stages))
        return out

    def _one_object(self, stages: list[Stage], row: dict, ctx: RunContext) -> dict:
        try:
            return self._collect(self._pipeline(stages, [row], ctx))[0]
        except Exception as exc:  # noqa: BLE001 - quarantine at the first stage without an output
            return quarantine_unfinished(stages, row, ctx, exc)

    def close(self) -> None:
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()


class _Crashed(Stage):
    """Stands in for a stage whose Ray task kept dying: raises the Ray error so it is quarantined."""

    def __init__(self, stage: Stage, exc: BaseException):
        self.name, self.version, self.exc = stage.name, stage.version, exc

    def process(self, record):
        raise self.exc


def quarantine_unfinished(stages: list[Stage], row: dict, ctx: RunContext, exc: BaseException) -> dict:
    outputs, table = StageOutputs(ctx.run_dir), QuarantineTable(ctx.run_dir)
    row = dict(row)
    for index, stage in enumerate(stages, 1):
        key = row["keys"][index]
        if outputs.has(stage.name, key):
            row[f"o_{stage.name}"] = row.get(f"o_{stage.name}") or "ran"
            continue
        if table.get(stage.name, key) is None:
            table.add(stage.name, key, uid=row["uid"], sha256=row["sha256"], source_uri=row["source_uri"],
                      error_class=type(exc).__name__, message=f"Ray could not run this object: {exc}"[:2000],
                      traceback="".join(traceback.format_exception(exc)))
        row.update(status="quarantined", failed_stage=stage.name)
        row[f"o_{stage.name}"] = "failed"
        return row
    return row


