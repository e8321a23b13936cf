"""`partverse report RELEASE_DIR --out report.html`: a self-contained HTML report of a release."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    release: str = typer.Argument(..., help="a release directory (with manifest.json) or a published version URI"),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="the HTML file to write"),
    thumbnails: int = typer.Option(24, "--thumbnails", min=0, max=1000, help="objects in the thumbnail grid"),
    captions: int = typer.Option(12, "--captions", min=0, max=1000, help="part captions sampled"),
    seed: int = typer.Option(0, "--seed", help="sampling seed"),
) -> None:
    """Counts, distributions, licences, categories, captions, part-coloured thumbnails: one HTML file."""
    from partverse.data.manifest import ReleaseError
    from partverse.errors import PartverseError
    from partverse.report import ReportConfig, build_report

    try:
        summary = build_report(release, out, ReportConfig(thumbnails=thumbnails, captions=captions, seed=seed))
    except (ReleaseError, PartverseError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{out}: release {summary['version']}, {summary['objects']} objects, {summary['parts']} parts, "
               f"{summary['captions']} captions")
