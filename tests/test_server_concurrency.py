"""Races against a real uvicorn process: claims never collide, and one of two same-base writes wins."""
from __future__ import annotations

import threading

import pytest

from annotation_ui.client import ApiCallError, Client
from tests.server_support import DB_KINDS, db_url, running_server, seed_tasks

pytestmark = pytest.mark.multiprocess


def _together(n: int, fn) -> list:  # noqa: ANN001
    """Run fn(i) in n threads released at the same instant; returns results (or exceptions) in order."""
    barrier, out = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the caller inspects it
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("kind", DB_KINDS)
def test_32_claims_on_20_tasks_and_same_base_writes(kind: str, workers: int, tmp_path) -> None:  # noqa: ANN001
    """Also with 2 server processes: the database alone keeps claims and writes atomic across them."""
    users = {"root": "admin", **{f"a{i:02d}": "annotator" for i in range(32)}}
    with running_server(db_url(kind, tmp_path), tmp_path, users, workers=workers) as (server, tokens):
        admin = Client(server.base, tokens["root"])
        seed_tasks(admin, "p", 20)
        clients = [Client(server.base, tokens[f"a{i:02d}"]) for i in range(32)]
        for c in clients:  # open the connections first so the claims really start together
            c.call("GET", "/users/me")
        claims = _together(32, lambda i: clients[i].claim("p"))
        assert not [c for c in claims if isinstance(c, Exception)]
        won = [c for c in claims if c is not None]
        assert len(won) == 20 and sum(c is None for c in claims) == 12
        assert len({c["task"]["id"] for c in won}) == 20
        assert len({c["lease"]["owner"] for c in won}) == 20

        # two tabs of one annotator write on the same base revision: exactly one wins
        first = won[0]
        owner = clients[[f"a{i:02d}" for i in range(32)].index(first["lease"]["owner"])]
        tabs = [owner, Client(server.base, tokens[first["lease"]["owner"]])]
        tid, base = first["task"]["id"], first["task"]["revision"]
        for round_ in range(6):
            results = _together(2, lambda i: tabs[i].op(tid, base, "rename", segment=0, name=f"r{round_}-{i}"))
            ok = [r for r in results if isinstance(r, dict)]
            refused = [r for r in results if isinstance(r, ApiCallError)]
            assert len(ok) == 1 and len(refused) == 1, results
            assert refused[0].status_code in (409, 412)
            assert refused[0].body["current_revision"] == base + 1
            base = ok[0]["revision"]
        history = owner.call("GET", f"/tasks/{tid}/revisions").json()
        assert [h["number"] for h in history] == list(range(1, base + 1))
        for c in [*clients, admin, tabs[1]]:
            c.close()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_more_requests_than_threads_and_connections_all_complete(kind: str, tmp_path) -> None:  # noqa: ANN001
    """24 clients at once against 2 handler threads and a pool of 2 connections: a request's
    connection is released without waiting for a handler thread, so nothing deadlocks."""
    from tests.server_support import LiveServer, bootstrap

    url = db_url(kind, tmp_path)
    tokens = bootstrap(url, {"root": "admin", **{f"a{i:02d}": "annotator" for i in range(24)}})
    server = LiveServer(url, tmp_path, env={"PARTVERSE_THREADS": "2", "PARTVERSE_POOL_SIZE": "1"}).start()
    try:
        admin = Client(server.base, tokens["root"])
        ids = seed_tasks(admin, "p", 24)
        clients = [Client(server.base, tokens[f"a{i:02d}"], timeout=20) for i in range(24)]

        def work(i: int) -> int:
            task = clients[i].claim("p")["task"]
            for _ in range(5):
                clients[i].task(ids[(i + _) % len(ids)])
            return clients[i].op(task["id"], task["revision"], "rename", segment=0, name=f"n{i}")["revision"]

        results = _together(24, work)
        assert results == [2] * 24, [r for r in results if not isinstance(r, int)][:3]
        for c in [*clients, admin]:
            c.close()
    finally:
        server.stop()
