"""`partverse report`: a self-contained HTML page of a real release, opened in headless Chromium."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from tests.web_support import REPO_ROOT, chromium_page, save_shot

pytestmark = pytest.mark.slow

SECTIONS = ["Counts", "Objects", "Parts", "Licences and categories", "Captions", "Objects with their parts",
            "Caption samples"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):  # noqa: ANN001, ANN201
    from tests._data_release import asset_rows, write_run

    run = tmp_path_factory.mktemp("run")
    objects, parts, captions = asset_rows(names=("kenney_truck_green.glb", "quat_boat_sail.glb", "kaykit_hex_house.glb"))
    objects[0]["metadata_json"] = '{"category": "vehicle"}'
    captions[3]["status"] = "refused"
    write_run(run, (objects, parts, captions))
    return run / "release", objects, parts, captions


def test_report_cli_writes_one_self_contained_page(release, tmp_path) -> None:  # noqa: ANN001
    path, objects, parts, captions = release
    out = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "partverse", "report", str(path), "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(objects)} objects, {len(parts)} parts, {len(captions)} captions" in done.stdout
    text = out.read_text()
    # nothing is fetched: no src/href to anything but data: URIs and in-page anchors
    assert not re.findall(r'(?:src|href)="(?!data:|#)', text)

    with chromium_page(1280, 900) as page:
        page.goto(out.as_uri())
        headings = page.locator("h2").all_text_contents()
        assert headings == SECTIONS
        counts = dict(zip(page.locator("table.counts th").all_text_contents(),
                          page.locator("table.counts td").all_text_contents()))
        assert counts["objects"] == str(len(objects)) and counts["parts"] == str(len(parts))
        assert counts["captions with status ok"] == str(len(captions) - 1)
        # every image decoded and laid out (naturalWidth > 0)
        sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.className, e.naturalWidth, e.naturalHeight])")
        kinds = [k for k, w, h in sizes if w > 0 and h > 0]
        assert len(kinds) == len(sizes)
        assert kinds.count("plot") == 10 and kinds.count("thumb") == len(objects)
        assert 1 <= kinds.count("composite") <= 12
        save_shot(page.screenshot(full_page=True), "report.png")
        # each thumbnail shows its object's parts in distinct colours
        for i, obj in enumerate(objects):
            thumb = save_shot(page.locator("img.thumb").nth(i).screenshot(), f"thumb-{i}.png")
            colours = np.unique(thumb.reshape(-1, 3) // 32, axis=0)
            assert len(colours) > 3, obj["uid"]
        assert not [e for e in page.errors if "favicon" not in e], page.errors


def test_report_refuses_a_folder_that_is_not_a_release(tmp_path) -> None:  # noqa: ANN001
    done = subprocess.run([sys.executable, "-m", "partverse", "report", str(tmp_path), "--out", str(tmp_path / "r.html")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert str(tmp_path) in done.stderr and "not a release" in done.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_broken_object_is_named_and_the_report_goes_on(tmp_path) -> None:  # noqa: ANN001
    from partverse.report import build_report
    from tests._data_release import asset_rows, write_run

    objects, parts, captions = asset_rows(names=("kenney_truck_green.glb", "quat_boat_sail.glb"))
    broken = objects[1]["uid"]
    objects[1]["normalized_glb"] = b"glTF but not really"
    write_run(tmp_path / "run", (objects, parts, captions))
    summary = build_report(tmp_path / "run" / "release", tmp_path / "r.html")
    assert summary["objects"] == 2
    text = (tmp_path / "r.html").read_text()
    assert '<section id="notes"><h2>Problems</h2>' in text
    assert f"thumbnail of {broken}: normalized_glb does not load: unsupported GLB version" in text
    assert f"thumbnail of {objects[0]['uid']}" not in text
    assert text.count(f"composites of {broken}:") <= 1  # one note per object, not one per part
    assert text.count('<img class="thumb"') == 1  # the good object still has its thumbnail


def test_caption_samples_use_the_stored_composite_when_the_release_has_one(tmp_path) -> None:  # noqa: ANN001
    import base64

    from partverse.render.objects import png_bytes
    from partverse.report import ReportConfig, build_report
    from tests._data_release import asset_rows, write_run

    objects, parts, captions = asset_rows(names=("kenney_truck_green.glb",))
    stored = png_bytes(np.full((8, 8, 3), (255, 0, 255), np.uint8))
    parts[0]["renders"] = {"composite": stored, "front": png_bytes(np.zeros((8, 8, 3), np.uint8))}
    write_run(tmp_path / "run", (objects, parts, captions))
    build_report(tmp_path / "run" / "release", tmp_path / "r.html", ReportConfig(thumbnails=0, captions=100))
    text = (tmp_path / "r.html").read_text()
    assert text.count(base64.b64encode(stored).decode()) == 1  # part 0: what the captioner saw
    assert text.count('<img class="composite"') == len(parts)  # the other parts: rendered here
