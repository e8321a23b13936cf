"""The stage contract: one small unit that takes records and yields records.

A stage declares its parameters (dataclass fields, hashed into the output key), the optional
extras it needs, and its resources. Raising from `process` sends the record to quarantine with
the stage name, error class, message and traceback; the batch goes on.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator


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

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}

    def setup(self) -> None:
        """Load models or open clients; called once per worker before the first record."""

    def process(self, record: Any) -> Iterator[Any]:
        raise NotImplementedError(f"stage {type(self).__name__} does not define process()")
