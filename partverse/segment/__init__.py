"""Over-segmentation methods, registered by name: `segment(mesh, method, **params) -> (F,) int32`.

Add a method with `METHODS["name"] = fn` where `fn(mesh, **params) -> (F,) int32 labels 0..K-1`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from partverse.errors import ConfigError
from partverse.records import Mesh
from partverse.segment.artist import artist_segmentation

Method = Callable[..., np.ndarray]
METHODS: dict[str, Method] = {"artist": artist_segmentation}


def segment(mesh: Mesh, method: str = "artist", **params) -> np.ndarray:
    """(F,) int32 per-face labels of `mesh` by the registered `method`."""
    fn = METHODS.get(method)
    if fn is None:
        raise ConfigError(f"segmentation method {method!r} is unknown; available: {', '.join(sorted(METHODS))}")
    try:
        labels = fn(mesh, **params)
    except TypeError as exc:
        raise ConfigError(f"segmentation method {method!r}: bad parameters {sorted(params)}: {exc}") from exc
    return np.asarray(labels, dtype=np.int32)


def _register_builtin_methods() -> None:
    # issue 4: geometry, SAM-2 lifting (Samesh) and their combination with the artist prior
    from partverse.segment.combine import auto_segmentation, geometric_segmentation, samesh_segmentation

    METHODS.setdefault("geometric", geometric_segmentation)
    METHODS.setdefault("auto", auto_segmentation)
    METHODS.setdefault("samesh", samesh_segmentation)


_register_builtin_methods()
