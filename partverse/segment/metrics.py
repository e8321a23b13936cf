"""Segmentation metrics: predicted per-face labels against ground-truth per-face labels.

Every metric takes `pred` (F,) int and `gt` (F,) int labels and optional `weights` (F,) float
(face areas for the area-weighted variants of the Princeton benchmark; None = one per face).
Definitions (Chen, Golovinskiy, Funkhouser 2009; Neubert & Protzel 2012; PartGen App. B):

- rand_index_error: fraction of (weighted, ordered) face pairs on which the two labellings disagree
  about "same segment / different segment". The pairs include each face with itself (always in
  agreement): the total is W^2, where Chen et al. count the C(F, 2) pairs i < j, so this is their
  error times 1 - sum(w^2) / W^2 (on the Princeton meshes within 8e-4 of theirs, relative; on a
  mesh of a few faces much lower).
- missing rate R_m: for each ground-truth segment, the weight outside its best-overlapping
  predicted segment, summed, over the total. Penalises over-segmentation.
- false-alarm rate R_f: the same from the predicted side. Penalises under-segmentation.
- ASA (achievable segmentation accuracy) = 1 - R_f: accuracy reachable by merging predicted segments.
- under-segmentation error: sum over (pred, gt) overlaps of min(|S∩G|, |S\\G|), over the total.
- best-IoU mIoU (PartObjaverse-Tiny): for each ground-truth segment the best IoU over predicted
  segments, averaged over ground-truth segments.
- average_precision / recall_at_k: PartGen's metrics for a ranked list of part proposals.
- common_refinement: the overlay of several segmentations (the humans' union of boundaries).
- count_budget_bound / pruning_curve: bounds read with the ground truth on what a fixed merge
  hierarchy can reach (one count per model within a budget; any pruning of its tree).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp


def contingency(pred: np.ndarray, gt: np.ndarray, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """(P, G) weighted overlap matrix between labels 0..P-1 of pred and 0..G-1 of gt (relabelled
    densely; the row / column order is that of np.unique)."""
    pred, gt = np.asarray(pred).reshape(-1), np.asarray(gt).reshape(-1)
    if pred.shape != gt.shape:
        raise ValueError(f"label arrays differ in length: pred has {len(pred)} faces, gt has {len(gt)}")
    if len(pred) == 0:
        raise ValueError("label arrays are empty")
    w = _weights(weights, len(pred))
    _, p = np.unique(pred, return_inverse=True)
    _, g = np.unique(gt, return_inverse=True)
    table = sp.coo_matrix((w, (p.reshape(-1), g.reshape(-1))), shape=(p.max() + 1, g.max() + 1))
    return table.tocsr()


def _weights(weights, n: int) -> np.ndarray:
    """(n,) float64 face weights (ones for None), checked: finite, >= 0, not all zero."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (n,):
        raise ValueError(f"weights have {len(w)} entries for {n} faces")
    if not np.isfinite(w).all() or (w < 0).any():
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        raise ValueError(f"weights must be finite and >= 0: {len(bad)} are not (face {bad[0]}: {w[bad[0]]})")
    if not w.any():
        raise ValueError("weights are all zero (e.g. face areas of a mesh whose faces all have zero area)")
    return w


def rand_index_error(pred, gt, weights=None) -> float:
    table = contingency(pred, gt, weights)
    total = table.sum()
    joint = table.multiply(table).sum()
    a = np.asarray(table.sum(axis=1)).ravel()
    b = np.asarray(table.sum(axis=0)).ravel()
    return float((np.square(a).sum() + np.square(b).sum() - 2.0 * joint) / total**2)


def _row_max(table: sp.csr_matrix) -> np.ndarray:
    return np.asarray(table.max(axis=1).todense()).ravel()


def missing_rate(pred, gt, weights=None) -> float:
    table = contingency(pred, gt, weights).T.tocsr()
    return float(1.0 - _row_max(table).sum() / table.sum())


