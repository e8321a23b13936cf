"""Helpers for the add-on tests: a live annotation server with the real Kenney truck as tasks."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

from tests.server_support import REPO, running_server, truck_object

ADDON_PARENT = REPO / "blender_addons"
PROJECT = "addon"


def import_core():  # noqa: ANN201
    """The add-on's core package, imported without bpy (as Blender would: package-relative)."""
    if str(ADDON_PARENT) not in sys.path:
        sys.path.insert(0, str(ADDON_PARENT))
    import partverse_annotator.core as core  # noqa: PLC0415

    return core


@contextlib.contextmanager
def truck_server(tmp_path: Path, tasks: int = 2, env: dict | None = None):  # noqa: ANN201
    """A live server with `tasks` truck tasks (labels: one segment per truck geometry).
    Yields (server, tokens {admin, ann, other}, admin httpx Client, truck labels (F,))."""
    from annotation_ui.client import Client, pack

    glb, labels = truck_object()
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    data = tmp_path / "data"
    data.mkdir()
    with _server(url, data, env) as (server, tokens):
        admin = Client(server.base, tokens["admin"])
        admin.ensure_project(PROJECT)
        sha = admin.upload(glb)
        admin.add_tasks(PROJECT, [{"uid": f"truck{i}", "mesh_sha256": sha, "labels": pack(labels),
                                   "part_names": {"0": "wheel front right"}} for i in range(tasks)])
        try:
            yield server, tokens, admin, labels
        finally:
            admin.close()


@contextlib.contextmanager
def _server(url: str, data: Path, env: dict | None):  # noqa: ANN202
    users = {"admin": "admin", "ann": "annotator", "other": "annotator", "rev": "reviewer"}
    if not env:
        with running_server(url, data, users) as pair:
            yield pair
        return
    from tests.server_support import LiveServer, bootstrap

    tokens = bootstrap(url, users)
    server = LiveServer(url, data, env).start()
    try:
        yield server, tokens
    finally:
        server.stop()


def stored_labels(admin, task_id: int) -> tuple[np.ndarray, dict, dict]:  # noqa: ANN001
    """(labels, part names, task detail) of the task's latest revision, read back from the server."""
    from annotation_ui.client import unpack

    detail = admin.task(task_id)
    return unpack(detail["labels"]), detail["part_names"], detail
