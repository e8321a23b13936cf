"""Segmentation metrics: hand-checked cases and the PSB human reference."""
import numpy as np
import pytest

from partverse.segment import metrics
from partverse.segment.psb import SegFileError, list_models, read_labels, read_seg
from tests.conftest import shared

GT = np.array([0, 0, 0, 0, 1, 1, 1, 1])


def test_identical_labellings_score_perfectly_whatever_the_label_names():
    s = metrics.score(np.array([5, 5, 5, 5, 2, 2, 2, 2]), GT)
    assert s.rand_index_error == 0 and s.asa == 1 and s.missing_rate == 0 and s.miou == 1
    assert s.undersegmentation_error == 0


def test_refinement_is_fully_achievable_but_counts_as_missing():
    pred = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    s = metrics.score(pred, GT)
    assert s.asa == 1.0 and s.undersegmentation_error == 0
    assert s.missing_rate == pytest.approx(0.5)
    # ordered pairs: 64; disagreeing: each gt segment split in two halves: 2 * (2*2*2) = 16
    assert s.rand_index_error == pytest.approx(16 / 64)


def test_undersegmentation_is_a_false_alarm():
    pred = np.zeros(8, dtype=int)
    s = metrics.score(pred, GT)
    assert s.false_alarm_rate == pytest.approx(0.5) and s.asa == pytest.approx(0.5)
    # each gt half: min(|S∩G|, |S\\G|) = min(4, 4), twice, over 8
    assert s.undersegmentation_error == pytest.approx(1.0)
    assert s.miou == pytest.approx(0.5)


def test_area_weights_change_the_scores():
    pred = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    weights = np.array([1, 1, 1, 1, 10, 1, 1, 1.0])
    assert metrics.achievable_segmentation_accuracy(pred, GT) == pytest.approx(7 / 8)
    assert metrics.achievable_segmentation_accuracy(pred, GT, weights) == pytest.approx(13 / 17)  # segment 0 now belongs to gt 1 by weight


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match="differ in length"):
        metrics.score(np.zeros(3, int), np.zeros(4, int))


def test_partgen_average_precision_and_recall():
    gt = np.array([0, 0, 1, 1, 2, 2])
    proposals = np.array([
        [1, 1, 0, 0, 0, 0],  # gt 0 exactly
        [1, 1, 0, 0, 0, 0],  # duplicate: no ground truth left to match
        [0, 0, 1, 1, 1, 1],  # IoU 0.5 with gt 1 and gt 2
    ], dtype=bool)
    # hits y = [1, 0, 1]: AP = (1/1 + 2/3) / 3
    assert metrics.average_precision(proposals, gt, tau=0.5) == pytest.approx((1 + 2 / 3) / 3, rel=1e-3)
    assert metrics.recall_at_k(proposals, gt, k=1, tau=0.5) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(proposals, gt, k=3, tau=0.4) == pytest.approx(1.0)


def test_partgen_scores_do_not_depend_on_the_units_of_the_area_weights():
    gt = np.array([0, 0, 1, 2, 2, 2])  # segment 1: one small face
    areas = np.array([1.0, 1.0, 0.5, 1.0, 1.0, 1.0])
    proposals = np.array([
        [0, 0, 0, 1, 0, 0],  # one face, disjoint from segment 1
        [1, 1, 0, 0, 0, 0],  # segment 0
        [0, 0, 1, 1, 1, 1],  # segments 1 + 2: IoU 1/7 and 6/7
    ], dtype=bool)
    for scale in (1.0, 1e-4, 1e-6, 1e3):  # metres, a centimetre object in metres, ...
        w = areas * scale
        assert metrics.average_precision(proposals, gt, weights=w) == pytest.approx((1 / 2 + 2 / 3) / 3)
        assert metrics.recall_at_k(proposals, gt, k=1, weights=w) == 0.0  # the disjoint face matches nothing
        assert metrics.recall_at_k(proposals, gt, k=3, weights=w) == pytest.approx(2 / 3)


def test_bad_weights_and_counts_are_refused_and_zero_area_segments_left_out_of_miou():
    gt = np.array([0, 0, 1, 1])
    for bad, message in ((np.array([1.0, -1.0, 1.0, 1.0]), "finite and >= 0"), (np.array([1.0, np.nan, 1, 1]), "finite"),
                         (np.zeros(4), "all zero"), (np.ones(3), "3 entries for 4 faces")):
        with pytest.raises(ValueError, match=message):
            metrics.score(gt, gt, bad)
        with pytest.raises(ValueError, match=message):
            metrics.average_precision(np.eye(4, dtype=bool), gt, weights=bad)
    with pytest.raises(ValueError, match="k = -1"):
        metrics.recall_at_k(np.eye(4, dtype=bool), gt, k=-1)
    # a ground-truth segment made of zero-area faces only has no IoU to score
    degenerate = np.array([0, 0, 1, 2])
    areas = np.array([1.0, 1.0, 0.0, 1.0])
    assert metrics.best_iou_miou(degenerate, degenerate, areas) == 1.0
    assert metrics.best_iou_miou(np.array([0, 0, 2, 2]), degenerate, areas) == pytest.approx((1 + 1) / 2)