def false_alarm_rate(pred, gt, weights=None) -> float:
    table = contingency(pred, gt, weights)
    return float(1.0 - _row_max(table).sum() / table.sum())


def achievable_segmentation_accuracy(pred, gt, weights=None) -> float:
    return 1.0 - false_alarm_rate(pred, gt, weights)


def undersegmentation_error(pred, gt, weights=None) -> float:
    table = contingency(pred, gt, weights).tocoo()
    pred_size = np.asarray(table.sum(axis=1)).ravel()
    inside = table.data
    outside = pred_size[table.row] - inside
    return float(np.minimum(inside, outside).sum() / pred_size.sum())


def best_iou_miou(pred, gt, weights=None) -> float:
    table = contingency(pred, gt, weights).tocoo()
    pred_size = np.asarray(table.sum(axis=1)).ravel()
    gt_size = np.asarray(table.sum(axis=0)).ravel()
    union = pred_size[table.row] + gt_size[table.col] - table.data
    iou = np.divide(table.data, union, out=np.zeros(len(union)), where=union > 0)
    best = np.zeros(len(gt_size))
    np.maximum.at(best, table.col, iou)
    # a ground-truth segment of zero weight (zero-area faces only) has no IoU: left out
    return float(best[gt_size > 0].mean())


@dataclass(slots=True)
class SegmentationScores:
    """Scores of one predicted labelling against one ground truth (area-weighted by default)."""

    rand_index_error: float
    missing_rate: float
    false_alarm_rate: float
    asa: float
    undersegmentation_error: float
    miou: float
    num_pred: int
    num_gt: int

    def as_dict(self) -> dict:
        return asdict(self)


def score(pred, gt, weights=None) -> SegmentationScores:
    """All per-labelling metrics at once."""
    fa = false_alarm_rate(pred, gt, weights)
    return SegmentationScores(
        rand_index_error=rand_index_error(pred, gt, weights),
        missing_rate=missing_rate(pred, gt, weights),
        false_alarm_rate=fa,
        asa=1.0 - fa,
        undersegmentation_error=undersegmentation_error(pred, gt, weights),
        miou=best_iou_miou(pred, gt, weights),
        num_pred=int(len(np.unique(pred))),
        num_gt=int(len(np.unique(gt))),
    )


def mean_scores(pred, gts: list[np.ndarray], weights=None) -> dict:
    """Scores of `pred` against every ground truth in `gts`, averaged (the benchmark's protocol)."""
    if not gts:
        raise ValueError("no ground-truth segmentations given")
    rows = [score(pred, gt, weights).as_dict() for gt in gts]
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def human_consistency(gts: list[np.ndarray], weights=None) -> dict:
    """Each ground truth scored against the others, averaged: the human reference row."""
    if len(gts) < 2:
        raise ValueError("human consistency needs at least two ground-truth segmentations")
    rows = [mean_scores(gts[i], gts[:i] + gts[i + 1 :], weights) for i in range(len(gts))]
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def common_refinement(segmentations: list[np.ndarray]) -> np.ndarray:
    """(F,) int64 labels of the coarsest segmentation that refines every one of `segmentations`
    ((F,) int each): two faces share a label iff they share one in every input (numbered by
    first face). Its ASA against each input is 1; split into connected pieces and merged back,
    it gives a hierarchy that knows every human boundary (`benchmarks/segmentation_psb.py --oracle`)."""
    from partverse.geometry.adjacency import relabel_by_first_occurrence

    if not segmentations:
        raise ValueError("common_refinement: no segmentations given")
    flat = [np.asarray(s).reshape(-1) for s in segmentations]
    if len({len(f) for f in flat}) > 1:
        raise ValueError(f"common_refinement: segmentations of different lengths {sorted({len(f) for f in flat})}")
    _, inverse = np.unique(np.stack(flat, axis=1), axis=0, return_inverse=True)
    return relabel_by_first_occurrence(inverse.reshape(-1).astype(np.int64))


