"""Errors partverse raises on purpose. Each names its input and the problem."""
from __future__ import annotations


class PartverseError(Exception):
    """Base class for every error partverse raises deliberately."""


class MeshLoadError(PartverseError):
    """A file could not be loaded as a mesh; `str()` is "PATH: reason"."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class MissingExtraError(PartverseError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class ConfigError(PartverseError, ValueError):
    """A configuration value is invalid; the message names the field, the value and what is allowed."""
