"""Multi-label graph cut by alpha-expansion (Boykov, Veksler & Zabih 2001) over a face graph.

Energy of a labelling L of F faces:

    E(L) = sum_f cost(f, L_f) + sum_{(p, q) in pairs} weight_pq * [L_p != L_q]     (Potts)

Every face has a candidate set of labels, given with their costs; a face never takes a label
outside it. One expansion move per label alpha lets every face that may take alpha either keep
its label or switch to alpha; the best such move is a binary min cut (Kolmogorov & Zabih's
construction, exact because Potts is a metric), over the faces that may take alpha only, solved
by PyMaxflow (Boykov-Kolmogorov; microseconds of overhead per cut) when it is installed, else by
scipy's max flow (Dinic, capacities scaled to integers; ~100x the overhead per cut). Each move's
energy is re-checked in floating point and kept only when it is lower: the energy never rises.
Sweeps over the labels repeat until none lowers the energy (or `max_sweeps`). Batched sweeps
colour the labels so that moves of one colour share no face and no link, and solve each colour's
moves as one max flow (for many labels with local candidate sets, e.g. `borders`).
Vectorized over faces and edges (a move's binary problem by compiled loops, `graphcut_kernels`);
the only Python loops are over labels (one move each) or colours, and sweeps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from partverse.errors import PartverseError

_CAPACITY = 1 << 14  # the largest capacity after scaling to integers (relative precision 6e-5)
_FLOW_LIMIT = 1 << 30  # scipy's flows are int32: keep the total source capacity below this


@dataclass(slots=True)
class Candidates:
    """The labels each face may take and their costs, as (C,) parallel arrays sorted by
    (face, label) without repeats: face int64 in [0, num_faces), label int64, cost float64 >= 0."""

    face: np.ndarray
    label: np.ndarray
    cost: np.ndarray
    num_faces: int

    @classmethod
    def build(cls, face: np.ndarray, label: np.ndarray, cost: np.ndarray, num_faces: int) -> "Candidates":
        """From unsorted (face, label, cost) triples; a repeated (face, label) keeps its lowest cost."""
        face, label = np.asarray(face, dtype=np.int64), np.asarray(label, dtype=np.int64)
        cost = np.asarray(cost, dtype=np.float64)
        if not (len(face) == len(label) == len(cost)):
            raise PartverseError(f"candidates: {len(face)} faces, {len(label)} labels, {len(cost)} costs must be equal in number")
        if len(face) and (face.min() < 0 or face.max() >= num_faces or label.min() < 0):
            raise PartverseError(f"candidates: faces outside [0, {num_faces}) or negative labels")
        if not np.isfinite(cost).all() or (cost < 0).any():
            raise PartverseError("candidates: costs must be finite and >= 0")
        order = np.lexsort((cost, label, face))
        face, label, cost = face[order], label[order], cost[order]
        first = np.r_[True, (face[1:] != face[:-1]) | (label[1:] != label[:-1])] if len(face) else np.zeros(0, bool)
        return cls(face[first], label[first], cost[first], int(num_faces))

    def _keys(self) -> np.ndarray:
        return self.face * (int(self.label.max(initial=0)) + 1) + self.label

    def cost_of(self, labels: np.ndarray) -> np.ndarray:
        """(F,) cost of each face's label in (F,) `labels`; +inf where it is not a candidate."""
        keys, width = self._keys(), int(self.label.max(initial=0)) + 1
        labels = np.asarray(labels, dtype=np.int64)
        query = np.arange(self.num_faces) * width + labels
        at = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
        ok = (labels >= 0) & (labels < width) & (len(keys) > 0)
        ok &= keys[at] == query if len(keys) else False
        return np.where(ok, self.cost[at] if len(keys) else 0.0, np.inf)