# ---- ranked proposals (PartGen, Appendix B) ----


def _proposal_iou(proposals: np.ndarray, gt: np.ndarray, weights) -> np.ndarray:
    """(N, S) IoU between N boolean face masks (N, F) and the S segments of gt (F,)."""
    proposals = np.asarray(proposals, dtype=bool)
    if proposals.ndim != 2 or proposals.shape[1] != len(gt):
        raise ValueError(f"proposals must be (N, {len(gt)}) boolean face masks, got {proposals.shape}")
    w = _weights(weights, len(gt))
    _, g = np.unique(gt, return_inverse=True)
    onehot = sp.csr_matrix((w, (np.arange(len(gt)), g.reshape(-1))))
    inter = sp.csr_matrix(proposals.astype(np.float64)) @ onehot
    inter = np.asarray(inter.todense())
    prop_size = proposals.astype(np.float64) @ w
    gt_size = np.asarray(onehot.sum(axis=0)).ravel()
    # PartGen's epsilon = 1e-4 of a pixel, here of a mean face: the same 1e-4 unweighted, and
    # independent of the mesh's units when weighted by areas (an absolute 1e-4 is a face's worth
    # on a small mesh: disjoint masks of tiny parts then scored IoU ~0.5)
    eps = 1e-4 * w.sum() / len(w)
    return (inter + eps) / (prop_size[:, None] + gt_size[None, :] - inter + eps)


def average_precision(proposals: np.ndarray, gt: np.ndarray, tau: float = 0.5, weights=None) -> float:
    """PartGen AP at IoU threshold tau for proposals (N, F) bool, ranked best first."""
    iou = _proposal_iou(proposals, gt, weights)
    remaining = np.ones(iou.shape[1], dtype=bool)
    hits = np.zeros(len(iou))
    for k in range(len(iou)):  # loop over proposals (ranked list), not faces
        if not remaining.any():
            break
        candidates = np.where(remaining, iou[k], -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= tau:
            hits[k] = 1.0
            remaining[best] = False
    precision_at_k = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((hits * precision_at_k).sum() / iou.shape[1])


def recall_at_k(proposals: np.ndarray, gt: np.ndarray, k: int, tau: float = 0.5, weights=None) -> float:
    """Fraction of ground-truth segments matched with IoU > tau by one of the first k proposals."""
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"recall_at_k: k = {k!r}: must be an integer >= 0")
    iou = _proposal_iou(proposals[:k], gt, weights)
    return float((iou.max(axis=0) > tau).mean()) if len(iou) else 0.0


def ranked_proposals(levels: list[np.ndarray], weights=None) -> np.ndarray:
    """(N, F) bool part proposals from several labellings (e.g. one hierarchy cut at several
    granularities), ranked as PartGen ranks its own: score = how many proposals overlap it with
    IoU > 1/2, best first, then duplicates (IoU > 1/2 with a kept one) removed down the list."""
    masks = []
    for labels in levels:
        _, inverse = np.unique(np.asarray(labels), return_inverse=True)
        masks.append(np.eye(inverse.max() + 1, dtype=bool)[inverse.reshape(-1)].T)
    stacked = np.concatenate(masks)
    w = _weights(weights, stacked.shape[1])
    as_float = sp.csr_matrix(stacked.astype(np.float64))
    inter = np.asarray((as_float.multiply(w[None, :]) @ as_float.T).todense())
    size = np.diag(inter)
    iou = inter / (size[:, None] + size[None, :] - inter)
    score = (iou > 0.5).sum(axis=1)
    order = np.lexsort((-size, -score))
    kept: list[int] = []
    for i in order:  # loop over proposals (tens), not faces
        if not kept or iou[i, kept].max() <= 0.5:
            kept.append(int(i))
    return stacked[kept]


# ---- count budgets (how far a stopping rule can go on a fixed hierarchy) ----


