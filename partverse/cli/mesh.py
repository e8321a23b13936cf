"""`partverse inspect | segment | parts`: load and validate a mesh, over-segment it, export its parts."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from partverse.errors import ConfigError, MeshLoadError


def register(app: typer.Typer) -> None:
    app.command()(inspect)
    app.command()(segment)
    app.command()(parts)


def _load_or_exit(path: Path):
    from partverse.io import load

    try:
        return load(path)
    except MeshLoadError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)


def inspect(
    path: Path = typer.Argument(..., help="mesh file (GLB, glTF, OBJ, PLY, OFF, STL, FBX)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Load and validate a mesh; print faces, vertices, artist parts, materials, textures, warnings.
    Exit code 2 with one line 'PATH: reason' on stderr when the file is refused."""
    mesh = _load_or_exit(path)
    textures = sorted({slot for m in mesh.materials for slot, img in (
        ("base_color", m.base_color_texture), ("metallic_roughness", m.metallic_roughness_texture),
        ("normal", m.normal_texture), ("emissive", m.emissive_texture)) if img is not None})
    info = {
        "path": str(path),
        "faces": mesh.num_faces,
        "vertices": mesh.num_vertices,
        "artist_parts": [p.name for p in mesh.artist_parts],
        "materials": [m.name for m in mesh.materials],
        "textured": mesh.textured,
        "textures": textures,
        "warnings": list(mesh.warnings),
    }
    if as_json:
        json.dump(info, sys.stdout)
        sys.stdout.write("\n")
        return
    for key, value in info.items():
        typer.echo(f"{key}: {value}")


def segment(
    path: Path = typer.Argument(..., help="mesh file"),
    method: str = typer.Option("artist", "--method", help="segmentation method: artist, geometric, samesh, auto (see below), or one added to partverse.segment.METHODS"),
    out: Path = typer.Option(..., "--out", help="output .npy: one int32 label per face, in load order"),
    max_parts: int = typer.Option(None, "--max-parts", help="artist: merge smallest segments until at most this many remain"),
    granularity: float = typer.Option(None, "--granularity", help="geometric / auto: > 0 (default 1), higher gives more segments (each refining the coarser); samesh: its SAM-2 segments merged at the same threshold (default: none merged)"),
    num_parts: int = typer.Option(None, "--num-parts", help="target number of segments (artist: same as --max-parts)"),
    sam2: str = typer.Option(None, "--sam2", help="SAM-2 model (local path or hub id): needed by samesh, used by auto when given"),
    seed: int = typer.Option(0, "--seed", help="geometric / auto / samesh's merges: seed of the superfaces (deterministic given it; SAM-2's prompts are a fixed grid, so the lifted segments need none)"),
    sam2_modalities: str = typer.Option(None, "--sam2-modalities", help="SAM-2 input images, comma-separated from normals,sdf,shaded; masks of all are pooled (default normals,sdf)"),
    sam2_graph_cut: bool = typer.Option(True, "--sam2-graph-cut/--no-sam2-graph-cut", help="repartition the lifted SAM-2 labels by an alpha-expansion graph cut"),
    sam2_device: str = typer.Option("auto", "--sam2-device", help="auto (GPU when there is one), cpu, cuda or cuda:N"),
    sam2_resolution: int = typer.Option(512, "--sam2-resolution", help="pixels per side of the 12 rendered views"),
    sam2_points: int = typer.Option(16, "--sam2-points", help="SAM-2 prompt grid: this many points per side (foreground ones kept)"),
) -> None:
    """Over-segment a mesh and write one int32 label per face (face order of `partverse inspect`).

    Methods: artist (the artist's parts split into connected pieces), geometric (creases, no
    weights), samesh (SAM-2 masks on 12 views lifted to faces; needs --sam2), auto (artist pieces
    refined by geometry, plus SAM-2 when --sam2 is given; never merges across artist pieces unless
    --num-parts asks for fewer segments than there are pieces)."""
    import numpy as np

    from partverse.errors import PartverseError
    from partverse.segment import segment as run

    if out.is_dir():
        typer.echo(f"{out}: --out is a directory; give the .npy file to write", err=True)
        raise typer.Exit(2)
    mesh = _load_or_exit(path)
    try:
        params = _segment_params(method, max_parts, granularity, num_parts, sam2, seed)
        if params.get("sam2") is not None:
            params.update(_sam2_params(sam2_modalities, sam2_graph_cut, sam2_device, sam2_resolution, sam2_points))
        labels = run(mesh, method, **params)
    except PartverseError as exc:
        typer.echo(f"{path}: {exc}", err=True)
        raise typer.Exit(2)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npy")
    try:
        np.save(tmp, labels)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        typer.echo(f"{out}: could not write the labels: {exc}", err=True)
        raise typer.Exit(2)
    count = int(labels.max()) + 1
    asked = num_parts if num_parts is not None else max_parts if method == "artist" else None
    short = f" (fewer than the {asked} asked for: the most {method} gives on this mesh)" if asked and count < asked else ""
    typer.echo(f"{out}: {len(labels)} faces, {count} segments{short}")


