"""Mesh files in the content-addressed store: upload (admin), download by sha256 (anyone)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from annotation_ui.deps import Admin, AnyUser, StoreDep
from annotation_ui.errors import Invalid, NotFound
from annotation_ui.schemas import BlobStored, Message
from annotation_ui.store import BlobNameError

router = APIRouter(tags=["blobs"])
_BINARY_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {
    "type": "string", "format": "binary"}}}}}


@router.post("/blobs", response_model=BlobStored, status_code=201, openapi_extra=_BINARY_BODY,
             responses={413: {"model": Message}, 422: {"model": Message}})
async def upload_blob(_: Admin, request: Request, store: StoreDep) -> BlobStored:
    """Store the request body (a mesh file, e.g. GLB); answers its sha256."""
    data = await request.body()
    if not data:
        raise Invalid("blob: empty body")
    return BlobStored(sha256=await run_in_threadpool(store.put, data), size=len(data))


@router.get("/blobs/{sha256}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": Message}})
def download_blob(_: AnyUser, sha256: str, store: StoreDep) -> FileResponse:
    try:
        path = store.path(sha256)
    except BlobNameError as exc:
        raise NotFound(f"blob {exc}") from None
    if not path.is_file():
        raise NotFound(f"blob {sha256} is not in the store")
    return FileResponse(path, media_type="application/octet-stream", headers={"ETag": f'"{sha256}"'})
