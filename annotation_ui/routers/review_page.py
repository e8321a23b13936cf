"""The /review web page (static HTML/JS served from annotation_ui/web) and the two binary
endpoints its 3D viewer needs: triangle positions in the labels' face order, and raw labels.

GET /review                                     the page (no token: the page asks for one)
GET /review/static/...                          its JS/CSS and vendored three.js
GET /api/v1/review/tasks/{id}/geometry          (F*9,) float32 LE: the mesh as loaded by partverse.io.load
GET /api/v1/review/tasks/{id}/labels/{number}   (F,) int32 LE: the labels of one revision, uncompressed
"""
from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from annotation_ui.deps import Reviewer, SessionDep, StoreDep, TaskId
from annotation_ui.errors import Invalid, NotFound
from annotation_ui.schemas import Message
from annotation_ui.services import content, lookup

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
router = APIRouter(tags=["review page"])
_CACHE: OrderedDict[str, bytes] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_ENTRIES = 16
_BINARY = {200: {"content": {"application/octet-stream": {}}}, 404: {"model": Message}, 422: {"model": Message}}


def mount(app, prefix: str) -> None:  # noqa: ANN001
    """Add the page, its static files and the viewer endpoints to `app`."""
    from fastapi.staticfiles import StaticFiles

    app.include_router(router, prefix=prefix)
    app.add_api_route("/review", _page, methods=["GET"], include_in_schema=False)
    app.mount("/review/static", StaticFiles(directory=WEB_DIR / "static"), name="review-static")


def _page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


def triangle_positions(blob_path: Path, num_faces: int) -> bytes:
    """The stored mesh file (GLB) as (F, 3, 3) float32 corner positions, in `partverse.io.load` face order."""
    from partverse.errors import PartverseError
    from partverse.io import load

    head = blob_path.read_bytes()[:4]
    if head != b"glTF":
        raise Invalid(f"mesh {blob_path.name}: not a GLB file (first bytes {head!r}); the viewer reads GLB only")
    with tempfile.TemporaryDirectory(prefix="review-mesh-") as tmp:
        link = Path(tmp) / "mesh.glb"
        link.symlink_to(blob_path)
        try:
            mesh = load(link)
        except PartverseError as exc:
            raise Invalid(f"mesh {blob_path.name}: {exc}") from None
    if mesh.num_faces != num_faces:
        raise Invalid(f"mesh {blob_path.name}: {mesh.num_faces} faces, the task's labels have {num_faces}")
    return np.ascontiguousarray(mesh.vertices[mesh.faces], dtype="<f4").tobytes()


def _cached_positions(store, sha: str, num_faces: int) -> bytes:  # noqa: ANN001
    with _CACHE_LOCK:
        if sha in _CACHE:
            _CACHE.move_to_end(sha)
            return _CACHE[sha]
    path = store.path(sha)
    if not path.is_file():
        raise NotFound(f"blob {sha} is not in the store")
    data = triangle_positions(path, num_faces)
    with _CACHE_LOCK:
        _CACHE[sha] = data
        while len(_CACHE) > _CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    return data


@router.get("/review/tasks/{task_id}/geometry", response_class=Response, responses=_BINARY)
async def geometry(_: Reviewer, task_id: TaskId, session: SessionDep, store: StoreDep) -> Response:
    """Triangle corners of the task's mesh: (F*9,) float32 little-endian, x y z per corner."""
    task = lookup.task(session, task_id)
    data = await run_in_threadpool(_cached_positions, store, task.mesh_sha256, task.num_faces)
    return Response(data, media_type="application/octet-stream", headers={"X-Num-Faces": str(task.num_faces)})


@router.get("/review/tasks/{task_id}/labels/{number}", response_class=Response, responses=_BINARY)
def revision_labels(_: Reviewer, task_id: TaskId, number: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
                    session: SessionDep) -> Response:
    """Labels of revision `number` (1 = the automatic segmentation) as (F,) int32 little-endian."""
    task = lookup.task(session, task_id)
    labels = content.load(session, task_id, number, task.num_faces).labels
    return Response(labels.astype("<i4").tobytes(), media_type="application/octet-stream",
                    headers={"X-Num-Faces": str(task.num_faces)})
