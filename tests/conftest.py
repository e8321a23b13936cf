"""Shared fixtures: the real data in ../shared/data (set PARTVERSE_SHARED_DATA to move it)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PARTVERSE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(*parts: str) -> Path:
    """Path inside the shared data folder; skips locally, fails in CI, if the folder is absent."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data folder not found at {SHARED_DATA}")
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA.joinpath(*parts)


@pytest.fixture
def shared_data() -> Path:
    return shared()
