"""`partverse segment` and `partverse eval segmentation` as a user runs them."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from partverse.cli import _register_all, app
from partverse.io import load
from partverse.segment import segment
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
    # `--gt seg/341/*.seg`: the shell's glob gives several files after one flag
    glob = runner.invoke(app, ["eval", "segmentation", "--pred", str(out), "--gt", *map(str, gts), "--mesh", str(mesh), "--json"])
    assert glob.exit_code == 0, glob.output
    assert json.loads(glob.output) == report


def test_every_method_writes_labels_in_face_order(tmp_path):
    asset = shared("assets", "kenney_truck_green.glb")
    for method in ("artist", "geometric", "auto"):
        out = tmp_path / f"{method}.npy"
        result = runner.invoke(app, ["segment", str(asset), "--method", method, "--out", str(out)])
        assert result.exit_code == 0, result.output
        # the labels of the faces in the order `partverse.io.load` (and `partverse inspect`) gives them
        np.testing.assert_array_equal(np.load(out), segment(load(asset), method))
        assert np.load(out).dtype == np.int32


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
    assert result.exit_code == 2 and "bad.seg: 2 labels, but --pred" in result.output and "p.npy has 3" in result.output


def test_flags_a_method_does_not_use_are_refused_and_short_counts_said(tmp_path):
    asset = shared("assets", "kenney_truck_green.glb")
    out = tmp_path / "x.npy"

    def run(*args):
        return runner.invoke(app, ["segment", str(asset), *args, "--out", str(out)])

    for args, message in ((["--method", "geometric", "--max-parts", "3"], "--max-parts is for --method artist"),
                          (["--method", "artist", "--granularity", "2"], "--granularity is not used by --method artist"),
                          (["--method", "auto", "--num-parts", "0"], "num_parts = 0: must be a positive integer"),
                          (["--method", "artist", "--num-parts", "0"], "max_parts = 0: must be a positive integer")):
        result = run(*args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, args
        assert not out.exists()
    result = run("--method", "geometric", "--num-parts", "100000")
    assert result.exit_code == 0 and "segments (fewer than the 100000 asked for" in result.output
    assert len(np.unique(np.load(out))) < 100000
    folder = tmp_path / "a_folder"
    folder.mkdir()
    result = runner.invoke(app, ["segment", str(asset), "--method", "artist", "--out", str(folder)])
    assert result.exit_code == 2 and "--out is a directory" in result.output
    assert {p.name for p in tmp_path.iterdir()} == {"x.npy", "a_folder"}  # no temporary file left


def test_eval_names_the_file_and_the_problem_for_binary_huge_and_mismatched_labels(tmp_path):
    seg = str(shared("psb", "seg", "1", "1_0.seg"))
    np.savez(tmp_path / "pred.npz", labels=np.zeros(9408, np.int64))
    (tmp_path / "huge.seg").write_text("99999999999999999999\n")
    np.save(tmp_path / "short.npy", np.zeros(9407, np.int64))
    cases = [
        (["--pred", str(tmp_path / "pred.npz"), "--gt", seg], "pred.npz: not a text label file"),
        (["--pred", seg, "--gt", str(shared("assets", "kenney_truck_green.glb"))], "kenney_truck_green.glb: not a text label file"),
        (["--pred", str(tmp_path / "huge.seg"), "--gt", seg], "huge.seg: a label does not fit a 64-bit integer"),
        (["--pred", str(tmp_path / "short.npy"), "--gt", seg], "1_0.seg: 9408 labels, but --pred"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["eval", "segmentation", *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_eval_refuses_an_empty_label_file(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros(0, np.int64))
    result = runner.invoke(app, ["eval", "segmentation", "--pred", str(tmp_path / "empty.npy"), "--gt", str(tmp_path / "empty.npy")])
    assert result.exit_code == 2 and "empty.npy: no labels" in result.output


def test_eval_scores_ranked_proposals_as_the_benchmark_does(tmp_path):
    from partverse.segment import metrics
    from partverse.segment.facegraph import face_geometry
    from partverse.segment.psb import read_seg

    mesh_path = shared("psb", "off", "341.off")
    mesh = load(mesh_path)
    areas = face_geometry(mesh.vertices, mesh.faces)[0]
    gt_paths = sorted(shared("psb", "seg", "341").glob("341_*.seg"))[:3]
    gts = [read_seg(p) for p in gt_paths]
    common = ["--mesh", str(mesh_path), "--json"] + [a for p in gt_paths for a in ("--gt", str(p))]
    levels, args = [], []
    for granularity in ("0.5", "1", "2"):
        out = tmp_path / f"g{granularity}.npy"
        assert runner.invoke(app, ["segment", str(mesh_path), "--method", "auto", "--granularity", granularity,
                                   "--out", str(out)]).exit_code == 0
        levels.append(np.load(out))
        args += ["--proposals", str(out)]

    def proposals(*extra):
        result = runner.invoke(app, ["eval", "segmentation", *extra, *common])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["proposals"]

    # labellings: pooled and ranked as PartGen ranks its own, then AP and recall averaged over the humans
    masks = metrics.ranked_proposals(levels, areas)
    report = proposals(*args)
    assert report["num_proposals"] == len(masks) and report["iou"] == 0.5 and report["k"] == 10
    assert report["ap"] == pytest.approx(np.mean([metrics.average_precision(masks, g, 0.5, areas) for g in gts]))
    assert report["recall_at_10"] == pytest.approx(np.mean([metrics.recall_at_k(masks, g, 10, 0.5, areas) for g in gts]))
    assert 0.5 < report["ap"] < 1.0
    # the same masks as a file of ranked masks are scored in the order stored
    np.save(tmp_path / "ranked.npy", masks)
    assert proposals("--proposals", str(tmp_path / "ranked.npy")) == report
    np.save(tmp_path / "reversed.npy", masks[::-1].astype(np.uint8))  # 0 / 1 numbers are masks too
    reversed_ = proposals("--proposals", str(tmp_path / "reversed.npy"), "--k", str(len(masks)))
    assert reversed_["ap"] < report["ap"]  # the good proposals now come last
    assert reversed_[f"recall_at_{len(masks)}"] == pytest.approx(
        np.mean([metrics.recall_at_k(masks, g, len(masks), 0.5, areas) for g in gts]))  # all of them: order is moot
    strict = proposals(*args, "--iou", "0.9", "--k", "3")
    assert strict["ap"] == pytest.approx(np.mean([metrics.average_precision(masks, g, 0.9, areas) for g in gts]))
    assert strict["recall_at_3"] == pytest.approx(np.mean([metrics.recall_at_k(masks, g, 3, 0.9, areas) for g in gts]))
    assert "pred" not in report  # --pred is optional when proposals are given
    assert proposals("--proposals", *args[1::2]) == report  # several labellings after one flag (a glob)


def test_eval_proposals_name_the_file_and_the_problem(tmp_path):
    seg = shared("psb", "seg", "1", "1_0.seg")
    faces = 9408
    np.save(tmp_path / "twos.npy", np.full((2, faces), 2, np.int8))
    np.save(tmp_path / "narrow.npy", np.zeros((2, 10), bool))
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, faces), bool))
    np.save(tmp_path / "masks.npy", np.eye(2, faces, dtype=bool))
    np.save(tmp_path / "labels.npy", np.zeros(faces, np.int64))
    np.save(tmp_path / "other.npy", np.zeros(faces - 1, np.int64))
    cases = [
        (["--proposals", str(tmp_path / "twos.npy")], "twos.npy: face masks must be boolean or all 0 / 1"),
        (["--proposals", str(tmp_path / "narrow.npy")], f"narrow.npy: masks of 10 faces for a mesh of {faces} faces"),
        (["--proposals", str(tmp_path / "cube.npy")], "cube.npy: expected (N, F) face masks or (F,) labels"),
        (["--proposals", str(tmp_path / "labels.npy"), "--proposals", str(tmp_path / "masks.npy")],
         "masks.npy: face masks come ranked: give them as the only --proposals"),
        (["--proposals", str(tmp_path / "missing.npy")], "missing.npy: not a readable .npy array"),
        ([], "nothing to evaluate: give --pred LABELS and / or --proposals"),
        (["--proposals", str(tmp_path / "masks.npy"), "--iou", "0"], "--iou 0.0: must be in (0, 1]"),
        (["--proposals", str(tmp_path / "masks.npy"), "--k", "0"], "--k 0: must be at least 1"),
        (["--proposals", str(tmp_path / "masks.npy"), "--gt", str(tmp_path / "other.npy")],
         f"other.npy: {faces - 1} labels, but --gt {seg} has {faces}"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["eval", "segmentation", "--gt", str(seg), *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    result = runner.invoke(app, ["eval", "segmentation", "--gt", str(seg), "--proposals", str(tmp_path / "masks.npy")])
    assert result.exit_code == 0 and "proposals: num_proposals=2  iou=0.5000  k=10" in result.output
