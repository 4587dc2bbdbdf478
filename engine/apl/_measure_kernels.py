"""numba kernels of the measures beyond floating catchment (private; see :mod:`engine.apl.measures`).

Each ``@njit`` kernel ``_name`` has a thin public wrapper in this module that fixes dtypes
and contiguity; :mod:`engine.apl.measures` validates the inputs and calls the wrappers. The
row-wise kernels work on CSR arrays ``(indptr, indices, minutes)`` and are parallel over
rows (a CSC matrix, its transpose, serves the passive measures).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from engine.jit import kernel

# --------------------------------------------------------------------------- cumulative


def cumulative_sums(indptr, indices, minutes, opportunities, cutoffs):
    """Opportunities reached within each cutoff, and how many pairs, per row.

    Returns ``(sums, counts)`` of shape ``(n_rows, n_cutoffs)``: ``sums[r, k]`` is the sum
    of ``opportunities[c]`` over the entries ``(r, c)`` with ``minutes <= cutoffs[k]``
    (``cutoffs`` increasing) and ``counts[r, k]`` the number of those entries.
    """
    return _cumulative(*_rows(indptr, indices, minutes, opportunities),
                       np.ascontiguousarray(cutoffs, dtype=np.float64))


def _rows(indptr, indices, minutes, opportunities):
    """CSR arrays and per-column values in the kernels' dtypes, contiguous."""
    return (np.ascontiguousarray(indptr, dtype=np.int64),
            np.ascontiguousarray(indices, dtype=np.int64),
            np.ascontiguousarray(minutes, dtype=np.float64),
            np.ascontiguousarray(opportunities, dtype=np.float64))


@kernel(parallel=True)
def _cumulative(indptr, indices, minutes, opportunities, cutoffs):
    """Bucket each entry at the first cutoff it is within, then cumulate the buckets."""
    n = len(indptr) - 1
    k = len(cutoffs)
    sums = np.zeros((n, k), dtype=np.float64)
    counts = np.zeros((n, k), dtype=np.int64)
    for r in prange(n):
        for e in range(indptr[r], indptr[r + 1]):
            pos = np.searchsorted(cutoffs, minutes[e])  # first cutoff >= t
            if pos < k:
                sums[r, pos] += opportunities[indices[e]]
                counts[r, pos] += 1
        for q in range(1, k):
            sums[r, q] += sums[r, q - 1]
            counts[r, q] += counts[r, q - 1]
    return sums, counts


# --------------------------------------------------------------------------- cost to closest


def closest_costs(indptr, indices, minutes, opportunities, targets):
    """Minutes to reach ``targets[k]`` opportunities from each row (``inf`` if never).

    ``targets[k] == 1`` means the nearest location with any (positive) opportunity; a
    larger target the least time at which the opportunities within it add up to at least
    the target.
    """
    return _closest(*_rows(indptr, indices, minutes, opportunities),
                    np.ascontiguousarray(targets, dtype=np.float64))


@kernel(parallel=True)
def _closest(indptr, indices, minutes, opportunities, targets):
    """Sort each row's entries with positive opportunities by time and cumulate them."""
    n = len(indptr) - 1
    k = len(targets)
    out = np.full((n, k), np.inf)
    for r in prange(n):
        lo, hi = indptr[r], indptr[r + 1]
        m = 0
        for e in range(lo, hi):
            if opportunities[indices[e]] > 0.0:
                m += 1
        if m == 0:
            continue
        t = np.empty(m, dtype=np.float64)
        o = np.empty(m, dtype=np.float64)
        q = 0
        for e in range(lo, hi):
            v = opportunities[indices[e]]
            if v > 0.0:
                t[q] = minutes[e]
                o[q] = v
                q += 1
        order = np.argsort(t, kind="mergesort")
        for g in range(k):
            if targets[g] == 1.0:
                out[r, g] = t[order[0]]
                continue
            acc = 0.0
            for q in range(m):
                acc += o[order[q]]
                if acc >= targets[g]:
                    out[r, g] = t[order[q]]
                    break
    return out


