"""PyTorch datasets over a release: `PartDataset` (IterableDataset) and `PartDataLoader` (exact resume).

torch is imported only when these classes are first used (`partverse.data.dataset.PartDataset`
is built on attribute access), so `partverse.data` works without torch.

Splitting: consumer = rank * num_workers + worker; each consumer reads its own units (row groups),
so every sample appears exactly once per epoch over all workers x ranks. Ranks may receive
different numbers of samples (by up to a few row groups); DDP training loops that need equal
steps should stop at the minimum over ranks.

Resume: without DataLoader workers, `PartDataset.state_dict()` / `load_state_dict()` are exact.
With workers, iterate through `PartDataLoader(dataset, ...)`, whose `state_dict()` records how far
each worker's stream has been consumed by the batches actually returned to the training loop.
"""
from __future__ import annotations

from typing import Any

from partverse.data import manifest as mf
from partverse.data.stream import PartStream

_POS = "_pv_pos"
_CLASSES: dict[str, type] = {}


def _dist(rank: int | None, world_size: int | None) -> tuple[int, int]:
    import os

    import torch.distributed as dist

    if rank is None or world_size is None:
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if not 0 <= rank < world_size:
        raise mf.ReleaseError(f"rank={rank}, world_size={world_size}: need 0 <= rank < world_size")
    return rank, world_size


def _columns_to_torch(cols: dict[str, Any], mode: str) -> dict[str, Any]:
    """A loaded unit's columns -> tensors sharing their memory, once per unit. In part mode each
    column becomes a sequence of per-row values (`unbind` makes a unit's row views in one C++ call,
    ~0.45 us a row, where indexing a tensor per sample costs ~1 us), and `part_id`, an identifier
    like `uid`, a Python int (one tensor less per sample; collated, a batch of them is an int64
    tensor). Object mode keeps whole tensors (a sample slices its object's rows). Lists of arrays
    (face_indices) become lists of tensors; strings stay lists."""
    import numpy as np
    import torch

    out = {}
    for k, v in cols.items():
        if type(v) is np.ndarray and v.dtype.kind != "O":
            if mode == "part":
                out[k] = v.tolist() if k in _ID_COLUMNS else torch.from_numpy(v).unbind(0)
            else:
                out[k] = torch.from_numpy(v)
        elif isinstance(v, list) and np.ndarray in map(type, v):  # a C-level scan: string lists are long
            out[k] = [torch.from_numpy(x) if type(x) is np.ndarray else x for x in v]
        else:
            out[k] = v
    return out


_ID_COLUMNS = ("part_id",)


