"""Loading meshes with the artist's structure kept: `load(path) -> Mesh`.

A registry maps file extensions to loader functions (`register`); each loader returns a
`partverse.records.Mesh` or raises `MeshLoadError("PATH: reason")`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from partverse.errors import MeshLoadError
from partverse.records import Mesh

Loader = Callable[[Path], Mesh]
_LOADERS: dict[str, Loader] = {}


def register(*extensions: str) -> Callable[[Loader], Loader]:
    """Decorator: register a loader for file extensions (lower case, with the dot)."""

    def wrap(fn: Loader) -> Loader:
        for ext in extensions:
            _LOADERS[ext.lower()] = fn
        return fn

    return wrap


def supported_extensions() -> list[str]:
    _import_loaders()
    return sorted(_LOADERS)


def mesh_files(folder: str | Path, recursive: bool = True) -> list[Path]:
    """The files of a supported format in `folder` (and, with `recursive`, in its subfolders:
    an OBJ + MTL or a glTF + BIN asset comes as a folder of its own), sorted by path."""
    _import_loaders()
    found = Path(folder).rglob("*") if recursive else Path(folder).iterdir()
    return sorted(p for p in found if p.suffix.lower() in _LOADERS and p.is_file())


def load(path: str | Path) -> Mesh:
    """Load one mesh file. Raises MeshLoadError naming the file and the problem."""
    path = Path(path)
    _import_loaders()
    if path.is_dir():
        inside = [q.name for q in mesh_files(path, recursive=False)]
        hint = f": its mesh files are {', '.join(inside[:5])}{', ...' if len(inside) > 5 else ''}" if inside else \
            f" with no mesh file in it ({', '.join(sorted(_LOADERS))})"
        raise MeshLoadError(path, f"a directory, not a mesh file{hint}")
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise MeshLoadError(path, f"unsupported format {path.suffix!r}; supported: {', '.join(sorted(_LOADERS))}")
    if not path.is_file():
        raise MeshLoadError(path, "no such file")
    return loader(path)


def _import_loaders() -> None:
    # the format modules register themselves on import
    from partverse.io import formats  # noqa: F401
