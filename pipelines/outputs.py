"""Per-object stage outputs and the quarantine table, both files in the run directory.

- `RUN_DIR/outputs/<stage>/<key[:2]>/<key>.pkl`: one stage's output record for one object,
  pickled, written atomically (temp file, fsync, rename). Its presence means "done". A stage that
  passes its input through unchanged gets a small alias file naming the upstream output instead.
- `RUN_DIR/quarantine/<stage>/<key>.json`: one failure: uid, sha256, source, stage, error class,
  message, traceback, time. Its presence means "failed with these inputs"; `partverse quarantine
  retry` deletes entries so the next build runs them again.

`stage_key` hashes the upstream key with the stage's name, code version, parameters and
fingerprint, so changing a stage's parameters changes its key and every key after it.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import time
from pathlib import Path
from typing import Any, Iterator

from partverse.fsutil import atomic_write_bytes
from pipelines.stage import Stage


_ALIAS = b"PVALIAS\0"


def stage_key(stage: Stage, upstream: str, fingerprint: str = "") -> str:
    ident = {"stage": stage.name, "version": stage.version, "params": stage.params(), "up": upstream, "fp": fingerprint}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


class StageOutputs:
    def __init__(self, run_dir: str | Path):
        self.root = Path(run_dir) / "outputs"

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / f"{key}.pkl"

    def has(self, stage: str, key: str) -> bool:
        return self.path(stage, key).is_file()

    def save(self, stage: str, key: str, record: Any) -> None:
        atomic_write_bytes(self.path(stage, key), pickle.dumps(record, protocol=5))

    def save_alias(self, stage: str, key: str, same_as_stage: str, same_as_key: str) -> None:
        """Record that this output is the upstream output unchanged (a pass-through), without a copy."""
        atomic_write_bytes(self.path(stage, key), _ALIAS + json.dumps([same_as_stage, same_as_key]).encode())

    def load(self, stage: str, key: str) -> Any:
        with open(self.path(stage, key), "rb") as f:
            head = f.read(len(_ALIAS))
            if head == _ALIAS:
                return self.load(*json.loads(f.read()))
            f.seek(0)
            return pickle.load(f)

    def remove_temp(self) -> int:
        """Delete temp files a crash left behind; returns how many."""
        stale = list(self.root.rglob(".*.tmp")) if self.root.is_dir() else []
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)


class QuarantineTable:
    def __init__(self, run_dir: str | Path):
        self.root = Path(run_dir) / "quarantine"

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.json"

    def get(self, stage: str, key: str) -> dict | None:
        p = self.path(stage, key)
        return json.loads(p.read_text()) if p.is_file() else None

    def add(self, stage: str, key: str, *, uid: str, sha256: str, source_uri: str, error_class: str,
            message: str, traceback: str) -> dict:
        entry = {
            "uid": uid, "sha256": sha256, "source_uri": source_uri, "stage": stage, "key": key,
            "error_class": error_class, "message": message, "traceback": traceback,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic_write_bytes(self.path(stage, key), json.dumps(entry, indent=1).encode())
        return entry

    def remove(self, stage: str, key: str) -> None:
        self.path(stage, key).unlink(missing_ok=True)

    def entries(self) -> Iterator[dict]:
        if not self.root.is_dir():
            return
        for p in sorted(self.root.glob("*/*.json")):
            yield json.loads(p.read_text())
