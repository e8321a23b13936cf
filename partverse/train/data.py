"""What the trainer reads: objects as lists of parts, in the object's [-1, 1] frame.

Sources: `synthetic_objects` (primitives in given boxes), `objects_from_assets` (mesh files split per
geometry) and `objects_from_release` (a release read through `partverse.data.PartDataset` in object
mode). Every source yields `TrainObject`s; nothing else in the trainer knows where data came from.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from partverse.errors import ConfigError, PartverseError
from partverse.train.occupancy import sample_surface

NUM_SURFACE = 4096  # surface samples kept per part
log = logging.getLogger(__name__)


@dataclass
class TrainPart:
    """points / normals (S, 3) float32 on the surface; bbox_min / bbox_max (3,); vertices (V, 3) and
    faces (F, 3) of the part mesh (for occupancy labels; may be None when only points are known)."""

    points: np.ndarray
    normals: np.ndarray
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    name: str = ""


@dataclass
class TrainObject:
    uid: str
    parts: list[TrainPart]
    captions: list[str] = field(default_factory=list)  # brief caption per part, or empty
    caption: str = ""  # the whole object's caption (the DiT's global slot)


def part_from_mesh(vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator, name: str = "",
                   samples: int = NUM_SURFACE) -> TrainPart:
    pts, nrm = sample_surface(vertices, faces, samples, rng)
    v = np.asarray(vertices, np.float32)
    return TrainPart(pts, nrm, v.min(0), v.max(0), v, np.asarray(faces, np.int64), name)


def mesh_area(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Surface area of (V, 3) vertices / (F, 3) faces (`geometry.sampling.face_areas_normals`)."""
    from partverse.geometry.sampling import face_areas_normals

    return float(face_areas_normals(vertices, faces)[0].sum())


def has_surface(part: TrainPart) -> bool:
    """False for a part without surface: a mesh of zero area (all its faces degenerate, e.g. collapsed
    to a point), or, without a mesh, all-zero normals (how a release stores such a part: `export_parts`)."""
    if part.vertices is not None and part.faces is not None and len(part.faces):
        return mesh_area(part.vertices, part.faces) > 0
    return bool(np.any(part.normals))


def without_surfaceless_parts(objects: Iterable[TrainObject]) -> list[TrainObject]:
    """The objects without their parts that have no surface (nothing to sample, no inside to label),
    each named in a warning; their captions go with them, and an object left without parts is left out."""
    kept = []
    for obj in objects:
        keep = [has_surface(p) for p in obj.parts]
        for p, ok in zip(obj.parts, keep):
            if not ok:
                log.warning("%s part %s: no surface (zero area, %s faces): left out", obj.uid,
                            p.name or "?", "?" if p.faces is None else len(p.faces))
        if all(keep):
            kept.append(obj)
            continue
        if not any(keep):
            log.warning("%s: no part has a surface: object left out", obj.uid)
            continue
        captions = [c for c, ok in zip(obj.captions, keep) if ok] if len(obj.captions) == len(keep) else obj.captions
        kept.append(TrainObject(obj.uid, [p for p, ok in zip(obj.parts, keep) if ok], captions, obj.caption))
    return kept


def normalize_object(obj: TrainObject, extent: float = 0.95) -> TrainObject:
    """Scale / translate all parts together so the object's box spans [-extent, extent] on its
    longest side (PartCrafter's convention; parts stay in the object frame)."""
    lo = np.min([p.bbox_min for p in obj.parts], axis=0)
    hi = np.max([p.bbox_max for p in obj.parts], axis=0)
    center, scale = (lo + hi) / 2, 2 * extent / max(float(np.max(hi - lo)), 1e-8)
    for p in obj.parts:
        p.points = ((p.points - center) * scale).astype(np.float32)
        p.bbox_min = ((p.bbox_min - center) * scale).astype(np.float32)
        p.bbox_max = ((p.bbox_max - center) * scale).astype(np.float32)
        if p.vertices is not None:
            p.vertices = ((p.vertices - center) * scale).astype(np.float32)
    return obj


_PRIMITIVES = ("box", "sphere", "cylinder")


