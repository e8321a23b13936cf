"""`partverse blender-addon build`: validate and build the annotator extension zip.

Uses Blender's own extension validator / builder (`blender_ext.py`, shipped inside the bpy wheel
and runnable under plain Python). Without the bpy wheel it raises a MissingExtraError.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

ADDON_SOURCE = Path(__file__).resolve().parents[2] / "blender_addons" / "partverse_annotator"


def blender_ext_script() -> Path:
    """Path of bl_pkg/cli/blender_ext.py inside the installed bpy wheel (found without importing bpy)."""
    import importlib.util

    from partverse.errors import MissingExtraError

    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        raise MissingExtraError("bpy", "blender")
    found = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise FileNotFoundError(f"blender_ext.py not found under {Path(spec.origin).parent} (bpy wheel layout changed?)")
    return found[-1]


def build_addon(out_dir: Path, source: Path = ADDON_SOURCE) -> Path:
    """Validate `source` and build `<out_dir>/partverse_annotator-<version>.zip`; returns its path."""
    script = blender_ext_script()
    out_dir.mkdir(parents=True, exist_ok=True)
    for args in (["validate", str(source)], ["build", "--source-dir", str(source), "--output-dir", str(out_dir)]):
        run = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"blender_ext {args[0]} {source}: {(run.stdout + run.stderr).strip()}")
    built = sorted(out_dir.glob("partverse_annotator-*.zip"), key=lambda p: p.stat().st_mtime)
    if not built:
        raise RuntimeError(f"blender_ext build reported success but wrote no zip into {out_dir}")
    return built[-1]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The Blender annotator add-on.", no_args_is_help=True)

    @group.command("build")
    def build(out: Path = typer.Option(Path("dist"), "--out", help="folder for the extension zip")) -> None:
        """Validate and build the installable extension zip (Blender 4.2+: Get Extensions > Install from Disk)."""
        typer.echo(build_addon(out))

    app.add_typer(group, name="blender-addon")
