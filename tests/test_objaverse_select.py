"""Selection filters over a local Objaverse mirror, and `partverse objaverse select` printing
counts before anything but index files is downloaded."""
from __future__ import annotations

import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from partverse.errors import ConfigError
from partverse.objaverse.http import Fetcher, RetryPolicy
from partverse.objaverse.layout import CacheLayout
from partverse.objaverse.licenses import REDISTRIBUTABLE, normalize_license
from partverse.objaverse.selection import SelectionSpec, select
from partverse.objaverse.sources import XLAnnotations
from partverse.objaverse.v1 import ObjaverseV1
from tests.conftest import REPO, shared
from tests.objaverse_server import LICENSES, start_mirror


@pytest.fixture(scope="module")
def mirror():
    server, m, xl = start_mirror(shared("assets"), n=40, shards=5)
    yield server, m
    server.stop()


@pytest.fixture
def clients(mirror, tmp_path):
    server, m = mirror
    server.reset()
    layout = CacheLayout.create(tmp_path / "cache", server.url + "/v1", server.url + "/xl")
    with Fetcher(layout.tmp, RetryPolicy(attempts=2), durable=False) as fetcher:
        yield server, m, ObjaverseV1(layout, fetcher), XLAnnotations(layout, fetcher)


def uids_of(sel):
    return sel.table.column("uid").to_pylist()


def test_default_licences_are_the_redistributable_ones(clients):
    _, m, v1, xl = clients
    sel = select(SelectionSpec(), v1=v1, xl=xl)
    expected = sorted(u for u in m.uids if m.metadata[u]["license"] in REDISTRIBUTABLE)
    assert uids_of(sel) == expected
    assert not {"by-nd", "by-nc-nd"} & set(sel.table.column("license").to_pylist())
    assert sel.counts[0] == ("all (candidates)", 40) and sel.counts[-1] == ("license", len(expected))


def test_filters_combine(clients):
    _, m, v1, xl = clients
    spec = SelectionSpec(licenses=["by", "CC0 1.0"], lvis_categories=["chair", "truck"], tags=["LowPoly", "vehicle"],
                         max_faces=5000)
    sel = select(spec, v1=v1, xl=xl)
    chosen = {u for c in ("chair", "truck") for u in m.lvis[c]}
    expected = sorted(
        u for u in chosen
        if m.metadata[u]["license"] in ("by", "cc0")
        and m.metadata[u]["tags"][0]["name"] in ("lowpoly", "vehicle")
        and m.metadata[u]["faceCount"] <= 5000
    )
    assert expected and uids_of(sel) == expected
    assert [s for s, _ in sel.counts] == ["all (candidates)", "lvis category", "license", "tags", "face count"]
    rows = sel.table.to_pylist()
    assert all(r["sha256"] == m.glb_sha[r["uid"]] for r in rows)  # from the XL Sketchfab annotations
    assert all(set(r["lvis_categories"]) & {"chair", "truck"} for r in rows)


def test_uid_list_and_seeded_sample(clients, tmp_path):
    _, m, v1, xl = clients
    listed = m.uids[:20]
    uid_file = tmp_path / "uids.txt"
    uid_file.write_text("# wanted\n" + "\n".join(u + ".glb" for u in listed) + "\nnot-a-uid\n")
    spec = dict(licenses=LICENSES, uids_file=str(uid_file))
    assert sorted(uids_of(select(SelectionSpec(**spec), v1=v1, xl=xl))) == sorted(listed)
    a = uids_of(select(SelectionSpec(**spec, sample=5, seed=1), v1=v1, xl=xl))
    b = uids_of(select(SelectionSpec(**spec, sample=5, seed=1), v1=v1, xl=xl))
    c = uids_of(select(SelectionSpec(**spec, sample=5, seed=2), v1=v1, xl=xl))
    assert a == b and len(a) == 5 and set(a) <= set(listed) and a != c