def _primitive(kind: int, lo: np.ndarray, hi: np.ndarray):
    import trimesh

    if kind == 0:
        mesh = trimesh.creation.box(extents=[1, 1, 1])
    elif kind == 1:
        mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    else:
        mesh = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=24)
    v = np.asarray(mesh.vertices) * (hi - lo) + (hi + lo) / 2  # unit primitive -> fills the box
    return v, np.asarray(mesh.faces)


def synthetic_objects(count: int, seed: int = 0, min_parts: int = 2, max_parts: int = 4,
                      samples: int = NUM_SURFACE) -> list[TrainObject]:
    """Objects of 2-4 primitives (box / sphere / cylinder), each filling its own box; boxes are
    stacked along a random axis so they do not overlap."""
    rng = np.random.default_rng(seed)
    objects = []
    for i in range(count):
        n = int(rng.integers(min_parts, max_parts + 1))
        axis = int(rng.integers(3))
        cuts = np.sort(rng.uniform(-0.9, 0.9, n - 1))
        edges = np.concatenate([[-0.9], cuts, [0.9]])
        parts, kinds = [], []
        for k in range(n):
            lo, hi = rng.uniform(-0.9, -0.2, 3), rng.uniform(0.2, 0.9, 3)
            lo[axis], hi[axis] = edges[k] + 0.02, max(edges[k + 1] - 0.02, edges[k] + 0.1)
            kind = int(rng.integers(3))
            v, f = _primitive(kind, lo, hi)
            parts.append(part_from_mesh(v, f, rng, name=f"part{k}", samples=samples))
            kinds.append(_PRIMITIVES[kind])
        objects.append(TrainObject(uid=f"synthetic-{seed}-{i}", parts=parts, captions=[f"a {k}" for k in kinds],
                                   caption=f"an object of {n} parts: " + ", ".join(kinds)))
    return objects


