"""Release writer and reader: deterministic shards, manifest last, immutable versions, schema checks."""
from __future__ import annotations

import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from partverse.data import manifest as mf
from partverse.data.reader import read_manifest, read_release_table, read_table
from partverse.data.schema import SCHEMA_VERSION, SchemaVersionError, TABLES, decode_samples, write_json_schemas
from partverse.data.writer import WriterError, write_release
from tests._data_release import asset_rows, write_run
from tests.conftest import REPO


def test_shards_are_byte_identical_for_the_same_rows_in_any_order(tmp_path):
    objects, parts, captions = asset_rows()
    a = write_release(tmp_path / "a", objects, parts, captions, version="1.0.0", rows_per_shard=16, row_group_rows=4)
    rng = random.Random(7)
    for rows in (objects, parts, captions):
        rng.shuffle(rows)
    b = write_release(tmp_path / "b", objects, parts, captions, version="1.0.0", rows_per_shard=16, row_group_rows=4)
    assert len(a["files"]) >= 6  # several shards per table
    for name, info in a["files"].items():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert info["sha256"] == b["files"][name]["sha256"]


def test_manifest_counts_checksums_and_sorted_rows(tmp_path):
    objects, parts, captions = asset_rows()
    m = write_release(tmp_path / "r", objects, parts, captions, version="1.2.3", source_run="run-7", rows_per_shard=16, row_group_rows=4)
    on_disk = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert on_disk == m
    assert m["schema_version"] == SCHEMA_VERSION and m["version"] == "1.2.3" and m["source_run"] == "run-7"
    assert m["tables"]["objects"]["rows"] == len(objects) and m["tables"]["parts"]["rows"] == len(parts)
    assert m["stats"]["parts_per_object"] == {str(k): v for k, v in sorted(
        {n: sum(1 for o in objects if o["num_parts"] == n) for n in {o["num_parts"] for o in objects}}.items())}
    assert sum(m["stats"]["licences"].values()) == len(objects)
    for name, info in m["files"].items():
        assert info["size"] == (tmp_path / "r" / name).stat().st_size
        assert info["sha256"] == mf.sha256_bytes((tmp_path / "r" / name).read_bytes())
    table = read_release_table(tmp_path / "r", "parts", ["uid", "part_id", "points"])
    keys = list(zip(table.column("uid").to_pylist(), table.column("part_id").to_pylist()))
    assert keys == sorted(keys) and len(keys) == len(parts)
    # shard i of each table covers the same objects
    for i, name in enumerate(m["tables"]["objects"]["files"]):
        uids = set(read_table(tmp_path / "r" / name, ["uid"]).column("uid").to_pylist())
        part_uids = set(read_table(tmp_path / "r" / m["tables"]["parts"]["files"][i], ["uid"]).column("uid").to_pylist())
        assert part_uids <= uids
    # samples survive exactly
    first = sorted(parts, key=lambda p: (p["uid"], p["part_id"]))[0]
    points = decode_samples(table.column("points")[0].as_py())
    np.testing.assert_array_equal(points, first["points"])
    assert table.schema.field("points").metadata == {b"partverse.dtype": b"<f4", b"partverse.shape": b"[256, 3]"}
    assert pq.ParquetFile(tmp_path / "r" / m["tables"]["parts"]["files"][0]).metadata.row_group(0).num_rows <= 4


def test_a_version_cannot_be_overwritten_but_identical_rewrite_is_a_no_op(tmp_path):
    objects, parts, captions = asset_rows()
    m = write_release(tmp_path / "r", objects, parts, captions, version="1.0.0", rows_per_shard=16)
    again = write_release(tmp_path / "r", objects, parts, captions, version="1.0.0", rows_per_shard=16)
    assert again["created_at"] == m["created_at"]
    parts[0]["name"] = "renamed"
    with pytest.raises(mf.ReleaseExistsError, match="immutable"):
        write_release(tmp_path / "r", objects, parts, captions, version="1.0.0", rows_per_shard=16)
    assert read_manifest(tmp_path / "r")["files"] == m["files"]


def test_directory_without_manifest_is_not_a_release(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "parts-00000.parquet").write_bytes(b"half")
    with pytest.raises(mf.NotAReleaseError, match="not a release"):
        read_manifest(tmp_path / "r")
    objects, parts, captions = asset_rows()
    m = write_release(tmp_path / "r", objects, parts, captions, version="1.0.0", rows_per_shard=1000)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted([*m["files"], "manifest.json"])


