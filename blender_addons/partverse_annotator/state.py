"""The add-on's runtime state (one open task per Blender session), shared by operators and panels."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .core.session import TaskSession
from .core.worker import Worker


@dataclass
class State:
    worker: Worker | None = None
    session: TaskSession | None = None
    object_name: str = "PartVerse Task"
    message: str = ""
    level: str = "INFO"  # INFO / WARNING / ERROR
    stale: bool = False  # the server refused a write as stale: the panel offers Reload
    last_renew: float = field(default_factory=time.monotonic)
    centroids: object = None  # cached (F, 3) face centres for mirror selection


STATE = State()


def say(message: str, level: str = "INFO") -> None:
    STATE.message, STATE.level = message, level
    print(f"partverse annotator [{level}]: {message}")