@dataclass(slots=True)
class CountBudgetBound:
    """best_found: mean score of `counts`, the best feasible choice the relaxation found;
    upper_bound: no choice of one count per model within the budget has a higher mean score."""

    best_found: float
    upper_bound: float
    counts: list[int]


def count_budget_bound(curves: list[dict[int, float]], reference: np.ndarray, budget: float,
                       ceiling: float | np.ndarray = 1.0) -> CountBudgetBound:
    """Choose one count k_i per model to maximise mean_i score_i(k_i) subject to
    mean_i k_i / reference_i <= budget, by Lagrangian relaxation (penalty lam * k / reference_i).

    curves: per model {count: score} (e.g. ASA of a hierarchy cut at each count); reference: (N,)
    counts the budget is relative to (the human median). ceiling: scalar or (N,), what no count
    beyond a curve's largest one scores more than (1 for ASA; for a nested hierarchy the ASA of its
    finest level, since ASA never drops under refinement), so the upper bound covers those counts
    too. The loop runs over models and penalties (a few hundred), never over faces."""
    reference = np.asarray(reference, dtype=np.float64)
    ceiling = np.broadcast_to(np.asarray(ceiling, dtype=np.float64), reference.shape)
    if len(curves) != len(reference) or not len(curves) or min(len(c) for c in curves) == 0:
        raise ValueError(f"count_budget_bound: {len(curves)} curves for {len(reference)} reference counts")
    ks = [np.array(sorted(c), dtype=np.float64) for c in curves]
    scores = [np.array([c[int(k)] for k in kk]) for c, kk in zip(curves, ks)]
    penalties = np.concatenate([[0.0], np.geomspace(1e-6, 10.0, 600)])
    best, bound, counts = -np.inf, np.inf, [int(k[0]) for k in ks]
    for lam in penalties:
        value = [s - lam * k / r for s, k, r in zip(scores, ks, reference)]
        pick = [int(np.argmax(v)) for v in value]  # first maximum: the smaller count on ties
        beyond = [c - lam * (k[-1] + 1) / r for k, r, c in zip(ks, reference, ceiling)]
        dual = np.mean([max(v[p], b) for v, p, b in zip(value, pick, beyond)]) + lam * budget
        bound = min(bound, float(dual))
        chosen = [int(k[p]) for k, p in zip(ks, pick)]
        mean_score = float(np.mean([s[p] for s, p in zip(scores, pick)]))
        if np.mean(np.array(chosen) / reference) <= budget and mean_score > best:
            best, counts = mean_score, chosen
    return CountBudgetBound(float(best) if np.isfinite(best) else float("nan"), bound, counts)


