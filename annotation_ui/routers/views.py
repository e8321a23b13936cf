"""Turning rows into response bodies (shared by the routers).

Task details are built as plain dicts and serialised with orjson straight into the response: the
labels string is large, and the dict already has exactly the `TaskDetail` shape the route documents.
"""
from __future__ import annotations

import base64

import orjson
from fastapi import Response
from sqlalchemy.orm import Session

from annotation_ui.schemas import PackedLabels, TaskSummary
from annotation_ui.services import content as C
from annotation_ui.services import lookup

_JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z  # naive UTC in the database -> "...Z" on the wire


def packed(blob: bytes, count: int) -> PackedLabels:
    return PackedLabels(count=count, data=base64.b64encode(blob).decode("ascii"))


def summary(session: Session, task, project_name: str | None = None,  # noqa: ANN001
            names: dict[int, str] | None = None) -> TaskSummary:
    return TaskSummary(**_summary(session, task, project_name, names))


def _summary(session: Session, task, project_name: str | None, names: dict[int, str] | None) -> dict:  # noqa: ANN001
    if names is None:
        names = lookup.user_names(session, {task.assignee_id, task.lease_owner_id})
    return {
        "id": task.id, "project": project_name or lookup.project_name(session, task.project_id), "uid": task.uid,
        "status": task.status, "priority": task.priority, "revision": task.revision, "num_faces": task.num_faces,
        "assignee": names.get(task.assignee_id), "lease_owner": names.get(task.lease_owner_id),
        "lease_expires_at": task.lease_expires_at, "updated_at": task.updated_at,
    }


def detail_body(session: Session, task, content: C.Content | None = None) -> dict:  # noqa: ANN001
    """The `TaskDetail` of `task` (an ORM Task or a row) with its latest revision (`content` if just written)."""
    if content is None or content.number != task.revision:
        content = C.load(session, task.id, task.revision, task.num_faces)
    names = lookup.user_names(session, {content.author_id, task.lease_owner_id, task.assignee_id})
    lease = None
    if task.status == "in_progress" and task.lease_owner_id is not None:
        lease = {"owner": names[task.lease_owner_id], "claimed_at": task.lease_claimed_at,
                 "expires_at": task.lease_expires_at}
    return {
        **_summary(session, task, None, names), "mesh_sha256": task.mesh_sha256,
        "mesh_url": f"/api/v1/blobs/{task.mesh_sha256}",
        "labels": {"encoding": "zstd+int32le", "count": task.num_faces, "data": content.packed()},
        "part_names": content.part_names, "verdict": content.verdict, "reason": content.reason,
        "revision_kind": content.kind, "revision_author": names[content.author_id], "lease": lease,
    }


def json_response(body: object, etag: int | None = None) -> Response:
    headers = {"ETag": f'"{etag}"'} if etag is not None else None
    return Response(orjson.dumps(body, option=_JSON_OPTIONS), media_type="application/json", headers=headers)


def detail(session: Session, task, content: C.Content | None = None) -> Response:  # noqa: ANN001
    """The task detail as a JSON response with the ETag of its revision."""
    return json_response(detail_body(session, task, content), etag=task.revision)
