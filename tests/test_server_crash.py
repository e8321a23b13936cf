"""kill -9 of the server during a stream of submits: every submit that got a 2xx survives, intact."""
from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest

from annotation_ui.client import ApiCallError, Client, unpack
from tests.server_support import DB_KINDS, LiveServer, bootstrap, db_url, seed_tasks

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


def _annotate(client: Client, seed: int, acked: list, stop: threading.Event) -> None:
    """claim -> draft -> submit until the server dies; records (task, revision, labels) of each 2xx submit."""
    rng = np.random.default_rng(seed)
    while not stop.is_set():
        try:
            claim = client.claim("p")
            if claim is None:
                return
            task = claim["task"]
            labels = rng.integers(0, 8, task["num_faces"]).astype(np.int32)
            t = client.draft(task["id"], task["revision"], labels, {"0": f"d{seed}"})
            labels2 = np.roll(labels, 1)
            t = client.submit(task["id"], t["revision"], labels2, {"1": f"s{seed}"} if 1 in labels2 else {})
            acked.append((task["id"], t["revision"], labels2, t["part_names"]))
        except (httpx.HTTPError, ApiCallError):
            return


@pytest.mark.parametrize("kind", DB_KINDS)
def test_sigkill_during_submits_loses_no_acknowledged_submit(kind: str, tmp_path) -> None:  # noqa: ANN001
    url = db_url(kind, tmp_path)
    tokens = bootstrap(url, {"root": "admin", **{f"a{i}": "annotator" for i in range(4)}})
    server = LiveServer(url, tmp_path).start()
    admin = Client(server.base, tokens["root"])
    seed_tasks(admin, "p", 60, num_faces=5000)
    acked: list = []
    stop = threading.Event()
    workers = [threading.Thread(target=_annotate, args=(Client(server.base, tokens[f"a{i}"], timeout=10), i, acked,
                                                       stop)) for i in range(4)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    while len(acked) < 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL, mid-stream
    stop.set()
    for w in workers:
        w.join(30)
    assert len(acked) >= 15, "the stream of submits did not get going"

    server = LiveServer(url, tmp_path).start()
    try:
        reader = Client(server.base, tokens["root"])
        for task_id, revision, labels, names in acked:
            task = reader.task(task_id)
            assert task["status"] == "submitted" and task["revision"] == revision, task_id
            assert np.array_equal(unpack(task["labels"]), labels) and task["part_names"] == names
            kinds = [h["kind"] for h in reader.call("GET", f"/tasks/{task_id}/revisions").json()]
            assert kinds == ["initial", "draft", "submit"]
        # the server still works after the crash: a new annotator can claim and submit
        fresh = Client(server.base, tokens["a0"]).claim("p")
        assert fresh is not None
    finally:
        server.stop()
