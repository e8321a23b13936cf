"""Builds of the real shared assets through the real stages (local executor).

- every file of bad_inputs/ mixed into the real assets ends in quarantine with a readable reason,
  every real asset reaches the release;
- changing the segmentation parameters re-runs segment and later stages only;
- human annotations replace the automatic labels of their object only.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from partverse.data.annotations import save_annotation
from partverse.data.reader import read_manifest, read_release_table
from partverse.records import Annotation
from pipelines.config import default_config, parse_config
from pipelines.run import run_build
from tests.conftest import shared

MESH_EXT = {".glb", ".gltf", ".obj", ".ply", ".off", ".stl", ".fbx"}


def _mesh_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MESH_EXT)


def _released_sources(run_dir: Path) -> set[str]:
    table = read_release_table(run_dir / "release", "objects", ["source_uri"])
    return set(table.column("source_uri").to_pylist())


@pytest.mark.slow
def test_bad_inputs_quarantined_real_assets_released(tmp_path):
    assets, bad = shared("assets"), shared("bad_inputs")
    cfg = default_config([str(assets), str(bad)], str(tmp_path / "run"))
    cfg = parse_config({**cfg.model_dump(mode="json"), "progress": False})
    s = run_build(cfg)
    released = _released_sources(tmp_path / "run")
    quarantined = {q["source_uri"]: q for q in s.quarantined}
    for f in _mesh_files(bad):
        q = quarantined.get(str(f))
        assert q is not None, f"{f.name} was not quarantined"
        assert q["message"] and len(q["message"]) < 500 and "Traceback" not in q["message"], q
        assert str(f) in q["message"] or f.name in q["message"], q  # the reason names the file
    for f in _mesh_files(assets):
        assert str(f) in released, f"{f.name}: {quarantined.get(str(f))}"
    assert s.released_objects == len(released) and s.parts_out > s.released_objects
    assert s.objects_in == len(_mesh_files(assets)) + len(_mesh_files(bad))
    manifest = read_manifest(tmp_path / "run" / "release")
    assert manifest["tables"]["objects"]["rows"] == len(released)
    assert not list((tmp_path / "run").glob(".release*"))


SMALL = ["kenney_truck_green.glb", "quat_bed_bunk.glb", "kaykit_chest_gold.glb"]


def _small_config(run_dir: Path, inputs: Path, options=None, annotations=None):
    return parse_config({
        "run_dir": str(run_dir), "progress": False,
        "stages": [
            {"name": "ingest_local", "params": {"paths": [str(inputs)]}},
            {"name": "prepare"},
            {"name": "segment", "params": {"method": "artist", "options": options or {}}},
            {"name": "annotation", "params": {"annotations_dir": str(annotations) if annotations else None}},
            {"name": "export_parts", "params": {"num_samples": 256}},
            {"name": "write_release"},
        ],
    })


def test_param_change_and_annotations_rerun_only_what_they_change(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in SMALL:
        shutil.copy(shared("assets", name), inputs / name)
    run, ann = tmp_path / "run", tmp_path / "ann"
    first = run_build(_small_config(run, inputs, annotations=ann))
    assert all(first.stages[s]["ran"] == 3 for s in ("prepare", "segment", "annotation", "export_parts"))
    objects = read_release_table(run / "release", "objects").to_pylist()
    assert {o["label_source"] for o in objects} == {"auto"}

    changed = run_build(_small_config(run, inputs, options={"max_parts": 2}, annotations=ann))
    assert changed.stages["prepare"] == {**changed.stages["prepare"], "ran": 0, "cached": 3}
    for stage in ("segment", "annotation", "export_parts"):
        assert changed.stages[stage]["ran"] == 3 and changed.stages[stage]["cached"] == 0, stage
    assert changed.stages["write_release"]["ran"] == 1
    objects = read_release_table(run / "release", "objects").to_pylist()
    assert all(o["num_parts"] <= 2 for o in objects)
    params = {json.loads(o["segmentation_params_json"]).get("max_parts") for o in objects}
    assert params == {2}

    target, other = objects[0], objects[1]
    save_annotation(ann, Annotation(uid=target["uid"], face_labels=np.zeros(target["num_faces"], np.int32),
                                    part_names={0: "whole_thing"}, status="accepted", reason=None, author="ann", revision=3))
    save_annotation(ann, Annotation(uid=other["uid"], face_labels=np.zeros(other["num_faces"] + 1, np.int32),
                                    part_names={}, status="accepted", reason=None, author="ann", revision=1))
    human = run_build(_small_config(run, inputs, options={"max_parts": 2}, annotations=ann))
    assert human.stages["segment"]["cached"] == 3
    assert human.stages["annotation"]["ran"] == 2 and human.stages["annotation"]["cached"] == 1
    rows = {o["uid"]: o for o in read_release_table(run / "release", "objects").to_pylist()}
    assert rows[target["uid"]]["label_source"] == "human" and rows[target["uid"]]["num_parts"] == 1
    assert rows[other["uid"]]["label_source"] == "auto"  # face count did not match: automatic labels kept
    parts = read_release_table(run / "release", "parts", ["uid", "name"]).to_pylist()
    assert [p["name"] for p in parts if p["uid"] == target["uid"]] == ["whole_thing"]

    save_annotation(ann, Annotation(uid=other["uid"], face_labels=np.zeros(other["num_faces"], np.int32),
                                    part_names={}, status="rejected", reason="not an object", author="ann", revision=2))
    rejected = run_build(_small_config(run, inputs, options={"max_parts": 2}, annotations=ann))
    assert [q["uid"] for q in rejected.quarantined] == [other["uid"]]
    assert "not an object" in rejected.quarantined[0]["message"]
    assert other["uid"] not in set(read_release_table(run / "release", "objects", ["uid"]).column("uid").to_pylist())


def test_release_sink_streams_records_one_object_at_a_time():
    from types import SimpleNamespace

    from pipelines.stages.write_release import _RowFanout

    pulled = []

    def records():
        for i in range(50):
            pulled.append(i)
            parts = [{"uid": f"u{i:02d}", "part_id": p} for p in (2, 0, 1)] if i % 5 else []
            yield SimpleNamespace(object_row={"uid": f"u{i:02d}"}, part_rows=parts,
                                  captions=[{"uid": f"u{i:02d}", "part_id": -1}])

    fan = _RowFanout(records())
    objects, parts, captions = fan.stream("objects"), fan.stream("parts"), fan.stream("captions")
    seen = []
    for i in range(50):  # consume in lockstep, as write_release does
        obj = next(objects)
        seen.append(obj["uid"])
        if i % 5:
            got = [next(parts) for _ in range(3)]
            assert [r["part_id"] for r in got] == [0, 1, 2] and {r["uid"] for r in got} == {obj["uid"]}
        assert next(captions)["uid"] == obj["uid"]
        assert len(pulled) <= i + 2  # never more than one object ahead of the consumer
    assert next(objects, None) is None and next(parts, None) is None and next(captions, None) is None
    assert fan.counts == {"objects": 50, "parts": 120, "captions": 50}
