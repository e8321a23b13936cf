"""The Ray executor on a real local Ray cluster (ray.cluster_utils.Cluster, 2 worker nodes):
same rows as the local executor; a worker node removed mid-stage loses no object."""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

import tests.pipeline_toy  # noqa: F401 - registers the toy stages
from partverse.data.reader import read_release_table
from pipelines.config import parse_config
from pipelines.run import run_build
from tests.conftest import shared

ray = pytest.importorskip("ray")
REPO = str(Path(__file__).resolve().parents[1])
pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, old]))  # nodes inherit it
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 80 * 2**20})
    workers = [c.add_node(num_cpus=1, object_store_memory=80 * 2**20) for _ in range(2)]
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c, workers
    ray.shutdown()
    c.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


def _real_config(run_dir, inputs, executor):
    return parse_config({
        "run_dir": str(run_dir), "executor": executor, "progress": False,
        "stages": [
            {"name": "ingest_local", "params": {"paths": [str(inputs)]}},
            {"name": "prepare"}, {"name": "segment"}, {"name": "annotation"},
            {"name": "render", "params": {"views": 4, "resolution": 96, "tile": 96}},
            {"name": "caption", "params": {"backend": "metadata"}},
            {"name": "export_parts", "params": {"num_samples": 512}},
            {"name": "write_release"},
        ],
    })


def _sorted_rows(release: Path, table: str) -> list[dict]:
    rows = read_release_table(release, table).to_pylist()
    return sorted(rows, key=lambda r: (r["uid"], r.get("part_id", -1)))


def test_local_and_ray_give_identical_rows(tmp_path, cluster):
    from pipelines.executors.ray import RayExecutor

    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ["kenney_truck_green.glb", "quat_bed_bunk.glb", "o3dv_car.glb"]:
        shutil.copy(shared("assets", name), inputs / name)
    shutil.copy(shared("bad_inputs", "validator_glb_invalid_magic.glb"), inputs / "bad.glb")
    local = run_build(_real_config(tmp_path / "local" / "run", inputs, "local"))
    cfg = _real_config(tmp_path / "ray" / "run", inputs, "ray")
    on_ray = run_build(cfg, executor=RayExecutor(cfg.ray, cfg.stages, progress=False))
    assert local.released_objects == on_ray.released_objects == 3
    assert [q["source_uri"] for q in on_ray.quarantined] == [q["source_uri"] for q in local.quarantined]
    assert read_release_table(tmp_path / "ray" / "run" / "release", "captions").num_rows > 3
    for table in ("objects", "parts", "captions"):
        assert _sorted_rows(tmp_path / "ray" / "run" / "release", table) == _sorted_rows(tmp_path / "local" / "run" / "release", table)


def test_worker_node_removed_mid_stage_loses_no_object(tmp_path, cluster):
    from pipelines.executors.ray import RayExecutor

    c, workers = cluster
    inputs = tmp_path / "in"
    inputs.mkdir()
    names = sorted(p.name for p in shared("assets").glob("*.glb"))[:8]
    for name in names:
        shutil.copy(shared("assets", name), inputs / name)
    run_dir = tmp_path / "run"
    cfg = parse_config({
        "run_dir": str(run_dir), "executor": "ray", "progress": False,
        "stages": [{"name": "ingest_local", "params": {"paths": [str(inputs)]}}, {"name": "toy_read"},
                   {"name": "toy_model", "concurrency": 1},  # an actor pool, as model stages run
                   {"name": "toy_hash", "params": {"delay_s": 1.5}}, {"name": "toy_sink"}],
    })
    result = {}
    build = threading.Thread(target=lambda: result.update(summary=run_build(cfg, executor=RayExecutor(cfg.ray, cfg.stages, progress=False))))
    build.start()
    deadline = time.monotonic() + 120
    while not any((run_dir / "outputs" / "toy_hash").rglob("*.pkl")):  # the stage is under way
        assert time.monotonic() < deadline and build.is_alive(), "toy_hash never started"
        time.sleep(0.05)
    c.remove_node(workers[1])
    build.join(timeout=240)
    assert not build.is_alive(), "build did not finish after a node was removed"
    s = result["summary"]
    released = {r["uri"] for r in __import__("json").loads((run_dir / "toy_release.json").read_text())}
    quarantined = {q["source_uri"] for q in s.quarantined}
    assert all(q["message"] for q in s.quarantined)
    assert released | quarantined == {str(inputs / n) for n in names}
    assert not released & quarantined
    rows = __import__("json").loads((run_dir / "toy_release.json").read_text())
    assert all(r["scaled"] == 3 * r["size"] for r in rows)
    print("after removing a node:", s.stages, [q["error_class"] for q in s.quarantined])


def test_object_that_kills_its_worker_goes_to_quarantine(tmp_path, cluster):
    from pipelines.executors.ray import RayExecutor

    inputs = tmp_path / "in"
    inputs.mkdir()
    names = ["kenney_truck_green.glb", "quat_bed_bunk.glb", "o3dv_car.glb"]
    for name in names:
        shutil.copy(shared("assets", name), inputs / name)
    run_dir = tmp_path / "run"
    cfg = parse_config({
        "run_dir": str(run_dir), "executor": "ray", "progress": False, "ray": {"max_retries": 0},
        "stages": [{"name": "ingest_local", "params": {"paths": [str(inputs)]}},
                   {"name": "toy_read", "params": {"crash_on": "bed_bunk"}}, {"name": "toy_sink"}],
    })
    s = run_build(cfg, executor=RayExecutor(cfg.ray, cfg.stages, progress=False))
    assert s.released_objects == 2
    [q] = s.quarantined
    assert q["source_uri"].endswith("quat_bed_bunk.glb") and q["stage"] == "toy_read"
    assert "Ray could not run this object" in q["message"]


def test_a_one_cpu_task_keeps_to_one_thread(cluster):
    """Ray gives a task OMP_NUM_THREADS = its num_cpus but the node's whole CPU affinity: partverse's
    background thread and split embree casts follow the former, so one-CPU tasks do not oversubscribe."""
    @ray.remote(num_cpus=1)
    def cores():
        from partverse.background import usable_cores
        from partverse.render import embree_native

        return usable_cores(), embree_native._cores()

    assert ray.get(cores.remote(), timeout=120) == (1, 1)
