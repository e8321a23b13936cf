"""The stage contract: one small unit that takes records and yields records.

A stage declares its parameters (dataclass fields, hashed into the output key), the optional
extras it needs, and its resources. Raising from `process` sends the record to quarantine with
the stage name, error class, message and traceback; the batch goes on.

Three kinds, run by the executors in this order:
- `SourceStage`: `discover()` lists the inputs (e.g. files), `process` turns one into an `Asset`
  in the content-addressed store. Always runs (the store makes it idempotent).
- `Stage`: one record in, one record out, per object. Its output is saved under a key made of
  the upstream key, the stage's name, version and parameters, and `fingerprint(uid)`; a re-run
  skips keys already saved.
- `SinkStage`: sees every object's final record once (e.g. writes the release).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator


@dataclass(frozen=True)
class Resources:
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    batch_size: int = 1
    actor: bool = False  # holds a model: runs as an actor pool on Ray, `setup` once per worker
    timeout_s: float | None = None  # per-object time limit for stages that can hang


class Stage:
    """Subclass as a dataclass; fields are the stage's parameters."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the code changes what the stage writes
    extras: ClassVar[tuple[str, ...]] = ()
    resources: ClassVar[Resources] = Resources()
    # parameters that are local paths (a str or a list of str): relative ones are made absolute
    # against the folder `partverse build` runs from, before the stages are built and the config saved
    path_params: ClassVar[tuple[str, ...]] = ()

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}

    def setup(self) -> None:
        """Load models or open clients; called once per worker before the first record."""

    def fingerprint(self, uid: str) -> str:
        """Inputs outside the record that the output depends on (e.g. a hash of an annotation
        file); part of the output key. Called on the driver."""
        return ""

    def process(self, record: Any) -> Iterator[Any]:
        """Yield exactly one record. Yielding the input object itself means "unchanged" (saved as
        a pointer to the upstream output, so do not modify it then); raise `Rejected` to refuse."""
        raise NotImplementedError(f"stage {type(self).__name__} does not define process()")


class Rejected(Exception):
    """Raised by a stage to refuse an object on purpose (e.g. a filter); the message is the reason."""


class SourceStage(Stage):
    """The first stage: lists inputs and ingests each one into the store."""

    def discover(self) -> list[Any]:
        raise NotImplementedError(f"stage {type(self).__name__} does not define discover()")


class SinkStage(Stage):
    """The last stage: consumes every object's final record (sorted by uid) at once."""

    def write(self, records: Iterable[Any], run_dir: Path, *, source_run: str) -> dict[str, Any]:
        """Write the outputs; return counts for the run summary."""
        raise NotImplementedError(f"stage {type(self).__name__} does not define write()")

    def is_current(self, run_dir: Path) -> bool:
        """Whether the outputs of the last successful write are still in place."""
        return True

    def process(self, record: Any) -> Iterator[Any]:
        raise TypeError(f"stage {self.name} is a sink: the executor calls write(), not process()")
