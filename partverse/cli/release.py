"""Release commands: `release create`, `pull`, `verify`, `releases`, `diff`, `export/import partverse-layout`."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from partverse.errors import PartverseError

release_app = typer.Typer(help="Publish immutable versioned releases.", no_args_is_help=True)
export_app = typer.Typer(help="Export a release to other dataset layouts.", no_args_is_help=True)
import_app = typer.Typer(help="Import other dataset layouts as a release.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
    app.command("pull")(pull)
    app.command("verify")(verify)
    app.command("releases")(releases)
    app.command("diff")(diff)
    app.add_typer(export_app, name="export")
    app.add_typer(import_app, name="import")


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def _split(value: Optional[str]) -> Optional[list[str]]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@release_app.command("create")
def create(
    run: Path = typer.Option(..., "--run", help="build run directory (its release/ folder holds the shards)"),
    version: str = typer.Option(..., "--version", help="semantic version X.Y.Z"),
    out: str = typer.Option(..., "--out", help="repository root: local path or s3://bucket/prefix"),
    licences: Optional[str] = typer.Option(None, "--licences", help="keep only these licences, e.g. by,by-sa,cc0"),
    name: str = typer.Option("partverse release", "--name", help="dataset name on the card"),
    max_rate: Optional[float] = typer.Option(None, "--max-bytes-per-second", help="limit upload bandwidth"),
) -> None:
    """Publish RUN/release as OUT/VERSION (blobs shared between versions, manifest written last)."""
    from partverse.data.release import create_release

    try:
        create_release(run, version, out, licences=licences, name=name, max_bytes_per_second=max_rate, log=typer.echo)
    except PartverseError as exc:
        _fail(exc)


def pull(
    version: str = typer.Argument(..., help="version to pull, X.Y.Z"),
    from_uri: str = typer.Option(..., "--from", help="repository root (local path or s3://...)"),
    to: Path = typer.Option(..., "--to", help="local directory"),
    tables: Optional[str] = typer.Option(None, "--tables", help="comma-separated: objects,parts,captions"),
    columns: Optional[str] = typer.Option(None, "--columns", help="comma-separated columns to fetch"),
    max_rate: Optional[float] = typer.Option(None, "--max-bytes-per-second", help="limit download bandwidth"),
) -> None:
    """Download a release, verifying every file's sha256; re-run to resume an interrupted pull."""
    from partverse.data.pull import pull as do_pull

    try:
        do_pull(version, from_uri, to, tables=_split(tables), columns=_split(columns), max_bytes_per_second=max_rate, log=typer.echo)
    except PartverseError as exc:
        _fail(exc)


def verify(
    where: str = typer.Argument(..., help="release directory, or repository root with --version"),
    version: Optional[str] = typer.Option(None, "--version"),
) -> None:
    """Check every file of a release against the manifest's sizes and sha256s."""
    from partverse.data.pull import verify as do_verify

    try:
        report = do_verify(where, version)
    except PartverseError as exc:
        _fail(exc)
    typer.echo(f"release {report['version']}: {report['files']} files verified")


def releases(from_uri: str = typer.Option(..., "--from", help="repository root (local path or s3://...)"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """List the versions published under a repository root."""
    from partverse.data.location import list_versions, locate

    rows = []
    for v in list_versions(from_uri):
        m = locate(from_uri, v).manifest
        rows.append({"version": v, "created_at": m["created_at"], "objects": m["stats"]["objects"],
                     "parts": m["stats"]["parts"], "files": len(m["files"])})
    if as_json:
        json.dump(rows, sys.stdout)
        sys.stdout.write("\n")
        return
    for r in rows:
        typer.echo(f"{r['version']}\t{r['created_at']}\t{r['objects']} objects\t{r['parts']} parts\t{r['files']} files")


def diff(
    a: str = typer.Argument(..., help="release A (directory, or version with --from)"),
    b: str = typer.Argument(..., help="release B (directory, or version with --from)"),
    from_uri: Optional[str] = typer.Option(None, "--from", help="repository root holding both versions"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Objects added, removed and changed (labels, parts, captions, ...) from A to B."""
    from partverse.data.diff import diff_releases

    try:
        report = diff_releases(from_uri, from_uri, a, b) if from_uri else diff_releases(a, b)
    except PartverseError as exc:
        _fail(exc)
    if as_json:
        json.dump(report, sys.stdout)
        sys.stdout.write("\n")
        return
    typer.echo(f"{report['from']} -> {report['to']}: {len(report['added'])} added, {len(report['removed'])} removed, "
               f"{len(report['changed'])} changed")
    for uid in report["added"]:
        typer.echo(f"+ {uid}")
    for uid in report["removed"]:
        typer.echo(f"- {uid}")
    for uid, kinds in report["changed"].items():
        typer.echo(f"~ {uid}: {', '.join(kinds)}")


@export_app.command("partverse-layout")
def export_layout(
    release: str = typer.Argument(..., help="release directory, or repository root with --version"),
    out: Path = typer.Option(..., "--out", help="output directory"),
    version: Optional[str] = typer.Option(None, "--version"),
) -> None:
    """Write textured_part_glbs/, normalized_glbs/, anno_infos/, text_captions.json."""
    from partverse.data.layout import export_partverse_layout

    try:
        n = export_partverse_layout(release, out, version=version)
    except PartverseError as exc:
        _fail(exc)
    typer.echo(f"exported {n} objects to {out}")


@import_app.command("partverse-layout")
def import_layout(
    directory: Path = typer.Argument(..., help="a PartVerse-layout directory"),
    out: Path = typer.Option(..., "--out", help="release directory to write"),
    version: str = typer.Option(..., "--version"),
    licence: Optional[str] = typer.Option(None, "--licence", help="licence of objects without one"),
    num_samples: int = typer.Option(4096, "--num-samples"),
) -> None:
    """Read a PartVerse-layout directory into a release directory (parts re-sampled from the part GLBs)."""
    from partverse.data.layout import import_partverse_layout

    try:
        m = import_partverse_layout(directory, out, version=version, licence=licence, num_samples=num_samples)
    except PartverseError as exc:
        _fail(exc)
    typer.echo(f"imported {m['stats']['objects']} objects, {m['stats']['parts']} parts into {out}")
