"""The smoothing and filling of `thickness._smooth` as one compiled loop (numba) over the links.

It replaced scipy sparse products: `steps` rounds of x + A x over the (F, 2) numerator and
denominator, then rounds that give each face still without a value the sum over its neighbours
(A x + x, one ring per round, synchronous) until every face has one, a round fills none, or
`rounds` is reached. The sums run over each CSR row in order starting from 0.0, as scipy's
csr_matvec(s) do, so the numbers are the same. Compiled on first use and cached on disk.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _neighbour_sums(indptr, indices, data, num, den, i):
    """Row i of A num and A den, summed in row order from 0.0 (scipy's csr_matvec order)."""
    a, b = 0.0, 0.0
    for k in range(indptr[i], indptr[i + 1]):
        j = indices[k]
        a += data[k] * num[j]
        b += data[k] * den[j]
    return a, b


@numba.njit(cache=True, nogil=True, boundscheck=False)
def smooth_fill(indptr, indices, data, num, den, steps, rounds):
    """In place on (F,) float64 num / den over the CSR matrix (indptr, indices, data)."""
    n = len(num)
    next_num, next_den = np.empty(n), np.empty(n)
    for _ in range(steps):
        for i in range(n):
            a, b = _neighbour_sums(indptr, indices, data, num, den, i)
            next_num[i], next_den[i] = num[i] + a, den[i] + b
        num[:], den[:] = next_num, next_den
    todo = np.flatnonzero(~(den > 0))  # faces without a value
    for _ in range(rounds):
        if len(todo) == 0:
            break
        for t in range(len(todo)):  # every new value from the previous round's (synchronous)
            i = todo[t]
            a, b = _neighbour_sums(indptr, indices, data, num, den, i)
            next_num[t], next_den[t] = a + num[i], b + den[i]
        left = 0
        for t in range(len(todo)):
            i = todo[t]
            num[i], den[i] = next_num[t], next_den[t]
            if not den[i] > 0:
                todo[left] = i
                left += 1
        if left == len(todo):
            break
        todo = todo[:left]
