"""The /review page in a real headless Chromium against a real server process: log in, open a
submitted task, count the part colours on the canvas, accept and reject through the page, check
the API state, and the dashboard."""
from __future__ import annotations

import numpy as np
import pytest

from tests.server_support import running_server
from tests.web_support import chromium_page, palette_counts, save_shot

pytestmark = pytest.mark.slow


def _truck():
    """(GLB bytes, submitted labels (F,) = the 6 artist parts, automatic labels (F,) = 3 parts: wheels, body, underside)."""
    from partverse.io import load
    from tests.conftest import shared

    path = shared("assets", "kenney_truck_green.glb")
    mesh = load(path)
    names = {str(i): p.name for i, p in enumerate(mesh.artist_parts)}
    parts = mesh.face_artist_part.astype(np.int32)
    wheel = np.array(["wheel" in p.name for p in mesh.artist_parts])
    auto = np.where(wheel[parts], 0, parts).astype(np.int32)
    return path.read_bytes(), parts, auto, names


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # noqa: ANN001, ANN201
    from annotation_ui.client import Client, pack

    tmp = tmp_path_factory.mktemp("review")
    users = {"admin": "admin", "rita": "reviewer", "ann": "annotator", "bob": "annotator"}
    with running_server(f"sqlite:///{tmp / 'db.sqlite3'}", tmp, users) as (srv, tokens):
        admin, ann = Client(srv.base, tokens["admin"]), Client(srv.base, tokens["ann"])
        glb, parts, auto, names = _truck()
        admin.ensure_project("trucks")
        sha = admin.upload(glb)
        ids = admin.add_tasks("trucks", [{"uid": f"truck{i}", "mesh_sha256": sha, "labels": pack(auto)} for i in range(2)])["created"]
        for _ in ids:
            claimed = ann.claim("trucks")["task"]
            ann.submit(claimed["id"], claimed["revision"], parts, names)
        _done_twice(srv.base, tokens, admin, sha, parts, auto)
        yield srv, tokens, ids, parts, auto
        for c in (admin, ann):
            c.close()


def _done_twice(base: str, tokens: dict, admin, sha: str, parts: np.ndarray, auto: np.ndarray) -> None:  # noqa: ANN001
    """Project "twice": one truck labelled by ann (6 parts), rejected to bob, who submits the 3-part labels."""
    from annotation_ui.client import Client, pack

    ann, bob, rita = (Client(base, tokens[n]) for n in ("ann", "bob", "rita"))
    admin.ensure_project("twice")
    (tid,) = admin.add_tasks("twice", [{"uid": "truck-twice", "mesh_sha256": sha, "labels": pack(auto)}])["created"]
    t = ann.claim("twice")["task"]
    t = ann.submit(tid, t["revision"], parts)
    rita.review(tid, t["revision"], "reject", "wheels should be one part", reassign_to="bob")
    t = bob.claim("twice")["task"]
    bob.submit(tid, t["revision"], auto)
    for c in (ann, bob, rita):
        c.close()


def _login(page, base: str, token: str) -> None:  # noqa: ANN001
    page.goto(base + "/review")
    page.fill("#token", token)
    page.click("#login-button")
    page.wait_for_selector("#queue li")


def _orbit(page, selector: str, dx: int, dy: int) -> None:  # noqa: ANN001
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()


def test_wrong_token_is_refused_on_the_page(server) -> None:  # noqa: ANN001
    srv, tokens, *_ = server
    with chromium_page() as page:
        page.goto(srv.base + "/review")
        page.fill("#token", "not-a-token")
        page.click("#login-button")
        page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
        assert "unknown or revoked token" in page.text_content("#login-error")
        assert page.is_hidden("#review")
        page.fill("#token", tokens["ann"])  # annotators cannot review
        page.click("#login-button")
        page.wait_for_function("document.getElementById('login-error').textContent.includes('annotator')")
        assert page.is_hidden("#review")


