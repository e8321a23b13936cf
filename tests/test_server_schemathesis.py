"""schemathesis against the server's own OpenAPI document: no request may produce a 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from annotation_ui.client import Client
from tests.server_support import add_user, make_app, seed_tasks

pytestmark = pytest.mark.slow
TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):  # noqa: ANN001, ANN201
    from fastapi.testclient import TestClient

    tmp = tmp_path_factory.mktemp("fuzz")
    app = make_app(f"sqlite:///{tmp / 'db.sqlite3'}", tmp, max_request_bytes=64 * 1024, max_blob_bytes=64 * 1024)
    TOKEN["admin"] = add_user(app, "root", "admin")
    add_user(app, "spare", "annotator")  # token 2: what the fuzzer may revoke (never its own, token 1)
    admin = Client("", None, http=TestClient(app, base_url="http://testserver/api/v1",
                                             headers={"Authorization": f"Bearer {TOKEN['admin']}"}))
    seed_tasks(admin, "p", 3)
    admin.claim("p")  # task 1 is leased by the fuzzing admin, so writes reach the revision code
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


def test_no_server_errors(api_schema) -> None:  # noqa: ANN001
    """Each operation with a few generated requests (bounded: the suite's time budget is small)."""
    headers = {"Authorization": f"Bearer {TOKEN['admin']}"}
    tried = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:  # noqa: ANN001
            sent = dict(headers)
            if case.path.startswith("/api/v1/tasks/") and case.method.upper() in ("PUT", "POST"):
                sent.setdefault("If-Match", '"1"')
            if case.path == "/api/v1/tokens/{token_id}" and case.path_parameters.get("token_id") == 1:
                case.path_parameters["token_id"] = 2  # revoking its own token would end the fuzzing
            response = case.call(headers=sent)
            case.validate_response(response, checks=[not_a_server_error])

        run()
        tried += 1
    assert tried >= 25
