"""The local executor with small real stages: resume, parameter changes, quarantine, time limits,
duplicates, and `partverse quarantine list|retry`."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tests.pipeline_toy  # noqa: F401 - registers the toy stages
from pipelines.config import parse_config
from pipelines.run import run_build
from tests.conftest import shared

REPO = Path(__file__).resolve().parents[1]
SMALL = ["kenney_truck_green.glb", "quat_bed_bunk.glb", "kaykit_chest_gold.glb", "o3dv_car.glb"]


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for name in SMALL:
        shutil.copy(shared("assets", name), d / name)
    return d


def _config(run_dir, inputs, read=None, salt="a", timeout=None):
    read_stage = {"name": "toy_read", "params": read or {}}
    if timeout:
        read_stage["timeout_s"] = timeout
    return parse_config({
        "run_dir": str(run_dir), "progress": False,
        "stages": [{"name": "ingest_local", "params": {"paths": [str(inputs)]}}, read_stage,
                   {"name": "toy_hash", "params": {"salt": salt}}, {"name": "toy_sink"}],
    })


def test_rerun_skips_and_param_change_reruns_that_stage_and_later_only(tmp_path, inputs):
    first = run_build(_config(tmp_path / "run", inputs))
    assert first.stages["toy_read"]["ran"] == 4 and first.stages["toy_hash"]["ran"] == 4
    release = (tmp_path / "run" / "toy_release.json").read_bytes()
    again = run_build(_config(tmp_path / "run", inputs))
    assert again.stages["toy_read"] == {**again.stages["toy_read"], "ran": 0, "cached": 4}
    assert again.stages["toy_hash"]["cached"] == 4 and again.stages["toy_sink"]["cached"] == 1
    changed = run_build(_config(tmp_path / "run", inputs, salt="b"))
    assert changed.stages["toy_read"]["cached"] == 4 and changed.stages["toy_read"]["ran"] == 0
    assert changed.stages["toy_hash"]["ran"] == 4 and changed.stages["toy_sink"]["ran"] == 1
    assert (tmp_path / "run" / "toy_release.json").read_bytes() != release
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "salt: b" in saved
    stats = json.loads((tmp_path / "run" / "run.json").read_text())
    assert stats["released_objects"] == 4 and set(stats["stages"]) == {"ingest_local", "toy_read", "toy_hash", "toy_sink"}


def test_failures_and_timeouts_go_to_quarantine_and_the_batch_goes_on(tmp_path, inputs):
    s = run_build(_config(tmp_path / "run", inputs, read={"fail_on": "truck", "sleep_on": "bed_bunk"}, timeout=1.0))
    assert s.released_objects == 2
    by_uri = {Path(q["source_uri"]).name: q for q in s.quarantined}
    assert by_uri["kenney_truck_green.glb"]["error_class"] == "ValueError"
    assert "toy failure" in by_uri["kenney_truck_green.glb"]["message"]
    assert by_uri["quat_bed_bunk.glb"]["error_class"] == "StageTimeout"
    assert "exceeded the time limit of 1 s" in by_uri["quat_bed_bunk.glb"]["message"]
    entry = json.loads(next((tmp_path / "run" / "quarantine" / "toy_read").glob("*.json")).read_text())
    assert {"uid", "sha256", "stage", "error_class", "message", "traceback"} <= set(entry) and "Traceback" in entry["traceback"]
    again = run_build(_config(tmp_path / "run", inputs, read={"fail_on": "truck", "sleep_on": "bed_bunk"}, timeout=1.0))
    assert again.stages["toy_read"]["quarantined"] == 2 and again.stages["toy_read"]["ran"] == 0


def test_duplicates_are_detected_and_stored_once(tmp_path, inputs):
    shutil.copy(inputs / SMALL[0], inputs / "copy_of_truck.glb")
    s = run_build(_config(tmp_path / "run", inputs))
    assert s.objects_in == 5 and s.unique_objects == 4 and len(s.duplicates) == 1
    assert {Path(s.duplicates[0]["source_uri"]).name, Path(s.duplicates[0]["duplicate_of"]).name} == {"copy_of_truck.glb", SMALL[0]}
    assert len([p for p in (tmp_path / "run" / "store").glob("*/*") if p.is_dir()]) == 4


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "import tests.pipeline_toy; from partverse.cli import main; main()", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_quarantine_list_and_retry_cli(tmp_path, inputs):
    flag = tmp_path / "broken"
    flag.write_text("x")
    run_build(_config(tmp_path / "run", inputs, read={"fail_while_exists": str(flag)}))
    listed = _cli("quarantine", "list", "--run", str(tmp_path / "run"), "--json")
    assert listed.returncode == 0, listed.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(entries) == 4 and all(e["error_class"] == "RuntimeError" and "broken exists" in e["message"] for e in entries)
    table = _cli("quarantine", "list", "--run", str(tmp_path / "run"))
    assert "4 quarantined" in table.stdout and "RuntimeError" in table.stdout
    flag.unlink()
    retried = _cli("quarantine", "retry", "--run", str(tmp_path / "run"), "--stage", "toy_read", "--no-progress")
    assert retried.returncode == 0, retried.stderr
    assert "retried 4 quarantined entries" in retried.stdout
    stats = json.loads((tmp_path / "run" / "run.json").read_text())
    assert stats["released_objects"] == 4 and stats["quarantined"] == []
