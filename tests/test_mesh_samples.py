"""The bundled sample assets are redistributable, attributed, unchanged and loadable."""
from __future__ import annotations

import hashlib

import pytest

from partverse.io import load, supported_extensions
from tests.conftest import REPO, SHARED_DATA

SAMPLES = REPO / "pipelines" / "samples"
ALLOWED = ("CC0-1.0", "CC-BY", "BSD-3-Clause", "MIT")


def sample_entries() -> list[str]:
    return sorted(p.name for p in SAMPLES.iterdir() if p.name != "ATTRIBUTION.md")


def attribution_rows() -> dict[str, str]:
    rows = {}
    for line in (SAMPLES / "ATTRIBUTION.md").read_text().splitlines():
        if line.startswith("| `"):
            rows[line.split("`")[1].split(" ")[0].rstrip("/")] = line
    return rows


def test_every_sample_is_attributed_with_an_allowed_licence():
    rows = attribution_rows()
    assert set(sample_entries()) == set(rows)
    for name, row in rows.items():
        licence = row.split("|")[3].strip()
        assert licence.startswith(ALLOWED), f"{name}: licence {licence!r} is not redistributable here"
        assert " @ " in row and len(row.split(" @ ")[1].split()[0]) == 40, f"{name}: no source commit"
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 3 * 1024 * 1024


@pytest.mark.parametrize("name", sample_entries())
def test_sample_loads_and_matches_the_corpus(name):
    path = SAMPLES / name
    mains = [path] if path.is_file() else [p for p in path.iterdir() if p.suffix.lower() in supported_extensions()]
    assert len(mains) == 1
    mesh = load(mains[0])
    assert mesh.num_faces > 0 and not mesh.warnings
    original = SHARED_DATA / "assets" / name
    if original.exists():  # byte-identical to the curated corpus copy
        for ours in ([path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]):
            theirs = original / ours.relative_to(path) if path.is_dir() else original
            assert hashlib.sha256(ours.read_bytes()).digest() == hashlib.sha256(theirs.read_bytes()).digest()
