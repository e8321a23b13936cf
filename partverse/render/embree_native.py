"""Embree 4 through its C API: scenes over shared numpy buffers, rays cast from a numba loop.

embreex (the `render` extra) ships `libembree4` but its Python scene copies every vertex and
index in a Python-level loop and creates a new embree device (a thread pool) per scene; its cast
loop pays a Python-object round trip per call. Here one device serves the whole process, the
scene reads its own padded float32 / uint32 arrays in place (shared buffers, one numpy copy), and
`cast` is one numba loop over `rtcIntersect1` that releases the GIL, so a large batch is split over
one thread per available core (`PARALLEL_RAYS` rays or more per thread; on the background thread
one core fewer, the caller's). Scenes are built with
RTC_SCENE_FLAG_ROBUST, as embreex's are, so hits are the same ones (no ray slips through the crack between two triangles).

`library_path()` is None when no libembree4 can be found (an embreex built against a system
embree that is not on the loader path); `RayScene` then uses embreex's own scene.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os
import threading

import numpy as np

# embree4/rtcore_common.h, rtcore_buffer.h, rtcore_geometry.h, rtcore_scene.h
_GEOMETRY_TYPE_TRIANGLE = 0
_BUFFER_TYPE_INDEX, _BUFFER_TYPE_VERTEX = 0, 1
_FORMAT_UINT3, _FORMAT_FLOAT3 = 0x5003, 0x9003
_SCENE_FLAG_ROBUST = 1 << 2
# RTCRayHit, in 4-byte words: org xyz, tnear, dir xyz, time, tfar, mask, id, flags (RTCRay), then
# Ng xyz, u, v, primID, geomID, instID[1] (RTCHit; some builds add instPrimID[1]): 20 or 21 words
# aligned to 16 bytes; the kernel's ray buffer has room for 32.
_RAY_WORDS = 32

PARALLEL_RAYS = 4096  # rays per thread below which a cast stays on the calling thread

_lock = threading.Lock()
_state: dict = {}


@functools.cache
def library_path() -> str | None:
    """Path of the libembree4 to use: the one bundled with embreex's wheel, else the system one
    (looked up once per process: the glob costs ~70 us, a small scene's whole build)."""
    try:
        import embreex
    except ImportError:
        return None
    site = os.path.dirname(os.path.dirname(os.path.abspath(embreex.__file__)))
    bundled = sorted(glob.glob(os.path.join(site, "embreex.libs", "libembree4*.so*")))
    if bundled:
        return bundled[0]
    return ctypes.util.find_library("embree4")


def _api():
    """(ctypes library, device, cast kernel), made once per process."""
    with _lock:
        if _state.get("pid") != os.getpid():  # first call, or a forked child: TBB (embree's threads)
            _state.clear()  # is not documented fork-safe, so a child makes its own device
            path = library_path()
            if path is None:
                raise RuntimeError("no libembree4 found (embreex's wheel bundles one)")
            lib = ctypes.CDLL(path)
            vp, c_int, c_uint, c_size = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_size_t
            for name, restype, argtypes in (
                ("rtcNewDevice", vp, [ctypes.c_char_p]),
                ("rtcGetDeviceError", c_int, [vp]),
                ("rtcNewScene", vp, [vp]),
                ("rtcSetSceneFlags", None, [vp, c_int]),
                ("rtcNewGeometry", vp, [vp, c_int]),
                ("rtcSetSharedGeometryBuffer", None, [vp, c_int, c_uint, c_int, vp, c_size, c_size, c_size]),
                ("rtcCommitGeometry", None, [vp]),
                ("rtcAttachGeometry", c_uint, [vp, vp]),
                ("rtcReleaseGeometry", None, [vp]),
                ("rtcCommitScene", None, [vp]),
                ("rtcReleaseScene", None, [vp]),
            ):
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = restype, argtypes
            device = lib.rtcNewDevice(None)
            if not device:
                raise RuntimeError(f"rtcNewDevice failed (error {lib.rtcGetDeviceError(None)})")
            from partverse.render import embree_kernels

            _state.update(lib=lib, device=device, cast=embree_kernels.cast_kernel(path), pid=os.getpid(), pool=None)
        return _state["lib"], _state["device"], _state["cast"]


def _cores() -> int:
    """Cores a cast may use: those this process may run on, less the one its caller keeps busy
    when the cast runs on the background thread (the shape-diameter rays, cast while the caller
    builds the dual graph: splitting them too put three threads on two cores)."""
    from partverse.background import on_background_thread, usable_cores

    cores = usable_cores()
    return max(cores - 1, 1) if on_background_thread() else cores


def _pool():
    """The process's thread pool for casts (a forked child makes its own: threads do not survive a fork)."""
    _api()
    with _lock:
        if _state["pool"] is None:
            from concurrent.futures import ThreadPoolExecutor

            _state["pool"] = ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="partverse-embree")
        return _state["pool"]


