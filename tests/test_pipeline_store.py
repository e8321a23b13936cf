"""The content-addressed store: sha256 addresses, sidecars kept, duplicates detected, atomic entries."""
from __future__ import annotations

import hashlib

from partverse.io.store import ContentStore, bundle_sha256
from pipelines.stages.ingest_local import find_sidecars
from tests.conftest import shared


def test_put_file_addresses_by_sha256_and_detects_duplicates(tmp_path):
    src = shared("assets", "kenney_truck_green.glb")
    store = ContentStore(tmp_path / "store")
    first = store.put_file(src)
    assert first.sha256 == hashlib.sha256(src.read_bytes()).hexdigest() and first.created
    assert first.path.read_bytes() == src.read_bytes()
    copy = tmp_path / "renamed.glb"
    copy.write_bytes(src.read_bytes())
    again = store.put_file(copy)
    assert again.sha256 == first.sha256 and not again.created
    assert store.verify(first.sha256)
    assert not list((tmp_path / "store" / ".tmp").iterdir())


def test_gltf_and_obj_keep_their_sidecars(tmp_path):
    gltf = shared("assets", "polyhaven_painted_wooden_cabinet", "painted_wooden_cabinet_1k.gltf")
    side = find_sidecars(gltf)
    assert "painted_wooden_cabinet.bin" in side and any(k.startswith("textures/") for k in side)
    obj = shared("assets", "obj_spider", "spider.obj")
    assert "spider.mtl" in find_sidecars(obj) and "SpiderTex.jpg" in find_sidecars(obj)
    store = ContentStore(tmp_path)
    entry = store.put_file(gltf, {k: v for k, v in side.items()})
    assert (entry.path.parent / "textures").is_dir()
    assert entry.sha256 == bundle_sha256(gltf, {k: __import__("pathlib").Path(v) for k, v in side.items()})
    assert store.verify(entry.sha256)


def test_put_bytes_and_clean_temp(tmp_path):
    store = ContentStore(tmp_path)
    e = store.put_bytes(b"solid x\nendsolid x\n", "x.stl")
    assert store.path(e.sha256).name == "x.stl"
    (tmp_path / ".tmp" / "half").mkdir(parents=True)
    assert store.clean_temp() == 1