def merge_to(meshes: list[tuple[np.ndarray, np.ndarray]], max_parts: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Merge the smallest part (by surface area) into the part whose box centre is nearest until at
    most `max_parts` remain (AutoPartGen merges artist meshes the same way, to a bound)."""
    import trimesh

    meshes = list(meshes)
    while len(meshes) > max_parts:
        areas = [trimesh.Trimesh(v, f, process=False).area for v, f in meshes]
        small = int(np.argmin(areas))
        v, f = meshes.pop(small)
        centres = np.array([(mv.min(0) + mv.max(0)) / 2 for mv, _ in meshes])
        target = int(np.argmin(np.linalg.norm(centres - (v.min(0) + v.max(0)) / 2, axis=1)))
        tv, tf = meshes[target]
        meshes[target] = (np.vstack([tv, v]), np.vstack([tf, f + len(tv)]))
    return meshes


def object_from_file(path: str | Path, max_parts: int, seed: int = 0, samples: int = NUM_SURFACE) -> TrainObject:
    """A mesh file split per geometry instance (transforms baked) -> a normalised TrainObject."""
    import trimesh

    try:
        loaded = trimesh.load(str(path), force="scene", process=False)
    except Exception as exc:  # trimesh raises many types on bad files
        raise PartverseError(f"{path}: cannot load as a mesh: {exc}") from None
    meshes = [(np.asarray(g.vertices, np.float64), np.asarray(g.faces, np.int64))
              for g in loaded.dump(concatenate=False) if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    if not meshes:
        raise PartverseError(f"{path}: no triangle geometry")
    flat = [k for k, (v, f) in enumerate(meshes) if not mesh_area(v, f) > 0]
    if flat:
        log.warning("%s: %d geometries without surface (zero area) left out", path, len(flat))
        meshes = [m for k, m in enumerate(meshes) if k not in flat]
    if not meshes:
        raise PartverseError(f"{path}: no geometry has a surface (every triangle has zero area)")
    rng = np.random.default_rng(seed)
    parts = [part_from_mesh(v, f, rng, name=f"part{k}", samples=samples)
             for k, (v, f) in enumerate(merge_to(meshes, max_parts))]
    return normalize_object(TrainObject(uid=Path(path).stem, parts=parts))


def objects_from_assets(paths: Iterable[str | Path], max_parts: int, seed: int = 0) -> list[TrainObject]:
    return [object_from_file(p, max_parts, seed) for p in paths]


def _glb_mesh(glb: bytes) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    import trimesh

    if not glb:
        return None, None
    mesh = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh", process=False)
    return np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.int64)


RELEASE_COLUMNS = ["points", "normals", "bbox_min", "bbox_max", "glb", "name"]


def objects_from_release(path: str | Path, limit: int | None = None, seed: int = 0) -> Iterator[TrainObject]:
    """Objects of a release read through `partverse.data.PartDataset` in object mode (one sample per
    object: points / normals (P, N, 3), bbox_min / bbox_max (P, 3), glb and name lists), in release
    order (shuffle off: the trainer draws its own batches), without parts that have no surface
    (`without_surfaceless_parts`), normalised to the [-1, 1] frame."""
    from partverse.data import PartDataset

    dataset = PartDataset(path, mode="object", columns=RELEASE_COLUMNS, shuffle=False, seed=seed, rank=0, world_size=1)
    captions = release_captions(path)
    for i, sample in enumerate(dataset):
        if limit is not None and i >= limit:
            break
        for obj in without_surfaceless_parts([release_object(sample, captions)]):
            yield normalize_object(obj)


def release_captions(path: str | Path) -> dict[tuple[str, int], str]:
    """The release's `captions` table as {(uid, part_id): brief caption}; part_id -1 is the object.
    Rows whose status is not "ok" are left out; a release without the table gives {}."""
    from partverse.data.reader import read_manifest, read_release_table

    if "captions" not in read_manifest(path).get("tables", {}):
        return {}
    rows = read_release_table(path, "captions", ["uid", "part_id", "brief", "status"]).to_pylist()
    return {(r["uid"], int(r["part_id"])): r["brief"] or "" for r in rows if r.get("status") in (None, "ok")}


def release_object(sample: dict, captions: dict[tuple[str, int], str] | None = None) -> TrainObject:
    """One object-mode PartDataset sample -> TrainObject (part meshes from each part's GLB bytes;
    brief captions per part and for the object from `captions`, see `release_captions`)."""
    arr = lambda key: np.asarray(sample[key], dtype=np.float32)  # noqa: E731  (tensor or array)
    points, normals, lo, hi = arr("points"), arr("normals"), arr("bbox_min"), arr("bbox_max")
    names = list(sample.get("name") or [str(int(i)) for i in np.asarray(sample["part_id"])])
    parts = []
    for k in range(len(points)):
        v, f = _glb_mesh(sample["glb"][k] if "glb" in sample else b"")
        parts.append(TrainPart(points[k], normals[k], lo[k], hi[k], v, f, names[k]))
    uid, captions = str(sample["uid"]), captions or {}
    ids = [int(i) for i in np.asarray(sample["part_id"]).reshape(-1)] if "part_id" in sample else []
    part_captions = [captions.get((uid, i), "") for i in ids] if len(ids) == len(parts) else []
    return TrainObject(uid=uid, parts=parts, captions=part_captions, caption=captions.get((uid, -1), ""))


def load_objects(cfg) -> list[TrainObject]:
    """The objects a DataConfig names (at most cfg.num_objects)."""
    if cfg.source == "synthetic":
        return synthetic_objects(cfg.num_objects, cfg.seed, max_parts=min(4, cfg.max_parts))
    if cfg.source == "assets":
        root = Path(cfg.path)
        files = sorted(root.iterdir()) if root.is_dir() else [Path(p) for p in cfg.path.split(",")]
        files = [f for f in files if f.suffix.lower() in (".glb", ".gltf", ".obj", ".ply", ".off", ".stl")]
        if not files:
            raise ConfigError(f"data.path={cfg.path!r}: no mesh files found")
        return objects_from_assets(files[: cfg.num_objects], cfg.max_parts, cfg.seed)
    objects = list(objects_from_release(cfg.path, cfg.num_objects, cfg.seed))
    if not objects:
        raise ConfigError(f"data.path={cfg.path!r}: no object with a part that has a surface")
    return objects
