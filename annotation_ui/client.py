"""A small synchronous client for the /api/v1 API (httpx), used by the CLI, tests and benchmark.

Labels go in and come out as (F,) int32 numpy arrays; the client packs them (zstd, base64).
Errors raise `ApiCallError` with the status code and the server's message.
"""
from __future__ import annotations

import numpy as np

from annotation_ui import labels as L


class ApiCallError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: object):
        self.status_code = status
        self.body = body
        detail = body.get("detail") if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: HTTP {status}: {detail}")


def pack(labels: np.ndarray) -> dict:
    return {"encoding": "zstd+int32le", "count": int(labels.shape[0]), "data": L.encode_b64(labels)}


def unpack(packed: dict) -> np.ndarray:
    return L.decode_b64(packed["data"], packed["count"])


class Client:
    def __init__(self, base_url: str, token: str | None, timeout: float = 60.0, http=None):  # noqa: ANN001
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = http or httpx.Client(base_url=base_url.rstrip("/") + "/api/v1", headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, revision: int | None = None, ok=(200, 201), **kw):  # noqa: ANN001, ANN201
        headers = kw.pop("headers", {})
        if revision is not None:
            headers["If-Match"] = f'"{revision}"'
        response = self.http.request(method, path, headers=headers, **kw)
        if response.status_code not in ok:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise ApiCallError(method, path, response.status_code, body)
        return response

    # projects and tasks (admin)
    def ensure_project(self, name: str, description: str = "") -> dict:
        r = self.call("POST", "/projects", json={"name": name, "description": description}, ok=(201, 409))
        return r.json() if r.status_code == 201 else self.call("GET", f"/projects/{name}").json()

    def upload(self, data: bytes) -> str:
        r = self.call("POST", "/blobs", content=data, headers={"Content-Type": "application/octet-stream"})
        return r.json()["sha256"]

    def add_tasks(self, project: str, tasks: list[dict]) -> dict:
        return self.call("POST", f"/projects/{project}/tasks", json={"tasks": tasks}).json()

    # annotator
    def claim(self, project: str) -> dict | None:
        r = self.call("POST", f"/projects/{project}/claim", ok=(200, 204))
        return r.json() if r.status_code == 200 else None

    def task(self, task_id: int) -> dict:
        return self.call("GET", f"/tasks/{task_id}").json()

    def draft(self, task_id: int, revision: int, labels: np.ndarray, part_names: dict | None = None) -> dict:
        body = {"labels": pack(labels), "part_names": part_names or {}}
        return self.call("PUT", f"/tasks/{task_id}/draft", revision=revision, json=body).json()

    def op(self, task_id: int, revision: int, operation: str, **body: object) -> dict:
        return self.call("POST", f"/tasks/{task_id}/ops/{operation}", revision=revision, json=body).json()

    def submit(self, task_id: int, revision: int, labels: np.ndarray | None = None,
               part_names: dict | None = None) -> dict:
        body = {"labels": pack(labels) if labels is not None else None, "part_names": part_names}
        return self.call("POST", f"/tasks/{task_id}/submit", revision=revision, json=body).json()

    def review(self, task_id: int, revision: int, decision: str, comment: str = "",
               reassign_to: str | None = None) -> dict:
        body = {"decision": decision, "comment": comment, "reassign_to": reassign_to}
        return self.call("POST", f"/tasks/{task_id}/review", revision=revision, json=body).json()

    def accepted(self, project: str, page: int = 100):  # noqa: ANN201
        """Iterate over accepted annotations (dicts with `labels` unpacked to int32 arrays)."""
        after = 0
        while True:
            params = {"after_id": after, "limit": page}
            body = self.call("GET", f"/projects/{project}/annotations", params=params).json()
            for item in body["items"]:
                yield {**item, "labels": unpack(item["labels"])}
            if body["next_after_id"] is None:
                return
            after = body["next_after_id"]