def test_review_page_renders_accepts_and_rejects(server) -> None:  # noqa: ANN001
    from annotation_ui.client import Client

    srv, tokens, (first, second), parts, auto = server
    api = Client(srv.base, tokens["admin"])
    with chromium_page() as page:
        _login(page, srv.base, tokens["rita"])
        assert page.locator("#queue li").count() == 2
        page.click(f"#queue li[data-id='{first}']")
        page.wait_for_function(f"document.body.dataset.viewer === 'ready' && document.body.dataset.task === '{first}'")
        save_shot(page.screenshot(), "review-page.png")
        page.keyboard.press("n")  # next, and next again wraps around
        page.wait_for_function(f"document.body.dataset.viewer === 'ready' && document.body.dataset.task === '{second}'")
        page.keyboard.press("n")
        page.wait_for_function(f"document.body.dataset.viewer === 'ready' && document.body.dataset.task === '{first}'")

        # the submitted labelling: 6 flat part colours; the automatic one beside it: 3. The truck
        # hides its far wheels from the first view, so orbit below it with the mouse for the rest.
        submitted = palette_counts(save_shot(page.locator("#view-submitted").screenshot(), "submitted.png"))
        initial = palette_counts(save_shot(page.locator("#view-initial").screenshot(), "initial.png"))
        _orbit(page, "#view-submitted", 0, -170)
        submitted += palette_counts(save_shot(page.locator("#view-submitted").screenshot(), "submitted-below.png"))
        initial += palette_counts(save_shot(page.locator("#view-initial").screenshot(), "initial-below.png"))
        assert (submitted > 20).sum() == 6, submitted
        assert (initial > 20).sum() == 3, initial
        assert submitted[6:].sum() == 0
        # matched parts share their colour: wheels (red, the first wheel), body (orange), underside (cyan)
        assert np.flatnonzero(initial > 20).tolist() == [0, 3, 5], initial
        assert page.locator("#parts li").count() == 6
        assert "wheel-front-right" in page.text_content("#parts")

        # hovering a part in the list keeps only its colour vivid
        page.hover("#parts li:nth-child(4)")
        hovered = palette_counts(save_shot(page.locator("#view-submitted").screenshot(), "hover.png"))
        assert hovered[3] > 20 and hovered[[0, 1, 2, 4, 5]].sum() == 0, hovered
        page.mouse.move(5, 5)

        # the exploded view moves the parts apart: the drawn area grows
        before = save_shot(page.locator("#view-submitted").screenshot(), "explode-0.png")
        page.locator("#explode").fill("100")
        after = save_shot(page.locator("#view-submitted").screenshot(), "explode-100.png")
        drawn = lambda im: int((im.min(axis=2) < 250).sum())  # noqa: E731
        assert drawn(after) > drawn(before)
        assert (palette_counts(after)[:6] > 20).all()  # every part still in the frame

        # accept with the keyboard shortcut; the API sees the new state
        page.keyboard.press("a")
        page.wait_for_function(f"document.getElementById('message').textContent.includes('accepted task #{first}')")
        assert api.task(first)["status"] == "accepted"
        assert [a["uid"] for a in api.accepted("trucks")] == ["truck0"]

        # the page opened the next task; reject it with a comment
        page.wait_for_function(f"document.body.dataset.task === '{second}'")
        page.click("#reject")  # no comment: refused on the page, nothing sent
        assert "comment" in page.text_content("#message")
        assert api.task(second)["status"] == "submitted"
        page.keyboard.press("Escape")
        page.keyboard.press("r")  # focuses the comment box
        page.keyboard.type("the cab roof is part of the body")
        page.keyboard.press("Control+Enter")
        page.wait_for_function(f"document.getElementById('message').textContent.includes('rejected task #{second}')")
        save_shot(page.screenshot(), "after-reject.png")
        assert page.locator("#queue li").count() == 0
        reviews = api.call("GET", f"/tasks/{second}/reviews").json()
        assert [(r["decision"], r["comment"]) for r in reviews] == [("reject", "the cab roof is part of the body")]
        back = Client(srv.base, tokens["ann"]).claim("trucks")  # it returns to its annotator
        assert back["task"]["id"] == second and back["task"]["assignee"] == "ann"
        assert np.array_equal(np.asarray(back["task"]["labels"]["count"]), parts.size)

        # the dashboard shows the states and the annotator's rejection rate
        page.click("#tab-dashboard")
        page.wait_for_function("document.body.dataset.dashboard === 'ready'")
        save_shot(page.screenshot(), "dashboard.png")
        assert page.text_content("[data-state='accepted'] b") == "1"
        row = page.locator("#annotators tbody tr").first.text_content()
        assert row.startswith("ann") and row.endswith("50%")

        # the project where a task was labelled twice: agreement of the two labelings
        page.select_option("#project", "twice")
        page.wait_for_function("document.querySelectorAll('#agreement tbody tr').length === 1")
        cells = page.locator("#agreement tbody td").all_text_contents()
        wheels = np.isin(parts, np.unique(parts[auto == 0])).mean()  # 3 of 4 wheels cannot be matched
        assert cells[1:4] == ["truck-twice", "ann / bob", "6 / 3"]
        assert cells[4] == f"{100 * (1 - wheels * 3 / 4):.1f}%"
        save_shot(page.screenshot(), "dashboard-agreement.png")
        assert not [e for e in page.errors if "favicon" not in e], page.errors
    api.close()


def test_a_decision_on_a_task_that_changed_meanwhile_is_refused(server) -> None:  # noqa: ANN001
    """The page sends If-Match with the revision it showed; a task decided elsewhere is not decided twice."""
    from annotation_ui.client import Client

    srv, tokens, *_ = server
    api = Client(srv.base, tokens["admin"])
    (task,) = api.call("GET", "/projects/twice/tasks", params={"status": "submitted"}).json()["items"]
    with chromium_page() as page:
        page.goto(srv.base + "/review")
        page.fill("#token", tokens["rita"])
        page.click("#login-button")
        page.wait_for_function("document.querySelectorAll('#project option').length === 2")
        page.select_option("#project", "twice")
        page.wait_for_selector(f"#queue li[data-id='{task['id']}']")
        page.click(f"#queue li[data-id='{task['id']}']")
        page.wait_for_function(f"document.body.dataset.viewer === 'ready' && document.body.dataset.task === '{task['id']}'")
        api.review(task["id"], task["revision"], "accept", "accepted from the API meanwhile")
        page.keyboard.press("a")
        page.wait_for_function("document.getElementById('message').className === 'error'")
        assert "changed since you opened it" in page.text_content("#message")
        save_shot(page.screenshot(), "stale-accept.png")
    reviews = api.call("GET", f"/tasks/{task['id']}/reviews").json()
    assert [(r["reviewer"], r["comment"]) for r in reviews if r["decision"] == "accept"] == [
        ("admin", "accepted from the API meanwhile")]
    api.close()