def potts_energy(candidates: Candidates, pairs: np.ndarray, weights: np.ndarray, labels: np.ndarray) -> float:
    """E(labels) as in the module docstring (+inf when a face's label is not a candidate)."""
    labels = np.asarray(labels, dtype=np.int64)
    cut = labels[pairs[:, 0]] != labels[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
    return float(candidates.cost_of(labels).sum() + np.asarray(weights, dtype=np.float64)[cut].sum())


def alpha_expansion(candidates: Candidates, pairs: np.ndarray, weights: np.ndarray, labels: np.ndarray,
                    max_sweeps: int = 4, batched: bool = False) -> np.ndarray:
    """(F,) int64 labels of lower (or equal) energy than `labels`, each face's label one of its
    candidates. pairs: (E, 2) int face pairs; weights: (E,) float >= 0 Potts weights;
    labels: (F,) int starting labelling, itself made of candidates. Work per move is
    proportional to the faces that may take its label and their pairs, not to F.
    `batched`: the labels are coloured so that moves of one colour cannot interact
    (`colour_labels`), and each colour's moves run as one max flow: a sweep costs a max flow per
    colour instead of per label (the same moves as a sweep in colour order)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    weights = np.asarray(weights, dtype=np.float64)
    n = candidates.num_faces
    if labels.shape != (n,) or len(weights) != len(pairs):
        raise PartverseError(f"alpha_expansion: {labels.shape} labels, {len(pairs)} pairs and {len(weights)} weights for {n} faces")
    if len(weights) and (not np.isfinite(weights).all() or weights.min() < 0):
        raise PartverseError("alpha_expansion: pair weights must be finite and >= 0")
    width = int(max(candidates.label.max(initial=0), labels.max(initial=0))) + 1
    state = _State(labels, candidates.cost_of(labels), pairs, weights, width)
    if not np.isfinite(state.cost).all():
        raise PartverseError("alpha_expansion: the starting labelling uses labels outside the faces' candidate sets")
    tolerance = 1e-9 * max(1.0, float(state.cost.sum() + weights.sum()))
    if batched:
        colour = colour_labels(candidates, pairs, labels)[candidates.label]
        order = np.argsort(colour, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(colour[order])) + 1)
        for _ in range(max_sweeps):
            improved = False
            for group in groups:  # loop over colours; each is one max flow
                improved |= state.expand_many(candidates.label[group], candidates.face[group], candidates.cost[group], tolerance)
            if not improved:
                break
        return state.labels
    order = np.argsort(candidates.label, kind="stable")
    alphas, starts = np.unique(candidates.label[order], return_index=True)
    groups = np.split(order, starts[1:])
    tried = np.full(len(alphas), -1, dtype=np.int64)  # move counter when each label was last tried
    for _ in range(max_sweeps):
        improved = False
        for i, (alpha, group) in enumerate(zip(alphas, groups)):  # loop over labels; each move is vectorized
            moved = state.expand(int(alpha), candidates.face[group], candidates.cost[group], tolerance, tried[i])
            tried[i] = state.moves
            improved |= moved
        if not improved:
            break
    return state.labels


def colour_labels(candidates: Candidates, pairs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(L,) int64 colour per label (L = largest candidate label + 1) such that two labels of one
    colour have expansion moves that cannot interact: no face may switch to both, and no link
    joins a face that may switch to one and a face that may switch to the other. Greedy colouring
    (compiled), labels in order of decreasing conflicts."""
    from partverse.segment.graphcut_kernels import greedy_colours, label_conflicts

    width = int(candidates.label.max(initial=0)) + 1
    n = candidates.num_faces
    switchable = candidates.label != labels[candidates.face]
    face, label = candidates.face[switchable], candidates.label[switchable]
    start = np.searchsorted(face, np.arange(n + 1))
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    a, b = label_conflicts(start, label, np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]))
    edges = np.unique(a * width + b)
    a, b = edges // width, edges % width
    start = np.searchsorted(a, np.arange(width + 1))
    return greedy_colours(np.argsort(-np.diff(start), kind="stable"), start, b, width)


