"""`partverse blender-addon build` makes a zip Blender's own validator accepts."""
from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest


def test_build_makes_a_valid_extension_zip(tmp_path):
    pytest.importorskip("bpy")  # the validator ships inside the bpy wheel (not imported here)
    from partverse.cli.addon import blender_ext_script

    run = subprocess.run([sys.executable, "-m", "partverse", "blender-addon", "build", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    zip_path = tmp_path / "partverse_annotator-0.1.0.zip"
    assert run.stdout.strip() == str(zip_path)
    names = set(zipfile.ZipFile(zip_path).namelist())
    assert {"blender_manifest.toml", "__init__.py", "core/session.py", "core/client.py"} <= names
    assert not any("__pycache__" in n for n in names)
    check = subprocess.run([sys.executable, str(blender_ext_script()), "validate", str(zip_path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_build_reports_a_broken_manifest(tmp_path):
    pytest.importorskip("bpy")
    from partverse.cli.addon import ADDON_SOURCE, build_addon

    src = tmp_path / "src"
    src.mkdir()
    (src / "__init__.py").write_text((ADDON_SOURCE / "__init__.py").read_text())
    manifest = (ADDON_SOURCE / "blender_manifest.toml").read_text()
    (src / "blender_manifest.toml").write_text(manifest.replace('tagline = "', 'tagline = "' + "x" * 80))
    with pytest.raises(RuntimeError, match=r"(?s)blender_ext validate .*tagline.*64 characters"):
        build_addon(tmp_path / "out", src)
