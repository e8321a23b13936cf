"""The annotation API end to end, in process, against SQLite and a real PostgreSQL."""
from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from annotation_ui.client import ApiCallError, Client, pack, unpack
from annotation_ui.models import AuditEvent, Revision
from tests.server_support import DB_KINDS, add_user, db_url, make_app, seed_tasks


class Env:
    def __init__(self, app):  # noqa: ANN001
        self.app = app
        self.tokens = {name: add_user(app, name, role) for name, role in
                       [("root", "admin"), ("ann", "annotator"), ("ann2", "annotator"), ("rev", "reviewer")]}

    def client(self, name: str | None) -> Client:
        headers = {"Authorization": f"Bearer {self.tokens[name]}"} if name else {}
        return Client("", None, http=TestClient(self.app, base_url="http://testserver/api/v1", headers=headers))

    def count(self, model) -> int:  # noqa: ANN001
        with self.app.state.sessionmaker() as s:
            return s.scalar(select(func.count()).select_from(model))


@pytest.fixture(params=DB_KINDS)
def env(request, tmp_path) -> Env:  # noqa: ANN001
    return Env(make_app(db_url(request.param, tmp_path), tmp_path, **getattr(request, "param_settings", {})))


def test_annotate_review_and_pull_workflow(env: Env) -> None:
    admin, ann, rev = env.client("root"), env.client("ann"), env.client("rev")
    seed_tasks(admin, "p", 2)
    claim = ann.claim("p")
    task, rev0 = claim["task"], claim["task"]["revision"]
    assert claim["lease"]["owner"] == "ann" and rev0 == 1
    assert ann.claim("p")["task"]["id"] == task["id"], "a lost claim reply must give back the same lease"
    got = ann.call("GET", f"/tasks/{task['id']}")
    assert got.headers["ETag"] == '"1"'
    labels = unpack(got.json()["labels"])
    assert labels.tolist() == (np.arange(64) // 8).tolist()

    t = ann.op(task["id"], 1, "merge", segments=[2, 3])
    assert t["revision"] == 2 and set(np.unique(unpack(t["labels"]))) == {0, 1, 2, 4, 5, 6, 7}
    t = ann.op(task["id"], 2, "split", faces=[0, 1, 2], name="wheel")
    new_labels = unpack(t["labels"])
    assert new_labels[:3].tolist() == [8, 8, 8] and t["part_names"] == {"8": "wheel"}
    t = ann.op(task["id"], 3, "rename", segment=0, name="body")
    assert t["part_names"] == {"8": "wheel", "0": "body"}
    edited = unpack(t["labels"]).copy()
    edited[60:] = 1
    t = ann.draft(task["id"], 4, edited, {"1": "cab"})
    assert t["revision_kind"] == "draft" and unpack(t["labels"]).tolist() == edited.tolist()
    t = ann.submit(task["id"], 5)
    assert t["status"] == "submitted" and t["revision"] == 6 and t["lease"] is None
    with pytest.raises(ApiCallError) as late:
        ann.draft(task["id"], 6, edited)
    assert late.value.status_code == 409 and "submitted" in str(late.value)

    # reviewer rejects: back to the same annotator, who continues from the submitted labels
    rev.review(task["id"], 6, "reject", "wheel is two parts")
    assert env.client("ann2").claim("p")["task"]["id"] != task["id"]
    again = ann.claim("p")["task"]
    assert again["id"] == task["id"] and again["assignee"] == "ann"
    assert unpack(again["labels"]).tolist() == edited.tolist()
    t = ann.op(task["id"], 6, "reject", reason="not a single object")
    assert t["verdict"] == "rejected"
    t = ann.call("PUT", f"/tasks/{task['id']}/draft", revision=t["revision"],
                 json={"labels": pack(edited), "part_names": {}, "verdict": "ok"}).json()
    assert t["verdict"] == "ok" and t["reason"] is None  # the reject is withdrawn
    t = ann.op(task["id"], t["revision"], "reject", reason="not a single object")
    ann.submit(task["id"], t["revision"])
    rev.review(task["id"], t["revision"] + 1, "accept", "ok")

    pulled = list(rev.accepted("p"))
    assert [p["uid"] for p in pulled] == [task["uid"]]
    assert pulled[0]["status"] == "rejected" and pulled[0]["reason"] == "not a single object"
    assert pulled[0]["labels"].tolist() == edited.tolist() and pulled[0]["author"] == "ann"

    stats = rev.call("GET", "/projects/p/stats").json()
    assert stats["total"] == 2 and stats["done"] == 1 and stats["rejected_objects"] == 1
    assert stats["review_rejections"] == 1 and stats["in_progress"] == 1  # ann2 still holds the other task
    assert stats["annotators"][0]["annotator"] == "ann" and stats["annotators"][0]["submitted"] == 2
    assert stats["median_seconds_per_task"] is not None and stats["median_seconds_per_task"] >= 0

    actions = [e["action"] for e in admin.call("GET", "/audit", params={"task_id": task["id"]}).json()]
    assert actions == ["task.create", "lease.claim", "revision.merge", "revision.split", "revision.rename",
                       "revision.draft", "revision.submit", "review.reject", "lease.claim", "revision.reject",
                       "revision.draft", "revision.reject", "revision.submit", "review.accept"]
    history = ann.call("GET", f"/tasks/{task['id']}/revisions").json()
    assert [h["number"] for h in history] == list(range(1, 11)) and history[0]["kind"] == "initial"
    first = ann.call("GET", f"/tasks/{task['id']}/revisions/1").json()
    assert unpack(first["labels"]).tolist() == labels.tolist() and first["author"] == "root"

    listed = rev.call("GET", "/projects/p/tasks", params={"status": "accepted"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == task["id"]


def test_stale_missing_and_leaseless_writes_are_refused(env: Env) -> None:
    admin, ann, ann2 = env.client("root"), env.client("ann"), env.client("ann2")
    seed_tasks(admin, "p", 2)
    tid = ann.claim("p")["task"]["id"]
    ann.op(tid, 1, "rename", segment=0, name="a")
    with pytest.raises(ApiCallError) as stale:
        ann.op(tid, 1, "rename", segment=0, name="b")
    assert stale.value.status_code == 412 and stale.value.body["current_revision"] == 2
    missing = ann.http.post(f"/tasks/{tid}/ops/rename", json={"segment": 0, "name": "b"})
    assert missing.status_code == 428
    with pytest.raises(ApiCallError) as other:
        ann2.op(tid, 2, "rename", segment=0, name="b")
    assert other.value.status_code == 409 and "another user" in str(other.value)
    with pytest.raises(ApiCallError) as other_bad:  # a refused writer hears 409 before any 422 on its edit
        ann2.op(tid, 2, "merge", segments=[0, 99999])
    assert other_bad.value.status_code == 409 and "another user" in str(other_bad.value)
    with pytest.raises(ApiCallError) as stale_bad:
        ann.op(tid, 1, "merge", segments=[0, 99999])
    assert stale_bad.value.status_code == 412
    assert ann.task(tid)["part_names"] == {"0": "a"}
    ann.call("DELETE", f"/tasks/{tid}/lease")
    with pytest.raises(ApiCallError) as released:
        ann.op(tid, 2, "rename", segment=0, name="c")
    assert released.value.status_code == 409 and "not leased" in str(released.value)


@pytest.mark.parametrize("kind", DB_KINDS)
def test_expired_lease_returns_to_queue_and_refuses_writes(kind: str, tmp_path) -> None:  # noqa: ANN001
    env = Env(make_app(db_url(kind, tmp_path), tmp_path, lease_seconds=3))
    admin, ann, ann2 = env.client("root"), env.client("ann"), env.client("ann2")
    seed_tasks(admin, "p", 1)
    tid = ann.claim("p")["task"]["id"]
    assert ann2.claim("p") is None
    renewed = ann.call("POST", f"/tasks/{tid}/lease/renew").json()
    expires = dt.datetime.fromisoformat(renewed["expires_at"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (expires - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.3)
    with pytest.raises(ApiCallError) as expired:
        ann.op(tid, 1, "merge", segments=[0, 1])
    assert expired.value.status_code == 409 and "expired" in str(expired.value)
    with pytest.raises(ApiCallError):
        ann.call("POST", f"/tasks/{tid}/lease/renew")
    assert ann2.claim("p")["task"]["id"] == tid
    assert env.count(Revision) == 1


def test_bad_payloads_are_4xx_and_store_nothing(env: Env) -> None:
    admin, ann = env.client("root"), env.client("ann")
    seed_tasks(admin, "p", 1)
    tid = ann.claim("p")["task"]["id"]
    revisions, events = env.count(Revision), env.count(AuditEvent)
    good = np.arange(64, dtype=np.int32) // 8
    bad_bodies = {
        "wrong length": {"labels": pack(good[:63])},
        "count lies": {"labels": {**pack(good[:63]), "count": 64}},
        "negative": {"labels": pack(np.where(np.arange(64) == 5, -1, good).astype(np.int32))},
        "label too large": {"labels": pack(np.full(64, 10**6, np.int32))},
        "not zstd": {"labels": {"encoding": "zstd+int32le", "count": 64, "data": "aGVsbG8="}},
        "not base64": {"labels": {"encoding": "zstd+int32le", "count": 64, "data": "%%%"}},
        "unknown name key": {"labels": pack(good), "part_names": {"99": "x"}},
        "json list labels": {"labels": good.tolist()},
    }
    for what, body in bad_bodies.items():
        r = ann.http.put(f"/tasks/{tid}/draft", json=body, headers={"If-Match": '"1"'})
        assert 400 <= r.status_code < 500 and r.json()["detail"], what
    ops = {"split": {"faces": [0, 64]}, "merge": {"segments": [0, 42]}, "rename": {"segment": 42, "name": "x"},
           "reject": {"reason": ""}}
    for op, body in ops.items():
        r = ann.http.post(f"/tasks/{tid}/ops/{op}", json=body, headers={"If-Match": '"1"'})
        assert r.status_code == 422 and r.json()["detail"], op
    r = ann.http.post(f"/tasks/{tid}/ops/split", json={"faces": [64]}, headers={"If-Match": '"1"'})
    assert "face 64 does not exist" in r.json()["detail"]
    huge = ann.http.put(f"/tasks/{tid}/draft", headers={"If-Match": '"1"', "Content-Type": "application/json"},
                        content=b'{"labels": {"count": 64, "data": "' + b"A" * (9 * 1024 * 1024) + b'"}}')
    assert huge.status_code == 413
    bomb = {"labels": {"encoding": "zstd+int32le", "count": 64, "data": pack(np.zeros(10**7, np.int32))["data"]}}
    assert ann.http.put(f"/tasks/{tid}/draft", json=bomb, headers={"If-Match": '"1"'}).status_code == 422
    assert env.count(Revision) == revisions and env.count(AuditEvent) == events
    assert ann.task(tid)["revision"] == 1


def test_push_refuses_bad_tasks_all_or_nothing(env: Env) -> None:
    admin = env.client("root")
    admin.ensure_project("p")
    sha = admin.upload(b"mesh bytes")
    good = {"uid": "a", "mesh_sha256": sha, "labels": pack(np.zeros(4, np.int32))}
    for bad in ({"uid": "b", "mesh_sha256": "f" * 64, "labels": pack(np.zeros(4, np.int32))},
                {"uid": "b", "mesh_sha256": sha, "labels": pack(np.array([0, -3], np.int32))}):
        r = admin.http.post("/projects/p/tasks", json={"tasks": [good, bad]})
        assert r.status_code == 422 and "task 'b'" in r.json()["detail"]
    assert env.count(Revision) == 0


def test_blob_store_serves_by_hash_only(env: Env) -> None:
    admin, ann = env.client("root"), env.client("ann")
    sha = admin.upload(b"glb bytes")
    assert ann.call("GET", f"/blobs/{sha}").content == b"glb bytes"
    for evil in ["..%2F..%2Fannotations.sqlite3", "%2e%2e%2fstore", "A" * 64, sha[:-1], sha + "0"]:
        assert ann.http.get(f"/blobs/{evil}").status_code == 404, evil
    assert ann.http.get("/blobs/../../etc/passwd").status_code == 404
