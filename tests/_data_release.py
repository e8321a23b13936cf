"""Release rows built from the real shared assets (trimesh load, one part per scene geometry).

Cached per process; licences come from the assets' SOURCES.tsv.
"""
from __future__ import annotations

import copy
import csv
import functools

from partverse.data.release import licence_code
from partverse.data.rows import rows_from_file
from tests.conftest import shared

ASSETS = (
    "kenney_truck_green.glb", "kenney_motorcycle.glb", "quat_bed_bunk.glb", "quat_boat_sail.glb",
    "o3dv_car.glb", "khronos_cesium_milk_truck.glb", "sketchfab_partcrafter_dagger.glb",
    "objaverse_0c3ca2b32545416f8f1e6f0e87def1a6.glb", "kaykit_hex_house.glb", "three_robot_expressive.glb",
)


def licences() -> dict[str, str]:
    with open(shared("assets", "SOURCES.tsv")) as f:
        return {r["name"]: licence_code(r["licence"]) for r in csv.DictReader(f, delimiter="\t")}


@functools.lru_cache(maxsize=4)
def _rows(num_samples: int, names: tuple[str, ...]):
    lic = licences()
    objects, parts, captions = [], [], []
    for name in names:
        obj, ps = rows_from_file(shared("assets", name), license=lic[name], num_samples=num_samples)
        objects.append(obj)
        parts += ps
        captions.append({"uid": obj["uid"], "part_id": -1, "brief": f"a {obj['uid']}", "detailed": "whole object", "status": "ok"})
        captions += [{"uid": p["uid"], "part_id": p["part_id"], "brief": f"the {p['name']}",
                      "detailed": f"{p['name']} of {p['uid']}", "status": "ok"} for p in ps]
    return objects, parts, captions


def asset_rows(num_samples: int = 256, names: tuple[str, ...] = ASSETS):
    """(objects, parts, captions) row dicts, deep-copied so tests may edit them."""
    return copy.deepcopy(_rows(num_samples, tuple(names)))


def write_run(run_dir, rows=None, *, version="0.1.0", rows_per_shard=16, row_group_rows=4, **kw):
    """Write RUN_DIR/release/ the way the pipeline's release stage does; return its manifest."""
    from partverse.data.writer import write_release

    objects, parts, captions = rows if rows is not None else asset_rows()
    return write_release(run_dir / "release", objects, parts, captions, version=version, source_run=str(run_dir),
                         rows_per_shard=rows_per_shard, row_group_rows=row_group_rows, **kw)


def moto_server():
    """Start moto's S3 server on 127.0.0.1 (random port); returns (server, endpoint URL)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def s3_environ(endpoint: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def make_bucket(name: str) -> None:
    from partverse.data.storage import s3_filesystem

    s3_filesystem().create_dir(name)
