"""Downloads from a local Objaverse mirror (real HTTP on 127.0.0.1) with injected faults."""
from __future__ import annotations

import gzip
import hashlib
import urllib.request

import pytest

from partverse.errors import ConfigError
from partverse.objaverse.batch import download_selection, summarize
from partverse.objaverse.http import DownloadError, Fetcher, HostLimiter, RetryPolicy, parse_retry_after
from partverse.objaverse.layout import CacheLayout
from partverse.objaverse.selection import SelectionSpec, select
from partverse.objaverse.sources import XLAnnotations
from partverse.objaverse.v1 import ObjaverseV1
from tests.conftest import shared
from tests.objaverse_server import LICENSES, start_mirror

ALL_LICENSES = LICENSES


@pytest.fixture(scope="module")
def mirror():
    server, m, xl = start_mirror(shared("assets"), n=30)
    yield server, m, xl
    server.stop()


@pytest.fixture
def env(mirror, tmp_path):
    server, m, xl = mirror
    server.reset()
    layout = CacheLayout.create(tmp_path / "cache", server.url + "/v1", server.url + "/xl")
    policy = RetryPolicy(attempts=4, connect_timeout_s=2, read_timeout_s=1.0, total_timeout_s=1.5,
                         backoff_base_s=0.05, max_backoff_s=0.2, max_retry_after_s=3)
    fetcher = Fetcher(layout.tmp, policy, HostLimiter(max_per_host=8), seed=0, durable=False)
    yield server, m, xl, layout, fetcher, ObjaverseV1(layout, fetcher), XLAnnotations(layout, fetcher)
    fetcher.close()


def _glb(m, i):
    return f"/v1/{m.object_paths[m.uids[i]]}"


def _select_all(v1, xl, **kw):
    return select(SelectionSpec(licenses=ALL_LICENSES, **kw), v1=v1, xl=xl).table.to_pylist()


def test_every_recoverable_fault_is_recovered(env):
    server, m, _, layout, fetcher, v1, xl = env
    server.inject("/v1/object-paths.json.gz", "500", "truncated")
    server.inject("/v1/metadata/000-001.json.gz", "truncated")
    faults = {0: "500", 1: "429:1", 2: "reset", 3: "slow", 4: "wrong", 5: "truncated"}
    for i, fault in faults.items():
        server.inject(_glb(m, i), fault)
    rows = _select_all(v1, xl)
    outcomes = {o.uid: o for o in download_selection(rows, layout, fetcher, v1, workers=6)}
    assert summarize(list(outcomes.values())) == {"downloaded": 30}
    for uid in m.uids:
        path = layout.v1_file(m.object_paths[uid])
        assert hashlib.sha256(path.read_bytes()).hexdigest() == m.glb_sha[uid]
    for i in faults:
        assert outcomes[m.uids[i]].attempts == 2, (faults[i], outcomes[m.uids[i]])
    # the reset body was resumed with a Range request, not fetched again from byte 0
    ranges = [r[1] for r in server.requests_to(_glb(m, 2))]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    assert not list(layout.tmp.glob("*.part"))


def test_unrecoverable_faults_end_failed_with_reason_and_batch_goes_on(env):
    server, m, _, layout, fetcher, v1, xl = env
    server.inject(_glb(m, 0), *["500"] * 4)
    server.inject(_glb(m, 1), "404")
    server.inject(_glb(m, 2), *["wrong"] * 4)
    server.inject(_glb(m, 3), *["slow"] * 4)
    server.inject(_glb(m, 4), *["reset"] * 4)
    rows = _select_all(v1, xl)
    outcomes = {o.uid: o for o in download_selection(rows, layout, fetcher, v1, workers=6)}
    expect = {0: "http_500", 1: "http_404", 2: "sha256_mismatch", 3: "timeout"}
    for i, reason in expect.items():
        o = outcomes[m.uids[i]]
        assert (o.status, o.reason) == ("failed", reason), o
        assert not layout.v1_file(m.object_paths[m.uids[i]]).exists()
    assert outcomes[m.uids[1]].attempts == 1  # a 404 is not retried
    # four resets: each attempt resumes the partial; the object completes or fails with a transport reason
    o = outcomes[m.uids[4]]
    assert o.status == "downloaded" or o.reason in ("connection_error", "truncated"), o
    assert sum(o.status == "downloaded" for o in outcomes.values()) >= 25


