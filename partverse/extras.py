"""Import optional dependencies inside the functions that need them, with an error naming the extra."""
from __future__ import annotations

import importlib
from types import ModuleType

from partverse.errors import MissingExtraError


def require(module: str, extra: str) -> ModuleType:
    """Import `module` or raise MissingExtraError telling which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module!r} is needed here but is not installed: pip install 'partverse[{extra}]'"
        ) from exc
