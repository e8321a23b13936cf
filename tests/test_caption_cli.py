"""`partverse render` + `partverse caption` on real assets: files, resume after a kill, stages."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from partverse.cli import _register_all, app
from partverse.data.schema import captions_schema
from tests.conftest import REPO, shared

_register_all()
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    assets = [shared("assets", n) for n in ("kenney_truck_green.glb", "kaykit_chest_gold.glb", "quat_boat_sail.glb")]
    res = runner.invoke(app, ["render", *map(str, assets), "--run", str(run), "--resolution", "96", "--views", "4"])
    assert res.exit_code == 0, res.output
    return run


def test_render_writes_complete_folders_and_reports_bad_files(run_dir, tmp_path):
    from partverse.render.store import list_render_folders, load_renders

    folders = list_render_folders(run_dir / "renders")
    assert [f.name for f in folders] == ["kaykit_chest_gold", "kenney_truck_green", "quat_boat_sail"]
    r = load_renders(folders[1])
    assert r.visible_pixels.shape == (len(r.views), len(r.parts)) and r.parts[0].composite_png[:4] == b"\x89PNG"
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF not really")
    res = runner.invoke(app, ["render", str(bad), str(shared("assets", "ply_cow.ply")), "--run", str(tmp_path / "r2"), "--resolution", "32", "--views", "2"])
    assert res.exit_code == 1 and "broken.glb" in res.output
    assert (tmp_path / "r2" / "renders" / "ply_cow" / "renders.json").is_file()  # the batch went on


def test_caption_metadata_writes_schema_rows_and_skips_done_objects(run_dir):
    res = runner.invoke(app, ["caption", "--run", str(run_dir), "--backend", "metadata"])
    assert res.exit_code == 0, res.output
    files = sorted((run_dir / "captions").glob("*.parquet"))
    assert [f.stem for f in files] == ["kaykit_chest_gold", "kenney_truck_green", "quat_boat_sail"]
    table = pq.read_table(files[1])
    assert table.schema.equals(captions_schema(), check_metadata=False)
    rows = table.to_pylist()
    assert rows[0]["part_id"] == -1 and all(r["backend"] == "metadata" for r in rows)
    assert {r["status"] for r in rows} <= {"metadata", "not_visible"}
    assert any("wheel" in r["brief"] for r in rows)
    again = runner.invoke(app, ["caption", "--run", str(run_dir), "--backend", "metadata"])
    assert "3 already done" in again.output


def test_caption_rejects_bad_config_naming_the_field(run_dir):
    res = runner.invoke(app, ["caption", "--run", str(run_dir), "--backend", "gpt4"])
    assert res.exit_code == 2 and "backend: 'gpt4'" in res.output


def _serve(app):
    import threading

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not srv.started:
        time.sleep(0.02)
    return srv, sock.getsockname()[1]


def _hanging_on_boats_app():
    """Answers every request at once with valid JSON, except for the boat: that one never returns."""
    import asyncio
    import json

    from fastapi import FastAPI, Request

    app = FastAPI()

    async def completions(request: Request):
        body = await request.json()
        prompt = next(c["text"] for c in body["messages"][0]["content"] if c["type"] == "text")
        if "boat" in prompt:
            await asyncio.sleep(600)
        reply = {"brief_caption": f"thing {len(prompt)}", "detailed_caption": "Some detail.", "relation": "Attached to the body."}
        return {"choices": [{"message": {"role": "assistant", "content": json.dumps(reply)}}]}

    completions.__annotations__["request"] = Request  # resolved without the __future__ import
    app.post("/v1/chat/completions")(completions)
    return app


@pytest.mark.multiprocess
def test_kill_9_mid_run_loses_nothing_already_written(run_dir, tmp_path):
    """kill -9 the caption command while it hangs on the last object; the objects finished before
    the kill are on disk and readable, nothing half-written is left, a rerun does only the rest."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir / "renders", run / "renders")
    srv, port = _serve(_hanging_on_boats_app())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "partverse", "caption", "--run", str(run), "--backend", "openai",
                             "--endpoint", f"http://127.0.0.1:{port}/v1", "--batch-size", "1", "--model", "m"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while time.time() < deadline and len(list((run / "captions").glob("*.parquet"))) < 2:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    srv.should_exit = True
    names = sorted(p.name for p in (run / "captions").iterdir() if not p.name.startswith("."))
    assert names == ["kaykit_chest_gold.parquet", "kenney_truck_green.parquet"]
    for n in names:
        rows = pq.read_table(run / "captions" / n).to_pylist()
        assert rows[0]["part_id"] == -1 and all(r["backend"] == "openai" for r in rows)
    res = subprocess.run([sys.executable, "-m", "partverse", "caption", "--run", str(run), "--backend", "metadata"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "2 already done" in res.stdout, res.stdout + res.stderr
    assert sorted(p.stem for p in (run / "captions").glob("*.parquet")) == ["kaykit_chest_gold", "kenney_truck_green", "quat_boat_sail"]
    assert pq.read_table(run / "captions" / "kenney_truck_green.parquet").to_pylist()[0]["backend"] == "openai"  # not redone


def test_stages_render_then_caption(tmp_path):
    from partverse.io import load
    from partverse.records import Annotation, Asset, PreparedMesh
    from pipelines.stages.caption import CaptionStage
    from pipelines.stages.render import RenderStage

    mesh = load(shared("assets", "kenney_truck_green.glb"))
    prepared = PreparedMesh(Asset("truck", "local", "file://x", "0" * 64, "CC0", "x"), mesh, {})
    labels = (mesh.face_artist_part > 0).astype("int32")  # two parts: part 0 and the rest
    ann = Annotation("truck", labels, {0: "front wheel", 1: "truck"}, "accepted", None, "me", 1)
    render = RenderStage(views=4, resolution=64, out_dir=str(tmp_path / "renders"))
    render.setup()
    (renders,) = list(render.process((prepared, ann)))
    assert [p.name for p in renders.parts] == ["front wheel", "truck"]
    assert (tmp_path / "renders" / "truck" / "renders.json").is_file()
    stage = CaptionStage(backend="metadata")
    stage.setup()
    (caps,) = list(stage.process(renders))
    assert caps.uid == "truck" and caps.to_table().num_rows == 3
    assert CaptionStage(backend="transformers").resources.num_gpus == 1 and CaptionStage(backend="transformers").resources.actor
    with pytest.raises(Exception, match="cannot take a str"):
        list(stage.process("nope"))
