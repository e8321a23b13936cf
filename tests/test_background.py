"""The background thread: results and errors reach the caller, nested calls and one-core processes
run inline, a forked child gets its own thread; and the geometric segmentation that casts its
shape-diameter rays there gives the hierarchy it gives when they are cast inline."""
import os
import threading

import numpy as np
import pytest

from partverse import background
from partverse.errors import ConfigError
from partverse.io import load
from partverse.segment.geometric import GeometricConfig, geometric_hierarchy
from partverse.segment.psb import list_models
from tests.conftest import shared


def test_result_and_error_reach_the_caller(monkeypatch):
    monkeypatch.setattr(background, "usable_cores", lambda: 2)
    job = background.in_background(lambda a, b=0: (threading.current_thread().name, a + b), 2, b=3)
    name, value = job.result(timeout=30)
    assert value == 5 and name.startswith("partverse-bg")

    def fails():
        raise ValueError("bad input in the background")

    with pytest.raises(ValueError, match="bad input in the background"):
        background.in_background(fails).result(timeout=30)


def test_nested_call_and_one_core_run_inline(monkeypatch):
    monkeypatch.setattr(background, "usable_cores", lambda: 2)

    def outer():  # would wait on its own (single) thread forever if it were queued behind itself
        return background.in_background(threading.current_thread).result(timeout=30)

    worker = background.in_background(outer).result(timeout=30)
    assert worker is not threading.current_thread() and worker.name.startswith("partverse-bg")

    monkeypatch.setattr(background, "usable_cores", lambda: 1)
    assert background.in_background(threading.current_thread).result(timeout=0) is threading.current_thread()
    with pytest.raises(KeyError):
        background.in_background(dict().__getitem__, "missing").result(timeout=0)


def test_forked_child_gets_its_own_thread(monkeypatch):
    monkeypatch.setattr(background, "usable_cores", lambda: 2)
    assert background.in_background(lambda: 1).result(timeout=30) == 1  # the parent's thread exists
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the parent's thread did not survive the fork
        try:
            ok = background.in_background(lambda: os.getpid()).result(timeout=30) == os.getpid()
        except BaseException:
            ok = False
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"


@pytest.mark.parametrize("cores, on_thread", [(2, 1), (4, 3), (1, 1)])
def test_casts_on_the_background_thread_leave_the_caller_its_core(cores, on_thread, monkeypatch):
    """A split cast on the background thread uses one core fewer: its caller is busy on the other
    (three threads on two cores slowed both); elsewhere it uses them all."""
    from partverse.render import embree_native

    monkeypatch.setattr(background, "usable_cores", lambda: cores)
    assert embree_native._cores() == cores and not background.on_background_thread()
    inside = background.in_background(lambda: (background.on_background_thread(), embree_native._cores()))
    assert inside.result(timeout=30) == (cores >= 2, on_thread if cores >= 2 else 1)


@pytest.mark.parametrize("config", [GeometricConfig(), GeometricConfig(thickness_scale=0.5)])
def test_hierarchy_with_rays_cast_in_the_background_equals_inline(config, monkeypatch):
    model = [m for m in list_models(shared("psb")) if m.model_id == "181"][0]  # a hand: thickness matters
    mesh = load(model.mesh_path)
    monkeypatch.setattr(background, "usable_cores", lambda: 2)
    _, threaded = geometric_hierarchy(mesh.vertices, mesh.faces, config)
    monkeypatch.setattr(background, "usable_cores", lambda: 1)
    _, inline = geometric_hierarchy(mesh.vertices, mesh.faces, config)
    assert np.array_equal(threaded.region_of_face, inline.region_of_face)
    assert np.array_equal(threaded.merges, inline.merges)
    assert np.array_equal(threaded.affinity, inline.affinity, equal_nan=True)


def test_face_indices_outside_the_vertices_are_refused():
    vertices = np.eye(3)
    with pytest.raises(ConfigError, match=r"face indices span \[0, 3\], outside the 3 vertices"):
        geometric_hierarchy(vertices, np.array([[0, 1, 3]]))


@pytest.mark.parametrize("value,expected", [(None, 4), ("1", 1), ("2", 2), ("16", 4), ("0", 4), ("x", 4), (" 3 ", 3)])
def test_usable_cores_follow_affinity_capped_by_omp_num_threads(value, expected, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    if value is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert background.usable_cores() == expected