def test_bad_rows_are_refused_with_the_uid_and_column(tmp_path):
    objects, parts, captions = asset_rows()
    parts[3]["colour"] = "red"
    with pytest.raises(WriterError, match=r"parts row uid=.*unknown columns \['colour'\]"):
        write_release(tmp_path / "a", objects, parts, captions, version="1.0.0")
    del parts[3]["colour"]
    parts[2]["points"] = parts[2]["points"][:10]
    with pytest.raises(WriterError, match=r"parts\.points.*exactly 768"):
        write_release(tmp_path / "a", objects, parts, captions, version="1.0.0")
    with pytest.raises(WriterError, match="not in objects"):
        write_release(tmp_path / "b", objects[1:], asset_rows()[1], (), version="1.0.0")
    with pytest.raises(mf.ReleaseError, match="not a semantic version"):
        write_release(tmp_path / "c", objects, asset_rows()[1], (), version="v1")
    assert not (tmp_path / "a" / "manifest.json").exists()


def test_changing_one_object_rewrites_only_its_shards(tmp_path):
    a = write_run(tmp_path / "a")
    objects, parts, captions = asset_rows()
    target = objects[4]["uid"]
    objects[4]["face_labels"] = np.zeros_like(objects[4]["face_labels"])
    for c in captions:
        if c["uid"] == target:
            c["brief"] = "edited"
    b = write_run(tmp_path / "b", (objects, parts, captions))
    changed = [n for n in a["files"] if a["files"][n]["sha256"] != b["files"][n]["sha256"]]
    assert set(changed) <= {n for n, i in b["files"].items() if i["first_uid"] <= target <= i["last_uid"]}
    assert {n.split("-")[0] for n in changed} == {"objects", "captions"}
    assert len(changed) == 2 < len(a["files"])


def test_reader_refuses_an_unknown_major_schema_version(tmp_path):
    m = write_run(tmp_path / "run")
    path = tmp_path / "run" / "release" / m["tables"]["parts"]["files"][0]
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"partverse.schema_version"] = b"3.0"
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "future.parquet")
    with pytest.raises(SchemaVersionError, match=r"future\.parquet: schema version 3\.0 is not supported; this partverse reads 1\.x and 2\.x"):
        read_table(tmp_path / "future.parquet")


def test_json_schemas_in_repo_are_up_to_date(tmp_path):
    write_json_schemas(tmp_path)
    for name in TABLES:
        fresh = (tmp_path / f"{name}.schema.json").read_text()
        committed = (REPO / "schemas" / f"{name}.schema.json").read_text()
        assert fresh == committed, f"schemas/{name}.schema.json is stale: run python -m partverse.data.schema"


_STREAM_SCRIPT = r"""
import json, sys, tracemalloc
import numpy as np
import pyarrow as pa
from partverse.data.writer import write_release

N_OBJ, N_PARTS, N_SAMPLES = int(sys.argv[2]), 3, 1024

def objects():
    for i in range(N_OBJ):
        yield {"uid": f"obj-{i:05d}", "license": "cc0", "num_faces": 12, "face_labels": np.zeros(12, np.int32)}

def parts():
    for i in range(N_OBJ):
        for p in range(N_PARTS):
            rng = np.random.default_rng(i * N_PARTS + p)
            yield {"uid": f"obj-{i:05d}", "part_id": p, "name": f"p{p}", "num_faces": 4,
                   "points": rng.random((N_SAMPLES, 3), np.float32), "normals": rng.random((N_SAMPLES, 3), np.float32),
                   "bbox_min": np.zeros(3, np.float32), "bbox_max": np.ones(3, np.float32)}

def captions():
    for i in range(N_OBJ):
        yield {"uid": f"obj-{i:05d}", "part_id": -1, "brief": "an object"}

def run(out, n):
    global N_OBJ
    N_OBJ = n
    return write_release(out, objects(), parts(), captions(), version="1.0.0", rows_per_shard=512, row_group_rows=32)

run(sys.argv[1] + "-warm", 2)  # imports and caches first: they are not what is measured
tracemalloc.start()
m = run(sys.argv[1], int(sys.argv[2]))
print(json.dumps({"python_peak": tracemalloc.get_traced_memory()[1], "arrow_peak": pa.default_memory_pool().max_memory(),
                  "parts": m["stats"]["parts"], "shards": len(m["tables"]["parts"]["files"])}))
"""


