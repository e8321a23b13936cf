"""`partverse objaverse select | download`: choose Objaverse objects, then fetch them robustly."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from partverse.cli.many_values import ManyValuesCommand
from partverse.errors import PartverseError

objaverse_app = typer.Typer(help="Select and download Objaverse 1.0 / Objaverse-XL objects.",
                            no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(objaverse_app, name="objaverse")


def _clients(cache_dir, base_url, xl_base_url, attempts=5, timeout=600.0, rate=None, workers=8):
    from partverse.objaverse.http import Fetcher, HostLimiter, RetryPolicy
    from partverse.objaverse.layout import CacheLayout
    from partverse.objaverse.sources import XLAnnotations
    from partverse.objaverse.v1 import ObjaverseV1

    layout = CacheLayout.create(cache_dir, base_url, xl_base_url)
    policy = RetryPolicy(attempts=attempts, total_timeout_s=timeout)
    fetcher = Fetcher(layout.tmp, policy, HostLimiter(rate, 1, workers), max_connections=workers)
    return layout, fetcher, ObjaverseV1(layout, fetcher), XLAnnotations(layout, fetcher)


_CACHE = typer.Option(None, "--cache-dir", help="cache root (default $PARTVERSE_OBJAVERSE_CACHE or ~/.objaverse)")
_BASE = typer.Option(None, "--base-url", help="Objaverse 1.0 base URL (default: HF allenai/objaverse)")
_XL_BASE = typer.Option(None, "--xl-base-url", help="Objaverse-XL base URL (default: HF allenai/objaverse-xl)")


@objaverse_app.command("select", cls=ManyValuesCommand)
def select_cmd(
    out: Path = typer.Option(..., "--out", help="selection Parquet to write"),
    source: list[str] = typer.Option(["v1"], "--source", help="v1, xl-github, xl-sketchfab, xl-smithsonian, xl-thingiverse"),
    license: Optional[list[str]] = typer.Option(None, "--license", help="licence codes (by, by-sa, cc0, ...: --license by cc0); default: redistributable ones"),
    lvis: Optional[list[str]] = typer.Option(None, "--lvis", help="LVIS categories (any of: --lvis chair table)"),
    tag: Optional[list[str]] = typer.Option(None, "--tag", help="tag (any of)"),
    min_faces: Optional[int] = typer.Option(None, "--min-faces"),
    max_faces: Optional[int] = typer.Option(None, "--max-faces"),
    file_type: Optional[list[str]] = typer.Option(None, "--file-type", help="glb, obj, fbx, ..."),
    uids: Optional[Path] = typer.Option(None, "--uids", help="uid list file (text, CSV or Parquet with a uid column)"),
    sample: Optional[int] = typer.Option(None, "--sample", help="draw this many objects at random"),
    seed: int = typer.Option(0, "--seed"),
    no_checksums: bool = typer.Option(False, "--no-v1-checksums", help="do not fetch the XL Sketchfab annotations for 1.0 sha256"),
    cache_dir: Optional[Path] = _CACHE,
    base_url: Optional[str] = _BASE,
    xl_base_url: Optional[str] = _XL_BASE,
) -> None:
    """Apply the filters and write SELECTION.parquet; prints counts, downloads only index files."""
    from partverse.objaverse.selection import SelectionSpec, select

    try:
        spec = SelectionSpec(sources=list(source), licenses=license or None, lvis_categories=lvis or None,
                             tags=tag or None, min_faces=min_faces, max_faces=max_faces,
                             file_types=file_type or None, uids_file=str(uids) if uids else None,
                             sample=sample, seed=seed, v1_checksums=not no_checksums)
        _, fetcher, v1, xl = _clients(cache_dir, base_url, xl_base_url)
        with fetcher:
            needs_xl = any(s.startswith("xl-") for s in spec.sources) or spec.v1_checksums
            selection = select(spec, v1=v1, xl=xl if needs_xl else None)
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    for step, n in selection.counts:
        typer.echo(f"{step:>24}: {n}")
    table = selection.table
    for name in ("source", "license"):
        counts = Counter(table.column(name).to_pylist())
        typer.echo(f"by {name}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items(), key=str)))
    selection.write(out, spec)
    typer.echo(f"selected {table.num_rows} objects -> {out}")


@objaverse_app.command("download")
def download_cmd(
    selection: Path = typer.Argument(..., help="selection Parquet from `partverse objaverse select`"),
    report: Optional[Path] = typer.Option(None, "--report", help="write one row per object (status, reason) here"),
    workers: int = typer.Option(8, "--workers", min=1, help="concurrent downloads (threads, in all processes)"),
    processes: int = typer.Option(1, "--processes", min=1, help="download processes (past the GIL's limit)"),
    attempts: int = typer.Option(5, "--attempts", min=1),
    timeout: float = typer.Option(600.0, "--timeout", help="seconds per attempt for one file body"),
    rate: Optional[float] = typer.Option(None, "--rate-per-host", help="requests per second per host"),
    git_base_url: str = typer.Option("https://github.com", "--git-base-url"),
    trust_cache: bool = typer.Option(False, "--trust-cache", help="do not re-hash cached files (structure check only)"),
    cache_dir: Optional[Path] = _CACHE,
    base_url: Optional[str] = _BASE,
    xl_base_url: Optional[str] = _XL_BASE,
) -> None:
    """Download every selected object into the cache; failures are listed with their reason."""
    import pyarrow.parquet as pq

    from partverse.objaverse.batch import (download_selection, download_selection_processes, outcomes_table,
                                           summarize)

    if not selection.is_file():
        typer.echo(f"error: {selection}: no such selection file", err=True)
        raise typer.Exit(2)
    rows = pq.read_table(selection).to_pylist()
    layout, fetcher, v1, _ = _clients(cache_dir, base_url, xl_base_url, attempts, timeout, rate, workers)
    outcomes = []
    git_options = {"git_base_url": git_base_url}
    with fetcher:
        if processes > 1:
            stream = download_selection_processes(rows, layout, fetcher.policy, processes=processes, workers=workers,
                                                  rate_per_host=rate, max_per_host=workers, git_options=git_options,
                                                  rehash_cached=not trust_cache)
        else:
            stream = download_selection(rows, layout, fetcher, v1, workers=workers, git_options=git_options,
                                        rehash_cached=not trust_cache)
        for o in stream:
            outcomes.append(o)
            if o.status == "failed":
                typer.echo(f"failed {o.uid} {o.reason}: {o.detail}", err=True)
    for key, n in summarize(outcomes).items():
        typer.echo(f"{key}: {n}")
    if report is not None:
        _write(outcomes_table(outcomes), report)


def _write(table, path: Path) -> None:
    import uuid

    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
