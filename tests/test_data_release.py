"""Publishing, pulling, verifying and diffing releases on local paths (S3: test_data_s3.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from partverse.data import manifest as mf
from partverse.data.diff import diff_releases
from partverse.data.location import list_versions, locate
from partverse.data.pull import pull, verify
from partverse.data.release import create_release, licence_code
from tests._data_release import asset_rows, write_run
from tests.conftest import REPO

quiet = lambda *a: None  # noqa: E731


def cli(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "partverse", *args], cwd=REPO, capture_output=True, text=True, timeout=120, **kw)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _edited_rows():
    """Rows after 'more annotation' on one object: new labels, a merged part, a new caption."""
    objects, parts, captions = asset_rows()
    uid = objects[0]["uid"]
    objects[0]["face_labels"] = np.where(objects[0]["face_labels"] == 1, 0, objects[0]["face_labels"]).astype(np.int32)
    objects[0]["label_source"] = "human"
    parts = [p for p in parts if not (p["uid"] == uid and p["part_id"] == 1)]
    objects[0]["num_parts"] = None
    captions = [c for c in captions if not (c["uid"] == uid and c["part_id"] == 1)]
    return uid, (objects, parts, captions)


def test_create_pull_verify_and_incremental_release(tmp_path):
    write_run(tmp_path / "run1")
    m1 = create_release(tmp_path / "run1", "1.0.0", tmp_path / "repo", log=quiet)
    uid, rows = _edited_rows()
    write_run(tmp_path / "run2", rows)
    m2 = create_release(tmp_path / "run2", "1.1.0", tmp_path / "repo", log=quiet)
    assert list_versions(tmp_path / "repo") == ["1.0.0", "1.1.0"]
    # unchanged shards are the same blobs: only the shards holding the edited object were uploaded
    assert m2["reused_files"] == len(m2["files"]) - 3
    blobs = list((tmp_path / "repo" / "blobs").iterdir())
    assert len(blobs) == len(m1["files"]) + 3
    assert verify(tmp_path / "repo", "1.0.0")["ok"] and verify(tmp_path / "repo", "1.1.0")["ok"]

    report = diff_releases(tmp_path / "repo", tmp_path / "repo", "1.0.0", "1.1.0")
    assert report["added"] == [] and report["removed"] == []
    assert report["changed"] == {uid: ["captions", "labels", "parts"]}

    local = pull("1.1.0", tmp_path / "repo", tmp_path / "pulled", log=quiet)
    assert sorted(local["files"]) == sorted(m2["files"])
    assert verify(tmp_path / "pulled")["files"] == len(m2["files"])
    card = (tmp_path / "pulled" / "README.md").read_text()
    assert "# partverse release 1.1.0" in card and "## Parts per object" in card and "| cc0 |" in card
    with pytest.raises(mf.ReleaseExistsError, match="immutable"):
        create_release(tmp_path / "run2", "1.1.0", tmp_path / "repo", log=quiet)


def test_licence_filter_keeps_only_chosen_licences(tmp_path):
    write_run(tmp_path / "run")
    m = create_release(tmp_path / "run", "2.0.0", tmp_path / "repo", licences="by,cc0", log=quiet)
    objects = asset_rows()[0]
    kept = {o["uid"] for o in objects if licence_code(o["license"]) in ("by", "cc0")}
    assert 0 < len(kept) < len(objects)
    assert m["stats"]["objects"] == len(kept) and set(m["stats"]["licences"]) <= {"by", "cc0"}
    loc = locate(tmp_path / "repo", "2.0.0")
    from partverse.data.reader import read_table

    for t in ("objects", "parts", "captions"):
        uids = {u for p in loc.table_paths(t) for u in read_table(p, ["uid"]).column("uid").to_pylist()}
        assert uids == kept if t != "captions" else uids <= kept
    assert "licences kept: by, cc0" in (tmp_path / "repo" / "2.0.0" / "README.md").read_text()
    with pytest.raises(mf.ReleaseError, match="unknown licence"):
        create_release(tmp_path / "run", "2.0.1", tmp_path / "repo", licences="by,proprietary", log=quiet)


def test_corrupt_byte_fails_pull_and_verify_naming_the_shard(tmp_path):
    write_run(tmp_path / "run")
    m = create_release(tmp_path / "run", "1.0.0", tmp_path / "repo", log=quiet)
    name = m["tables"]["parts"]["files"][1]
    blob = tmp_path / "repo" / "blobs" / f"{m['files'][name]['sha256']}.parquet"
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(mf.IntegrityError, match=rf"{name}: sha256 .* corrupt"):
        verify(tmp_path / "repo", "1.0.0")
    with pytest.raises(mf.IntegrityError, match=rf"{name}: sha256"):
        pull("1.0.0", tmp_path / "repo", tmp_path / "pulled", log=quiet)
    assert not (tmp_path / "pulled" / "manifest.json").exists()
    proc = cli("pull", "1.0.0", "--from", str(tmp_path / "repo"), "--to", str(tmp_path / "p2"), check=False)
    assert proc.returncode == 2 and name in proc.stderr
    # a pulled copy that rots is caught by verify too
    pull("1.0.0", tmp_path / "repo", tmp_path / "ok", tables=["objects"], log=quiet)
    shard = tmp_path / "ok" / m["tables"]["objects"]["files"][0]
    shard.write_bytes(shard.read_bytes()[:-1] + b"\x00")
    proc = cli("verify", str(tmp_path / "ok"), check=False)
    assert proc.returncode == 2 and shard.name in proc.stderr


def test_pull_tables_and_columns(tmp_path):
    write_run(tmp_path / "run")
    m = create_release(tmp_path / "run", "1.0.0", tmp_path / "repo", log=quiet)
    local = pull("1.0.0", tmp_path / "repo", tmp_path / "p", tables=["parts"], columns=["points", "bbox_min"], log=quiet)
    assert list(local["tables"]) == ["parts"] and local["projection"] == ["points", "bbox_min"]
    from partverse.data.reader import read_release_table

    t = read_release_table(tmp_path / "p", "parts")
    assert t.column_names == ["uid", "part_id", "points", "bbox_min"] and t.num_rows == m["stats"]["parts"]
    assert verify(tmp_path / "p")["ok"]


def test_cli_release_commands(tmp_path):
    write_run(tmp_path / "run1")
    cli("release", "create", "--run", str(tmp_path / "run1"), "--version", "1.0.0", "--out", str(tmp_path / "repo"))
    _, rows = _edited_rows()
    write_run(tmp_path / "run2", rows)
    cli("release", "create", "--run", str(tmp_path / "run2"), "--version", "1.0.1", "--out", str(tmp_path / "repo"))
    listed = json.loads(cli("releases", "--from", str(tmp_path / "repo"), "--json").stdout)
    assert [r["version"] for r in listed] == ["1.0.0", "1.0.1"]
    out = cli("diff", "1.0.0", "1.0.1", "--from", str(tmp_path / "repo")).stdout
    assert "0 added, 0 removed, 1 changed" in out
    cli("pull", "1.0.1", "--from", str(tmp_path / "repo"), "--to", str(tmp_path / "p"))
    assert "verified" in cli("verify", str(tmp_path / "p")).stdout
    # a published version folder reads as its pulled copy does (its shards are blobs of the repository)
    from partverse.data.reader import read_release_table

    for table in ("objects", "parts", "captions"):
        assert read_release_table(tmp_path / "repo" / "1.0.1", table).equals(read_release_table(tmp_path / "p", table))
    cli("report", str(tmp_path / "repo" / "1.0.1"), "--out", str(tmp_path / "published.html"))
    cli("report", str(tmp_path / "p"), "--out", str(tmp_path / "pulled.html"))
    assert (tmp_path / "published.html").read_bytes() == (tmp_path / "pulled.html").read_bytes()
    # folders that hold releases without being one are said to be what they are
    run_folder = cli("verify", str(tmp_path / "run1"), check=False)
    assert run_folder.returncode == 2 and f"its release is {tmp_path / 'run1'}/release" in run_folder.stderr
    repository = cli("report", str(tmp_path / "repo"), check=False)
    assert repository.returncode == 2 and "a repository of releases: give a version (1.0.0, 1.0.1)" in repository.stderr
    again = cli("release", "create", "--run", str(tmp_path / "run2"), "--version", "1.0.1", "--out", str(tmp_path / "repo"), check=False)
    assert again.returncode == 2 and "immutable" in again.stderr
    missing = cli("release", "create", "--run", str(tmp_path), "--version", "1.0.2", "--out", str(tmp_path / "repo"), check=False)
    assert missing.returncode == 2 and "not a release" in missing.stderr


def _kill_when(proc: subprocess.Popen, condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "condition never reached"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _size(path) -> int:
    """Size of a file another process may rename away meanwhile (a finished .part): 0 once gone."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@pytest.mark.multiprocess
