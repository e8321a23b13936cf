"""`partverse build` (run or resume a build) and `partverse quarantine list|retry`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from partverse.cli.many_values import ManyValuesCommand
from partverse.errors import ConfigError, PartverseError


def register(app: typer.Typer) -> None:
    app.command(cls=ManyValuesCommand)(build)
    quarantine = typer.Typer(help="Inspect and re-run objects that failed a stage.", no_args_is_help=True)
    quarantine.command("list")(quarantine_list)
    quarantine.command("retry", cls=ManyValuesCommand)(quarantine_retry)
    app.add_typer(quarantine, name="quarantine")


def build(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="build config YAML (pipelines/configs/sample.yaml)"),
    input: Optional[list[Path]] = typer.Option(None, "--input", "-i", help="folders or files to ingest (repeatable; several after one flag: -i assets/*.glb)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="run directory (with --input; overrides run_dir)"),
    executor: Optional[str] = typer.Option(None, "--executor", "-e", help="local or ray (overrides the config)"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="join a Ray cluster (e.g. auto, ray://host:10001)"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bars"),
) -> None:
    """Build (or resume) a release: ingest, prepare, segment, export parts, write Parquet shards."""
    from pipelines.config import load_config, default_config, parse_config
    from pipelines.run import run_build
    from pipelines.summary import print_summary

    try:
        if config is not None:
            cfg = load_config(config)
        elif input and out:
            cfg = default_config([str(p) for p in input], str(out))
        else:
            raise ConfigError("give --config FILE.yaml, or --input DIR --out DIR")
        overrides: dict = {"run_dir": str(out)} if (out and config) else {}
        if input and config:  # --input with --config replaces the first (source) stage's paths
            stages = cfg.model_dump(mode="json")["stages"]
            stages[0]["params"]["paths"] = [str(p) for p in input]
            overrides["stages"] = stages
        if executor:
            overrides["executor"] = executor
        if ray_address:
            overrides["ray"] = {**cfg.ray.model_dump(), "address": ray_address}
        if no_progress:
            overrides["progress"] = False
        if overrides:
            cfg = parse_config({**cfg.model_dump(mode="json"), **overrides}, "command line")
        summary = run_build(cfg)
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    print_summary(summary)


def _run_dir_option() -> Path:
    return typer.Option(..., "--run", "-r", help="run directory of a build")


def quarantine_list(
    run: Path = _run_dir_option(),
    all_entries: bool = typer.Option(False, "--all", help="every entry on disk, not only the latest build's"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line, with tracebacks"),
) -> None:
    """List quarantined objects: stage, error class, message."""
    from pipelines.quarantine import selected_entries, print_entries

    entries = selected_entries(run, all_entries=all_entries)
    if as_json:
        for e in entries:
            typer.echo(json.dumps(e))
        return
    print_entries(entries)


def quarantine_retry(
    run: Path = _run_dir_option(),
    stage: Optional[str] = typer.Option(None, "--stage", help="only entries of this stage"),
    uid: Optional[list[str]] = typer.Option(None, "--uid", help="only these objects (repeatable; several after one flag)"),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Forget the selected quarantine entries and resume the build with its saved config."""
    from pipelines.quarantine import retry
    from pipelines.summary import print_summary

    try:
        removed, summary = retry(run, stage=stage, uids=uid, progress=not no_progress)
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(f"retried {removed} quarantined entr{'y' if removed == 1 else 'ies'}")
    print_summary(summary)
