"""What an executor runs for one object at one stage: skip if done, else run, save or quarantine.

Both executors call these functions on plain-dict rows, so the local and Ray paths share every
decision about keys, caching, time limits and quarantine.

An object row: uid, sha256, source_uri, keys (one per stage after the source: the key of the
stage's output), status ("ok" | "quarantined"), failed_stage, and per stage `o_<stage>` (outcome:
"ran", "cached", "failed", "quarantined" = failed in an earlier run) and `t_<stage>` (seconds).
"""
from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from partverse.errors import PartverseError
from pipelines.outputs import QuarantineTable, StageOutputs
from pipelines.records import SourceFile
from pipelines.stage import Stage


class StageTimeout(PartverseError, TimeoutError):
    pass


@dataclass(frozen=True)
class RunContext:
    run_dir: str
    stage_names: tuple[str, ...]  # source stage first, then the per-object stages
    timeouts: dict[str, float | None] = field(default_factory=dict)

    def timeout(self, stage: Stage) -> float | None:
        return self.timeouts.get(stage.name, stage.resources.timeout_s)


def call_with_limit(fn: Callable[[], Any], seconds: float | None, what: str) -> Any:
    """Run fn(); raise StageTimeout after `seconds`. Uses SIGALRM on the main thread (interrupts
    Python code and sleeps), else a watchdog thread (the stuck thread is abandoned)."""
    if not seconds:
        return fn()
    message = f"{what}: exceeded the time limit of {seconds:g} s"
    if threading.current_thread() is threading.main_thread():
        def on_alarm(signum, frame):
            raise StageTimeout(message)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise StageTimeout(message)
    if "error" in box:
        raise box["error"]
    return box["value"]


def ensure_setup(stage: Stage) -> None:
    """Call `stage.setup()` once per stage object in this process, before its first real record
    (so a fully cached stage never loads its model)."""
    if not getattr(stage, "_pv_ready", False):
        stage.setup()
        object.__setattr__(stage, "_pv_ready", True)


def _one(stage: Stage, record: Any) -> Any:
    out = list(stage.process(record))
    if len(out) != 1:
        raise PartverseError(f"stage {stage.name} yielded {len(out)} records for one object; expected exactly 1")
    return out[0]


def asset_key(asset) -> str:
    fields = {k: v for k, v in asdict(asset).items() if k != "path"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def source_row(src: SourceFile) -> dict:
    return {"src": json.dumps(asdict(src), sort_keys=True)}


def ingest(stage: Stage, row: dict, ctx: RunContext) -> dict:
    """Source stage on one input file -> {uid, sha256, source_uri, key, status, seconds}."""
    src = SourceFile(**json.loads(row["src"]))
    quarantine, outputs = QuarantineTable(ctx.run_dir), StageOutputs(ctx.run_dir)
    qkey = hashlib.sha256(f"{stage.name}\0{src.source_uri}".encode()).hexdigest()
    t0 = time.perf_counter()
    out = {"uid": "", "sha256": "", "source_uri": src.source_uri, "key": "", "status": "ok", "seconds": 0.0}
    try:
        ensure_setup(stage)
        asset = call_with_limit(lambda: _one(stage, src), ctx.timeout(stage), f"{src.source_uri}: {stage.name}")
        key = asset_key(asset)
        if not outputs.has(stage.name, key):
            outputs.save(stage.name, key, asset)
        quarantine.remove(stage.name, qkey)
        out.update(uid=asset.uid, sha256=asset.sha256, key=key)
    except Exception as exc:  # noqa: BLE001 - any failure quarantines this input only
        quarantine.add(stage.name, qkey, uid="", sha256="", source_uri=src.source_uri,
                       error_class=type(exc).__name__, message=str(exc), traceback=traceback.format_exc())
        out["status"] = "quarantined"
    out["seconds"] = time.perf_counter() - t0
    return out


def object_stage(stage: Stage, index: int, row: dict, ctx: RunContext, memo: dict | None = None) -> dict:
    """Per-object stage `index` (1-based in ctx.stage_names) on one object row.

    memo: optional in-process hand-off {key: record} from the previous stage, so an executor that
    runs an object's stages back to back does not read back what it just wrote."""
    row = dict(row)
    if row["status"] != "ok":
        return row
    key, upstream = row["keys"][index], row["keys"][index - 1]
    outputs, quarantine = StageOutputs(ctx.run_dir), QuarantineTable(ctx.run_dir)
    t0 = time.perf_counter()
    if outputs.has(stage.name, key):
        outcome = "cached"
    elif quarantine.get(stage.name, key) is not None:
        outcome = "quarantined"
    else:
        outcome = _run(stage, key, ctx.stage_names[index - 1], upstream, row, ctx, outputs, quarantine, memo)
    if outcome in ("failed", "quarantined"):
        row.update(status="quarantined", failed_stage=stage.name)
    row[f"o_{stage.name}"] = outcome
    row[f"t_{stage.name}"] = time.perf_counter() - t0
    return row


def _run(stage, key, up_name, upstream, row, ctx, outputs, quarantine, memo) -> str:
    try:
        ensure_setup(stage)
        record = memo.pop(upstream) if memo and upstream in memo else outputs.load(up_name, upstream)
        result = call_with_limit(lambda: _one(stage, record), ctx.timeout(stage), f"{row['source_uri']}: {stage.name}")
        outputs.save(stage.name, key, result)
        if memo is not None:
            memo[key] = result
        return "ran"
    except Exception as exc:  # noqa: BLE001 - any failure quarantines this object only
        quarantine.add(stage.name, key, uid=row["uid"], sha256=row["sha256"], source_uri=row["source_uri"],
                       error_class=type(exc).__name__, message=str(exc), traceback=traceback.format_exc())
        return "failed"