def test_kill_9_during_create_and_pull_leaves_no_half_release(tmp_path):
    write_run(tmp_path / "run", rows_per_shard=8)
    repo, rate = tmp_path / "repo", "200000"
    create = subprocess.Popen([sys.executable, "-m", "partverse", "release", "create", "--run", str(tmp_path / "run"),
                               "--version", "1.0.0", "--out", str(repo), "--max-bytes-per-second", rate], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _kill_when(create, lambda: (repo / "blobs").is_dir() and len(list((repo / "blobs").iterdir())) >= 3)
    assert list_versions(repo) == [] and not (repo / "1.0.0" / "manifest.json").exists()
    with pytest.raises(mf.NotAReleaseError):
        locate(repo, "1.0.0")
    m = create_release(tmp_path / "run", "1.0.0", repo, log=quiet)  # re-run completes
    assert verify(repo, "1.0.0")["ok"]

    dest = tmp_path / "pulled"
    puller = subprocess.Popen([sys.executable, "-m", "partverse", "pull", "1.0.0", "--from", str(repo), "--to", str(dest),
                               "--max-bytes-per-second", rate], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _kill_when(puller, lambda: any(_size(p) > 0 for p in dest.glob(".*.part")) and len(list(dest.glob("*.parquet"))) >= 2)
    assert not (dest / "manifest.json").exists()
    partial = [p.name for p in dest.glob(".*.part") if p.stat().st_size]
    log: list[str] = []
    result = pull("1.0.0", repo, dest, log=log.append)
    assert sorted(result["files"]) == sorted(m["files"]) and verify(dest)["ok"]
    if partial:  # the kill can land between two files; when it lands inside one, that one resumes
        assert any(line.endswith(": resumed") for line in log), log
    assert not list(dest.glob(".*.part"))