# --------------------------------------------------------------------------- doubly constrained


def furness(indptr, indices, weights, t_indptr, t_indices, t_weights, origins, destinations,
            tol, improvement_tol, max_iterations):
    """Balancing factors of the doubly-constrained gravity model (iterative proportional fitting).

    ``(indptr, indices, weights)`` is the CSR of ``W`` (rows origins), ``(t_indptr,
    t_indices, t_weights)`` the CSR of its transpose.
    Returns ``(a, b, error, iterations, reason)`` with ``reason`` 0 = error under ``tol``,
    1 = improvement under ``improvement_tol``, 2 = ``max_iterations`` reached.
    """
    return _furness(np.ascontiguousarray(indptr, dtype=np.int64),
                    np.ascontiguousarray(indices, dtype=np.int64),
                    np.ascontiguousarray(weights, dtype=np.float64),
                    np.ascontiguousarray(t_indptr, dtype=np.int64),
                    np.ascontiguousarray(t_indices, dtype=np.int64),
                    np.ascontiguousarray(t_weights, dtype=np.float64),
                    np.ascontiguousarray(origins, dtype=np.float64),
                    np.ascontiguousarray(destinations, dtype=np.float64),
                    float(tol), float(improvement_tol), int(max_iterations))


@kernel
def _furness(indptr, indices, weights, t_indptr, t_indices, t_weights, origins, destinations,
             tol, improvement_tol, max_iterations):
    """``A_i = 1 / sum_j B_j D_j W_ij``, then ``B_j = 1 / sum_i A_i O_i W_ij``, until balanced.

    The error is IPEA's: ``(sum_i |O_i - T_i.| + sum_j |D_j - T_.j|) / sum_i O_i``. A row
    or column with no weight gets a factor of 0 (no flow), not a division by zero. Serial:
    four short passes per iteration, where threads would wait on each other four times
    (13x slower than one thread on IPEA's 748k pairs on the shared 2-core machine).
    """
    n = len(indptr) - 1
    m = len(t_indptr) - 1
    a = np.ones(n)
    b = np.ones(m)
    row_err = np.zeros(n)
    col_err = np.zeros(m)
    total = 0.0
    for i in range(n):
        total += origins[i]
    previous = np.inf
    error = np.inf
    reason = 2
    it = 0
    while it < max_iterations:
        it += 1
        for i in range(n):
            s = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                s += b[indices[e]] * destinations[indices[e]] * weights[e]
            a[i] = 1.0 / s if s > 0.0 else 0.0
        for j in range(m):
            s = 0.0
            for e in range(t_indptr[j], t_indptr[j + 1]):
                s += a[t_indices[e]] * origins[t_indices[e]] * t_weights[e]
            b[j] = 1.0 / s if s > 0.0 else 0.0
        for i in range(n):
            s = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                s += a[i] * origins[i] * b[j] * destinations[j] * weights[e]
            row_err[i] = abs(origins[i] - s)
        for j in range(m):
            s = 0.0
            for e in range(t_indptr[j], t_indptr[j + 1]):
                i = t_indices[e]
                s += a[i] * origins[i] * b[j] * destinations[j] * t_weights[e]
            col_err[j] = abs(destinations[j] - s)
        err = 0.0
        for i in range(n):
            err += row_err[i]
        for j in range(m):
            err += col_err[j]
        error = err / total if total > 0.0 else 0.0
        if error < tol:
            reason = 0
            break
        if abs(previous - error) < improvement_tol:
            reason = 1
            break
        previous = error
    return a, b, error, it, reason


# --------------------------------------------------------------------------- RAAM