class NativeScene:
    """A committed embree scene over (V, 3) float32 vertices and (F, 3) int faces (unit frame)."""

    def __init__(self, vertices32: np.ndarray, faces: np.ndarray):
        lib, device, self._cast = _api()
        self._lib = lib
        # embree reads a vertex buffer 16 bytes at a time: the last vertex needs 4 bytes after it
        self._vertices = np.zeros(3 * len(vertices32) + 1, np.float32)
        self._vertices[:-1] = vertices32.reshape(-1)
        self._faces = np.ascontiguousarray(faces, dtype=np.uint32)
        self._scene = lib.rtcNewScene(device)
        lib.rtcSetSceneFlags(self._scene, _SCENE_FLAG_ROBUST)
        geometry = lib.rtcNewGeometry(device, _GEOMETRY_TYPE_TRIANGLE)
        lib.rtcSetSharedGeometryBuffer(geometry, _BUFFER_TYPE_INDEX, 0, _FORMAT_UINT3, self._faces.ctypes.data, 0, 12,
                                       len(self._faces))
        lib.rtcSetSharedGeometryBuffer(geometry, _BUFFER_TYPE_VERTEX, 0, _FORMAT_FLOAT3, self._vertices.ctypes.data, 0,
                                       12, len(vertices32))
        lib.rtcCommitGeometry(geometry)
        lib.rtcAttachGeometry(self._scene, geometry)
        lib.rtcReleaseGeometry(geometry)  # the scene holds it now
        lib.rtcCommitScene(self._scene)
        error = lib.rtcGetDeviceError(device)
        if error:
            raise RuntimeError(f"embree could not build the scene (error {error})")

    def cast(self, origins32: np.ndarray, directions32: np.ndarray):
        """(N,) int64 primitive id (-1 = miss), (N,) float32 u, v and tfar (inf on a miss), in the
        scene's frame; origins / directions are (N, 3) float32."""
        n = len(origins32)
        prim = np.empty(n, np.int64)
        uvt = np.empty((n, 3), np.float32)
        origins32, directions32 = np.ascontiguousarray(origins32), np.ascontiguousarray(directions32)
        parts = min(_cores(), n // PARALLEL_RAYS)
        if parts < 2:
            self._cast(self._scene, origins32, directions32, prim, uvt)
            return prim, uvt[:, 0], uvt[:, 1], uvt[:, 2]
        bounds = np.linspace(0, n, parts + 1).astype(np.int64)
        jobs = [_pool().submit(self._cast, self._scene, origins32[s:e], directions32[s:e], prim[s:e], uvt[s:e])
                for s, e in zip(bounds[:-1], bounds[1:])]
        for job in jobs:
            job.result()
        return prim, uvt[:, 0], uvt[:, 1], uvt[:, 2]

    def __del__(self):
        scene, self._scene = getattr(self, "_scene", None), None
        if scene:
            self._lib.rtcReleaseScene(scene)
