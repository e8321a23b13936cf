"""Every endpoint but health refuses a missing or bad token (401) and every role it does not allow (403)."""
from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import ValidationError

from annotation_ui.deps import Roles
from annotation_ui.settings import DEV_SECRET, Settings
from tests.server_support import add_user, make_app

ROLES = ("admin", "annotator", "reviewer")
SAMPLE = {"name": "p", "task_id": "1", "sha256": "0" * 64, "number": "1", "token_id": "999999"}


def _roles(dependant) -> frozenset[str] | None:  # noqa: ANN001
    for dep in dependant.dependencies:
        if isinstance(dep.call, Roles):
            return dep.call.roles
        found = _roles(dep)
        if found is not None:
            return found
    return None


def _api_routes(routes, prefix: str = ""):  # noqa: ANN001, ANN202
    """APIRoutes with their full path; newer FastAPI keeps included routers as lazy wrappers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes, prefix + route.include_context.prefix)


# routes left out of the OpenAPI spec on purpose: the review page's HTML shell, which holds no data
# (everything it shows comes from the token-checked API)
PUBLIC_PAGES = {"/review"}


def _endpoints(app) -> list[tuple[str, str, frozenset[str] | None]]:  # noqa: ANN001
    out = []
    routes = list(_api_routes(app.routes))
    hidden = {full for full, route in routes if not route.include_in_schema}
    assert hidden == PUBLIC_PAGES, f"undocumented routes: {sorted(hidden - PUBLIC_PAGES)}"
    for full, route in routes:
        if not route.include_in_schema:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], full)
        out += [(method, path, _roles(route.dependant)) for method in sorted(route.methods)]
    paths = {p for _, p, _ in out}
    documented = {re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], p) for p in app.openapi()["paths"]}
    assert paths == documented, "route walk and OpenAPI disagree"
    return out


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # noqa: ANN001, ANN201
    tmp = tmp_path_factory.mktemp("auth")
    return make_app(f"sqlite:///{tmp / 'db.sqlite3'}", tmp)


def test_every_endpoint_checks_token_and_role(app) -> None:  # noqa: ANN001
    tokens = {role: add_user(app, f"u-{role}", role) for role in ROLES}
    client = TestClient(app)
    endpoints = _endpoints(app)
    assert len(endpoints) >= 20
    for method, path, roles in endpoints:
        if path == "/api/v1/health":
            assert roles is None and client.request(method, path).status_code == 200
            continue
        assert roles, f"{method} {path} has no role dependency"
        for headers in ({}, {"Authorization": "Bearer pv_not-a-token"}, {"Authorization": "Basic abc"}):
            r = client.request(method, path, headers=headers)
            assert r.status_code == 401 and r.json()["detail"], (method, path, headers)
        for role in set(ROLES) - roles:
            r = client.request(method, path, headers={"Authorization": f"Bearer {tokens[role]}"})
            assert r.status_code == 403 and role in r.json()["detail"], (method, path, role)
        for role in roles:
            r = client.request(method, path, headers={"Authorization": f"Bearer {tokens[role]}"})
            assert r.status_code not in (401, 403), (method, path, role, r.text)


def test_roles_are_the_documented_ones(app) -> None:  # noqa: ANN001
    table = {(m, p): r for m, p, r in _endpoints(app)}
    assert table[("POST", "/api/v1/projects/p/claim")] == {"admin", "annotator"}  # reviewers never take leases
    assert table[("POST", "/api/v1/tasks/1/review")] == {"admin", "reviewer"}  # annotators never review
    assert table[("POST", "/api/v1/users")] == {"admin"}
    assert table[("GET", "/api/v1/audit")] == {"admin"}


def test_settings_refuse_default_secret_outside_development(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(environment="production", data_dir=tmp_path)
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(environment="production", secret_key="short", data_dir=tmp_path)
    with pytest.raises(ValidationError, match="environment='staging'"):
        Settings(environment="staging", data_dir=tmp_path)
    assert Settings(environment="production", secret_key="x" * 40).secret_key != DEV_SECRET
    assert Settings().secret_key == DEV_SECRET  # development keeps zero set-up


def test_tokens_are_stored_only_as_keyed_hashes(app) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from annotation_ui.models import ApiToken

    token = add_user(app, "hash-check", "annotator")
    with app.state.sessionmaker() as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and all(len(h) == 64 for h in stored)