def raam_costs(demand, supply, travel, max_cycles, initial_step, min_step, half_life,
               limit_initial, absolute_steps):
    """Rational Agent Access Model cost per origin (Saxon and Snow 2019), PySAL's iteration.

    ``travel`` is dense ``(n_origins, n_sites)`` cost (``inf`` where there is no route),
    already divided by ``tau``; ``supply`` already scaled by ``rho``; every origin reaches
    at least one site and every value of ``demand`` and ``supply`` is positive.
    """
    return _raam(np.ascontiguousarray(demand, dtype=np.float64),
                 np.ascontiguousarray(supply, dtype=np.float64),
                 np.ascontiguousarray(travel, dtype=np.float64),
                 int(max_cycles), float(initial_step), float(min_step), float(half_life),
                 int(limit_initial), bool(absolute_steps))


@kernel
def _raam(demand, supply, travel, max_cycles, initial_step, min_step, half_life, limit_initial,
          absolute_steps):
    """Port of ``access.raam.iterate_raam`` (same operations in the same order, so the
    integer truncations fall the same way): each cycle moves demand of every origin from
    its costliest used site to its cheapest one. Serial: the cycles are sequential and a
    cycle is a few passes over the matrix, too short for threads to pay off."""
    n, m = travel.shape
    assignment = np.zeros((n, m))
    for i in range(n):
        best = 0
        bv = np.inf
        for j in range(m):
            if travel[i, j] < bv:
                bv = travel[i, j]
                best = j
        assignment[i, best] = demand[i]
    at_supply = np.zeros(m)
    congestion = np.zeros(m)
    lmin = np.empty(n, dtype=np.int64)
    lmax = np.empty(n, dtype=np.int64)
    delta = np.empty(n)
    for cycle in range(max_cycles):
        at_supply[:] = 0.0
        for i in range(n):  # row by row, as numpy's sum(axis=0)
            for j in range(m):
                at_supply[j] += assignment[i, j]
        for j in range(m):
            congestion[j] = at_supply[j] / supply[j]
        for i in range(n):
            vmin = np.inf
            vmax = -np.inf
            jmin = 0
            jmax = 0
            for j in range(m):
                if travel[i, j] == np.inf:
                    continue
                c = congestion[j] + travel[i, j]
                if c < vmin:
                    vmin = c
                    jmin = j
                if assignment[i, j] != 0.0 and c > vmax:
                    vmax = c
                    jmax = j
            lmin[i] = jmin
            lmax[i] = jmax
        if absolute_steps:
            step = np.rint(initial_step * 0.5 ** (cycle / half_life))
        else:
            step = initial_step * 0.5 ** (cycle / half_life)
        if step < min_step:
            step = min_step
        for i in range(n):
            a, b = lmin[i], lmax[i]
            slmin, slmax = supply[a], supply[b]
            drlmin, drlmax = assignment[i, a], assignment[i, b]
            dr = drlmin + drlmax
            other_min = at_supply[a] - drlmin
            other_max = at_supply[b] - drlmax
            new = ((slmin * slmax) / (slmin + slmax)) * (
                (travel[i, b] - travel[i, a]) + (dr + other_max) / slmax - other_min / slmin)
            d = new - drlmin
            if drlmax < d:
                d = drlmax
            if a == b:
                d = 0.0
            cap = step if absolute_steps else step * demand[i]
            if cap < d:
                d = cap
            delta[i] = float(int(d))  # astype(int): truncation towards 0
        if cycle < limit_initial:
            # Do not let attractive sites be mobbed in the first cycles (PySAL's check).
            moved = np.zeros(m)
            for i in range(n):
                moved[lmin[i]] += delta[i]
            for i in range(n):
                scale = moved[lmin[i]] / supply[lmin[i]]
                if scale < 1.0:
                    scale = 1.0
                delta[i] = np.rint(delta[i] / scale)
        for i in range(n):
            assignment[i, lmin[i]] += delta[i]
            assignment[i, lmax[i]] -= delta[i]
    # PySAL's result uses the total cost of the last cycle, before its moves.
    out = np.empty(n)
    for i in range(n):
        num = 0.0
        den = 0.0
        for j in range(m):
            if travel[i, j] != np.inf:
                num += (congestion[j] + travel[i, j]) * assignment[i, j]
            den += assignment[i, j]
        out[i] = num / den
    return out
