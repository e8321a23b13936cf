"""The add-on core without bpy: label ops, undo/redo, drafts (kill -9), GLB face order, and the
urllib client against a live annotation server."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tests.addon_support import ADDON_PARENT, PROJECT, import_core, stored_labels, truck_server

core = import_core()
from partverse_annotator.core import errors, labels as L  # noqa: E402
from partverse_annotator.core.client import Client  # noqa: E402
from partverse_annotator.core.drafts import Draft, DraftStore  # noqa: E402
from partverse_annotator.core.history import History  # noqa: E402
from partverse_annotator.core.session import TaskSession  # noqa: E402


def test_core_does_not_import_bpy():
    code = "import sys; sys.path.insert(0, %r); import partverse_annotator.core.session, " \
           "partverse_annotator.core.glb, partverse_annotator.core.worker; print('bpy' in sys.modules)" % str(ADDON_PARENT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_merge_split_rename_keep_server_rules():
    from annotation_ui import labels as server

    labels = np.array([0, 0, 1, 1, 2, 2, 3], np.int32)
    names = {"1": "door", "2": "wheel"}
    merged, merged_names = L.merge(labels, names, np.array([3, 5]))  # touches segments 1 and 2
    want, want_names = server.merge(labels, names, [1, 2])
    assert merged.tolist() == want.tolist() == [0, 0, 1, 1, 1, 1, 3]
    assert merged_names == want_names == {"1": "door"}
    split, split_names, new = L.split(merged, merged_names, np.array([4, 5]), "hub")
    assert new == 4 and split.tolist() == [0, 0, 1, 1, 4, 4, 3] and split_names == {"1": "door", "4": "hub"}
    server.validate(split, split.size)
    assert L.rename(split, split_names, 0, " body ")["0"] == "body"
    with pytest.raises(errors.LabelOpError, match="at least two"):
        L.merge(labels, names, np.array([0, 1]))
    with pytest.raises(errors.LabelOpError, match="segment 9 does not occur"):
        L.rename(labels, names, 9, "x")


def test_split_new_id_stays_below_face_count():
    labels = np.arange(4, dtype=np.int32)  # every face its own segment: max + 1 == F
    split, _, new = L.split(labels, {}, np.array([1, 2]))
    assert new < labels.size and split[1] == split[2] == new and len(set(split.tolist())) == 3


def test_mirror_selection_finds_mirrored_faces():
    rng = np.random.default_rng(0)
    half = rng.uniform([0.05, -1, -1], [1, 1, 1], (500, 3))
    centroids = np.concatenate([half, half * [-1, 1, 1]]).astype(np.float32)
    picked = np.array([3, 17, 250])
    got = L.mirror_selection(centroids, picked, axis=0, center=0.0, tolerance=1e-4)
    assert got.tolist() == (picked + 500).tolist()
    assert L.mirror_selection(centroids, picked, axis=1, center=0.0, tolerance=1e-4).size <= 3


def test_pack_roundtrips_with_the_server_codec():
    from annotation_ui import labels as server

    labels = np.random.default_rng(1).integers(0, 50, 10_000).astype(np.int32)
    packed = L.pack(labels)
    assert server.decode_b64(packed["data"], packed["count"]).tolist() == labels.tolist()
    assert L.unpack({"encoding": "zstd+int32le", "count": labels.size,
                     "data": server.encode_b64(labels)}).tolist() == labels.tolist()


def test_history_undo_redo():
    h = History()
    a = np.array([0, 0, 1, 1], np.int32)
    b, names_b = L.merge(a, {"1": "x"}, np.array([0, 2]))
    h.record("merge", a, b, {"1": "x"}, names_b)
    undone, names, kind = h.undo(b)
    assert kind == "merge" and undone.tolist() == a.tolist() and names == {"1": "x"}
    redone, names, _ = h.redo(undone)
    assert redone.tolist() == b.tolist() and names == {"0": "x"}
    assert h.redo(redone) is None


def test_draft_survives_kill_9_during_writes(tmp_path):
    script = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {str(ADDON_PARENT)!r})
        from partverse_annotator.core.drafts import Draft, DraftStore
        store = DraftStore({str(tmp_path)!r}, "http://x")
        i = 0
        while True:
            store.save(Draft(7, i, np.full(300_000, i, np.int32), {{"0": str(i)}}))
            i += 1
            print(i, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for _ in range(5):
        proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    draft = DraftStore(tmp_path, "http://x").load(7)
    assert draft is not None and draft.base_revision >= 4
    assert (draft.labels == draft.base_revision).all() and draft.names == {"0": str(draft.base_revision)}


def test_glb_reader_matches_partverse_face_order():
    from partverse import io
    from partverse_annotator.core.glb import read_glb
    from tests.conftest import shared

    for name in ["kenney_truck_green.glb", "kaykit_knight.glb"]:
        path = shared("assets", name)
        vertices, faces = read_glb(path.read_bytes(), name)
        mesh = io.load(path)
        assert faces.shape == mesh.faces.shape
        np.testing.assert_allclose(vertices[faces].mean(1), mesh.vertices[mesh.faces].mean(1), atol=1e-4)
    with pytest.raises(errors.GlbError, match="bad.glb: not a GLB"):
        read_glb(b"not a glb at all, not at all", "bad.glb")


def test_client_session_against_live_server(tmp_path):
    with truck_server(tmp_path) as (server, tokens, admin, truck):
        with pytest.raises(errors.AuthError, match="401"):
            Client(server.base, "wrong-token").claim(PROJECT)
        with pytest.raises(errors.AuthError, match="403"):
            Client(server.base, tokens["rev"]).claim(PROJECT)  # reviewers do not annotate
        client = Client(server.base, tokens["ann"])
        claimed = client.claim(PROJECT)["task"]
        mesh = client.mesh(claimed["mesh_url"])
        assert mesh[:4] == b"glTF"
        store = DraftStore(tmp_path / "drafts", server.base)
        session = TaskSession(claimed, store)
        assert session.labels.tolist() == truck.tolist() and not session.restored
        wheel, body = np.flatnonzero(truck == 0)[:2], np.flatnonzero(truck == 3)[:1]
        session.merge(np.concatenate([wheel, body]))
        session.split(np.arange(10), "bolt")
        session.rename(0, "wheel merged")
        session.undo()
        assert store.load(session.task_id).names == session.names  # the draft follows every edit
        expected = session.labels.copy()

        # someone bumps the revision (an admin cannot write; the annotator's own server draft does)
        client.draft(session.task_id, session.revision, truck, {})
        with pytest.raises(errors.StaleTaskError, match="Reload"):
            session.submit(client)
        assert store.load(session.task_id) is not None  # refused: the draft stays
        session.rebase(client.task(session.task_id))
        session.submit(client)
        got, names, detail = stored_labels(admin, session.task_id)
        assert detail["status"] == "submitted" and got.tolist() == expected.tolist()
        assert names == session.names and store.load(session.task_id) is None
        nxt = client.claim(PROJECT)["task"]
        assert nxt["id"] != session.task_id


def test_expired_lease_is_a_stale_error(tmp_path):
    with truck_server(tmp_path, tasks=1, env={"PARTVERSE_LEASE_SECONDS": "1"}) as (server, tokens, admin, truck):
        client = Client(server.base, tokens["ann"])
        session = TaskSession(client.claim(PROJECT)["task"], DraftStore(tmp_path / "d", server.base))
        session.merge(np.array([0, int(np.flatnonzero(truck == 1)[0])]))
        time.sleep(1.5)
        with pytest.raises(errors.StaleTaskError, match="lease") as info:
            session.submit(client)
        assert info.value.status == 409
        assert stored_labels(admin, session.task_id)[0].tolist() == truck.tolist()  # nothing overwritten


def test_worker_runs_jobs_off_the_calling_thread_and_callbacks_on_it():
    import threading

    from partverse_annotator.core.worker import Worker

    worker, seen = Worker(), []
    main = threading.get_ident()
    gate = threading.Event()
    worker.submit(lambda: (gate.wait(5), threading.get_ident())[1], lambda tid: seen.append(("done", tid)),
                  lambda exc: seen.append(("error", exc)))
    worker.submit(lambda: 1 / 0, lambda v: seen.append(("done", v)), lambda exc: seen.append(("error", type(exc))))
    assert worker.busy() and worker.drain() == 0  # the slow job blocks nothing on this thread
    gate.set()
    deadline = time.monotonic() + 5
    while worker.busy() and time.monotonic() < deadline:
        worker.drain()
        time.sleep(0.01)
    assert seen[0][0] == "done" and seen[0][1] != main and seen[1] == ("error", ZeroDivisionError)
    worker.stop()
