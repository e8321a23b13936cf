"""The Ray executor: the same stages on Ray Data; CPU stages as tasks, model stages as actor pools.

Rows carry only keys and status; records travel through the run directory (which must be on
storage every node sees, like the content-addressed store). When Ray gives up on a task (a node
died more often than Ray's task retries allow), the incomplete objects are run again, then one by one; an
object whose own run still fails goes to quarantine naming the Ray error, so none is lost.
"""
from __future__ import annotations

import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from partverse.extras import require
from pipelines.config import RayConfig, StageConfig
from pipelines.outputs import QuarantineTable, StageOutputs
from pipelines.stage import Stage
from pipelines.worker import RunContext, ensure_setup, ingest, object_stage

_REPO = str(Path(__file__).resolve().parents[2])


def _plain(row: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}


def _task(fn: Callable[[dict], dict], name: str) -> Callable[[dict], dict]:
    def run(row: dict) -> dict:
        return fn(_plain(row))

    run.__name__ = run.__qualname__ = name  # Ray Data names the operator (and its progress bar) after it
    return run


def _groups(stages: list[Stage]) -> list[list[tuple[int, Stage]]]:
    """Consecutive CPU task stages (same GPU need) grouped; each actor stage alone. Indices are 1-based."""
    groups: list[list[tuple[int, Stage]]] = []
    for index, stage in enumerate(stages, 1):
        prev = groups[-1][-1][1] if groups else None
        if prev is not None and not stage.resources.actor and not prev.resources.actor \
                and stage.resources.num_gpus == prev.resources.num_gpus:
            groups[-1].append((index, stage))
        else:
            groups.append([(index, stage)])
    return groups


class _StageActor:
    """Actor-pool worker for a model stage: `setup` once, then one object per call."""

    def __init__(self, stage: Stage, index: int, ctx: RunContext):
        self.stage, self.index, self.ctx = stage, index, ctx
        ensure_setup(stage)  # once per actor, before the first object

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
            if cfg.address:  # the cluster's nodes must have partverse installed (or a runtime_env)
                self.ray.init(address=cfg.address, log_to_driver=False)
            else:  # local workers inherit this environment: make the repository importable there
                paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
                if _REPO not in paths:
                    os.environ["PYTHONPATH"] = os.pathsep.join([_REPO, *filter(None, paths)])
                self.ray.init(num_cpus=cfg.num_cpus, object_store_memory=cfg.object_store_memory,
                              include_dashboard=False, log_to_driver=False)
            self._owns = True
        dctx = self.ray.data.DataContext.get_current()
        dctx.enable_progress_bars = progress
        dctx.print_on_execution_start = False

    def _remote_args(self, stage: Stage) -> dict[str, Any]:
        res, sc = stage.resources, self.overrides.get(stage.name)
        # bounded retries: Ray Data retries map tasks forever by default, so an object that kills
        # its worker every time would hang the build instead of reaching quarantine
        retries = {"max_restarts": self.cfg.max_retries, "max_task_retries": self.cfg.max_retries} if res.actor \
            else {"max_retries": self.cfg.max_retries}
        args: dict[str, Any] = {"num_cpus": (sc and sc.num_cpus) or res.num_cpus, **retries}
        gpus = sc.num_gpus if sc and sc.num_gpus is not None else res.num_gpus
        if gpus:
            args["num_gpus"] = gpus
        return args

    def _dataset(self, rows: list[dict]):
        return self.ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 256)))

    def _collect(self, ds) -> list[dict]:
        return [_plain(r) for r in ds.take_all()]

    def _map(self, ds, fn, **kwargs):
        with warnings.catch_warnings():  # retries still go through ray_remote_args (deprecated)
            warnings.simplefilter("ignore")
            return ds.map(fn, **kwargs)

    def map_source(self, stage: Stage, rows: list[dict], ctx: RunContext) -> list[dict]:
        if not rows:
            return []

        ds = self._map(self._dataset(rows), _task(lambda row: ingest(stage, row, ctx), stage.name), **self._remote_args(stage))
        try:
            return self._collect(ds)
        except Exception:  # noqa: BLE001 - Ray gave up on a task: ingest is idempotent, run the rows one by one
            return [self._one_source(stage, row, ctx) for row in rows]

    def _one_source(self, stage: Stage, row: dict, ctx: RunContext) -> dict:
        try:
            return self._collect(self._map(self._dataset([row]), _task(lambda r: ingest(stage, r, ctx), stage.name),
                                           **self._remote_args(stage)))[0]
        except Exception as exc:  # noqa: BLE001
            return ingest(_Crashed(stage, exc), row, ctx)

    def _pipeline(self, stages: list[Stage], rows: list[dict], ctx: RunContext):
        """One Ray Data map per run of consecutive task stages (records handed over in memory
        inside the task), one actor-pool map per model stage."""
        ds = self._dataset(rows)
        for group in _groups(stages):
            first_index, first = group[0]
            if first.resources.actor:
                sc = self.overrides.get(first.name)
                ds = self._map(ds, _StageActor, fn_constructor_args=(first, first_index, ctx),
                            compute=self.ray.data.ActorPoolStrategy(size=(sc and sc.concurrency) or 1),
                            **self._remote_args(first))
            else:
                def fn(row, group=group):
                    memo: dict = {}
                    for index, stage in group:
                        row = object_stage(stage, index, row, ctx, memo)
                    return row

                args = self._remote_args(first)
                args["num_cpus"] = max(self._remote_args(st)["num_cpus"] for _, st in group)
                ds = self._map(ds, _task(fn, "+".join(st.name for _, st in group)), **args)
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