def _build() -> dict[str, type]:
    if _CLASSES:
        return _CLASSES
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class PartDataset(IterableDataset):
        """Parts (or objects) of a release as torch samples; see `PartStream` for columns and modes.

        The dataset is a resumable stream: `iter()` continues the current epoch where the last
        iteration stopped (from the start once an epoch is complete, then with epoch + 1);
        `set_epoch(e)` starts epoch e from its beginning.

        uri_or_dir: a release directory, or a repository root (local or s3://) with `version`.
        verify_pages: Parquet page CRC checks on read; by default on, except for the files of a
        directory `partverse pull` / `verify` checked by sha256 and unchanged since (see `PartStream`).
        Samples: dicts with `uid` (str), `part_id` (int; in object mode a (P,) int32 tensor) and the
        asked columns as tensors (points / normals (N, 3) float32, bbox_* (3,)); strings as str.
        """

        def __init__(self, uri_or_dir, version=None, columns=None, *, mode="part", shuffle=True, seed=0,
                     buffer_size=256, rank=None, world_size=None, verify_pages=None):
            self.stream = PartStream(uri_or_dir, version, columns, mode=mode, shuffle=shuffle, seed=seed,
                                     buffer_size=buffer_size, verify_pages=verify_pages)
            self.rank, self.world_size = _dist(rank, world_size)
            self.epoch = 0
            self._positions: dict[int, int] = {}  # consumer -> samples yielded this epoch
            self._consumers: int | None = None
            self._next_worker = 0  # DataLoader worker 0 takes this stream, so batches keep their round-robin order
            self._tag = False

        def set_epoch(self, epoch: int) -> None:
            self.epoch, self._positions, self._consumers, self._next_worker = int(epoch), {}, None, 0

        def __len__(self) -> int:
            return len(self.stream)

        def _consumer(self) -> tuple[int, int]:
            info = get_worker_info()
            w, nw = ((info.id + self._next_worker) % info.num_workers, info.num_workers) if info else (0, 1)
            consumers = self.world_size * nw
            if self._positions and self._consumers not in (None, consumers):
                raise mf.ReleaseError(
                    f"resume state was saved with {self._consumers} consumers (workers x ranks), now {consumers}: "
                    "resume with the same num_workers and world size"
                )
            return self.rank * nw + w, consumers

        def __iter__(self):
            consumer, consumers = self._consumer()
            self._consumers = consumers
            k = self._positions.get(consumer, 0)
            for sample in self.stream.iterate(self.epoch, consumer, consumers, k, convert=_columns_to_torch):
                k += 1
                if self._tag:
                    sample[_POS] = torch.tensor([consumer, k], dtype=torch.int64)
                self._positions[consumer] = k
                yield sample
            if get_worker_info() is None:  # in-process: the epoch is over
                self.set_epoch(self.epoch + 1)

        def state_dict(self) -> dict[str, Any]:
            return {"release": self.stream.loc.version, "seed": self.stream.seed, "mode": self.stream.mode,
                    "epoch": self.epoch, "consumers": self._consumers, "next_worker": self._next_worker,
                    "positions": {str(c): n for c, n in self._positions.items()}}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            for key, mine in (("release", self.stream.loc.version), ("seed", self.stream.seed), ("mode", self.stream.mode)):
                if state.get(key) != mine:
                    raise mf.ReleaseError(f"resume state has {key}={state.get(key)!r}, this dataset has {mine!r}")
            self.epoch = int(state["epoch"])
            self._positions = {int(c): int(n) for c, n in state["positions"].items()}
            self._consumers = state.get("consumers")
            self._next_worker = int(state.get("next_worker", 0))

    class PartDataLoader(DataLoader):
        """A DataLoader over a PartDataset whose `state_dict()` resumes exactly, with any num_workers.

        Batches are dicts (default collate); in object mode use batch_size=None or a collate_fn
        that packs parts. Each `iter()` runs one epoch, continuing a restored one where it stopped.
        """

        def __init__(self, dataset: PartDataset, **kwargs):
            if kwargs.get("persistent_workers"):
                raise mf.ReleaseError("PartDataLoader: persistent_workers=True would keep a stale epoch in the workers")
            super().__init__(dataset, **kwargs)
            dataset._tag = True
            self._state = dataset.state_dict()

        def __iter__(self):
            ds = self.dataset
            ds.load_state_dict(self._state)
            for batch in super().__iter__():
                self._record(batch.pop(_POS))
                yield batch
            ds.set_epoch(self._state["epoch"] + 1)
            self._state = ds.state_dict()

        def _record(self, pos) -> None:
            pos = pos.reshape(-1, 2)
            positions = self._state["positions"]
            for consumer, k in zip(pos[:, 0].tolist(), pos[:, 1].tolist()):
                positions[str(consumer)] = max(positions.get(str(consumer), 0), k)
            workers = max(1, self.num_workers)
            self._state["consumers"] = self.dataset.world_size * workers
            # in-order DataLoader: the next batch comes from the worker after this one
            self._state["next_worker"] = (int(pos[-1, 0]) - self.dataset.rank * workers + 1) % workers

        def state_dict(self) -> dict[str, Any]:
            return {**self._state, "positions": dict(self._state["positions"])}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.dataset.load_state_dict(state)
            self._state = self.dataset.state_dict()

    for cls in (PartDataset, PartDataLoader):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    _CLASSES.update(PartDataset=PartDataset, PartDataLoader=PartDataLoader)
    return _CLASSES


def __getattr__(name: str):
    if name in ("PartDataset", "PartDataLoader"):
        return _build()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
