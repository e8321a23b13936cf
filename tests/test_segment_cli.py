"""`partverse segment` and `partverse eval segmentation` as a user runs them."""
import json

import numpy as np
from typer.testing import CliRunner

from partverse.cli import _register_all, app
from tests.conftest import shared

_register_all()
runner = CliRunner()


def test_segment_then_evaluate_a_psb_model(tmp_path):
    mesh = shared("psb", "off", "341.off")
    out = tmp_path / "labels.npy"
    result = runner.invoke(app, ["segment", str(mesh), "--method", "geometric", "--num-parts", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    labels = np.load(out)
    assert labels.shape == (3322,) and len(np.unique(labels)) == 5
    gts = sorted(shared("psb", "seg", "341").glob("341_*.seg"))[:3]
    args = ["eval", "segmentation", "--pred", str(out), "--mesh", str(mesh), "--json"]
    for gt in gts:
        args += ["--gt", str(gt)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["area_weighted"] and 0 <= report["pred"]["rand_index_error"] <= 0.2
    assert "human_consistency" in report and report["pred"]["num_pred"] == 5


def test_every_method_writes_labels_in_face_order(tmp_path):
    asset = shared("assets", "kenney_truck_green.glb")
    for method in ("artist", "geometric", "auto"):
        out = tmp_path / f"{method}.npy"
        result = runner.invoke(app, ["segment", str(asset), "--method", method, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert np.load(out).shape == (1104,)


def test_errors_name_the_problem(tmp_path):
    asset = shared("assets", "kenney_truck_green.glb")
    result = runner.invoke(app, ["segment", str(asset), "--method", "samesh", "--out", str(tmp_path / "x.npy")])
    assert result.exit_code == 2 and "needs a SAM-2 model" in result.output
    result = runner.invoke(app, ["segment", str(asset), "--method", "geometric", "--granularity", "0", "--out", str(tmp_path / "x.npy")])
    assert result.exit_code == 2 and "granularity = 0" in result.output
    bad = tmp_path / "bad.seg"
    bad.write_text("0\n1\n")
    np.save(tmp_path / "p.npy", np.zeros(3, np.int32))
    result = runner.invoke(app, ["eval", "segmentation", "--pred", str(tmp_path / "p.npy"), "--gt", str(bad)])
    assert result.exit_code == 2 and "bad.seg: 2 labels for a mesh of 3 faces" in result.output