def test_without_checksums_a_wrong_glb_is_caught_by_structure(env):
    server, m, _, layout, fetcher, v1, xl = env
    server.inject(_glb(m, 0), *["wrong"] * 4)
    server.inject(_glb(m, 1), *["truncated"] * 4)
    rows = select(SelectionSpec(licenses=ALL_LICENSES, v1_checksums=False), v1=v1).table.to_pylist()
    assert all(r["sha256"] is None for r in rows)
    outcomes = {o.uid: o for o in download_selection(rows, layout, fetcher, v1, workers=4)}
    assert outcomes[m.uids[0]].reason == "corrupt_glb"
    assert outcomes[m.uids[1]].reason == "corrupt_glb"
    assert summarize(list(outcomes.values()))["downloaded"] == 28


def test_retry_after_is_honoured_for_the_whole_host(env):
    server, m, _, layout, fetcher, v1, _ = env
    v1.object_paths()
    server.reset()
    server.inject(_glb(m, 0), "429:1")
    res = fetcher.fetch(server.url + _glb(m, 0), layout.v1_file(m.object_paths[m.uids[0]]))
    log = server.requests_to(_glb(m, 0))
    assert [r[2] for r in log] == [429, 200] and res.attempts == 2
    assert log[1][3] - log[0][3] >= 0.95


def test_per_host_rate_limit_spaces_requests(env, tmp_path):
    server, m, _, layout, _, _, _ = env
    limited = Fetcher(layout.tmp, RetryPolicy(attempts=1), HostLimiter(rate_per_s=20, burst=1), durable=False)
    from concurrent.futures import ThreadPoolExecutor

    with limited, ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: limited.fetch(server.url + _glb(m, i), tmp_path / f"{i}.glb"), range(10)))
    times = sorted(r[3] for r in server.log)
    assert len(times) == 10 and times[-1] - times[0] >= 9 / 20 * 0.9


def test_truncated_index_in_cache_is_fetched_again(env):
    server, m, _, layout, fetcher, v1, _ = env
    full = m.files["/v1/object-paths.json.gz"]
    path = layout.v1_file("object-paths.json.gz")
    path.parent.mkdir(parents=True)
    path.write_bytes(full[: len(full) // 2])  # an interrupted in-place write by another tool
    with pytest.raises((EOFError, OSError)):
        gzip.decompress(path.read_bytes())
    assert v1.object_paths() == m.object_paths
    assert path.read_bytes() == full


def test_objaverse_package_sees_our_cache_as_downloaded(env, monkeypatch):
    import objaverse

    server, m, _, layout, fetcher, v1, xl = env
    rows = _select_all(v1, xl, lvis_categories=["chair"])
    outcomes = list(download_selection(rows, layout, fetcher, v1, workers=4))
    assert {o.status for o in outcomes} == {"downloaded"}
    v1.metadata()  # every metadata shard, as objaverse.load_annotations() reads them all

    def no_network(url, *a, **k):
        raise AssertionError(f"objaverse tried to download {url}: it should have found the cached file")

    monkeypatch.setattr(objaverse, "_VERSIONED_PATH", str(layout.v1))
    monkeypatch.setattr(urllib.request, "urlretrieve", no_network)
    uids = [r["uid"] for r in rows]
    paths = objaverse.load_objects(uids)
    assert paths == {o.uid: o.path for o in outcomes}
    assert objaverse.load_lvis_annotations() == m.lvis
    assert objaverse.load_annotations(uids) == {u: m.metadata[u] for u in uids}


def test_xl_http_sources_verify_sha256(env):
    server, m, xl_truth, layout, fetcher, v1, xl = env
    spec = SelectionSpec(sources=["xl-smithsonian", "xl-sketchfab"], licenses=["cc0", "by"])
    sel = select(spec, v1=v1, xl=xl)
    rows = sel.table.to_pylist()
    assert {r["source"] for r in rows} == {"objaverse-xl/smithsonian", "objaverse-xl/sketchfab"}
    server.inject(_glb(m, 0), "wrong")  # sketchfab uid 0 (CC-BY) is served wrong once
    outcomes = {o.file_identifier: o for o in download_selection(rows, layout, fetcher, v1, workers=4)}
    for ident, true_sha, annotated in xl_truth["smithsonian"]:
        o = outcomes[ident]
        if true_sha == annotated:
            assert o.status == "downloaded" and o.sha256 == true_sha
            assert o.path == str(layout.xl_object_file("smithsonian", ident, "glb"))
        else:
            assert (o.status, o.reason) == ("failed", "sha256_mismatch")
    sketch = [o for o in outcomes.values() if o.source == "objaverse-xl/sketchfab"]
    assert sketch and all(o.status == "downloaded" for o in sketch)
    assert all(o.path.startswith(str(layout.v1 / "glbs")) for o in sketch)


def test_policy_and_header_parsing():
    with pytest.raises(ConfigError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ConfigError, match="rate_per_s"):
        HostLimiter(rate_per_s=0)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    err = DownloadError("http://x/a.glb", "sha256_mismatch", "expected a, got b", 4)
    assert str(err) == "http://x/a.glb: sha256_mismatch after 4 attempt(s) (expected a, got b)"


def test_same_url_fetched_concurrently_by_many_threads(env):
    from concurrent.futures import ThreadPoolExecutor

    server, m, _, layout, fetcher, _, _ = env
    server.bytes_per_s = 2_000_000
    url, dest = server.url + _glb(m, 0), layout.v1_file(m.object_paths[m.uids[0]])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: fetcher.fetch(url, dest, sha256=m.glb_sha[m.uids[0]]), range(4)))
    assert {r.sha256 for r in results} == {m.glb_sha[m.uids[0]]}
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == m.glb_sha[m.uids[0]]
    assert not list(layout.tmp.glob("*.part"))