def pruning_curve(merges: np.ndarray, region_of_face: np.ndarray, num_regions: int, gts: list[np.ndarray],
                  max_segments: int, weights=None) -> np.ndarray:
    """(max_segments + 1,) float64: entry j is the best ASA (averaged over `gts`) of any
    segmentation with exactly j segments whose segments are clusters of a merge forest (-inf where
    no pruning has j segments: fewer than its trees or more than its regions; the finite entries
    never decrease, since splitting never lowers ASA): not only the forest's levels (a count or a
    threshold cuts every branch at the same merge), but every pruning, each branch cut where it
    suits the ground truth best. How far a selection rule on a fixed hierarchy could go; it reads
    the ground truth, so it is a bound, not a result.

    merges: (M, 2) region ids merged in order (each row joins the two regions' current clusters,
    as `hierarchy.MergeHierarchy.merges`); region_of_face: (F,) region 0..num_regions-1 per face.
    ASA is additive over segments (each counts its best-overlapping ground-truth weight), so the
    best pruning of each cluster with j segments follows from its two children's by a max-plus
    convolution (a tree knapsack). Loops run over merges and counts, never over faces.
    Raises ValueError when `max_segments` is below the number of trees (the fewest segments)."""
    from partverse.geometry.adjacency import find_root

    if not isinstance(max_segments, (int, np.integer)) or max_segments < 1:
        raise ValueError(f"pruning_curve: max_segments = {max_segments!r}: must be a positive integer")
    region_of_face = np.asarray(region_of_face, dtype=np.int64)
    merges = np.asarray(merges, dtype=np.int64).reshape(-1, 2)
    n = int(num_regions)
    if len(region_of_face) and (region_of_face.min() < 0 or region_of_face.max() >= n):
        raise ValueError(f"pruning_curve: region ids span [{region_of_face.min()}, {region_of_face.max()}], "
                         f"outside the {n} regions")
    if merges.size and (merges.min() < 0 or merges.max() >= n):
        raise ValueError(f"pruning_curve: merges name regions [{merges.min()}, {merges.max()}], outside the {n} regions")
    sizes = {len(np.asarray(g)) for g in gts} | ({len(region_of_face)} if weights is None else {np.size(weights)})
    if not gts or sizes != {len(region_of_face)}:
        raise ValueError(f"pruning_curve: {len(region_of_face)} faces, but ground truths / weights of lengths "
                         f"{sorted(sizes) if gts else 'none given'}")
    w = _weights(weights, len(region_of_face))
    columns = []  # (regions, labels) overlap weight with each ground truth, side by side
    for gt in gts:
        _, labels = np.unique(np.asarray(gt), return_inverse=True)
        k = int(labels.max()) + 1
        columns.append(np.bincount(region_of_face * k + labels.ravel(), weights=w, minlength=n * k).reshape(n, k))
    starts = np.cumsum([0] + [c.shape[1] for c in columns[:-1]])
    overlap = np.concatenate(columns, axis=1) / (w.sum() * len(gts))
    # the forest: node ids 0..n-1 are the regions, n + i the cluster made by merge i
    node_of_root = np.arange(n)
    parent = np.arange(n)
    children = np.empty((len(merges), 2), np.int64)
    rows = np.empty((n + len(merges), overlap.shape[1]))
    rows[:n] = overlap
    for i, (a, b) in enumerate(merges):
        ra, rb = find_root(parent, a), find_root(parent, b)
        if ra == rb:
            raise ValueError(f"pruning_curve: merge {i} ({a}, {b}) joins two regions already in one cluster")
        children[i] = node_of_root[ra], node_of_root[rb]
        rows[n + i] = rows[children[i, 0]] + rows[children[i, 1]]
        parent[rb] = ra
        node_of_root[ra] = n + i
    whole = np.maximum.reduceat(rows, starts, axis=1).sum(axis=1)  # each node as one segment
    best = [np.array([-np.inf, s]) for s in whole[:n]]  # best[node][j]: its best pruning into j segments
    for i, (left, right) in enumerate(children):
        out = _max_plus(best[left], best[right], max_segments)
        out[1] = whole[n + i]
        best.append(out)
    roots = sorted({int(node_of_root[find_root(parent, r)]) for r in range(n)})
    if max_segments < len(roots):
        raise ValueError(f"pruning_curve: max_segments = {max_segments} is below the {len(roots)} trees of the forest")
    total = best[roots[0]]
    for r in roots[1:]:
        total = _max_plus(total, best[r], max_segments)
    curve = np.full(max_segments + 1, -np.inf)
    curve[: len(total)] = total[: max_segments + 1]
    return curve


def _max_plus(a: np.ndarray, b: np.ndarray, limit: int) -> np.ndarray:
    """c[j] = max over i + k = j of a[i] + b[k], for j up to `limit` (index 0 = no segments: -inf)."""
    size = min(limit, len(a) - 1 + len(b) - 1)
    out = np.full(size + 1, -np.inf)
    i, k = np.meshgrid(np.arange(1, len(a)), np.arange(1, len(b)), indexing="ij")
    j = (i + k).ravel()
    keep = j <= size
    np.maximum.at(out, j[keep], (a[1:, None] + b[None, 1:]).ravel()[keep])
    return out
