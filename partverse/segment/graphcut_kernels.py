"""Compiled (numba) steps of `graphcut`'s expansion moves, so that a move's cost is its max flow.

- `build_move`: the binary problem of a move (one alpha, or several independent ones, each node
  with its own alpha): the links touching the nodes (each once), each node's linear cost of
  switching, and the pairwise arcs between two free nodes, by Kolmogorov & Zabih's construction
  (see `graphcut._State`); also each node's group (its alpha's index) for `apply_move`.
- `apply_move`: after the min cut, each group's energy change (its nodes' unary change and its
  links' Potts change), and the switches of the groups that lower the energy.
- `greedy_colours`: greedy colouring of a conflict graph in a given order (`colour_labels`).

Module-level functions (not a closure), cached on disk, as in `hierarchy_kernels`.
"""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)


@_jit
def build_move(indptr, indices, pair_a, pair_b, weights, labels, cost, nodes, node_alpha, node_alpha_cost, local,
               stamp, move_id, group_of_label):
    """Returns lin (n,), unary (n,), edges (m,), head, tail, capacity (arcs between free nodes),
    group (n,) and the number of groups. local (F,) must be -1 everywhere and is left holding each
    node's index (reset by `apply_move`); stamp (E,) marks the links seen in move `move_id`;
    group_of_label (L,) must be -1 everywhere and is left so."""
    n = len(nodes)
    total = 0
    for i in range(n):
        f = nodes[i]
        local[f] = i
        total += indptr[f + 1] - indptr[f]
    lin = np.empty(n)
    unary = np.empty(n)
    group = np.empty(n, np.int64)
    groups = 0
    for i in range(n):
        lin[i] = node_alpha_cost[i] - cost[nodes[i]]
        unary[i] = lin[i]
        alpha = node_alpha[i]
        if group_of_label[alpha] < 0:
            group_of_label[alpha] = groups
            groups += 1
        group[i] = group_of_label[alpha]
    for i in range(n):
        group_of_label[node_alpha[i]] = -1
    edges = np.empty(total, np.int64)
    m = 0
    for i in range(n):
        f = nodes[i]
        for k in range(indptr[f], indptr[f + 1]):
            e = indices[k]
            if stamp[e] != move_id:
                stamp[e] = move_id
                edges[m] = e
                m += 1
    head = np.empty(m, np.int64)
    tail = np.empty(m, np.int64)
    capacity = np.empty(m)
    arcs = 0
    for j in range(m):
        e = edges[j]
        p, q, w = pair_a[e], pair_b[e], weights[e]
        lp, lq, a, b = local[p], local[q], labels[p], labels[q]
        if lp >= 0 and lq >= 0:  # both free, the same alpha: A = w[a != b], B = C = w, D = 0
            big_a = 0.0 if a == b else w
            lin[lp] += w - big_a
            lin[lq] -= w
            head[arcs], tail[arcs], capacity[arcs] = lp, lq, 2.0 * w - big_a
            arcs += 1
        elif lp >= 0:  # q fixed: w[alpha != b] - w[a != b] on p's cost of switching
            lin[lp] += w * ((1.0 if b != node_alpha[lp] else 0.0) - (1.0 if a != b else 0.0))
        else:
            lin[lq] += w * ((1.0 if a != node_alpha[lq] else 0.0) - (1.0 if b != a else 0.0))
    return lin, unary, edges[:m], head[:arcs], tail[:arcs], capacity[:arcs], group, groups


@_jit
def apply_move(switch, nodes, node_alpha, node_alpha_cost, unary, edges, pair_a, pair_b, weights, labels, cost,
               local, changed, move_id, group, groups, tolerance):
    """Applies the switches of the groups whose energy change is below -tolerance; resets local.
    Returns whether any face changed."""
    n = len(nodes)
    delta = np.zeros(groups)
    for i in range(n):
        if switch[i]:
            delta[group[i]] += unary[i]
    for j in range(len(edges)):
        e = edges[j]
        p, q = pair_a[e], pair_b[e]
        lp, lq, a, b = local[p], local[q], labels[p], labels[q]
        new_a = node_alpha[lp] if lp >= 0 and switch[lp] else a
        new_b = node_alpha[lq] if lq >= 0 and switch[lq] else b
        owner = group[lp] if lp >= 0 else group[lq]
        delta[owner] += weights[e] * ((1.0 if new_a != new_b else 0.0) - (1.0 if a != b else 0.0))
    moved = False
    for i in range(n):
        f = nodes[i]
        local[f] = -1
        if switch[i] and delta[group[i]] < -tolerance:
            labels[f] = node_alpha[i]
            cost[f] = node_alpha_cost[i]
            changed[f] = move_id
            moved = True
    return moved


@_jit
def greedy_colours(order, indptr, indices, num):
    """(num,) int64 colours: each vertex, in `order`, takes the smallest colour none of its
    neighbours (CSR indptr / indices) has yet."""
    colour = np.full(num, -1, np.int64)
    seen = np.full(num + 1, -1, np.int64)  # seen[c] == v: colour c is taken by a neighbour of v
    for v in order:
        for k in range(indptr[v], indptr[v + 1]):
            c = colour[indices[k]]
            if c >= 0:
                seen[c] = v
        c = 0
        while seen[c] == v:
            c += 1
        colour[v] = c
    return colour


@_jit
def label_conflicts(start, label, pair_a, pair_b):
    """(a, b) label pairs, both ways, repeats possible, whose expansion moves interact, from the
    switchable labels of each face (label[start[f]:start[f + 1]]): two labels one face may switch
    to, or two labels that the two faces of a link may switch to (`graphcut.colour_labels`)."""
    total = 0
    for f in range(len(start) - 1):
        k = start[f + 1] - start[f]
        total += k * (k - 1)
    for e in range(len(pair_a)):
        total += 2 * (start[pair_a[e] + 1] - start[pair_a[e]]) * (start[pair_b[e] + 1] - start[pair_b[e]])
    a = np.empty(total, np.int64)
    b = np.empty(total, np.int64)
    m = 0
    for f in range(len(start) - 1):
        for i in range(start[f], start[f + 1]):
            for j in range(start[f], start[f + 1]):
                if i != j:
                    a[m], b[m] = label[i], label[j]
                    m += 1
    for e in range(len(pair_a)):
        p, q = pair_a[e], pair_b[e]
        for i in range(start[p], start[p + 1]):
            for j in range(start[q], start[q + 1]):
                if label[i] != label[j]:
                    a[m], b[m] = label[i], label[j]
                    a[m + 1], b[m + 1] = label[j], label[i]
                    m += 2
    return a[:m], b[:m]


@_jit
def incidence(num_faces, pair_a, pair_b):
    """CSR of the pairs touching each face, by a counting sort: (indptr, indices), the pairs of
    face f being indices[indptr[f]:indptr[f + 1]], in increasing order."""
    indptr = np.zeros(num_faces + 1, np.int64)
    for e in range(len(pair_a)):
        indptr[pair_a[e] + 1] += 1
        indptr[pair_b[e] + 1] += 1
    for f in range(num_faces):
        indptr[f + 1] += indptr[f]
    fill = indptr[:-1].copy()
    indices = np.empty(2 * len(pair_a), np.int64)
    for e in range(len(pair_a)):
        indices[fill[pair_a[e]]] = e
        fill[pair_a[e]] += 1
        indices[fill[pair_b[e]]] = e
        fill[pair_b[e]] += 1
    return indptr, indices
