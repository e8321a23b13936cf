"""The build driver: resolve the config, ingest, de-duplicate, run the stages, write the sink.

Run directory layout (README "Pipeline"):
    RUN_DIR/config.yaml        the resolved config of the latest build
    RUN_DIR/store/             content-addressed raw files (unless `store_dir` is set)
    RUN_DIR/outputs/<stage>/   per-object stage outputs, keyed (see pipelines.outputs)
    RUN_DIR/quarantine/<stage>/ one JSON per failed object and stage
    RUN_DIR/release/           the release shards + manifest (written by write_release)
    RUN_DIR/run.json           counts, timings, duplicates and quarantined objects of the latest build
    RUN_DIR/events.jsonl       one line per stage start / end (append-only log)
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from partverse.io.store import ContentStore, atomic_write_bytes
from pipelines.config import BuildConfig, build_stages, dump_config
from pipelines.outputs import QuarantineTable, StageOutputs, stage_key
from pipelines.stage import SinkStage, SourceStage, Stage
from pipelines.worker import RunContext, source_row


@dataclass
class BuildSummary:
    run_dir: str
    executor: str
    objects_in: int = 0  # input files found
    unique_objects: int = 0
    duplicates: list[dict] = field(default_factory=list)  # {"source_uri", "duplicate_of", "sha256"}
    released_objects: int = 0
    parts_out: int = 0
    quarantined: list[dict] = field(default_factory=list)  # {"uid", "source_uri", "stage", "key"}
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> outcome counts, seconds
    seconds: float = 0.0

    def quarantined_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for q in self.quarantined:
            reason = f"{q['stage']}: {q.get('error_class', '?')}"
            counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items()))


class _Events:
    def __init__(self, run_dir: Path):
        self.path = run_dir / "events.jsonl"

    def __call__(self, event: str, **fields: Any) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"t": round(time.time(), 3), "event": event, **fields}) + "\n")


def make_executor(cfg: BuildConfig):
    if cfg.executor == "ray":
        from pipelines.executors.ray import RayExecutor

        return RayExecutor(cfg.ray, cfg.stages, progress=cfg.progress)
    from pipelines.executors.local import LocalExecutor

    return LocalExecutor(progress=cfg.progress)


def _split(stages: list[Stage]) -> tuple[SourceStage, list[Stage], SinkStage | None]:
    sink = stages[-1] if isinstance(stages[-1], SinkStage) else None
    return stages[0], stages[1 : len(stages) - (sink is not None)], sink


def _dedup(ingested: list[dict]) -> tuple[list[dict], list[dict]]:
    """First source (by uri) per sha256 wins; the rest are reported as duplicates."""
    keep: dict[str, dict] = {}
    dups = []
    for r in sorted(ingested, key=lambda r: (r["sha256"], r["source_uri"])):
        if r["sha256"] in keep:
            dups.append({"source_uri": r["source_uri"], "duplicate_of": keep[r["sha256"]]["source_uri"], "sha256": r["sha256"]})
        else:
            keep[r["sha256"]] = r
    return sorted(keep.values(), key=lambda r: r["uid"]), dups


def _object_rows(unique: list[dict], stages: list[Stage]) -> list[dict]:
    rows = []
    for r in unique:
        keys = [r["key"]]
        for st in stages:
            keys.append(stage_key(st, keys[-1], st.fingerprint(r["uid"])))
        row = {"uid": r["uid"], "sha256": r["sha256"], "source_uri": r["source_uri"], "keys": keys,
               "status": "ok", "failed_stage": ""}
        for st in stages:
            row[f"o_{st.name}"], row[f"t_{st.name}"] = "", 0.0
        rows.append(row)
    return rows


def run_build(cfg: BuildConfig, executor=None) -> BuildSummary:
    """Run (or resume) a build; returns the summary also written to RUN_DIR/run.json."""
    cfg = cfg.resolved()
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stages = build_stages(cfg)
    source, object_stages, sink = _split(stages)
    if getattr(source, "store_dir", "") is None:
        source.store_dir = str(cfg.store_dir)
    atomic_write_bytes(run_dir / "config.yaml", dump_config(cfg).encode())
    StageOutputs(run_dir).remove_temp()
    ContentStore(cfg.store_dir).clean_temp()
    timeouts = {st.name: sc.timeout_s or st.resources.timeout_s or cfg.object_timeout_s for st, sc in zip(stages, cfg.stages)}
    ctx = RunContext(str(run_dir), tuple(st.name for st in [source, *object_stages]), timeouts)
    summary = BuildSummary(str(run_dir), cfg.executor)
    events, t_start = _Events(run_dir), time.perf_counter()
    own_executor = executor is None
    executor = executor or make_executor(cfg)
    try:
        events("build_start", executor=cfg.executor)
        sources = source.discover()
        summary.objects_in = len(sources)
        events("stage_start", stage=source.name)
        ingested = executor.map_source(source, [source_row(s) for s in sources], ctx)
        events("stage_end", stage=source.name)
        _count_source(summary, source.name, ingested, run_dir)
        unique, summary.duplicates = _dedup([r for r in ingested if r["status"] == "ok"])
        summary.unique_objects = len(unique)
        rows = executor.map_objects(object_stages, _object_rows(unique, object_stages), ctx, events)
        _count_objects(summary, object_stages, rows)
        if sink is not None:
            _run_sink(sink, object_stages, sorted(rows, key=lambda r: r["uid"]), cfg, summary, events)
    finally:
        if own_executor:
            executor.close()
    summary.seconds = time.perf_counter() - t_start
    events("build_end", seconds=round(summary.seconds, 3))
    atomic_write_bytes(run_dir / "run.json", json.dumps(summary.__dict__, indent=1, default=str).encode())
    return summary


def _count_source(summary: BuildSummary, name: str, ingested: list[dict], run_dir: Path) -> None:
    failed = [r for r in ingested if r["status"] != "ok"]
    summary.stages[name] = {"ran": len(ingested) - len(failed), "cached": 0, "failed": len(failed),
                            "quarantined": 0, "seconds": round(sum(r["seconds"] for r in ingested), 3)}
    q = QuarantineTable(run_dir)
    for r in failed:
        key = hashlib.sha256(f"{name}\0{r['source_uri']}".encode()).hexdigest()
        entry = q.get(name, key) or {}
        summary.quarantined.append({"uid": "", "source_uri": r["source_uri"], "stage": name, "key": key,
                                    "error_class": entry.get("error_class", "?"), "message": entry.get("message", "")})


def _count_objects(summary: BuildSummary, stages: list[Stage], rows: list[dict]) -> None:
    q = QuarantineTable(summary.run_dir)
    for i, st in enumerate(stages, 1):
        outcomes = [r[f"o_{st.name}"] for r in rows]
        summary.stages[st.name] = {k: outcomes.count(k) for k in ("ran", "cached", "failed", "quarantined")}
        summary.stages[st.name]["seconds"] = round(sum(r[f"t_{st.name}"] for r in rows), 3)
    names = [st.name for st in stages]
    for r in rows:
        if r["status"] != "ok":
            stage = r["failed_stage"]
            key = r["keys"][names.index(stage) + 1]
            entry = q.get(stage, key) or {}
            summary.quarantined.append({"uid": r["uid"], "source_uri": r["source_uri"], "stage": stage, "key": key,
                                        "error_class": entry.get("error_class", "?"), "message": entry.get("message", "")})


def _run_sink(sink: SinkStage, stages: list[Stage], rows: list[dict], cfg: BuildConfig, summary: BuildSummary, events) -> None:
    ok = [r for r in rows if r["status"] == "ok"]
    last = stages[-1].name
    key = stage_key(sink, json.dumps([[r["uid"], r["keys"][-1]] for r in ok]))
    marker = Path(cfg.run_dir) / "outputs" / sink.name / f"{key}.json"
    t0 = time.perf_counter()
    events("stage_start", stage=sink.name)
    if marker.is_file() and sink.is_current(Path(cfg.run_dir)):
        counts, outcome = json.loads(marker.read_text()), "cached"
    else:
        outputs = StageOutputs(cfg.run_dir)
        records = (outputs.load(last, r["keys"][-1]) for r in ok)
        counts = sink.write(records, Path(cfg.run_dir), source_run=cfg.run_dir.name)
        atomic_write_bytes(marker, json.dumps(counts).encode())
        outcome = "ran"
    events("stage_end", stage=sink.name)
    summary.released_objects = int(counts.get("objects", 0))
    summary.parts_out = int(counts.get("parts", 0))
    summary.stages[sink.name] = {"ran": int(outcome == "ran"), "cached": int(outcome == "cached"), "failed": 0,
                                 "quarantined": 0, "seconds": round(time.perf_counter() - t0, 3)}