def test_write_release_streams_rows_with_bounded_memory(tmp_path):
    """Rows from generators are written one row group at a time: peak memory stays far below the data size."""
    import subprocess
    import sys

    n_obj = 800
    proc = subprocess.run([sys.executable, "-c", _STREAM_SCRIPT, str(tmp_path / "r"), str(n_obj)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    samples_bytes = n_obj * 3 * 2 * 1024 * 12  # 59 MB of points + normals went through
    assert out["parts"] == n_obj * 3 and out["shards"] > 3
    assert out["python_peak"] < samples_bytes / 10, out  # about one row group per table (32 rows, 2.4 MB)
    assert out["arrow_peak"] < samples_bytes / 10, out
    t = read_release_table(tmp_path / "r", "parts", ["uid", "part_id", "points"])
    assert t.num_rows == n_obj * 3
    np.testing.assert_array_equal(decode_samples(t.column("points")[7].as_py()),
                                  np.random.default_rng(7).random((1024, 3), np.float32))


def test_unsorted_iterator_is_refused_and_tables_path_writes_the_same_bytes(tmp_path):
    from partverse.data.writer import write_release_tables

    objects, parts, captions = asset_rows()
    with pytest.raises(WriterError, match=r"parts: rows given as an iterator must come sorted"):
        write_release(tmp_path / "x", objects, iter(parts[::-1]), captions, version="1.0.0")
    with pytest.raises(WriterError, match=r"parts: rows for uid\(s\) \['nope'\] that are not in objects"):
        write_release(tmp_path / "y", objects, parts + [{**parts[0], "uid": "nope"}], captions, version="1.0.0")
    a = write_release(tmp_path / "a", objects, parts, captions, version="1.0.0", rows_per_shard=16, row_group_rows=4)
    tables = {t: read_release_table(tmp_path / "a", t) for t in mf.TABLE_NAMES}
    b = write_release_tables(tmp_path / "b", tables, version="1.0.0", rows_per_shard=16, row_group_rows=4)
    assert {k: v["sha256"] for k, v in a["files"].items()} == {k: v["sha256"] for k, v in b["files"].items()}
    assert a["stats"] == b["stats"] and a["tables"] == b["tables"]


def test_shard_layout_for_streaming(tmp_path):
    """Parts: row groups of row_group_rows (the streaming unit), samples and the small per-part columns
    uncompressed, big binaries zstd; captions: one big row group per shard (read whole, joined to parts)."""
    from partverse.data.pull import pull
    from partverse.data.writer import CAPTIONS_ROW_GROUP_ROWS

    m = write_run(tmp_path, rows_per_shard=16, row_group_rows=4)
    assert m["row_group_rows"] == 4 and m["captions_row_group_rows"] == CAPTIONS_ROW_GROUP_ROWS
    for name in m["tables"]["captions"]["files"]:
        md = pq.ParquetFile(tmp_path / "release" / name).metadata
        assert md.num_row_groups == 1 and md.num_rows == m["files"][name]["rows"]
    assert max(m["files"][n]["rows"] for n in m["tables"]["captions"]["files"]) > 4
    md = pq.ParquetFile(tmp_path / "release" / m["tables"]["parts"]["files"][0]).metadata
    assert md.num_row_groups > 1 and all(md.row_group(i).num_rows <= 4 for i in range(md.num_row_groups))
    codecs = {md.row_group(0).column(j).path_in_schema.split(".")[0]: md.row_group(0).column(j).compression
              for j in range(md.num_columns)}
    plain = ["uid", "part_id", "name", "license", "num_faces", "bbox_min", "bbox_max", "points", "normals"]
    assert {c: codecs[c] for c in plain} == dict.fromkeys(plain, "UNCOMPRESSED")
    assert codecs["glb"] == codecs["face_indices"] == "ZSTD"
    # a pulled projection of captions keeps their row groups
    pull("0.1.0", tmp_path / "release", tmp_path / "p", tables=["captions"], columns=["brief"], log=lambda *a: None)
    name = m["tables"]["captions"]["files"][0]
    assert pq.ParquetFile(tmp_path / "p" / name).metadata.num_row_groups == 1
