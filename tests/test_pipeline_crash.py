"""Crash and resume: SIGKILL a real build at several moments (one during a shard write), resume,
and get a release whose rows and per-file sha256 equal an uninterrupted build's; no temp files."""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from partverse.data.reader import read_manifest, read_release_table
from tests.conftest import shared

REPO = Path(__file__).resolve().parents[1]
ASSETS = ["kenney_truck_green.glb", "quat_bed_bunk.glb", "kaykit_chest_gold.glb", "o3dv_car.glb"]


def _write_config(path: Path, run_dir: Path, inputs: Path) -> Path:
    cfg = {
        "run_dir": str(run_dir), "progress": False,
        "stages": [
            {"name": "ingest_local", "params": {"paths": [str(inputs)]}},
            {"name": "prepare"}, {"name": "segment"}, {"name": "annotation"},
            {"name": "export_parts", "params": {"num_samples": 4096}},
            {"name": "write_release", "params": {"rows_per_shard": 8, "row_group_rows": 4}},
        ],
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _start(config: Path, shard_delay: float = 0.0) -> subprocess.Popen:
    # the crashing runs stage each shard slowly (a failpoint in the writer), so that a kill lands
    # during a shard write however fast the machine is; the outputs are the same bytes
    env = {**os.environ, "PARTVERSE_FAILPOINT_SHARD_DELAY_S": str(shard_delay)} if shard_delay else None
    return subprocess.Popen([sys.executable, "-m", "partverse", "build", "--config", str(config)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=env)


def _events(run_dir: Path) -> list[dict]:
    p = run_dir / "events.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.is_file() else []


def _wait_until(proc: subprocess.Popen, cond, timeout: float = 120) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if cond():
            return True
        time.sleep(0.005)
    raise AssertionError("kill point not reached in time")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _stage_started(run_dir: Path, stage: str, after: int):
    return lambda: any(e.get("stage") == stage and e["event"] == "stage_start" for e in _events(run_dir)[after:])


def _staging(run_dir: Path):
    def staging() -> bool:
        try:
            return any((run_dir / ".release.partial").glob(".staging-*/*.parquet"))
        except FileNotFoundError:  # the build removed a killed run's partial release mid-glob
            return False
    return staging


def _file_hashes(release: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(release.iterdir()) if p.name != "manifest.json"}


def _rows(release: Path) -> dict[str, list[dict]]:
    return {t: read_release_table(release, t).to_pylist() for t in ("objects", "parts")}


@pytest.mark.slow
@pytest.mark.multiprocess
def test_sigkill_at_many_points_then_resume_equals_uninterrupted(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ASSETS:
        shutil.copy(shared("assets", name), inputs / name)
    ref_dir, crash_dir = tmp_path / "ref" / "run", tmp_path / "crash" / "run"  # same name: same source_run
    ref = _start(_write_config(tmp_path / "ref.yaml", ref_dir, inputs))
    assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()

    config = _write_config(tmp_path / "crash.yaml", crash_dir, inputs)
    rng = random.Random(3)
    def pause(lo, hi):
        time.sleep(rng.uniform(lo, hi))
        return True

    def on_stage(stage, lo=0.0, hi=0.0):
        return lambda proc, n: _wait_until(proc, _stage_started(crash_dir, stage, n)) and pause(lo, hi)

    kill_points = [
        ("during ingest/prepare", lambda proc, n: pause(2.0, 3.5)),
        ("in segment", on_stage("segment")),
        ("in export_parts", on_stage("export_parts", 0.0, 0.4)),
        ("during a shard write", lambda proc, n: _wait_until(proc, _staging(crash_dir))),
        ("in write_release", on_stage("write_release", 0.0, 0.5)),
        ("at a random moment", lambda proc, n: pause(0.5, 4.0)),
    ]
    killed = []
    for label, wait in kill_points:
        seen = len(_events(crash_dir))
        proc = _start(config, shard_delay=0.3)
        reached = wait(proc, seen)
        still_running = proc.poll() is None
        _kill(proc)
        killed.append((label, reached and still_running))
        release = crash_dir / "release"
        if release.exists():  # a visible release is always complete
            assert (release / "manifest.json").is_file(), label
    print("kill points:", killed)
    assert sum(ok for _, ok in killed) >= 5, killed
    assert dict(killed)["during a shard write"], killed

    final = _start(config)
    assert final.wait(timeout=300) == 0, final.stderr.read().decode()
    ref_release, crash_release = ref_dir / "release", crash_dir / "release"
    assert _file_hashes(crash_release) == _file_hashes(ref_release)
    manifest = read_manifest(crash_release)
    assert set(manifest["files"]) | {"manifest.json"} == {p.name for p in crash_release.iterdir()}
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == _file_hashes(crash_release)
    assert _rows(crash_release) == _rows(ref_release)
    leftovers = [p for p in crash_dir.rglob("*")
                 if p.name.endswith(".tmp") and p.is_file() or p.name.startswith((".staging", ".release."))]
    assert leftovers == []
    assert not any((crash_dir / "store").glob(".tmp/*"))
