"""The review page's server side: dashboard (rejection rate, agreement), viewer geometry and labels."""
from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from annotation_ui.client import ApiCallError, Client, pack
from annotation_ui.services.agreement import face_agreement
from tests.server_support import DB_KINDS, add_user, db_url, make_app


def test_agreement_matches_parts_whatever_their_ids() -> None:
    a = np.repeat([0, 1, 2], [50, 30, 20])
    assert face_agreement(a, np.array([7, 3, 9])[a])["agreement"] == 1.0  # same parts, other ids
    b = a.copy()
    b[:10] = 1  # 10 faces of part 0 moved to part 1
    result = face_agreement(a, b)
    assert result["agreement"] == pytest.approx(0.9)
    assert sorted(result["matched"]) == [[0, 0, 40], [1, 1, 30], [2, 2, 20]]
    # one labelling merges two parts: the smaller one cannot be matched
    merged = np.where(a == 2, 1, a)
    assert face_agreement(a, merged)["agreement"] == pytest.approx(0.8)
    # the best one-to-one matching, not a greedy one: greedy pairs 0-0 (5 faces) then 1-1 (0 faces),
    # the optimum pairs 0-1 (4) and 1-0 (4)
    x = np.array([0] * 5 + [0] * 4 + [1] * 4)
    y = np.array([0] * 5 + [1] * 4 + [0] * 4)
    assert face_agreement(x, y)["agreement"] == pytest.approx(8 / 13)
    # ids far from 0..F (negative, huge) take the sorting path and give the same answer
    assert face_agreement(np.array([-5, 10**12, -5, 7]), np.array([1, 2, 1, 2]))["agreement"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="3 and 4 faces"):
        face_agreement(np.zeros(3), np.zeros(4))


class Env:
    def __init__(self, tmp_path, kind: str = "sqlite"):  # noqa: ANN001
        self.app = make_app(db_url(kind, tmp_path), tmp_path)
        self.tokens = {n: add_user(self.app, n, r) for n, r in
                       [("root", "admin"), ("ann", "annotator"), ("bob", "annotator"), ("rev", "reviewer")]}

    def client(self, name: str) -> Client:
        return Client("", None, http=TestClient(self.app, base_url="http://testserver/api/v1",
                                                headers={"Authorization": f"Bearer {self.tokens[name]}"}))


@pytest.mark.parametrize("kind", DB_KINDS)
def test_dashboard_counts_rejections_and_agreement_of_a_task_done_twice(kind: str, tmp_path) -> None:  # noqa: ANN001
    env = Env(tmp_path, kind)
    root, ann, bob, rev = (env.client(n) for n in ("root", "ann", "bob", "rev"))
    root.ensure_project("p")
    sha = root.upload(b"not a mesh, the dashboard does not need one")
    auto = np.repeat([0, 1, 2, 3], 25).astype(np.int32)
    first, second = root.add_tasks("p", [{"uid": u, "mesh_sha256": sha, "labels": pack(auto)} for u in ("a", "b")])["created"]
    for _ in range(2):
        t = ann.claim("p")["task"]
        ann.submit(t["id"], t["revision"], auto)
    t = rev.task(first)
    rev.review(first, t["revision"], "accept")
    t = rev.task(second)
    rev.review(second, t["revision"], "reject", "redo the wheels", reassign_to="bob")
    t = bob.claim("p")["task"]
    assert t["id"] == second
    bobs = auto.copy()
    bobs[:10] = 1  # bob moves 10 faces of part 0 to part 1
    bob.submit(second, t["revision"], np.array([5, 6, 7, 8], np.int32)[bobs])  # and numbers parts his own way

    d = rev.call("GET", "/projects/p/dashboard").json()
    assert d["stats"]["done"] == 1 and d["stats"]["submitted"] == 1 and d["stats"]["review_rejections"] == 1
    assert {r["annotator"]: (r["reviewed"], r["rejected"], r["rejection_rate"]) for r in d["rejection"]} == {
        "ann": (2, 1, 0.5)}
    assert len(d["agreement"]) == 1
    ag = d["agreement"][0]
    assert (ag["task_id"], ag["uid"], ag["annotators"], ag["parts"]) == (second, "b", ["ann", "bob"], [4, 4])
    assert ag["agreement"] == pytest.approx(0.9) and d["mean_agreement"] == pytest.approx(0.9)
    with pytest.raises(ApiCallError) as err:  # annotators do not see the dashboard
        ann.call("GET", "/projects/p/dashboard")
    assert err.value.status_code == 403


def test_viewer_geometry_is_in_label_order_and_bad_meshes_are_named(tmp_path) -> None:  # noqa: ANN001
    from partverse.io import load
    from tests.conftest import shared

    env = Env(tmp_path)
    root, rev = env.client("root"), env.client("rev")
    path = shared("assets", "kenney_truck_green.glb")
    mesh = load(path)
    labels = mesh.face_artist_part.astype(np.int32)
    root.ensure_project("p")
    good = root.upload(path.read_bytes())
    bad = root.upload(b"\x00" * 64)
    ids = root.add_tasks("p", [{"uid": "truck", "mesh_sha256": good, "labels": pack(labels)},
                               {"uid": "junk", "mesh_sha256": bad, "labels": pack(labels)}])["created"]
    raw = rev.call("GET", f"/review/tasks/{ids[0]}/geometry").content
    corners = np.frombuffer(raw, "<f4").reshape(-1, 3, 3)
    np.testing.assert_allclose(corners, mesh.vertices[mesh.faces], rtol=1e-6, atol=1e-6)
    got = np.frombuffer(rev.call("GET", f"/review/tasks/{ids[0]}/labels/1").content, "<i4")
    np.testing.assert_array_equal(got, labels)
    with pytest.raises(ApiCallError) as err:
        rev.call("GET", f"/review/tasks/{ids[1]}/geometry")
    assert err.value.status_code == 422 and "not a GLB" in str(err.value.body)
    with pytest.raises(ApiCallError) as err:
        rev.call("GET", f"/review/tasks/{ids[0]}/labels/9")
    assert err.value.status_code == 404
    page = rev.http.get("http://testserver/review")
    assert page.status_code == 200 and "review.js" in page.text
    assert rev.http.get("http://testserver/review/static/vendor/three.module.js").status_code == 200
