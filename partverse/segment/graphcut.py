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
Vectorized over faces and edges; the only Python loops are over labels (moves, colouring) and sweeps.
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
    state = _State(labels, candidates.cost_of(labels), pairs, weights)
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
    joins a face that may switch to one and a face that may switch to the other. Greedy colouring,
    labels in order of decreasing conflicts (the only Python loop is over labels)."""
    width = int(candidates.label.max(initial=0)) + 1
    n = candidates.num_faces
    switchable = candidates.label != labels[candidates.face]
    face, label = candidates.face[switchable], candidates.label[switchable]
    start = np.searchsorted(face, np.arange(n + 1))
    count = np.diff(start)
    # groups of labels that conflict pairwise: each face's switchable labels, and each link's two
    # faces' switchable labels together
    near = pairs[(count[pairs[:, 0]] + count[pairs[:, 1]] > 1)]
    parts = [(face, label)]
    for side in (0, 1):
        ends = near[:, side]
        k = count[ends]
        offset = np.repeat(start[ends] - np.cumsum(k) + k, k) + np.arange(int(k.sum()))
        parts.append((n + np.repeat(np.arange(len(near)), k), label[offset]))
    group = np.concatenate([g for g, _ in parts])
    member = np.concatenate([m for _, m in parts])
    keys = np.unique(group * width + member)
    group, member = keys // width, keys % width
    a, b = [], []
    for k in range(1, int(np.bincount(group).max(initial=1)) if len(group) else 1):
        same = group[k:] == group[:-k]
        a.append(member[:-k][same])
        b.append(member[k:][same])
    colour = np.zeros(width, dtype=np.int64)
    if not a or not sum(len(x) for x in a):
        return colour
    a, b = np.concatenate(a), np.concatenate(b)
    edges = np.unique(np.r_[a * width + b, b * width + a])
    a, b = edges // width, edges % width
    start = np.searchsorted(a, np.arange(width + 1))
    degree = np.diff(start)
    colour[:] = -1
    for x in np.argsort(-degree, kind="stable").tolist():
        taken = set(colour[b[start[x]:start[x + 1]]].tolist())
        c = 0
        while c in taken:
            c += 1
        colour[x] = c
    return colour


class _State:
    """The current labelling, its per-face costs, a face -> pair incidence for local moves, and
    when each face last changed (moves applied so far), to skip moves whose outcome is known."""

    def __init__(self, labels: np.ndarray, cost: np.ndarray, pairs: np.ndarray, weights: np.ndarray):
        n, e = len(labels), len(pairs)
        self.labels, self.cost, self.pairs, self.weights = labels, cost, pairs, weights
        incidence = sp.csr_matrix((np.ones(2 * e), (pairs.T.ravel(), np.r_[np.arange(e), np.arange(e)])), shape=(n, e))
        self.indptr, self.indices = incidence.indptr.astype(np.int64), incidence.indices.astype(np.int64)
        self.local = np.full(n, -1, dtype=np.int64)  # scratch: face -> node index in the current move
        self.changed = np.zeros(n, dtype=np.int64)  # value of `moves` when the face last changed
        self.moves = 1

    def incident_pairs(self, faces: np.ndarray) -> np.ndarray:
        """Indices of the pairs touching `faces` (with repeats), from the CSR incidence."""
        start, count = self.indptr[faces], self.indptr[faces + 1] - self.indptr[faces]
        offset = np.repeat(start - np.cumsum(count) + count, count)
        return self.indices[offset + np.arange(int(count.sum()))]

    def expand(self, alpha: int, faces: np.ndarray, alpha_cost: np.ndarray, tolerance: float, tried: int) -> bool:
        """Apply the best alpha-expansion move when it lowers the energy by more than `tolerance`;
        skipped when nothing it depends on changed since the move was last tried (at `tried`)."""
        active = self.labels[faces] != alpha
        if not active.any():
            return False
        nodes, node_alpha_cost = faces[active], alpha_cost[active]
        edges = np.unique(self.incident_pairs(nodes))
        if tried >= 0 and self.changed[self.pairs[edges]].max(initial=0) < tried and self.changed[nodes].max() < tried:
            return False
        self.local[nodes] = np.arange(len(nodes))
        try:
            switch, node_delta, edge_delta, _ = self._move(alpha, nodes, node_alpha_cost, edges)
        finally:
            self.local[nodes] = -1
        delta = float(node_delta.sum() + edge_delta.sum())
        if not switch.any() or delta >= -tolerance:
            return False
        self.labels[nodes[switch]] = alpha
        self.cost[nodes[switch]] = node_alpha_cost[switch]
        self.moves += 1
        self.changed[nodes[switch]] = self.moves
        return True

    def expand_many(self, alphas: np.ndarray, faces: np.ndarray, alpha_cost: np.ndarray, tolerance: float) -> bool:
        """Independent expansion moves at once, one max flow for all: face faces[i] may take
        alphas[i]; the faces of different alphas must share no face and no link (`colour_labels`),
        so their moves do not interact. Each alpha's move is applied when it lowers the energy."""
        active = self.labels[faces] != alphas
        if not active.any():
            return False
        nodes, node_alpha, node_alpha_cost = faces[active], alphas[active], alpha_cost[active]
        edges = np.unique(self.incident_pairs(nodes))
        self.local[nodes] = np.arange(len(nodes))
        try:
            switch, node_delta, edge_delta, edge_node = self._move(node_alpha, nodes, node_alpha_cost, edges)
        finally:
            self.local[nodes] = -1
        which, index = np.unique(node_alpha, return_inverse=True)
        delta = np.bincount(index, weights=node_delta, minlength=len(which))
        delta += np.bincount(index[edge_node], weights=edge_delta, minlength=len(which))
        switch &= (delta < -tolerance)[index]
        if not switch.any():
            return False
        self.labels[nodes[switch]] = node_alpha[switch]
        self.cost[nodes[switch]] = node_alpha_cost[switch]
        self.moves += 1
        self.changed[nodes[switch]] = self.moves
        return True

    def _move(self, alpha, nodes: np.ndarray, node_alpha_cost: np.ndarray, edges: np.ndarray):
        """The min cut of one expansion move (alpha: an int, or (n,) per node for `expand_many`):
        (n,) bool faces that switch, (n,) unary energy change of each face if it switches (0 if
        not), (len(edges),) pair energy change, and (len(edges),) a node of each edge's move."""
        n = len(nodes)
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.int64), (n,))
        p, q, w = self.pairs[edges, 0], self.pairs[edges, 1], self.weights[edges]
        lp, lq, a, b = self.local[p], self.local[q], self.labels[p], self.labels[q]
        lin = node_alpha_cost - self.cost[nodes]  # x = 1: the face switches to alpha
        both = (lp >= 0) & (lq >= 0)  # both free: the same alpha (independent moves share no link)
        # both free (a, b != alpha): A = w[a != b], B = C = w, D = 0
        wb = w[both]
        big_a = np.where(a[both] == b[both], 0.0, wb)
        unary = lin.copy()
        lin += np.bincount(lp[both], weights=wb - big_a, minlength=n) - np.bincount(lq[both], weights=wb, minlength=n)
        # one side fixed: w[alpha != fixed] - w[own != fixed] on the free face's cost of x = 1
        for free, own, fixed, side in ((lp, a, b, (lp >= 0) & (lq < 0)), (lq, b, a, (lq >= 0) & (lp < 0))):
            delta = w[side] * ((fixed[side] != alpha[free[side]]).astype(np.float64) - (own[side] != fixed[side]))
            lin += np.bincount(free[side], weights=delta, minlength=n)
        switch = _min_cut(n, lin, lp[both], lq[both], 2.0 * wb - big_a)
        new_a = np.where((lp >= 0) & switch[np.maximum(lp, 0)], alpha[np.maximum(lp, 0)], a)
        new_b = np.where((lq >= 0) & switch[np.maximum(lq, 0)], alpha[np.maximum(lq, 0)], b)
        edge_delta = w * ((new_a != new_b).astype(np.float64) - (a != b))
        return switch, np.where(switch, unary, 0.0), edge_delta, np.where(lp >= 0, lp, lq)


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
