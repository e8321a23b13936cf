"""Part renders and captions in the pipeline build: the shipped sample config (render + caption with
the metadata backend) on three bundled samples through the local executor, read back from the
release; resume skips everything; a caption parameter change re-runs caption and later stages only."""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
import yaml

from partverse.data.reader import read_release_table
from pipelines.config import parse_config
from pipelines.run import run_build

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "pipelines" / "samples"
FILES = ["kenney_truck_green.glb", "kaykit_chest_gold.glb", "fbx_kenney_bed_bunk.fbx"]


def _config(run_dir: Path, caption_params: dict | None = None, with_captions: bool = True):
    data = yaml.safe_load((REPO / "pipelines" / "configs" / "sample.yaml").read_text())
    data.update(run_dir=str(run_dir), progress=False)
    for st in data["stages"]:
        if st["name"] == "ingest_local":
            st["params"]["paths"] = [str(SAMPLES / f) for f in FILES]
        if st["name"] == "caption" and caption_params:
            st["params"].update(caption_params)
    if not with_captions:
        data["stages"] = [st for st in data["stages"] if st["name"] not in ("render", "caption")]
    return parse_config(data, "test")


def _stage_counts(run_dir: Path) -> dict[str, dict]:
    return json.loads((run_dir / "run.json").read_text())["stages"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("captions") / "run"
    summary = run_build(_config(run_dir))
    assert summary.quarantined == [], summary.quarantined
    return run_dir


def _render_params() -> dict:
    data = yaml.safe_load((REPO / "pipelines" / "configs" / "sample.yaml").read_text())
    return next(st["params"] for st in data["stages"] if st["name"] == "render")


def test_release_has_captions_and_composites_for_every_part(built):
    from PIL import Image

    release = built / "release"
    objects = read_release_table(release, "objects", ["uid"]).column("uid").to_pylist()
    parts = read_release_table(release, "parts", ["uid", "part_id", "renders"]).to_pylist()
    captions = read_release_table(release, "captions").to_pylist()
    assert len(objects) == len(FILES)
    by_key = {(c["uid"], c["part_id"]): c for c in captions}
    assert len(by_key) == len(captions) == len(objects) + len(parts)
    for uid in objects:  # one whole-object caption per object
        row = by_key[(uid, -1)]
        assert row["status"] == "metadata" and row["brief"] and row["image_sha256"]
    tile = _render_params()["tile"]
    for p in parts:
        cap = by_key[(p["uid"], p["part_id"])]
        assert cap["backend"] == "metadata" and cap["model"] == "partverse-metadata-1"
        views = {r["view"]: r["png"] for r in p["renders"]}
        assert set(views) == {"composite", "part"}
        composite = Image.open(io.BytesIO(views["composite"]))
        composite.load()
        assert composite.size == (2 * tile, tile)  # object with the box | the part alone
        assert Image.open(io.BytesIO(views["part"])).size == (_render_params()["resolution"],) * 2
        if cap["status"] == "metadata":  # the captioner saw exactly this composite
            assert cap["brief"] and cap["image_sha256"] == hashlib.sha256(views["composite"]).hexdigest()
        else:  # parts hidden inside the object in every view are flagged, never stored as good
            assert cap["status"] == "not_visible" and cap["image_sha256"] == ""
    assert sum(c["status"] == "metadata" for c in captions) > 0.8 * len(captions)


def test_rebuild_skips_everything_and_caption_params_rerun_caption_and_later_only(built):
    run_build(_config(built))
    counts = _stage_counts(built)
    for name, c in counts.items():
        if name != "ingest_local":  # the source always runs (idempotent against the store)
            assert c["ran"] == 0 and c["failed"] == 0, (name, c)
    assert counts["render"]["cached"] == counts["caption"]["cached"] == len(FILES)
    assert counts["write_release"]["cached"] == 1

    run_build(_config(built, {"use_name_hint": False}))
    counts = _stage_counts(built)
    for name in ("prepare", "segment", "annotation", "render"):
        assert counts[name]["ran"] == 0 and counts[name]["cached"] == len(FILES), (name, counts[name])
    for name in ("caption", "export_parts"):
        assert counts[name]["ran"] == len(FILES), (name, counts[name])
    assert counts["write_release"]["ran"] == 1
    assert read_release_table(built / "release", "captions").num_rows > len(FILES)


def test_config_without_render_and_caption_still_builds(tmp_path):
    summary = run_build(_config(tmp_path / "run", with_captions=False))
    assert summary.released_objects == len(FILES) and summary.quarantined == []
    assert read_release_table(tmp_path / "run" / "release", "captions").num_rows == 0
    renders = read_release_table(tmp_path / "run" / "release", "parts", ["renders"]).column("renders").to_pylist()
    assert renders and all(r is None for r in renders)
