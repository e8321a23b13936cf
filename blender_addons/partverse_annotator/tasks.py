"""Task actions between the worker thread and the scene: claim, open, submit, reload, renew.

Network work runs in `Worker` jobs; their callbacks run in `drain()` on the main thread, the only
place that touches bpy data.
"""
from __future__ import annotations

import time

import bpy
import numpy as np

from . import prefs, scene
from .core.client import Client
from .core.drafts import DraftStore, default_root
from .core.errors import AnnotatorError, StaleTaskError
from .core.glb import read_glb
from .core.labels import segment_sizes
from .core.session import TaskSession
from .core.worker import Worker
from .state import STATE, say


def client() -> Client:
    p = prefs.get()
    if not p.token:
        raise AnnotatorError("Set your token in the add-on preferences first")
    return Client(p.server_url, p.token)


def store() -> DraftStore:
    p = prefs.get()
    return DraftStore(bpy.path.abspath(p.drafts_dir) if p.drafts_dir else default_root(), p.server_url)


def worker() -> Worker:
    if STATE.worker is None:
        STATE.worker = Worker()
    return STATE.worker


def on_error(exc: BaseException) -> None:
    STATE.stale = isinstance(exc, StaleTaskError)
    say(str(exc) if isinstance(exc, AnnotatorError) else f"{type(exc).__name__}: {exc}", "ERROR")


def _download(c: Client, detail: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    vertices, faces = read_glb(c.mesh(detail["mesh_url"]), f"task {detail['id']} mesh {detail['mesh_sha256'][:12]}")
    if len(faces) != detail["num_faces"]:
        raise AnnotatorError(f"task {detail['id']}: the mesh has {len(faces)} faces but the labels {detail['num_faces']}")
    return detail, vertices, faces


def claim_next() -> None:
    c, project = client(), prefs.get().project
    if STATE.session is not None:
        raise AnnotatorError(f"Task {STATE.session.task_id} is open: submit, reject or release it first")

    def job():  # noqa: ANN202
        claimed = c.claim(project)
        return None if claimed is None else _download(c, claimed["task"])

    say("Claiming the next task...")
    worker().submit(job, _opened, on_error)


def _opened(result) -> None:  # noqa: ANN001
    if result is None:
        say(f"No task left in project {prefs.get().project!r}")
        return
    detail, vertices, faces = result
    session = TaskSession(detail, store())
    obj = scene.build_object(STATE.object_name, vertices, faces, session.labels)
    obj["partverse_task_id"] = session.task_id
    STATE.session, STATE.stale, STATE.centroids = session, False, None
    STATE.last_renew = time.monotonic()
    refresh_segments()
    if session.restored:
        say(session.notice, "WARNING")
        STATE.stale = "server now has" in session.notice
    else:
        say(f"Task {session.task_id} ({detail['uid']}): {len(faces)} faces, {len(segment_sizes(session.labels)[0])} segments")


def task_object() -> bpy.types.Object:
    obj = bpy.data.objects.get(STATE.object_name)
    if STATE.session is None or obj is None:
        raise AnnotatorError("No task is open: claim one first")
    return obj


def show(old_labels: np.ndarray | None = None) -> None:
    """Push the session's labels (which were `old_labels`; None: unknown) to the object and the list."""
    if old_labels is None:
        scene.write_labels(task_object(), STATE.session.labels)
    elif old_labels is not STATE.session.labels:
        scene.update_labels(task_object(), old_labels, STATE.session.labels)
    refresh_segments()


def refresh_segments() -> None:
    wm = bpy.context.window_manager
    wm.pv_segments.clear()
    if STATE.session is None:
        return
    ids, counts = segment_sizes(STATE.session.labels)
    names = STATE.session.names
    for segment, count in zip(ids.tolist(), counts.tolist()):
        item = wm.pv_segments.add()
        item.segment, item.faces = segment, count
        item.label = names.get(str(segment), "")


def submit() -> None:
    session, c = _open_session(), client()
    say(f"Submitting task {session.task_id}...")
    worker().submit(lambda: session.submit(c), lambda detail: _closed(session, detail), on_error)


def _closed(session: TaskSession, detail: dict) -> None:
    if STATE.session is session:
        STATE.session, STATE.stale = None, False
        refresh_segments()
    say(f"Task {session.task_id} submitted as revision {detail['revision']} ({detail['verdict']}); claim the next one")


def release() -> None:
    session, c = _open_session(), client()
    worker().submit(lambda: c.release(session.task_id), lambda _: _closed_released(session), on_error)


def _closed_released(session: TaskSession) -> None:
    if STATE.session is session:
        STATE.session = None
        refresh_segments()
    say(f"Task {session.task_id} released; your local draft is kept")


def reload(keep_mine: bool) -> None:
    """Fetch the server's latest version. keep_mine: rebase the local edits onto it; else discard them."""
    session, c = _open_session(), client()

    def job():  # noqa: ANN202
        latest = c.task(session.task_id)
        if latest.get("status") != "in_progress" or not latest.get("lease"):
            claimed = c.claim(prefs.get().project)  # your own live lease comes back first
            if claimed is None or claimed["task"]["id"] != session.task_id:
                raise AnnotatorError(f"Task {session.task_id} is no longer yours (status {latest.get('status')}); "
                                     "your edits stay in the local draft")
            latest = claimed["task"]
        return _download(c, latest)

    def done(result) -> None:  # noqa: ANN001
        detail, vertices, faces = result
        if keep_mine:
            session.rebase(detail)
            STATE.stale = False
            say(f"Your edits now apply on top of revision {detail['revision']}; submit when ready")
        else:
            session.store.delete(session.task_id)
            STATE.session = None
            _opened(result)
            say(f"Reloaded task {detail['id']} at revision {detail['revision']}; local edits discarded")

    worker().submit(job, done, on_error)


def renew_if_due() -> None:
    session = STATE.session
    interval = prefs.get().renew_seconds
    if session is None or time.monotonic() - STATE.last_renew < interval:
        return
    STATE.last_renew = time.monotonic()
    c = client()
    worker().submit(lambda: c.renew(session.task_id), lambda lease: None, on_error)


def _open_session() -> TaskSession:
    if STATE.session is None:
        raise AnnotatorError("No task is open: claim one first")
    return STATE.session


def select_segment(segment: int) -> int:
    """Select the faces of `segment` on the task object; returns how many."""
    faces = np.flatnonzero(_open_session().labels == segment)
    scene.select_faces(task_object(), faces)
    return int(faces.size)
