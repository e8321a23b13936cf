"""Release shards: schemas, writer, reader, manifests, pull, and the PyTorch dataset.

`PartDataset` / `PartDataLoader` import torch only when first used.
"""
from __future__ import annotations


def __getattr__(name: str):
    if name in ("PartDataset", "PartDataLoader"):
        from partverse.data import dataset

        return getattr(dataset, name)
    if name == "write_release":
        from partverse.data.writer import write_release

        return write_release
    raise AttributeError(f"module 'partverse.data' has no attribute {name!r}")