def test_metadata_shards_fetched_only_for_candidates(clients):
    server, m, v1, xl = clients
    uid = m.lvis["sword"][0]
    select(SelectionSpec(licenses=LICENSES, lvis_categories=["sword"], v1_checksums=False), v1=v1)
    shards = {r[0] for r in server.log if "/metadata/" in r[0]}
    assert shards == {f"/v1/metadata/{m.object_paths[u].split('/')[1]}.json.gz" for u in m.lvis["sword"]}
    assert uid


def test_spec_errors_name_field_and_value(tmp_path):
    with pytest.raises(ConfigError, match=r"sources: \['v2'\]; allowed values"):
        SelectionSpec(sources=["v2"])
    with pytest.raises(ConfigError, match="max_faces: -1"):
        SelectionSpec(max_faces=-1)
    with pytest.raises(ConfigError, match="min_faces: 10 > max_faces 5"):
        SelectionSpec(min_faces=10, max_faces=5)
    with pytest.raises(ConfigError, match="uids_file"):
        SelectionSpec(uids_file=str(tmp_path / "missing.txt"))


@pytest.mark.parametrize("raw, code", [
    ("by", "by"), ("CC-BY 4.0", "by"), ("CC BY-NC-SA 4.0", "by-nc-sa"), ("CC0 1.0", "cc0"),
    ("Creative Commons - Attribution - NoDerivatives", "by-nd"), ("MIT License", "mit"), (None, None),
])
def test_normalize_license(raw, code):
    assert normalize_license(raw) == code


def test_cli_select_prints_counts_and_downloads_no_object(clients, tmp_path):
    server, m, _, _ = clients
    out = tmp_path / "sel.parquet"
    res = subprocess.run(
        [sys.executable, "-m", "partverse", "objaverse", "select", "--out", str(out), "--lvis", "chair",
         "--license", "by", "cc0", "--cache-dir", str(tmp_path / "c2"),
         "--base-url", server.url + "/v1", "--xl-base-url", server.url + "/xl"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    expected = [u for u in m.lvis["chair"] if m.metadata[u]["license"] in ("by", "cc0")]
    assert "lvis category: 8" in res.stdout and f"license: {len(expected)}" in res.stdout
    assert f"selected {len(expected)} objects" in res.stdout
    assert sorted(pq.read_table(out).column("uid").to_pylist()) == sorted(expected)
    assert not [r for r in server.log if "/glbs/" in r[0]]
    bad = subprocess.run([sys.executable, "-m", "partverse", "objaverse", "select", "--out", str(out),
                          "--source", "v9"], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert bad.returncode == 2 and "sources: ['v9']" in bad.stderr


def test_cli_download_reports_each_object(clients, tmp_path):
    server, m, _, _ = clients
    sel, report = tmp_path / "sel.parquet", tmp_path / "report.parquet"
    common = ["--cache-dir", str(tmp_path / "c3"), "--base-url", server.url + "/v1", "--xl-base-url", server.url + "/xl"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "partverse", "objaverse", *a, *common], cwd=REPO,  # noqa: E731
                                    env=env, capture_output=True, text=True, timeout=120)
    assert run("select", "--out", str(sel), "--lvis", "house").returncode == 0
    chosen = pq.read_table(sel).column("uid").to_pylist()
    server.inject(f"/v1/{m.object_paths[chosen[0]]}", "404")
    res = run("download", str(sel), "--report", str(report), "--attempts", "2")
    assert res.returncode == 0, res.stderr
    assert f"downloaded: {len(chosen) - 1}" in res.stdout and "failed:http_404: 1" in res.stdout
    assert f"failed {chosen[0]} http_404" in res.stderr
    rows = {r["uid"]: r for r in pq.read_table(report).to_pylist()}
    assert rows[chosen[0]]["status"] == "failed" and rows[chosen[0]]["reason"] == "http_404"
    assert all(rows[u]["status"] == "downloaded" and rows[u]["sha256"] == m.glb_sha[u] for u in chosen[1:])
