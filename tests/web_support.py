"""Helpers for the browser tests: Debian's Chromium driven by Playwright, and colour counting."""
from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "web"
PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
           "#469990", "#9a6324", "#800000", "#808000", "#000075", "#ffe119", "#aaffc3", "#dcbeff"]


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 900):  # noqa: ANN201
    """A headless Chromium page (the system browser; never a downloaded one)."""
    import os

    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} not found in CI (.ci/setup --services installs chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.errors = errors
            yield page
        finally:
            browser.close()


def save_shot(png: bytes, name: str) -> np.ndarray:
    """Keep a screenshot under test-artifacts/web/ and return it as (H, W, 3) uint8."""
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def palette_counts(image: np.ndarray, tolerance: int = 8) -> np.ndarray:
    """Pixels of each PALETTE colour in an (H, W, 3) image: (len(PALETTE),) int64."""
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in PALETTE], dtype=np.int16)
    diff = np.abs(image.reshape(-1, 1, 3).astype(np.int16) - rgb[None]).max(axis=2)
    return (diff <= tolerance).sum(axis=0)