def _segment_params(method, max_parts, granularity, num_parts, sam2, seed) -> dict:
    if method == "artist":
        if granularity is not None:
            raise ConfigError("--granularity is not used by --method artist (its segments are the artist's pieces); "
                              "use --max-parts / --num-parts to merge them")
        limit = max_parts if max_parts is not None else num_parts
        return {"max_parts": limit} if limit is not None else {}
    if max_parts is not None:
        raise ConfigError(f"--max-parts is for --method artist; use --num-parts for {method}")
    params = {"num_parts": num_parts, "seed": seed}
    if granularity is not None:
        params["granularity"] = granularity
    if sam2 is not None or method == "samesh":
        params["sam2"] = sam2
    return params


def _sam2_params(modalities, graph_cut, device, resolution, points) -> dict:
    from partverse.segment.sam2_masks import MaskConfig

    params = dict(graph_cut=graph_cut, device=device, resolution=resolution, mask_config=MaskConfig(points_per_side=points))
    return params if modalities is None else {**params, "modalities": modalities}


def parts(
    path: Path = typer.Argument(..., help="mesh file"),
    labels: Path = typer.Option(..., "--labels", help=".npy of per-face int labels"),
    out: Path = typer.Option(..., "--out", help="output directory for <part>.glb and parts.json"),
    num_samples: int = typer.Option(4096, "--samples", help="surface samples per part"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Write one textured GLB per label and parts.json (names, face counts, boxes in the normalized frame)."""
    import numpy as np

    from partverse.geometry.normalize import normalize
    from partverse.geometry.parts import export_parts, mesh_to_glb

    mesh = normalize(_load_or_exit(path))
    face_labels = np.load(labels)
    if face_labels.shape != (mesh.num_faces,):
        typer.echo(f"{labels}: {face_labels.shape[0] if face_labels.ndim else 0} labels for {mesh.num_faces} faces of {path}", err=True)
        raise typer.Exit(2)
    exported = export_parts(mesh, face_labels, num_samples=num_samples, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for part in exported:
        (out / f"{part.name}.glb").write_bytes(part.glb)
        entries.append({"part_id": part.part_id, "name": part.name, "file": f"{part.name}.glb",
                        "faces": int(len(part.face_indices)), "bbox_min": part.bbox_min.tolist(),
                        "bbox_max": part.bbox_max.tolist()})
    (out / "normalized.glb").write_bytes(mesh_to_glb(mesh))
    manifest = {"source": str(path), "uid": exported[0].uid if exported else path.stem,
                "frame": "normalized [-0.5, 0.5]^3", "transform_to_file_frame": mesh.transform.tolist(),
                "parts": entries}
    tmp = out / "parts.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(out / "parts.json")
    typer.echo(f"{out}: {len(exported)} parts")