def test_pruning_curve_refuses_merge_lists_no_forest_has():
    faces, gt = np.array([0, 1, 2]), [np.array([0, 0, 1])]
    assert metrics.pruning_curve(np.array([[0, 1], [1, 2]]), faces, 3, gt, 3)[3] == 1.0
    for merges, message in (([[0, 1], [1, 0]], "already in one cluster"), ([[0, 5]], r"regions \[0, 5\], outside")):
        with pytest.raises(ValueError, match=message):
            metrics.pruning_curve(np.array(merges), faces, 3, gt, 3)
    with pytest.raises(ValueError, match=r"region ids span \[0, 3\]"):
        metrics.pruning_curve(np.array([[0, 1]]), np.array([0, 1, 3]), 3, gt, 3)


def test_human_consistency_on_a_psb_model_is_between_perfect_and_random():
    model = [m for m in list_models(shared("psb")) if m.model_id == "341"][0]
    gts = [read_seg(p) for p in model.seg_paths]
    row = metrics.human_consistency(gts)
    assert 0.0 < row["rand_index_error"] < 0.2
    assert 0.7 < row["asa"] < 1.0


def test_seg_and_npy_readers_name_the_file(tmp_path):
    bad = tmp_path / "x.seg"
    bad.write_text("1\n2\nthree\n")
    with pytest.raises(SegFileError, match="x.seg: not one integer per line"):
        read_seg(bad)
    good = tmp_path / "y.seg"
    good.write_text("1\n2\n")
    with pytest.raises(SegFileError, match="2 labels for a mesh of 3 faces"):
        read_seg(good, 3)
    np.save(tmp_path / "z.npy", np.zeros((2, 2)))
    with pytest.raises(SegFileError, match="z.npy: expected a 1-D integer array"):
        read_labels(tmp_path / "z.npy")


def test_ranked_proposals_put_stable_segments_first_and_drop_duplicates():
    coarse = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    fine = np.array([0, 0, 1, 1, 2, 2, 2, 2])  # segment {4..7} is in both levels
    proposals = metrics.ranked_proposals([coarse, fine, fine])
    assert proposals[0].tolist() == [False] * 4 + [True] * 4
    assert len(proposals) == 4  # {4..7} once; {0..3}; {0,1}; {2,3}
    assert metrics.average_precision(proposals, coarse) == pytest.approx((1 + 2 / 2) / 2)


def test_count_budget_bound_brackets_the_exhaustive_optimum():
    import itertools

    rng = np.random.default_rng(0)
    reference = np.array([2, 5, 3])
    curves = [{k: float(v) for k, v in zip(range(1, 9), np.sort(rng.uniform(0.6, 1.0, 8)))} for _ in reference]
    for budget in (1.0, 2.0, 3.0):
        best = max(np.mean([c[k] for c, k in zip(curves, ks)])
                   for ks in itertools.product(range(1, 9), repeat=3)
                   if np.mean(np.array(ks) / reference) <= budget)
        found = metrics.count_budget_bound(curves, reference, budget)
        assert np.mean(np.array(found.counts) / reference) <= budget
        assert found.best_found == pytest.approx(np.mean([c[k] for c, k in zip(curves, found.counts)]))
        assert found.best_found <= best + 1e-12 <= found.upper_bound + 2e-12
        # the curves rise, so no count beyond 8 scores above the count 8: a tighter, still valid bound
        tight = metrics.count_budget_bound(curves, reference, budget, [c[8] for c in curves])
        assert best <= tight.upper_bound + 2e-12 <= found.upper_bound + 4e-12
    # a budget the smallest counts already exceed has no feasible choice
    assert np.isnan(metrics.count_budget_bound(curves, reference, 0.1).best_found)
    with pytest.raises(ValueError, match="2 curves for 3"):
        metrics.count_budget_bound(curves[:2], reference, 3.0)


def test_common_refinement_is_the_coarsest_overlay():
    a = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    b = np.array([7, 7, 3, 3, 3, 9, 9, 9])
    assert metrics.common_refinement([a, b]).tolist() == [0, 0, 1, 2, 2, 3, 4, 4]
    assert metrics.common_refinement([b]).tolist() == [0, 0, 1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="no segmentations"):
        metrics.common_refinement([])
    with pytest.raises(ValueError, match=r"different lengths \[7, 8\]"):
        metrics.common_refinement([a, b[:7]])


