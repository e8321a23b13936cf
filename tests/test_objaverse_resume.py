"""kill -9 in the middle of `partverse objaverse download`, then resume: nothing partial is ever
visible under a final name, and the resumed run finishes every object."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from partverse.objaverse.batch import download_selection, summarize
from partverse.objaverse.http import Fetcher, RetryPolicy
from partverse.objaverse.layout import CacheLayout
from partverse.objaverse.selection import SelectionSpec, select
from partverse.objaverse.sources import XLAnnotations
from partverse.objaverse.v1 import ObjaverseV1
from tests.conftest import REPO, shared
from tests.objaverse_server import LICENSES, start_mirror


class CacheWatcher(threading.Thread):
    """Polls the cache; records every GLB visible under a final name whose bytes are not the real ones."""

    def __init__(self, glb_dir: Path, truth: dict[str, str]):
        super().__init__(daemon=True)
        self.glb_dir, self.truth = glb_dir, truth
        self.bad: list[str] = []
        self.seen: set[str] = set()
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            for path in self.glb_dir.glob("*/*"):
                if path.name in self.seen:
                    continue
                uid = path.name.removesuffix(".glb")
                if path.suffix != ".glb" or hashlib.sha256(path.read_bytes()).hexdigest() != self.truth.get(uid):
                    self.bad.append(path.name)
                self.seen.add(path.name)
            time.sleep(0.005)


@pytest.mark.multiprocess
def test_kill_9_mid_download_then_resume(tmp_path):
    server, m, _ = start_mirror(shared("assets"), n=24)
    try:
        layout = CacheLayout.create(tmp_path / "cache", server.url + "/v1", server.url + "/xl")
        fetcher = Fetcher(layout.tmp, RetryPolicy(attempts=3, read_timeout_s=2, backoff_base_s=0.05), durable=False)
        v1, xl = ObjaverseV1(layout, fetcher), XLAnnotations(layout, fetcher)
        sel = select(SelectionSpec(licenses=LICENSES), v1=v1, xl=xl)
        sel_path = tmp_path / "selection.parquet"
        sel.write(sel_path, SelectionSpec(licenses=LICENSES))
        assert sel.table.num_rows == 24

        server.bytes_per_s = 600_000  # every body takes ~0.1-1 s: the kill lands mid-body
        watcher = CacheWatcher(layout.v1 / "glbs", m.glb_sha)
        watcher.start()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "partverse", "objaverse", "download", str(sel_path), "--workers", "4",
             "--cache-dir", str(layout.root), "--base-url", server.url + "/v1", "--xl-base-url", server.url + "/xl"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(watcher.seen) < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        done_before = set(watcher.seen)
        assert 4 <= len(done_before) < 24, "the kill should land mid-run"
        partial_bytes = sum(p.stat().st_size for p in layout.tmp.glob("*.part"))

        server.bytes_per_s = None
        server.log.clear()
        outcomes = list(download_selection(sel.table.to_pylist(), layout, fetcher, v1, workers=4))
        watcher.stop_flag.set()
        watcher.join()
        fetcher.close()
        assert watcher.bad == []
        counts = summarize(outcomes)
        assert counts.get("failed", 0) == 0
        assert counts["cached"] == len(done_before) and counts["downloaded"] == 24 - len(done_before)
        for uid in m.uids:
            assert hashlib.sha256(layout.v1_file(m.object_paths[uid]).read_bytes()).hexdigest() == m.glb_sha[uid]
        glb_requests = [r for r in server.log if "/glbs/" in r[0]]
        assert not any(Path(r[0]).name in done_before for r in glb_requests)  # finished files not fetched again
        assert partial_bytes > 0  # workers were mid-body at the kill ...
        assert any(r[1] and r[2] == 200 for r in glb_requests)  # ... and their partials resumed with Range
        assert not list(layout.tmp.glob("*.part"))
    finally:
        server.stop()
