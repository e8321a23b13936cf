"""Releases on S3-compatible storage: a real moto S3 server on 127.0.0.1, started by the test."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from partverse.data import manifest as mf
from partverse.data import storage
from partverse.data.location import list_versions, locate
from partverse.data.pull import pull, verify
from partverse.data.release import create_release
from tests._data_release import make_bucket, moto_server, s3_environ, write_run
from tests.conftest import REPO

quiet = lambda *a: None  # noqa: E731


@pytest.fixture(scope="module")
def s3_endpoint():
    server, endpoint = moto_server()
    yield endpoint
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    for k, v in s3_environ(s3_endpoint).items():
        monkeypatch.setenv(k, v)
    name = f"pv-{uuid.uuid4().hex[:10]}"
    make_bucket(name)
    return f"s3://{name}/datasets/partverse"


def test_publish_list_pull_and_verify_on_s3(tmp_path, bucket, s3_endpoint):
    m1 = write_run(tmp_path / "run")
    published = create_release(tmp_path / "run", "1.0.0", bucket, log=quiet)
    assert published["stats"] == m1["stats"]
    again = create_release(tmp_path / "run", "1.0.1", bucket, log=quiet)
    assert again["reused_files"] == len(again["files"])  # nothing re-uploaded
    assert list_versions(bucket) == ["1.0.0", "1.0.1"]
    assert verify(bucket, "1.0.1")["ok"]
    env = {**os.environ, **s3_environ(s3_endpoint)}
    proc = subprocess.run([sys.executable, "-m", "partverse", "releases", "--from", bucket, "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert [r["version"] for r in json.loads(proc.stdout)] == ["1.0.0", "1.0.1"], proc.stderr
    local = pull("1.0.0", bucket, tmp_path / "pulled", log=quiet)
    assert verify(tmp_path / "pulled")["files"] == len(local["files"])
    for name, info in m1["files"].items():
        assert (tmp_path / "pulled" / name).read_bytes() == (tmp_path / "run" / "release" / name).read_bytes()
    with pytest.raises(mf.ReleaseExistsError):
        create_release(tmp_path / "run", "1.0.0", bucket, log=quiet)


def test_corrupt_blob_on_s3_fails_naming_the_shard(tmp_path, bucket):
    write_run(tmp_path / "run")
    m = create_release(tmp_path / "run", "1.0.0", bucket, log=quiet)
    name = m["tables"]["objects"]["files"][0]
    loc = locate(bucket, "1.0.0")
    path = loc.file_path(name)
    data = bytearray(storage.read_bytes(loc.filesystem, path))
    data[100] ^= 0xFF
    with loc.filesystem.open_output_stream(path) as f:
        f.write(bytes(data))
    with pytest.raises(mf.IntegrityError, match=rf"{name}: sha256"):
        pull("1.0.0", bucket, tmp_path / "pulled", log=quiet)
    with pytest.raises(mf.IntegrityError, match=name):
        verify(bucket, "1.0.0")


def test_part_dataset_streams_from_s3_without_downloading(tmp_path, bucket):
    from partverse.data import PartDataset

    write_run(tmp_path / "run")
    create_release(tmp_path / "run", "1.0.0", bucket, log=quiet)
    local = PartDataset(tmp_path / "run" / "release", columns=["points", "bbox_max", "caption"], seed=5)
    remote = PartDataset(bucket, version="1.0.0", columns=["points", "bbox_max", "caption"], seed=5)
    before = set(tmp_path.rglob("*"))
    got = [(s["uid"], int(s["part_id"]), s["caption"], s["points"].sum().item()) for s in remote]
    assert got == [(s["uid"], int(s["part_id"]), s["caption"], s["points"].sum().item()) for s in local]
    assert len(got) == len(remote) and set(tmp_path.rglob("*")) == before
    assert set(next(iter(remote))) == {"uid", "part_id", "points", "bbox_max", "caption"}
    assert all(remote.stream.verify) and all(remote.stream.verify_captions)  # S3 streams: page CRCs checked


@pytest.mark.multiprocess
def test_dataloader_workers_stream_from_s3(tmp_path, bucket):
    from partverse.data import PartDataLoader, PartDataset

    m = write_run(tmp_path / "run")
    create_release(tmp_path / "run", "1.0.0", bucket, log=quiet)
    ds = PartDataset(bucket, version="1.0.0", columns=["bbox_min", "caption"], seed=1)
    keys = []
    for batch in PartDataLoader(ds, batch_size=4, num_workers=2):
        keys += list(zip(batch["uid"], batch["part_id"].tolist()))
    assert len(keys) == len(set(keys)) == m["stats"]["parts"]


def test_concurrent_publishers_of_one_version_cannot_both_win(tmp_path, bucket):
    """The manifest PUT is conditional (If-None-Match: *): no check-then-write window."""
    import threading

    from partverse.data.release import _write_manifest

    fs, root = storage.resolve(bucket)
    # 6 writers race for one key through the server's conditional PUT: exactly one wins
    barrier, results = threading.Barrier(6), {}

    def put(i):
        barrier.wait()
        try:
            storage.put_if_absent_s3(storage.join(root, "race", "manifest.json"), f"writer {i}".encode())
            results[i] = "won"
        except FileExistsError:
            results[i] = "refused"

    threads = [threading.Thread(target=put, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in results.items() if r == "won"]
    assert len(results) == 6 and len(winners) == 1
    assert storage.read_bytes(fs, storage.join(root, "race", "manifest.json")) == f"writer {winners[0]}".encode()

    # a publisher that got past every earlier check still cannot replace a published manifest
    write_run(tmp_path / "run")
    published = create_release(tmp_path / "run", "2.0.0", bucket, log=quiet)
    late = {**published, "created_at": "2099-01-01T00:00:00Z", "source_run": "someone else"}
    with pytest.raises(mf.ReleaseExistsError, match="2.0.0 already exists"):
        _write_manifest(fs, storage.join(root, "2.0.0"), late, bucket)
    assert locate(bucket, "2.0.0").manifest == published