def test_common_refinement_of_psb_humans_is_fully_achievable_for_each_and_no_finer():
    model = [m for m in list_models(shared("psb")) if m.model_id == "181"][0]
    gts = [read_seg(p) for p in model.seg_paths]
    overlay = metrics.common_refinement(gts)
    for gt in gts:
        assert metrics.achievable_segmentation_accuracy(overlay, gt) == pytest.approx(1.0)
    # coarsest: one label per distinct tuple of human labels, so no two labels could be merged
    assert overlay.max() + 1 == len({tuple(row) for row in np.stack(gts, axis=1).tolist()})
    assert overlay.max() + 1 > max(len(np.unique(g)) for g in gts)


def _prunings(node, children, num_regions):
    """Every pruning of one tree as a list of node lists (exhaustive reference)."""
    if node < num_regions:
        return [[node]]
    left, right = children[node - num_regions]
    return [[node]] + [p + q for p in _prunings(left, children, num_regions) for q in _prunings(right, children, num_regions)]


def _regions_under(node, children, num_regions):
    if node < num_regions:
        return [node]
    left, right = children[node - num_regions]
    return _regions_under(left, children, num_regions) + _regions_under(right, children, num_regions)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pruning_curve_is_the_exhaustive_best_pruning_per_count(seed):
    import itertools

    rng = np.random.default_rng(seed)
    regions, faces = 8, 60
    region_of_face = np.concatenate([np.arange(regions), rng.integers(0, regions, faces - regions)])
    weights = rng.random(faces) + 0.1
    gts = [rng.integers(0, 3, faces), rng.integers(0, 4, faces)]
    merges = np.array([[0, 1], [2, 3], [1, 3], [4, 5], [6, 7], [5, 7]])  # two trees: 0-3 and 4-7
    # the forest, node ids as the bound defines them (regions, then one per merge)
    owner, children = list(range(regions)), []
    for a, b in merges:
        children.append((owner[a], owner[b]))
        node = regions + len(children) - 1
        old = {owner[a], owner[b]}
        owner = [node if o in old else o for o in owner]
    roots = sorted(set(owner))
    best = np.full(regions + 1, -np.inf)
    for choice in itertools.product(*[_prunings(r, children, regions) for r in roots]):
        label_of_region = np.empty(regions, int)
        for label, node in enumerate(itertools.chain(*choice)):
            label_of_region[_regions_under(node, children, regions)] = label
        labels = label_of_region[region_of_face]
        asa = np.mean([metrics.achievable_segmentation_accuracy(labels, g, weights) for g in gts])
        k = labels.max() + 1
        best[k] = max(best[k], asa)
    curve = metrics.pruning_curve(merges, region_of_face, regions, gts, regions, weights)
    assert np.array_equal(np.isfinite(curve), np.isfinite(best)) and np.isinf(curve[:2]).all()
    assert np.allclose(curve[2:], best[2:])
    assert np.allclose(metrics.pruning_curve(merges, region_of_face, regions, gts, 3, weights), best[:4])
    with pytest.raises(ValueError, match="below the 2 trees"):
        metrics.pruning_curve(merges, region_of_face, regions, gts, 1, weights)
    with pytest.raises(ValueError, match="60 faces, but ground truths / weights of lengths \\[59, 60\\]"):
        metrics.pruning_curve(merges, region_of_face, regions, [gts[0][1:]], 3, weights)


def test_pruning_curve_of_a_psb_hierarchy_bounds_its_levels():
    from partverse.io import load
    from partverse.segment.facegraph import face_geometry
    from partverse.segment.geometric import geometric_hierarchy

    model = [m for m in list_models(shared("psb")) if m.model_id == "341"][0]
    mesh = load(model.mesh_path)
    gts = [read_seg(p, mesh.num_faces) for p in model.seg_paths]
    areas = face_geometry(mesh.vertices, mesh.faces)[0]
    _, h = geometric_hierarchy(mesh.vertices, mesh.faces)
    curve = metrics.pruning_curve(h.merges, h.region_of_face, h.num_regions, gts, 30, areas)
    levels = np.array([np.mean([metrics.achievable_segmentation_accuracy(h.labels_for_count(k), g, areas) for g in gts])
                       for k in range(1, 31)])
    assert (curve[1:] >= levels - 1e-12).all() and np.all(np.diff(curve[1:]) >= -1e-12)
    assert curve[1] == pytest.approx(levels[0])  # one segment: the only pruning is the whole tree
    assert curve[30] > levels[-1]  # at 30 segments some branch is better cut elsewhere than at one level
