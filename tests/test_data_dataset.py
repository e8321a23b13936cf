"""PartDataset: projection, deterministic shuffle, exact resume, worker x rank splitting, object mode, HF interop."""
from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from partverse.data import manifest as mf
from partverse.data.reader import read_release_table
from tests._data_release import asset_rows, write_run


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    m = write_run(run, rows_per_shard=12, row_group_rows=3)
    return run / "release", m


def _keys(batch) -> list[tuple[str, int]]:
    return list(zip(batch["uid"], batch["part_id"].reshape(-1).tolist()))


def test_columns_projection_and_values(release):
    from partverse.data import PartDataset

    path, m = release
    ds = PartDataset(path, columns=["points", "normals", "bbox_min", "bbox_max", "caption", "name"], shuffle=False)
    samples = list(ds)
    assert len(samples) == len(ds) == m["stats"]["parts"]
    s = samples[0]
    assert set(s) == {"uid", "part_id", "points", "normals", "bbox_min", "bbox_max", "caption", "name"}
    assert tuple(s["points"].shape) == (256, 3) and tuple(s["bbox_min"].shape) == (3,)
    import torch

    assert type(s["part_id"]) is int and type(s["uid"]) is str and s["points"].dtype == torch.float32
    assert isinstance(s["bbox_min"], torch.Tensor) and isinstance(s["normals"], torch.Tensor)
    rows = {(p["uid"], p["part_id"]): p for p in asset_rows()[1]}
    for s in samples:
        ref = rows[(s["uid"], int(s["part_id"]))]
        np.testing.assert_array_equal(s["points"].numpy(), ref["points"])
        assert s["caption"] == f"the {ref['name']}"
    assert [(s["uid"], int(s["part_id"])) for s in samples] == sorted(rows)  # no shuffle: release order
    with pytest.raises(mf.ReleaseError, match=r"columns \['colour'\] do not exist"):
        PartDataset(path, columns=["colour"])


def test_shuffle_is_deterministic_per_seed_and_epoch(release):
    from partverse.data import PartDataset

    path, _ = release
    a = PartDataset(path, seed=1, buffer_size=16)
    e0, e1 = [(s["uid"], int(s["part_id"])) for s in a], [(s["uid"], int(s["part_id"])) for s in a]
    b0 = [(s["uid"], int(s["part_id"])) for s in PartDataset(path, seed=1, buffer_size=16)]
    c0 = [(s["uid"], int(s["part_id"])) for s in PartDataset(path, seed=2, buffer_size=16)]
    assert e0 == b0 and e0 != e1 and e0 != c0
    assert sorted(e0) == sorted(e1) == sorted(c0) and len(set(e0)) == len(e0)


def test_exact_resume_in_process_after_2_5_epochs(release):
    from partverse.data import PartDataset

    path, _ = release
    ds = PartDataset(path, seed=11, buffer_size=8)
    n = len(ds)
    reference = [(s["uid"], int(s["part_id"])) for _ in range(3) for s in ds][: int(2.5 * n)]
    checkpoint_at = random.Random(3).randrange(n + 1, 2 * n)  # somewhere in the second epoch
    ds = PartDataset(path, seed=11, buffer_size=8)
    seen, it, state = [], iter(ds), None
    while len(seen) < checkpoint_at:
        try:
            s = next(it)
        except StopIteration:
            it = iter(ds)
            continue
        seen.append((s["uid"], int(s["part_id"])))
    state = ds.state_dict()
    restored = PartDataset(path, seed=11, buffer_size=8)
    restored.load_state_dict(state)
    while len(seen) < len(reference):
        seen += [(s["uid"], int(s["part_id"])) for s in restored][: len(reference) - len(seen)]
    assert seen == reference


