"""Small real stages for the pipeline tests that do not depend on mesh code: they read the stored
file, count bytes, optionally sleep or fail, and a sink writes one JSON file per build."""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from partverse.io.store import atomic_write_bytes
from pipelines.registry import register_stage
from pipelines.stage import Resources, SinkStage, Stage


@dataclass
class ToyRead(Stage):
    name = "toy_read"
    fail_on: str = ""  # substring of the source uri that raises
    sleep_on: str = ""  # substring of the source uri that sleeps 30 s (for time limits)
    fail_while_exists: str = ""  # a file: every object fails while it exists (for retry)
    crash_on: str = ""  # substring of the source uri that kills the worker process (Ray tests only)

    def process(self, asset) -> Iterator[dict]:
        if self.fail_on and self.fail_on in asset.source_uri:
            raise ValueError(f"{asset.source_uri}: toy failure")
        if self.sleep_on and self.sleep_on in asset.source_uri:
            time.sleep(30)
        if self.crash_on and self.crash_on in asset.source_uri:
            os._exit(17)  # a worker crash, as a segfault in a native library would cause
        if self.fail_while_exists and Path(self.fail_while_exists).exists():
            raise RuntimeError(f"{asset.source_uri}: {self.fail_while_exists} exists")
        data = Path(asset.path).read_bytes()
        yield {"uid": asset.uid, "size": len(data), "uri": asset.source_uri}


@dataclass
class ToyHash(Stage):
    name = "toy_hash"
    salt: str = ""
    delay_s: float = 0.0

    def process(self, rec: dict) -> Iterator[dict]:
        time.sleep(self.delay_s)
        yield {**rec, "hash": hashlib.sha256(f"{self.salt}{rec['size']}".encode()).hexdigest()}


@dataclass
class ToySink(SinkStage):
    name = "toy_sink"

    def is_current(self, run_dir: Path) -> bool:
        return (run_dir / "toy_release.json").is_file()

    def write(self, records, run_dir: Path, *, source_run: str) -> dict:
        rows = list(records)
        atomic_write_bytes(run_dir / "toy_release.json", json.dumps(rows, sort_keys=True).encode())
        return {"objects": len(rows), "parts": len(rows)}


def register() -> None:
    for cls in (ToyRead, ToyHash, ToySink):
        register_stage(cls.name, f"{__name__}:{cls.__name__}")


register()


@dataclass
class ToyModel(Stage):
    """Holds a "model" loaded in setup: runs as an actor pool on Ray."""

    name = "toy_model"
    resources = Resources(num_cpus=0.5, actor=True)
    scale: int = 3

    def setup(self) -> None:
        self.weights = [self.scale] * 4  # what a real stage would load once per worker

    def process(self, rec: dict) -> Iterator[dict]:
        yield {**rec, "scaled": rec["size"] * self.weights[0]}


register_stage(ToyModel.name, f"{__name__}:ToyModel")
