"""The transformers path end to end with a tiny random Qwen2-VL loaded through from_pretrained,
and the OpenAI path against `transformers serve` running that model on 127.0.0.1."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from partverse.caption.backends import CaptionConfig, CaptionRequest, make_backend
from partverse.caption.parse import parse_reply
from partverse.caption.run import caption_object, rows_to_table
from partverse.caption.tiny import build_tiny_vlm

pytest.importorskip("transformers")
FLAGS = {"ok", "empty", "invalid_json", "missing_field", "too_long", "refusal", "whole_object"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))


@pytest.fixture(scope="module")
def truck_renders():
    from partverse.io import load
    from partverse.render.composite import HighlightStyle
    from partverse.render.objects import RenderConfig, render_object
    from tests.conftest import shared

    mesh = load(shared("assets", "kenney_truck_green.glb"))
    names = {i: p.name for i, p in enumerate(mesh.artist_parts)}
    return render_object("truck", mesh, mesh.face_artist_part, names, RenderConfig(resolution=64, views=4, style=HighlightStyle(tile=112)))


def test_tiny_model_loads_through_the_auto_classes(tiny_model):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_model)
    proc = AutoProcessor.from_pretrained(tiny_model)
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert proc.chat_template and "<|image_pad|>" in proc.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}], tokenize=False
    )


def test_a_missing_model_folder_is_said_as_such(tmp_path):
    from partverse.errors import ConfigError

    backend = make_backend(CaptionConfig(backend="transformers", model=str(tmp_path / "no-vlm"), device="cpu"))
    with pytest.raises(ConfigError, match=r"CaptionConfig.model='.*no-vlm': does not exist.*Qwen/Qwen2.5-VL-7B-Instruct"):
        backend.setup()


def test_transformers_backend_batch_generate_parse_flag(tiny_model, truck_renders):
    cfg = CaptionConfig(backend="transformers", model=tiny_model, batch_size=4, max_new_tokens=6, device="cpu")
    backend = make_backend(cfg)
    backend.setup()
    rows = caption_object(truck_renders, backend, cfg)
    table = rows_to_table(rows)
    assert table.num_rows == 1 + len(truck_renders.parts)
    by_part = {p.part_id: p for p in truck_renders.parts}
    for r in rows:
        assert r["backend"] == "transformers" and r["model"] == tiny_model
        if r["part_id"] >= 0 and by_part[r["part_id"]].best_view < 0:
            assert r["status"] == "not_visible"
            continue
        # the noise a random model writes is never accepted as a caption
        assert r["status"] in FLAGS - {"ok"}
        png = truck_renders.object_image_png if r["part_id"] < 0 else by_part[r["part_id"]].composite_png
        assert r["image_sha256"] == hashlib.sha256(png).hexdigest()


def test_batched_generation_matches_one_by_one(tiny_model, truck_renders):
    """Left padding and batching must not change greedy outputs."""
    cfg = CaptionConfig(backend="transformers", model=tiny_model, batch_size=4, max_new_tokens=8, device="cpu")
    backend = make_backend(cfg)
    backend.setup()
    reqs = [CaptionRequest("t", p.part_id, "part", p.composite_png, f"Describe part {p.name}" + " please" * i, {}) for i, p in enumerate(truck_renders.parts[:3])]
    batched = [r.text for r in backend.generate(reqs)]
    single = [backend.generate([r])[0].text for r in reqs]
    assert batched == single
    assert all(isinstance(t, str) for t in batched)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_openai_backend_against_transformers_serve(tiny_model, tmp_path):
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("transformers serve needs fastapi, uvicorn, pydantic and openai (pip install 'transformers[serving]')")
    port = _free_port()
    cli = os.path.join(os.path.dirname(sys.executable), "transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.Popen(
        [cli, "serve", tiny_model, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.log", "wb"), env=env,
    )
    try:
        import httpx

        deadline = time.time() + 120
        while time.time() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail("transformers serve did not come up in 120 s")
        cfg = CaptionConfig(backend="openai", endpoint=f"http://127.0.0.1:{port}/v1", model=tiny_model, max_new_tokens=8, concurrency=2, timeout_s=60)
        backend = make_backend(cfg)
        backend.setup()
        from PIL import Image
        import io

        buf = io.BytesIO()
        Image.fromarray(np.full((56, 112, 3), 200, np.uint8)).save(buf, format="PNG")
        replies = backend.generate([CaptionRequest("u", i, "part", buf.getvalue(), f"Describe part {i}.", {}) for i in range(3)])
        for reply in replies:
            assert reply.error is None and isinstance(reply.text, str)
            assert parse_reply(reply.text).status in FLAGS - {"ok"}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
