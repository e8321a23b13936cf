"""PartVerse layout: build -> release -> export layout -> import -> release keeps parts, labels and captions."""
from __future__ import annotations

import json

import numpy as np
import pytest

from partverse.data.layout import LayoutError, export_partverse_layout, import_partverse_layout
from partverse.data.reader import read_release_table
from partverse.data.schema import decode_samples
from partverse.data.release import create_release
from tests._data_release import write_run
from tests.test_data_release import cli

quiet = lambda *a: None  # noqa: E731


def _table(path, name, cols):
    t = read_release_table(path, name, cols).to_pylist()
    return sorted(t, key=lambda r: (r["uid"], r.get("part_id", 0)))


def test_round_trip_through_the_partverse_layout(tmp_path):
    m = write_run(tmp_path / "run")
    create_release(tmp_path / "run", "1.0.0", tmp_path / "repo", log=quiet)
    cli("export", "partverse-layout", str(tmp_path / "repo"), "--version", "1.0.0", "--out", str(tmp_path / "layout"))
    lay = tmp_path / "layout"
    uid = "kenney_truck_green"
    assert (lay / "normalized_glbs" / f"{uid}.glb").is_file()
    assert sorted(p.name for p in (lay / "textured_part_glbs" / uid).iterdir()) == [f"{i}.glb" for i in range(6)]
    f2l = json.loads((lay / "anno_infos" / uid / f"{uid}_face2label.json").read_text())
    captions = json.loads((lay / "text_captions.json").read_text())
    assert captions[uid]["0"][0].startswith("the ") and len(captions[uid]["0"]) == 2
    assert len(captions) == m["stats"]["objects"]

    cli("import", "partverse-layout", str(lay), "--out", str(tmp_path / "imported"), "--version", "1.0.0", "--num-samples", "256")
    src, dst = tmp_path / "run" / "release", tmp_path / "imported"
    cols = ["uid", "part_id", "name", "num_faces", "face_indices", "glb", "license"]
    assert _table(src, "parts", cols) == _table(dst, "parts", cols)
    ocols = ["uid", "face_labels", "license", "num_parts", "num_faces", "normalized_glb", "source", "metadata_json"]
    assert _table(src, "objects", ocols) == _table(dst, "objects", ocols)
    assert [int(k) for k in f2l] == list(range(len(f2l)))
    ccols = ["uid", "part_id", "brief", "detailed"]
    assert _table(src, "captions", ccols) == _table(dst, "captions", ccols)
    a, b = _table(src, "parts", ["uid", "part_id", "points", "bbox_min"]), _table(dst, "parts", ["uid", "part_id", "points", "bbox_min"])
    for x, y in zip(a, b):  # re-sampled from float32 GLB vertices: same seed, same points up to float32
        np.testing.assert_allclose(decode_samples(x["points"]), decode_samples(y["points"]), atol=1e-5)
        np.testing.assert_allclose(x["bbox_min"], y["bbox_min"], atol=1e-6)
    # the imported release publishes as a new version of the same repository, reusing unchanged content
    (tmp_path / "run2").mkdir()
    (dst).rename(tmp_path / "run2" / "release")
    create_release(tmp_path / "run2", "1.1.0", tmp_path / "repo", log=quiet)
    out = cli("diff", "1.0.0", "1.1.0", "--from", str(tmp_path / "repo"), "--json").stdout
    report = json.loads(out)
    assert report["added"] == [] and report["removed"] == []
    assert all(set(kinds) <= {"labels", "metadata", "geometry"} for kinds in report["changed"].values())


def test_import_refuses_a_face2label_that_does_not_fit_the_mesh(tmp_path):
    write_run(tmp_path / "run")
    export_partverse_layout(tmp_path / "run" / "release", tmp_path / "layout")
    uid = "quat_bed_bunk"
    path = tmp_path / "layout" / "anno_infos" / uid / f"{uid}_face2label.json"
    f2l = json.loads(path.read_text())
    f2l.pop(str(len(f2l) - 1))
    path.write_text(json.dumps(f2l))
    with pytest.raises(LayoutError, match=rf"{uid}_face2label.json: {len(f2l)} face labels for {len(f2l) + 1} faces"):
        import_partverse_layout(tmp_path / "layout", tmp_path / "imported", version="1.0.0", num_samples=256)
    with pytest.raises(LayoutError, match="not a PartVerse layout"):
        import_partverse_layout(tmp_path, tmp_path / "x", version="1.0.0")
