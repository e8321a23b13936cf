"""The ray-casting loop over embree's `rtcIntersect1`, compiled with numba.

`rtcIntersect1` is bound by symbol name (numba `ExternalFunction`) from the libembree4 that
`embree_native` loads into the process's symbol table, so the compiled loop is cached on disk
like the other kernels (a ctypes function pointer would make it uncacheable). One 16-byte aligned
RTCRayHit is filled per ray, intersected, and its primitive id, u, v and tfar copied out.
"""
from __future__ import annotations

import functools


@functools.cache
def cast_kernel(library: str):
    """The compiled `cast(scene, origins, directions, prim, uvt)`, with `library` (a path to
    libembree4) loaded so its `rtcIntersect1` resolves."""
    import llvmlite.binding as llvm
    import numba
    import numpy as np
    from numba import types

    from partverse.render.embree_native import _RAY_WORDS

    llvm.load_library_permanently(library)
    intersect1 = types.ExternalFunction("rtcIntersect1", types.void(types.voidptr, types.voidptr, types.voidptr))
    invalid = np.uint32(0xFFFFFFFF)

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def cast(scene, origins, directions, prim, uvt):
        """origins, directions (N, 3) float32 -> prim (N,) int64 (-1 = miss), uvt (N, 3) float32
        (u, v, tfar; tfar = inf on a miss)."""
        storage = np.empty(_RAY_WORDS + 4, np.float32)
        skip = ((16 - storage.ctypes.data % 16) % 16) // 4  # RTCRayHit must be 16-byte aligned
        ray = storage[skip: skip + _RAY_WORDS]
        words = ray.view(np.uint32)
        address = ray.ctypes.data
        for i in range(origins.shape[0]):
            ray[0], ray[1], ray[2], ray[3] = origins[i, 0], origins[i, 1], origins[i, 2], 0.0
            ray[4], ray[5], ray[6], ray[7] = directions[i, 0], directions[i, 1], directions[i, 2], 0.0
            ray[8] = np.inf
            words[9], words[10], words[11] = invalid, 0, 0  # mask (all), id, flags
            words[17], words[18] = invalid, invalid  # primID, geomID: none yet
            intersect1(scene, address, 0)
            if words[18] == invalid:
                prim[i] = -1
                uvt[i, 0], uvt[i, 1], uvt[i, 2] = 0.0, 0.0, np.inf
            else:
                prim[i] = words[17]
                uvt[i, 0], uvt[i, 1], uvt[i, 2] = ray[15], ray[16], ray[8]

    return cast
