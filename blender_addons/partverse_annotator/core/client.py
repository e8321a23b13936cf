"""The annotation server's /api/v1 API over the standard library (urllib): Blender has no httpx.

Writes send `If-Match: "<revision>"`. Errors become `AuthError` (401/403), `StaleTaskError`
(409 lease lost / task closed, 412 newer revision) or `ServerError` with the server's message.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np

from .errors import AuthError, ServerError, StaleTaskError
from .labels import pack


class Client:
    def __init__(self, base_url: str, token: str, timeout: float = 60.0):
        if not base_url.startswith(("http://", "https://")):
            raise ServerError(f"server URL {base_url!r}: must start with http:// or https://")
        self.base = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method: str, path: str, body: dict | None = None, revision: int | None = None,
                 raw: bool = False):  # noqa: ANN202
        url = self.base + (path if path.startswith("/api/") else "/api/v1" + path)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if revision is not None:
            headers["If-Match"] = f'"{revision}"'
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise _error(method, path, exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"{method} {url}: server unreachable ({reason})") from None
        if raw:
            return payload
        return json.loads(payload) if status != 204 and payload else None

    def claim(self, project: str) -> dict | None:
        """Lease the next task of `project`: {"task": TaskDetail, "lease": ...}, or None if the queue is empty."""
        return self._request("POST", f"/projects/{project}/claim")

    def task(self, task_id: int) -> dict:
        return self._request("GET", f"/tasks/{task_id}")

    def mesh(self, mesh_url: str) -> bytes:
        return self._request("GET", mesh_url, raw=True)

    def renew(self, task_id: int) -> dict:
        return self._request("POST", f"/tasks/{task_id}/lease/renew")

    def release(self, task_id: int) -> dict:
        return self._request("DELETE", f"/tasks/{task_id}/lease")

    def draft(self, task_id: int, revision: int, labels: np.ndarray, names: dict) -> dict:
        return self._request("PUT", f"/tasks/{task_id}/draft", {"labels": pack(labels), "part_names": names}, revision)

    def reject(self, task_id: int, revision: int, reason: str) -> dict:
        return self._request("POST", f"/tasks/{task_id}/ops/reject", {"reason": reason}, revision)

    def submit(self, task_id: int, revision: int, labels: np.ndarray, names: dict) -> dict:
        return self._request("POST", f"/tasks/{task_id}/submit", {"labels": pack(labels), "part_names": names}, revision)


def _error(method: str, path: str, status: int, body: bytes) -> ServerError:
    try:
        parsed = json.loads(body)
        detail = parsed.get("detail", parsed) if isinstance(parsed, dict) else parsed
    except ValueError:
        parsed, detail = None, body.decode(errors="replace")[:300]
    if status in (401, 403):
        hint = "check the token in the add-on preferences" if status == 401 else "your user lacks the annotator role"
        return AuthError(f"{method} {path}: HTTP {status}: {detail} ({hint})", status, parsed)
    if status == 412:
        return StaleTaskError(f"This task changed on the server (revision {parsed.get('current_revision') if parsed else '?'}"
                              f"): {detail}. Use Reload to fetch it; your edits stay in the local draft.", status, parsed)
    if status == 409:
        return StaleTaskError(f"Your lease on this task is gone: {detail}. Use Reload (or claim again); "
                              "your edits stay in the local draft.", status, parsed)
    return ServerError(f"{method} {path}: HTTP {status}: {detail}", status, parsed)