class _State:
    """The current labelling, its per-face costs, a face -> pair incidence for local moves, and
    when each face last changed (moves applied so far), to skip moves whose outcome is known.
    A move's binary problem is built and applied by compiled loops (`graphcut_kernels`); for a
    move, with alpha on faces that may switch and x = 1 meaning "switches", a link (p, q) with
    weight w costs, when both are free (a, b != alpha): A = w[a != b] (neither switches), B = C = w,
    D = 0, decomposed into linear costs (C - A on p, D - C on q) and an arc of capacity
    B + C - A - D = 2w - A >= 0 (submodular, Potts being a metric); when q is fixed:
    w[alpha != b] - w[a != b] on p's cost of switching."""

    def __init__(self, labels: np.ndarray, cost: np.ndarray, pairs: np.ndarray, weights: np.ndarray, width: int):
        from partverse.segment.graphcut_kernels import incidence

        n, e = len(labels), len(pairs)
        self.labels, self.cost, self.weights = labels, cost, weights
        self.pair_a, self.pair_b = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
        self.indptr, self.indices = incidence(n, self.pair_a, self.pair_b)  # pairs touching each face
        self.local = np.full(n, -1, dtype=np.int64)  # scratch: face -> node index in the current move
        self.stamp = np.full(e, -1, dtype=np.int64)  # scratch: the build that last saw each pair
        self.group_of_label = np.full(width, -1, dtype=np.int64)  # scratch
        self.changed = np.zeros(n, dtype=np.int64)  # value of `moves` when the face last changed
        self.moves = 1
        self.builds = 0

    def _build(self, nodes: np.ndarray, node_alpha: np.ndarray, node_alpha_cost: np.ndarray):
        from partverse.segment.graphcut_kernels import build_move

        self.builds += 1
        return build_move(self.indptr, self.indices, self.pair_a, self.pair_b, self.weights, self.labels, self.cost,
                          nodes, node_alpha, node_alpha_cost, self.local, self.stamp, self.builds, self.group_of_label)

    def _apply(self, switch, nodes, node_alpha, node_alpha_cost, built, tolerance: float) -> bool:
        from partverse.segment.graphcut_kernels import apply_move

        _, unary, edges, _, _, _, group, groups = built
        moved = apply_move(switch, nodes, node_alpha, node_alpha_cost, unary, edges, self.pair_a, self.pair_b,
                           self.weights, self.labels, self.cost, self.local, self.changed, self.moves + 1, group,
                           groups, tolerance)
        self.moves += int(moved)
        return moved

    def expand(self, alpha: int, faces: np.ndarray, alpha_cost: np.ndarray, tolerance: float, tried: int) -> bool:
        """Apply the best alpha-expansion move when it lowers the energy by more than `tolerance`;
        skipped when nothing it depends on changed since the move was last tried (at `tried`)."""
        active = self.labels[faces] != alpha
        if not active.any():
            return False
        nodes, node_alpha_cost = faces[active], alpha_cost[active]
        node_alpha = np.full(len(nodes), alpha, dtype=np.int64)
        built = self._build(nodes, node_alpha, node_alpha_cost)
        lin, _, edges, head, tail, capacity, _, _ = built
        if tried >= 0 and max(self.changed[self.pair_a[edges]].max(initial=0), self.changed[self.pair_b[edges]].max(initial=0),
                              self.changed[nodes].max()) < tried:
            self.local[nodes] = -1
            return False
        switch = _min_cut(len(nodes), lin, head, tail, capacity)
        return self._apply(switch, nodes, node_alpha, node_alpha_cost, built, tolerance)

    def expand_many(self, alphas: np.ndarray, faces: np.ndarray, alpha_cost: np.ndarray, tolerance: float) -> bool:
        """Independent expansion moves at once, one max flow for all: face faces[i] may take
        alphas[i]; the faces of different alphas must share no face and no link (`colour_labels`),
        so their moves do not interact. Each alpha's move is applied when it lowers the energy."""
        active = self.labels[faces] != alphas
        if not active.any():
            return False
        nodes, node_alpha, node_alpha_cost = faces[active], alphas[active], alpha_cost[active]
        built = self._build(nodes, node_alpha, node_alpha_cost)
        lin, _, _, head, tail, capacity, _, _ = built
        switch = _min_cut(len(nodes), lin, head, tail, capacity)
        return self._apply(switch, nodes, node_alpha, node_alpha_cost, built, tolerance)


def _min_cut(n: int, lin: np.ndarray, head: np.ndarray, tail: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """(n,) bool x minimizing sum lin * x + sum capacity * (1 - x_head) * x_tail (capacity >= 0),
    by a min s-t cut: source side = x 0, sink side = x 1. PyMaxflow (Boykov-Kolmogorov, floats)
    when it is installed, else scipy's Dinic on integer-scaled capacities."""
    try:
        import maxflow
    except ImportError:
        return _min_cut_scipy(n, lin, head, tail, capacity)
    return _min_cut_maxflow(maxflow, n, lin, head, tail, capacity)


def _min_cut_maxflow(maxflow, n: int, lin: np.ndarray, head: np.ndarray, tail: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    graph = maxflow.Graph[float](n, len(head))
    nodes = graph.add_nodes(n)
    graph.add_grid_tedges(nodes, np.maximum(lin, 0.0), np.maximum(-lin, 0.0))
    if len(head):
        graph.add_edges(head.astype(np.int32), tail.astype(np.int32), capacity.astype(np.float64), np.zeros(len(head)))
    graph.maxflow()
    return np.asarray(graph.get_grid_segments(nodes), dtype=bool)


def _min_cut_scipy(n: int, lin: np.ndarray, head: np.ndarray, tail: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    source, sink = n, n + 1
    rows = np.r_[np.full(n, source), np.arange(n), head]
    cols = np.r_[np.arange(n), np.full(n, sink), tail]
    caps = np.r_[np.maximum(lin, 0.0), np.maximum(-lin, 0.0), capacity]
    top = float(caps.max(initial=0.0))
    if top <= 0.0:
        return np.zeros(n, dtype=bool)
    scale = min(_CAPACITY / top, _FLOW_LIMIT / max(float(caps[:n].sum()), 1e-300))
    ints = np.rint(caps * scale).astype(np.int64)
    keep = (ints > 0) & (rows != cols)
    graph = sp.csr_matrix((ints[keep].astype(np.int32), (rows[keep], cols[keep])), shape=(n + 2, n + 2))
    graph.sum_duplicates()
    flow = maximum_flow(graph, source, sink).flow
    residual = (graph - flow).tocsr()  # flow is skew-symmetric: reverse residuals appear here
    residual.data = np.where(residual.data > 0, 1, 0).astype(np.int32)
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    on_source = np.zeros(n + 2, dtype=bool)
    on_source[reached] = True
    return ~on_source[:n]
