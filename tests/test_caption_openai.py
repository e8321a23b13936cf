"""The OpenAI-compatible backend against a scripted FastAPI server on 127.0.0.1: parsing,
retries with backoff, timeouts, bounded concurrency and the flags that come out."""
# no `from __future__ import annotations`: FastAPI must resolve the Request annotation

import asyncio
import base64
import hashlib
import json
import socket
import threading
import time
from collections import defaultdict

import pytest

from partverse.caption.backends import CaptionConfig, CaptionRequest, make_backend
from partverse.caption.run import ask, caption_object, rows_to_table

OBJECT = {"brief_caption": "Green toy pickup truck", "detailed_caption": "A small truck with four wheels."}
GOOD = {"brief_caption": "Black rubber wheel", "detailed_caption": "A round tire with a grey hub.", "relation": "Holds up the front of the truck."}


class Script:
    """Replies chosen by the SCENARIO word in the prompt; records every call."""

    def __init__(self):
        self.calls = defaultdict(int)
        self.prompts = defaultdict(list)
        self.in_flight = 0  # of "slow" requests
        self.max_in_flight = 0
        self.images: list[bytes] = []


def make_app(script: Script):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI()

    def chat(text: str):
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        content = body["messages"][0]["content"]
        prompt = next(c["text"] for c in content if c["type"] == "text")
        url = next(c["image_url"]["url"] for c in content if c["type"] == "image_url")
        script.images.append(base64.b64decode(url.split(",", 1)[1]))
        scenario = prompt.split("SCENARIO=")[1].split()[0] if "SCENARIO=" in prompt else "valid"
        script.calls[scenario] += 1
        script.prompts[scenario].append(prompt)
        n = script.calls[scenario]
        if scenario == "slow":
            script.in_flight += 1
            script.max_in_flight = max(script.max_in_flight, script.in_flight)
        try:
            if scenario == "valid":
                whole = prompt.startswith("The image shows a 3D object")
                return chat(json.dumps(OBJECT if whole else GOOD))
            if scenario == "slow":
                await asyncio.sleep(0.15)
                return chat(json.dumps(GOOD))
            if scenario == "invalid":
                return chat("Here is the caption: brief = wheel")
            if scenario == "invalid_then_valid":
                return chat("not json" if n % 2 == 1 else json.dumps(GOOD))  # each ask: bad, then good
            if scenario == "refusal":
                return chat("I'm sorry, but I can't help with that.")
            if scenario == "rate_limited":
                if n == 1:
                    return JSONResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": "0"})
                return chat(json.dumps(GOOD))
            if scenario == "server_error":
                return JSONResponse({"error": "boom"}, status_code=503)
            if scenario == "bad_request":
                return JSONResponse({"error": "no"}, status_code=400)
            if scenario == "timeout":
                await asyncio.sleep(3.0)
                return chat(json.dumps(GOOD))
            if scenario == "no_choices":
                return {"object": "chat.completion"}
            if scenario == "fenced_content_parts":
                return {"choices": [{"message": {"content": [{"type": "text", "text": "```json\n" + json.dumps(GOOD) + "\n```"}]}}]}
            raise AssertionError(scenario)
        finally:
            if scenario == "slow":
                script.in_flight -= 1

    return app


