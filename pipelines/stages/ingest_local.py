"""ingest_local: files or folders -> Assets in the content-addressed store (sha256, duplicates found).

A folder is walked recursively for mesh files; each mesh file is one object, stored with the
sidecar files it references (a .gltf's buffers and images, an .obj's .mtl and its textures).
The object's uid is the first 32 hex digits of its content hash.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote

from partverse.errors import ConfigError
from partverse.io.store import ContentStore
from partverse.records import Asset
from pipelines.records import SourceFile
from pipelines.stage import Resources, SourceStage

MESH_EXTENSIONS = (".glb", ".gltf", ".obj", ".ply", ".off", ".stl", ".fbx")


def gltf_sidecars(path: Path) -> list[str]:
    """Relative URIs of a .gltf's external buffers and images (unparsable JSON: none)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    uris = []
    for key in ("buffers", "images"):
        items = doc.get(key)
        for item in items if isinstance(items, list) else []:
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str) and uri and not uri.startswith("data:") and "://" not in uri:
                uris.append(unquote(uri))
    return uris


_MAP_LINE = re.compile(r"^\s*(map_\w+|bump|disp|decal|norm|refl)\s+(.+)$", re.IGNORECASE)


def obj_sidecars(path: Path) -> list[str]:
    """Relative paths of an .obj's material libraries and the textures they name."""
    text = path.read_text(encoding="utf-8", errors="replace")
    out = []
    for line in text.splitlines():
        if line.startswith("mtllib "):
            for name in line.split()[1:]:
                out.append(name)
                mtl = path.parent / name
                if mtl.is_file():
                    for mline in mtl.read_text(encoding="utf-8", errors="replace").splitlines():
                        m = _MAP_LINE.match(mline)
                        if m:
                            out.append(m.group(2).split()[-1])  # options come before the file name
    return out


def find_sidecars(path: Path) -> dict[str, str]:
    """Existing sidecar files of `path` inside its folder: relative path -> absolute path."""
    ext = path.suffix.lower()
    rels = gltf_sidecars(path) if ext == ".gltf" else obj_sidecars(path) if ext == ".obj" else []
    found = {}
    base = path.parent.resolve()
    for rel in rels:
        target = (base / rel.replace("\\", "/")).resolve()
        if target.is_file() and target.is_relative_to(base) and target != path.resolve():
            found[str(target.relative_to(base))] = str(target)
    return found


@dataclass
class IngestLocal(SourceStage):
    """paths: files or folders; source/license: recorded on every Asset."""

    name = "ingest_local"
    version = "1"
    resources = Resources(num_cpus=1)
    path_params = ("paths", "store_dir")

    paths: list[str] = field(default_factory=list)
    source: str = "local"
    license: str | None = None
    store_dir: str | None = None  # filled from the build config's store_dir
    extensions: list[str] = field(default_factory=lambda: list(MESH_EXTENSIONS))

    def __post_init__(self):
        if not self.paths:
            raise ConfigError("paths: give at least one file or folder to ingest")

    def discover(self) -> list[SourceFile]:
        exts = {e.lower() for e in self.extensions}
        files: list[Path] = []
        for p in map(Path, self.paths):
            p = p.expanduser().resolve()
            if p.is_dir():
                files += [f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in exts]
            elif p.is_file():
                files.append(p)
            else:
                raise ConfigError(f"ingest_local.paths: {p}: no such file or folder")
        return [SourceFile(path=str(f), source=self.source, source_uri=str(f), license=self.license)
                for f in dict.fromkeys(files)]

    def process(self, record: SourceFile) -> Iterator[Asset]:
        if self.store_dir is None:
            raise ConfigError("ingest_local.store_dir: not set (the build fills it from the config's store_dir)")
        path = Path(record.path)
        sidecars = {rel: Path(p) for rel, p in find_sidecars(path).items()}
        entry = ContentStore(self.store_dir).put_file(path, sidecars)
        yield Asset(
            uid=entry.sha256[:32],
            source=record.source,
            source_uri=record.source_uri,
            sha256=entry.sha256,
            license=record.license,
            path=str(entry.path),
            metadata={"file_name": path.name, "sidecars": sorted(sidecars), **record.metadata},
        )
