"""Objaverse-XL GitHub sources from local bare repositories (file://) with git-lfs:
pinned commits, LFS objects, a deleted repository, a missing LFS object, a modified file."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from partverse.objaverse.batch import download_selection
from partverse.objaverse.http import Fetcher, RetryPolicy
from partverse.objaverse.layout import CacheLayout
from partverse.objaverse.selection import SelectionSpec, select
from partverse.objaverse.sources import XLAnnotations
from tests.conftest import shared
from tests.objaverse_server import FaultServer, parquet_bytes

pytestmark = pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs not installed (apt-get install git-lfs)")


def git(*args, cwd=None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_repo(remote_root: Path, work: Path, name: str, files_by_commit: list[dict[str, bytes]]) -> list[str]:
    """A bare repo `remote_root/org/<name>.git` with *.glb in LFS; one commit per dict; returns commit shas."""
    bare = remote_root / "org" / f"{name}.git"
    git("init", "-q", "--bare", str(bare))
    git("init", "-q", "-b", "main", str(work))
    git("lfs", "install", "--local", cwd=work)
    git("lfs", "track", "*.glb", cwd=work)
    commits = []
    for files in files_by_commit:
        for rel, data in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_bytes(data)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", f"commit {len(commits)}", cwd=work)
        commits.append(git("rev-parse", "HEAD", cwd=work))
    git("remote", "add", "origin", bare.as_uri(), cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return commits


@pytest.fixture
def repos(tmp_path, monkeypatch):
    cfg = tmp_path / "gitconfig"
    cfg.write_text("[user]\n\tname = partverse test\n\temail = test@example.invalid\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    remote = tmp_path / "remote"
    glb = shared("assets", "quat_bed_bunk.glb").read_bytes()
    glb2 = shared("assets", "quat_boat_sail.glb").read_bytes()
    a = make_repo(remote, tmp_path / "wa", "repoA", [
        {"models/a.obj": b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "models/bed.glb": glb},
        {"models/a.obj": b"v 0 0 0\nv 2 0 0\nv 0 2 0\nf 1 2 3\n"},
    ])
    c = make_repo(remote, tmp_path / "wc", "repoC", [{"boat.glb": glb2, "ok.obj": b"v 0 0 0\nf 1 1 1\n"}])
    lfs_objects = remote / "org" / "repoC.git" / "lfs" / "objects"
    removed = [p for p in lfs_objects.rglob("*") if p.is_file() and p.name == sha(glb2)]
    assert removed, "the LFS object should have been pushed into the bare repo"
    for p in removed:
        p.unlink()
    return remote, a, c, glb, glb2


def row(org_repo: str, commit: str, path: str, sha256: str, license="MIT License") -> dict:
    return {"fileIdentifier": f"https://github.com/{org_repo}/blob/{commit}/{path}", "source": "github",
            "license": license, "fileType": Path(path).suffix.lstrip("."), "sha256": sha256, "metadata": "{}"}


def test_github_sources_pinned_commit_lfs_and_recorded_failures(repos, tmp_path):
    remote, (a1, a2), (c1,), glb, glb2 = repos
    obj1 = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    rows = [
        row("org/repoA", a1, "models/a.obj", sha(obj1)),  # pinned older commit, not HEAD
        row("org/repoA", a1, "models/bed.glb", sha(glb)),  # an LFS file
        row("org/repoA", a1, "models/gone.obj", "1" * 64),  # not in that commit
        row("org/repoA", a2, "models/a.obj", sha(obj1)),  # modified at a2: sha256 differs
        row("org/repoA", "f" * 40, "models/a.obj", sha(obj1)),  # commit not in the repo
        row("org/deleted", a1, "x.glb", "2" * 64),  # repository deleted
        row("org/repoC", c1, "boat.glb", sha(glb2)),  # its LFS object is missing on the server
        row("org/repoC", c1, "ok.obj", sha(b"v 0 0 0\nf 1 1 1\n")),
        row("org/repoA", a1, "models/a.obj", sha(obj1), license="CC-BY-ND 4.0"),  # not redistributable
    ]
    server = FaultServer({"/xl/github/github.parquet": parquet_bytes(rows)}).start()
    try:
        layout = CacheLayout.create(tmp_path / "cache", server.url + "/v1", server.url + "/xl")
        with Fetcher(layout.tmp, RetryPolicy(attempts=2), durable=False) as fetcher:
            sel = select(SelectionSpec(sources=["xl-github"]), xl=XLAnnotations(layout, fetcher))
            assert sel.table.num_rows == 8  # the ND row is left out by the default licence filter
            out = list(download_selection(sel.table.to_pylist(), layout, fetcher, workers=2,
                                          git_options={"git_base_url": remote.as_uri()}))
    finally:
        server.stop()
    got = [(o.file_identifier.split("/blob/")[1].split("/", 1)[0][:7], o.file_identifier.rsplit("/", 1)[1],
            o.status, o.reason) for o in out]
    assert sorted(got) == sorted([
        (a1[:7], "a.obj", "downloaded", None),
        (a1[:7], "bed.glb", "downloaded", None),
        (a1[:7], "gone.obj", "failed", "file_missing"),
        (a2[:7], "a.obj", "failed", "sha256_mismatch"),
        ("fffffff", "a.obj", "failed", "commit_not_found"),
        (a1[:7], "x.glb", "failed", "repo_unavailable"),
        (c1[:7], "boat.glb", "failed", "lfs_object_missing"),
        (c1[:7], "ok.obj", "downloaded", None),
    ])
    by_name = {(o.file_identifier.rsplit("/", 1)[1], o.status): o for o in out}
    assert Path(by_name[("a.obj", "downloaded")].path).read_bytes() == obj1
    assert Path(by_name[("bed.glb", "downloaded")].path).read_bytes() == glb
    checkout = layout.github_checkout("org", "repoA", a1)
    assert checkout.is_dir() and not (checkout / ".git").exists()
    assert not list(layout.tmp.glob("git-*"))


def test_github_obj_with_material_and_texture_reaches_the_store_with_sidecars(tmp_path, monkeypatch):
    from partverse.io.store import ContentStore
    from pipelines.config import parse_config
    from pipelines.registry import STAGES, register_stage
    from pipelines.run import run_build

    if "objaverse_select" not in STAGES:
        register_stage("objaverse_select", "pipelines.stages.objaverse:ObjaverseSelect")
    cfg = tmp_path / "gitconfig"
    cfg.write_text("[user]\n\tname = partverse test\n\temail = test@example.invalid\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    remote = tmp_path / "remote"
    obj = b"mtllib box.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nusemtl skin\nf 1/1 2/1 3/1\n"
    mtl = b"newmtl skin\nmap_Kd tex/skin.jpg\n"
    texture = next(shared("assets").rglob("*.jpg")).read_bytes()  # a real texture
    (commit,) = make_repo(remote, tmp_path / "w", "props", [{"box/box.obj": obj, "box/box.mtl": mtl,
                                                            "box/tex/skin.jpg": texture}])
    rows = [row("org/props", commit, "box/box.obj", sha(obj), license="CC-BY 4.0")]
    server = FaultServer({"/xl/github/github.parquet": parquet_bytes(rows)}).start()
    try:
        build = parse_config({"run_dir": str(tmp_path / "run"), "progress": False, "stages": [
            {"name": "objaverse_select", "params": {
                "sources": ["xl-github"], "cache_dir": str(tmp_path / "cache"), "xl_base_url": server.url + "/xl",
                "v1_base_url": server.url + "/v1", "git_base_url": remote.as_uri(), "v1_checksums": False}}]})
        summary = run_build(build)
    finally:
        server.stop()
    assert summary.objects_in == 1 and summary.quarantined == []
    store = ContentStore(build.resolved().store_dir)
    (entry,) = [p for p in store.root.glob("*/*/entry.json")]
    folder = entry.parent
    assert (folder / "box.obj").read_bytes() == obj and (folder / "box.mtl").read_bytes() == mtl
    assert (folder / "tex" / "skin.jpg").read_bytes() == texture