@pytest.fixture(scope="module")
def server():
    import uvicorn

    script = Script()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(make_app(script), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not srv.started and time.time() < deadline:
        time.sleep(0.02)
    assert srv.started
    yield f"http://127.0.0.1:{port}/v1", script
    srv.should_exit = True
    thread.join(5)
    sock.close()


def _backend(endpoint, **kw):
    cfg = CaptionConfig(backend="openai", endpoint=endpoint, model="scripted", backoff_s=0.01, backoff_max_s=0.05, **kw)
    b = make_backend(cfg)
    b.setup()
    return b


def _req(scenario: str, part_id: int = 0) -> CaptionRequest:
    return CaptionRequest("u1", part_id, "part", b"\x89PNG fake " + scenario.encode(), f"Describe. SCENARIO={scenario} now", {})


@pytest.mark.parametrize(
    "scenario, status, calls",
    [
        ("valid", "ok", 1),
        ("invalid", "invalid_json", 2),  # asked once more, then flagged
        ("invalid_then_valid", "ok", 2),
        ("refusal", "refusal", 2),
        ("rate_limited", "ok", 2),  # 429 then success inside one ask
        ("server_error", "error:http_503", 2 * 3),  # (1 + max_retries=2) attempts, twice
        ("bad_request", "error:http_400", 2),  # not retried at the HTTP level
        ("no_choices", "error:bad_response", 2),
        ("fenced_content_parts", "ok", 1),
    ],
)
def test_scripted_replies_give_exact_flags_and_call_counts(server, scenario, status, calls):
    endpoint, script = server
    before = script.calls[scenario]
    result = ask(_backend(endpoint, max_retries=2), [_req(scenario)])[0]
    assert result.status == status
    assert script.calls[scenario] - before == calls
    if status == "ok":
        assert result.brief == GOOD["brief_caption"] and result.relation == GOOD["relation"]


def test_retry_prompt_names_the_problem(server):
    endpoint, script = server
    ask(_backend(endpoint), [_req("invalid_then_valid", 7)])
    first, second = script.prompts["invalid_then_valid"][-2:]
    assert "previous reply could not be used" not in first
    assert second.startswith(first) and "not a JSON object" in second


def test_timeout_is_flagged_after_bounded_attempts(server):
    endpoint, script = server
    before = script.calls["timeout"]
    t0 = time.time()
    result = ask(_backend(endpoint, max_retries=1, timeout_s=0.3), [_req("timeout")])[0]
    assert result.status == "error:timeout"
    assert script.calls["timeout"] - before == 4  # 2 attempts per ask, asked twice
    assert time.time() - t0 < 2.9  # never waited for the 3 s reply


def test_concurrency_is_bounded(server):
    endpoint, script = server
    script.max_in_flight = 0
    results = _backend(endpoint, concurrency=3).generate([_req("slow", i) for i in range(9)])
    assert all(r.text for r in results)
    assert 2 <= script.max_in_flight <= 3


def test_one_failure_does_not_sink_the_batch(server):
    endpoint, _ = server
    reqs = [_req("valid", 0), _req("bad_request", 1), _req("refusal", 2), _req("valid", 3)]
    statuses = [r.status for r in ask(_backend(endpoint), reqs)]
    assert statuses == ["ok", "error:http_400", "refusal", "ok"]


def test_connection_refused_is_an_error_flag_not_an_exception():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = ask(_backend(f"http://127.0.0.1:{port}/v1", max_retries=1), [_req("valid")])[0]
    assert result.status == "error:connect"


def test_caption_object_rows_record_provenance(server, tmp_path):
    """A rendered real asset through the HTTP backend: rows in the release schema, the image hash
    is the hash of the exact PNG the server received."""
    from partverse.io import load
    from partverse.render.objects import RenderConfig, render_object
    from tests.conftest import shared

    endpoint, script = server
    mesh = load(shared("assets", "kenney_truck_green.glb"))
    renders = render_object("truck", mesh, mesh.face_artist_part, {i: p.name for i, p in enumerate(mesh.artist_parts)}, RenderConfig(resolution=64, views=4))
    script.images.clear()
    cfg = CaptionConfig(backend="openai", endpoint=endpoint, model="scripted")
    b = make_backend(cfg)
    b.setup()
    rows = caption_object(renders, b, cfg)
    table = rows_to_table(rows)
    assert table.num_rows == 1 + len(renders.parts)
    assert [r["part_id"] for r in rows] == [-1] + [p.part_id for p in renders.parts]
    sent = {hashlib.sha256(img).hexdigest() for img in script.images}
    for r in rows:
        assert r["backend"] == "openai" and r["model"] == "scripted" and r["prompt_version"]
        assert r["status"] == "ok" and r["image_sha256"] in sent
    assert rows[0]["brief"] == OBJECT["brief_caption"] and rows[1]["brief"] == GOOD["brief_caption"]
    assert rows[0]["image_sha256"] == hashlib.sha256(renders.object_image_png).hexdigest()
    assert rows[1]["image_sha256"] == hashlib.sha256(renders.parts[0].composite_png).hexdigest()
