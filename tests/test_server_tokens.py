"""Token revocation (admin any, users their own, 401 at once, audited) and no reviewing your own work."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from annotation_ui.client import ApiCallError, Client
from tests.server_support import DB_KINDS, SECRET, add_user, db_url, make_app, seed_tasks


def _client(app, token: str | None) -> Client:  # noqa: ANN001
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client("", None, http=TestClient(app, base_url="http://testserver/api/v1", headers=headers))


@pytest.fixture(params=DB_KINDS)
def app(request, tmp_path):  # noqa: ANN001, ANN201
    return make_app(db_url(request.param, tmp_path), tmp_path)


def test_revoke_own_token_and_admin_revokes_any(app) -> None:  # noqa: ANN001
    root = _client(app, add_user(app, "root", "admin"))
    ann_token = add_user(app, "ann", "annotator")
    ann = _client(app, ann_token)
    spare = root.call("POST", "/users/ann/tokens", json={"label": "laptop"}).json()
    spare_client = _client(app, spare["token"])
    assert spare_client.call("GET", "/users/me").json()["name"] == "ann"

    mine = ann.call("GET", "/tokens").json()
    assert {t["user"] for t in mine} == {"ann"} and spare["id"] in {t["id"] for t in mine}
    assert all("token" not in t and "token_hash" not in t for t in mine)
    assert {t["user"] for t in root.call("GET", "/tokens").json()} == {"root", "ann"}

    # a user revokes their own second token: refused from the very next request
    out = ann.call("DELETE", f"/tokens/{spare['id']}").json()
    assert out["revoked_at"] is not None and out["label"] == "laptop"
    with pytest.raises(ApiCallError) as gone:
        spare_client.call("GET", "/users/me")
    assert gone.value.status_code == 401 and "revoked" in str(gone.value)
    with pytest.raises(ApiCallError) as again:
        ann.call("DELETE", f"/tokens/{spare['id']}")
    assert again.value.status_code == 409 and "already revoked" in str(again.value)

    # an annotator may not revoke someone else's token; an admin may revoke anyone's
    root_id = next(t["id"] for t in root.call("GET", "/tokens").json() if t["user"] == "root")
    with pytest.raises(ApiCallError) as foreign:
        ann.call("DELETE", f"/tokens/{root_id}")
    assert foreign.value.status_code == 403 and "root" in str(foreign.value)
    with pytest.raises(ApiCallError) as missing:
        ann.call("DELETE", "/tokens/999999")
    assert missing.value.status_code == 404
    first_id = next(t["id"] for t in mine if t["id"] != spare["id"])
    root.call("DELETE", f"/tokens/{first_id}")
    with pytest.raises(ApiCallError) as revoked:
        ann.call("GET", "/users/me")
    assert revoked.value.status_code == 401
    assert root.call("GET", "/users/me").json()["name"] == "root"  # the admin's own token is untouched

    events = [e for e in root.call("GET", "/audit").json() if e["action"] == "token.revoke"]
    assert [(e["actor"], e["detail"]["token_id"]) for e in events] == [("ann", spare["id"]), ("root", first_id)]


def test_reviewer_cannot_review_a_revision_they_authored(app) -> None:  # noqa: ANN001
    root = _client(app, add_user(app, "root", "admin"))
    rev = _client(app, add_user(app, "rev", "reviewer"))
    ann = _client(app, add_user(app, "ann", "annotator"))
    seed_tasks(root, "p", 2)
    own = root.claim("p")["task"]  # an admin annotates, then tries to accept their own submission
    t = root.submit(own["id"], own["revision"])
    for decision in ("accept", "reject"):
        with pytest.raises(ApiCallError) as refused:
            root.review(own["id"], t["revision"], decision, "looks fine")
        assert refused.value.status_code == 403 and "you authored revision" in str(refused.value)
    assert root.task(own["id"])["status"] == "submitted"
    assert rev.call("GET", f"/tasks/{own['id']}/reviews").json() == []
    assert rev.review(own["id"], t["revision"], "accept")["decision"] == "accept"  # another reviewer may

    other = ann.claim("p")["task"]
    t = ann.submit(other["id"], other["revision"])
    assert root.review(other["id"], t["revision"], "reject", "redo")["reassigned_to"] == "ann"


def test_users_tokens_and_revoke_commands(tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from partverse import cli

    if not any(getattr(g, "name", None) == "users" for g in cli.app.registered_groups):
        cli._register_all()
    env = {"PARTVERSE_DATA_DIR": str(tmp_path), "PARTVERSE_SECRET_KEY": SECRET}
    run = lambda *a: CliRunner().invoke(cli.app, list(a), env=env)  # noqa: E731
    token = run("users", "add", "alice", "--role", "annotator").stdout.strip()
    app = make_app(f"sqlite:///{tmp_path / 'annotations.sqlite3'}", tmp_path)
    assert _client(app, token).call("GET", "/users/me").json()["name"] == "alice"
    listed = run("users", "tokens", "alice")
    assert listed.exit_code == 0 and "\talice\tcli\t" in listed.stdout and token not in listed.stdout
    token_id = listed.stdout.split("\t")[0]
    assert run("users", "revoke", token_id).stdout.strip() == f"revoked token {token_id} of alice"
    with pytest.raises(ApiCallError) as gone:
        _client(app, token).call("GET", "/users/me")
    assert gone.value.status_code == 401
    again = run("users", "revoke", token_id)
    assert again.exit_code == 1 and "already revoked" in again.stderr