@pytest.mark.multiprocess
def test_exact_resume_with_dataloader_workers(release):
    from partverse.data import PartDataLoader, PartDataset

    path, _ = release

    def loader():
        return PartDataLoader(PartDataset(path, seed=4, buffer_size=8), batch_size=3, num_workers=2)

    ref_loader, reference = loader(), []
    for _ in range(3):
        for batch in ref_loader:
            reference += _keys(batch)
    n = len(reference) // 3
    target = int(2.5 * n)
    stop_after = random.Random(5).randrange(n // 3 + 1, n + n // 2) // 3  # batches, inside epoch 1 or 2
    first, seen, count = loader(), [], 0
    for epoch in range(3):
        for batch in first:
            seen += _keys(batch)
            count += 1
            if count == stop_after:
                break
        if count == stop_after:
            break
    state = first.state_dict()
    resumed = loader()
    resumed.load_state_dict(state)
    while len(seen) < target:
        for batch in resumed:
            seen += _keys(batch)
    assert seen[:target] == reference[:target]


@pytest.mark.multiprocess
def test_two_workers_times_two_ranks_see_each_sample_once_per_epoch(release):
    from partverse.data import PartDataLoader, PartDataset

    path, m = release
    for epoch in range(2):
        counts = Counter()
        for rank in range(2):
            ds = PartDataset(path, seed=9, rank=rank, world_size=2)
            ds.set_epoch(epoch)
            for batch in PartDataLoader(ds, batch_size=4, num_workers=2):
                counts.update(_keys(batch))
        assert len(counts) == m["stats"]["parts"] and set(counts.values()) == {1}


def test_object_mode_yields_all_parts_of_an_object_together(release):
    from partverse.data import PartDataset

    path, m = release
    ds = PartDataset(path, mode="object", columns=["points", "bbox_min", "caption"], seed=2)
    objects = list(ds)
    assert len(objects) == len(ds) == m["stats"]["objects"]
    expected = Counter(p["uid"] for p in asset_rows()[1])
    for obj in objects:
        assert obj["num_parts"] == expected[obj["uid"]] == obj["points"].shape[0] == len(obj["caption"])
        assert obj["points"].shape[1:] == (256, 3)
        assert obj["part_id"].tolist() == sorted(obj["part_id"].tolist())
    assert sorted(o["uid"] for o in objects) == sorted(expected)
    # split across ranks too: each object exactly once
    uids = [o["uid"] for r in range(2) for o in PartDataset(path, mode="object", seed=2, rank=r, world_size=2)]
    assert sorted(uids) == sorted(expected)


def test_hf_datasets_reads_the_shards_as_they_are(release, tmp_path):
    datasets = pytest.importorskip("datasets")
    path, m = release
    files = [str(path / f) for f in m["tables"]["parts"]["files"]]
    ds = datasets.load_dataset("parquet", data_files={"train": files}, split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == m["stats"]["parts"]
    ours = read_release_table(path, "parts", ["uid", "part_id", "points"])
    row = ds[5]
    assert (row["uid"], row["part_id"]) == (ours.column("uid")[5].as_py(), ours.column("part_id")[5].as_py())
    # samples are float32 bytes: the documented decoder is numpy.frombuffer(value, "<f4").reshape(-1, 3)
    assert isinstance(row["points"], bytes) and row["points"] == ours.column("points")[5].as_py()
    points = np.frombuffer(row["points"], "<f4").reshape(-1, 3)
    assert points.shape == (256, 3) and np.isfinite(points).all() and np.abs(points).max() <= 1.0
    caps = datasets.load_dataset("parquet", data_files=[str(path / f) for f in m["tables"]["captions"]["files"]],
                                 split="train", cache_dir=str(tmp_path / "hf"))
    assert caps.num_rows == m["stats"]["captions"]


def _samples_by_key(ds) -> dict:
    return {(s["uid"], int(s["part_id"])): (s["points"].numpy().copy(), s["normals"].numpy().copy()) for s in ds}


def _rewrite_parts(src, dst, convert) -> None:
    """Copy a release directory, rewriting its parts shards with `convert(table) -> (table, write kwargs)`."""
    import shutil

    import pyarrow.parquet as pq

    shutil.copytree(src, dst)
    for f in sorted(dst.glob("parts-*.parquet")):
        table, kw = convert(pq.read_table(f))
        pq.write_table(table, f, row_group_size=3, **kw)


def test_samples_read_from_pages_match_pyarrow_and_other_encodings(release, tmp_path):
    """The direct page reader gives the rows pyarrow gives; chunks it cannot take (zstd, v2 pages,
    dictionary) and 1.x shards (fixed-size float lists) are read through pyarrow with the same result."""
    import pyarrow as pa

    from partverse.data import PartDataset
    from partverse.data.schema import parts_schema

    path, _ = release
    cols = ["points", "normals"]
    ref = _samples_by_key(PartDataset(path, columns=cols, shuffle=False))
    rows = {(p["uid"], p["part_id"]): p for p in asset_rows()[1]}
    for key, (points, normals) in ref.items():
        np.testing.assert_array_equal(points, rows[key]["points"])
        np.testing.assert_array_equal(normals, rows[key]["normals"])
    assert next(iter(PartDataset(path, columns=cols)))["points"].numpy().flags.writeable

    def to_v1(table):
        meta = {**table.schema.metadata, b"partverse.schema_version": b"1.1"}
        for name in cols:
            flat = pa.array(np.frombuffer(b"".join(table.column(name).to_pylist()), "<f4"))
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, pa.FixedSizeListArray.from_arrays(flat, 768))
        return table.replace_schema_metadata(meta), {}

    variants = {
        "zstd": lambda t: (t, {"compression": "zstd", "write_page_checksum": True}),
        "v2 pages": lambda t: (t, {"compression": "none", "data_page_version": "2.0", "use_dictionary": False,
                                   "write_page_checksum": True}),
        "dictionary": lambda t: (t, {"compression": "none", "use_dictionary": True}),
        "1.x lists": to_v1,
    }
    for label, convert in variants.items():
        _rewrite_parts(path, tmp_path / label, convert)
        got = _samples_by_key(PartDataset(tmp_path / label, columns=cols, shuffle=False))
        assert got.keys() == ref.keys(), label
        for key in ref:
            np.testing.assert_array_equal(got[key][0], ref[key][0], err_msg=label)
            np.testing.assert_array_equal(got[key][1], ref[key][1], err_msg=label)
    assert parts_schema(256).field("points").type == pa.binary()


def test_a_corrupt_sample_byte_fails_the_stream_naming_the_shard(release, tmp_path):
    import shutil

    import pyarrow.parquet as pq

    from partverse.data import PartDataset

    path, m = release
    shutil.copytree(path, tmp_path / "r")
    name = m["tables"]["parts"]["files"][0]
    col = pq.ParquetFile(tmp_path / "r" / name).metadata.row_group(1).column(
        pq.ParquetFile(tmp_path / "r" / name).schema_arrow.get_field_index("normals"))
    data = bytearray((tmp_path / "r" / name).read_bytes())
    data[col.data_page_offset + col.total_compressed_size - 100] ^= 0xFF  # a float inside the page
    (tmp_path / "r" / name).write_bytes(bytes(data))
    with pytest.raises(mf.IntegrityError, match=rf"{name} row group 1 column normals: page CRC mismatch"):
        list(PartDataset(tmp_path / "r", columns=["normals"], shuffle=False))
    assert len(list(PartDataset(tmp_path / "r", columns=["points"], shuffle=False))) == m["stats"]["parts"]


def test_captions_join_parts_without_captions_and_object_rows(tmp_path):
    """Caption columns come from the row with the same (uid, part_id): None where a part has none;
    an object's own caption (part_id -1) never lands on a part."""
    from partverse.data import PartDataset

    objects, parts, captions = asset_rows()
    dropped = {(c["uid"], c["part_id"]) for c in captions[1::4] if c["part_id"] >= 0}
    kept = [c for c in captions if (c["uid"], c["part_id"]) not in dropped]
    write_run(tmp_path, (objects, parts, kept), rows_per_shard=12, row_group_rows=3)
    by_key = {(c["uid"], c["part_id"]): c for c in kept}
    samples = list(PartDataset(tmp_path / "release", columns=["caption", "detailed"], seed=7, buffer_size=5))
    assert len(samples) == len(parts) and dropped
    for s in samples:
        key = (s["uid"], int(s["part_id"]))
        want = by_key.get(key)
        assert (s["caption"], s["detailed"]) == ((want["brief"], want["detailed"]) if want else (None, None)), key
    for obj in PartDataset(tmp_path / "release", mode="object", columns=["caption"], seed=7):
        ids = obj["part_id"].tolist()
        assert obj["caption"] == [by_key[(obj["uid"], i)]["brief"] if (obj["uid"], i) in by_key else None for i in ids]


def _count_page_crcs(monkeypatch) -> list[int]:
    """Count the page CRC computations of the samples reader."""
    from partverse.data import pages

    calls = [0]
    real = pages.crc32

    def counting(data):
        calls[0] += 1
        return real(data)

    monkeypatch.setattr(pages, "crc32", counting)
    return calls


def _flip_inside_page(path, row_group: int, column: str) -> None:
    """Flip one byte inside a samples page of `path`, keeping its size and mtime (not its ctime)."""
    import os

    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    col = pf.metadata.row_group(row_group).column(pf.schema_arrow.get_field_index(column))
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    data[col.data_page_offset + col.total_compressed_size - 100] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_pulled_release_skips_page_crcs_until_a_file_changes(release, tmp_path, monkeypatch):
    """Files whose sha256 `pull` checked are read without page CRCs; a directory that was not pulled,
    verify_pages=True, or a file changed after the pull (even with its mtime put back) is CRC-checked
    again, and a corrupt byte then fails naming the shard."""
    import shutil

    from partverse.data import PartDataset
    from partverse.data.pull import pull, verify

    path, m = release
    cols = ["points", "normals", "caption"]
    pulled = tmp_path / "pulled"
    pull(m["version"], path, pulled, log=lambda *a: None)
    calls = _count_page_crcs(monkeypatch)
    ds = PartDataset(pulled, columns=cols, shuffle=False)
    assert not any(ds.stream.verify) and not any(ds.stream.verify_captions)
    want = _samples_by_key(PartDataset(path, columns=cols, shuffle=False))
    assert calls[0] > 0  # the written (not pulled) directory: every page checked
    calls[0] = 0
    got = _samples_by_key(ds)
    assert calls[0] == 0 and got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key][0], want[key][0])
    list(PartDataset(pulled, columns=cols, shuffle=False, verify_pages=True))
    assert calls[0] > 0

    copied = tmp_path / "copied"  # a copy keeps mtimes (copy2) but not inodes: checked again
    shutil.copytree(pulled, copied)
    assert all(PartDataset(copied, columns=cols).stream.verify)

    name = m["tables"]["parts"]["files"][1]
    early = PartDataset(pulled, columns=cols, shuffle=False)  # made before the change: re-checks when it opens the shard
    _flip_inside_page(pulled / name, 1, "normals")
    with pytest.raises(mf.IntegrityError, match=rf"{name} row group 1 column normals: page CRC mismatch"):
        list(early)
    ds = PartDataset(pulled, columns=cols, shuffle=False)
    assert ds.stream.verify == [n == name for n in m["tables"]["parts"]["files"]]
    with pytest.raises(mf.IntegrityError, match=rf"{name} row group 1 column normals: page CRC mismatch"):
        list(ds)
    with pytest.raises(mf.IntegrityError, match=name):
        verify(pulled)
    assert PartDataset(pulled, columns=cols).stream.verify == [n == name for n in m["tables"]["parts"]["files"]]