def test_partial_renamed_between_open_and_lock_is_not_reused(env, monkeypatch):
    """The interleaving CI once hit: B opens the shared `.part`, A finishes (renames that inode to
    its final name, unlocks), then B's lock succeeds. B must not write into A's finished file."""
    import fcntl as real_fcntl

    import partverse.objaverse.http as http_mod

    server, m, _, layout, fetcher, _, _ = env
    url, sha = server.url + _glb(m, 0), m.glb_sha[m.uids[0]]
    dest = layout.v1_file(m.object_paths[m.uids[0]])
    other = Fetcher(layout.tmp, fetcher.policy, HostLimiter(max_per_host=8), seed=1, durable=False)
    flock, first = real_fcntl.flock, [True]

    def flock_after_a_finishes(fd, op):
        if first[0]:  # B has opened the .part; A now runs start to finish before B's lock
            first[0] = False
            assert other.fetch(url, dest, sha256=sha).sha256 == sha
        return flock(fd, op)

    monkeypatch.setattr(http_mod.fcntl, "flock", flock_after_a_finishes)
    try:
        res = fetcher.fetch(url, dest, sha256=sha)  # B
    finally:
        other.close()
    assert (res.sha256, res.attempts, res.resumed_bytes) == (sha, 1, 0)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == sha
    assert [r[1] for r in server.requests_to(_glb(m, 0))] == [None, None]  # no Range on A's file
    assert not list(layout.tmp.glob("*.part"))


def test_index_files_are_fetched_once_by_concurrent_threads(env):
    from concurrent.futures import ThreadPoolExecutor

    server, m, _, layout, fetcher, v1, _ = env
    server.bytes_per_s = 2_000_000
    with ThreadPoolExecutor(4) as pool:
        tables = list(pool.map(lambda _: v1.object_paths(), range(4)))
    assert all(t is tables[0] for t in tables) and tables[0] == m.object_paths
    assert len(server.requests_to("/v1/object-paths.json.gz")) == 1


def test_a_stale_partial_with_other_bytes_is_not_trusted(env):
    server, m, _, layout, fetcher, _, _ = env
    url = server.url + _glb(m, 3)
    part = layout.tmp / (hashlib.sha1(url.encode()).hexdigest() + ".part")
    part.write_bytes(b"glTF" + b"\0" * 5000)  # left by a run against content that has since changed
    res = fetcher.fetch(url, layout.v1_file(m.object_paths[m.uids[3]]), sha256=m.glb_sha[m.uids[3]])
    assert res.sha256 == m.glb_sha[m.uids[3]] and res.attempts == 2 and res.resumed_bytes == 0
    assert [r[1] for r in server.requests_to(_glb(m, 3))] == ["bytes=5004-", None]


