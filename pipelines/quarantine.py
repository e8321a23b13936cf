"""`partverse quarantine list|retry`: read the quarantine table of a run, forget entries, resume."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from partverse.errors import ConfigError
from pipelines.outputs import QuarantineTable


def _latest(run_dir: Path) -> dict:
    p = run_dir / "run.json"
    if not p.is_file():
        raise ConfigError(f"{run_dir}: not a run directory (no run.json); run partverse build first")
    return json.loads(p.read_text())


def selected_entries(run_dir: Path, *, all_entries: bool = False) -> list[dict]:
    """The latest build's quarantine entries (or every entry on disk), sorted by stage and source."""
    table = QuarantineTable(run_dir)
    if all_entries:
        entries = list(table.entries())
    else:
        entries = [e for q in _latest(run_dir)["quarantined"] if (e := table.get(q["stage"], q["key"]))]
    return sorted(entries, key=lambda e: (e["stage"], e["source_uri"]))


def print_entries(entries: list[dict], file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(entries)} quarantined")
    for col in ("stage", "source", "uid", "error", "message"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(e["stage"], e["source_uri"], e["uid"][:12], e["error_class"], e["message"][:300])
    Console(file=file or sys.stdout, width=160).print(table)


def retry(run_dir: Path, *, stage: str | None = None, uids: list[str] | None = None, progress: bool = True):
    """Delete the selected entries of the latest build, then resume it with its saved config."""
    from pipelines.config import load_config, parse_config
    from pipelines.run import run_build

    table = QuarantineTable(run_dir)
    chosen = [e for e in selected_entries(run_dir)
              if (stage is None or e["stage"] == stage) and (not uids or any(e["uid"].startswith(u) for u in uids))]
    for e in chosen:
        table.remove(e["stage"], e["key"])
    cfg = load_config(run_dir / "config.yaml")
    if not progress:
        cfg = parse_config({**cfg.model_dump(mode="json"), "progress": False}, str(run_dir / "config.yaml"))
    return len(chosen), run_build(cfg)