def test_verify_records_a_written_directory_and_drops_a_rotten_file(release, tmp_path):
    """`verify` of a local directory records the files that pass; a file that later fails it is
    dropped from the record even when its stat looks unchanged (disk rot: only verify can see it)."""
    import json
    import shutil

    from partverse.data import PartDataset
    from partverse.data.pull import verify
    from partverse.data.verified import MARKER_NAME, file_stat

    path, m = release
    r = tmp_path / "r"
    shutil.copytree(path, r)
    assert all(PartDataset(r).stream.verify)
    verify(r)
    assert not any(PartDataset(r).stream.verify)
    name = m["tables"]["parts"]["files"][0]
    _flip_inside_page(r / name, 0, "points")
    record = json.loads((r / MARKER_NAME).read_text())
    record["files"][name].update(file_stat(r / name))  # rot: the bytes changed, the stat did not
    (r / MARKER_NAME).write_text(json.dumps(record))
    assert not any(PartDataset(r).stream.verify)
    with pytest.raises(mf.IntegrityError, match=name):
        verify(r)
    assert name not in json.loads((r / MARKER_NAME).read_text())["files"]
    assert PartDataset(r).stream.verify == [n == name for n in m["tables"]["parts"]["files"]]
    with pytest.raises(mf.IntegrityError, match=rf"{name} row group 0 column points: page CRC mismatch"):
        list(PartDataset(r, columns=["points"], shuffle=False))