def test_truncated_xl_annotations_in_cache_are_fetched_again(env):
    server, m, _, layout, fetcher, _, xl = env
    path = layout.xl_annotations_file("smithsonian")
    path.parent.mkdir(parents=True)
    full = m.files["/xl/smithsonian/smithsonian.parquet"]
    path.write_bytes(full[: len(full) // 2])
    assert xl.table("smithsonian").num_rows == 3
    assert path.read_bytes() == full


def test_files_fetched_by_the_objaverse_package_count_as_cached(env, monkeypatch):
    import objaverse

    server, m, _, layout, fetcher, v1, xl = env
    real = urllib.request.urlretrieve
    hf = "https://huggingface.co/datasets/allenai/objaverse/resolve/main"
    monkeypatch.setattr(urllib.request, "urlretrieve",
                        lambda url, filename=None, *a, **k: real(url.replace(hf, server.url + "/v1"), filename, *a, **k))
    monkeypatch.setattr(objaverse, "_VERSIONED_PATH", str(layout.v1))
    theirs = objaverse.load_objects(m.uids[:6])  # the package's own path, base URL swapped
    assert len(theirs) == 6
    server.reset()
    rows = _select_all(v1, xl)
    outcomes = {o.uid: o for o in download_selection(rows, layout, fetcher, v1, workers=4)}
    assert all(outcomes[u].status == "cached" and outcomes[u].path == theirs[u] for u in m.uids[:6])
    assert not [r for r in server.log if any(u in r[0] for u in m.uids[:6])]
    assert summarize(list(outcomes.values())) == {"cached": 6, "downloaded": 24}


@pytest.mark.multiprocess
def test_download_spread_over_processes_recovers_faults(env):
    from partverse.objaverse.batch import download_selection_processes

    server, m, _, layout, fetcher, v1, xl = env
    rows = _select_all(v1, xl)
    for i, fault in enumerate(["500", "reset", "wrong", "truncated"]):
        server.inject(_glb(m, i), fault)
    server.inject(_glb(m, 9), "404")
    outcomes = {o.uid: o for o in download_selection_processes(rows, layout, fetcher.policy, processes=2, workers=4,
                                                               durable=False)}
    assert len(outcomes) == 30
    assert (outcomes[m.uids[9]].status, outcomes[m.uids[9]].reason) == ("failed", "http_404")
    for uid in set(m.uids) - {m.uids[9]}:
        assert outcomes[uid].status == "downloaded"
        assert hashlib.sha256(layout.v1_file(m.object_paths[uid]).read_bytes()).hexdigest() == m.glb_sha[uid]


def test_a_corrupted_cached_file_is_fetched_again_unless_the_cache_is_trusted(env):
    server, m, _, layout, fetcher, v1, xl = env
    rows = _select_all(v1, xl, lvis_categories=["table"])
    list(download_selection(rows, layout, fetcher, v1, workers=4))
    victim = layout.v1_file(rows[0]["url"])
    data = bytearray(victim.read_bytes())
    data[-10:] = b"\0" * 10  # bit rot after the GLB header: same size, same structure
    victim.write_bytes(bytes(data))
    trusted = {o.uid: o.status for o in download_selection(rows, layout, fetcher, v1, rehash_cached=False)}
    assert set(trusted.values()) == {"cached"}
    checked = {o.uid: o.status for o in download_selection(rows, layout, fetcher, v1)}
    assert checked[rows[0]["uid"]] == "downloaded" and list(checked.values()).count("cached") == len(rows) - 1
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == rows[0]["sha256"]


def test_xl_thingiverse_files_by_file_id(env, tmp_path):
    from tests.objaverse_server import parquet_bytes

    server, m, _, layout, fetcher, v1, _ = env
    stl = b"solid cube\nendsolid cube\n"
    server.files["/download:1111"] = stl
    server.files["/xl/thingiverse/thingiverse.parquet"] = parquet_bytes([
        {"fileIdentifier": f"https://www.thingiverse.com/thing:{t}/files?fileId={f}", "source": "thingiverse",
         "license": "Creative Commons - Attribution", "fileType": "stl", "sha256": hashlib.sha256(stl).hexdigest(),
         "metadata": "{}"} for t, f in ((10, 1111), (11, 2222))])
    layout = CacheLayout.create(layout.root, layout.v1_base_url, layout.xl_base_url, thingiverse_url=server.url)
    try:
        rows = select(SelectionSpec(sources=["xl-thingiverse"]), xl=XLAnnotations(layout, fetcher)).table.to_pylist()
        out = {o.file_identifier.rsplit("=", 1)[1]: o for o in download_selection(rows, layout, fetcher)}
    finally:
        for path in ("/download:1111", "/xl/thingiverse/thingiverse.parquet"):
            server.files.pop(path)
    assert out["1111"].status == "downloaded" and open(out["1111"].path, "rb").read() == stl
    assert out["1111"].path.endswith(".stl") and "/thingiverse/objects/" in out["1111"].path
    assert (out["2222"].status, out["2222"].reason) == ("failed", "http_404")


def test_redirects_are_followed_and_loops_fail_with_a_reason(env):
    server, m, _, layout, fetcher, v1, xl = env
    server.inject(_glb(m, 0), "302", "302")
    server.inject(_glb(m, 1), *["302"] * 30)
    rows = _select_all(v1, xl, lvis_categories=["chair"])
    assert {m.uids[0]} <= {r["uid"] for r in rows}
    rows += [r for r in _select_all(v1, xl) if r["uid"] == m.uids[1]]
    out = {o.uid: o for o in download_selection(rows, layout, fetcher, v1, workers=4)}
    assert out[m.uids[0]].status == "downloaded" and out[m.uids[0]].sha256 == m.glb_sha[m.uids[0]]
    assert (out[m.uids[1]].status, out[m.uids[1]].reason) == ("failed", "too_many_redirects")
    assert summarize(list(out.values()))["downloaded"] == len(rows) - 1
