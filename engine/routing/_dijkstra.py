"""Numba kernels: bounded multi-source Dijkstra on CSR arrays.

Pure array code: no file, no pandas, no Python objects. The public wrapper is
:func:`engine.routing.matrix.travel_times`, which validates inputs before calling here.

Every time is the float64 sum of the edge weights along the path, added in path order, as
a textbook Dijkstra computes it: no ``fastmath``, no reassociation, so results are
bit-identical to ``tests/naive.py`` and to ``scipy.sparse.csgraph.dijkstra``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.typed import List

_INF = np.inf


@njit(cache=True, nogil=True)
def _sssp_bounded(indptr, indices, weights, seeds, limit, n_targets, target_pos, check_targets,
                  dist, touched, hd, hn, cols, vals, nnz):
    """One bounded Dijkstra from the nodes ``seeds`` (all at time 0), writing settled targets.

    One seed is the usual single-source search; several give, at every node, the time
    from the nearest seed (a multi-source search: the same float64 sums as the minimum
    over single-source searches, since ``x + w`` rounds monotonically in ``x``).
    Targets are written to ``cols``/``vals`` from position ``nnz`` on, in the order they
    are settled (so by non-decreasing time); ``cols``/``vals`` must have room for
    ``n_targets`` more entries. ``dist`` must be all ``inf`` on entry and is left so. The
    lazy heap ``hd``/``hn`` must hold ``n_edges + len(seeds)`` entries: each push beyond
    the seeds follows a successful relaxation, so that bound is never exceeded, and a
    fixed buffer keeps array reallocation out of the hot loop. Returns
    ``(nnz, relaxations)``.
    """
    n_touched = 0
    found = 0
    relax = 0
    # 4-ary min-heap of (time, node) in two parallel arrays, written out by hand: numba's
    # inlining of helper functions measured 3x slower here, and four children per node
    # (half the depth of a binary heap, children in one cache line) measured ~25% faster.
    # Seeds all have time 0, so any order of them is a valid heap.
    size = 0
    for k in range(seeds.shape[0]):
        source = seeds[k]
        if dist[source] == 0.0:  # a repeated seed
            continue
        dist[source] = 0.0
        touched[n_touched] = source
        n_touched += 1
        hd[size] = 0.0
        hn[size] = source
        size += 1
    while size > 0:
        d = hd[0]
        u = hn[0]
        size -= 1
        last_d = hd[size]
        last_n = hn[size]
        i = 0
        while True:
            c = 4 * i + 1
            if c >= size:
                break
            bd = hd[c]
            b = c
            if c + 3 < size:
                # Unrolled: the common case of four children, without a loop counter.
                if hd[c + 1] < bd:
                    bd = hd[c + 1]
                    b = c + 1
                if hd[c + 2] < bd:
                    bd = hd[c + 2]
                    b = c + 2
                if hd[c + 3] < bd:
                    bd = hd[c + 3]
                    b = c + 3
            else:
                for j in range(c + 1, size):
                    if hd[j] < bd:
                        bd = hd[j]
                        b = j
            if bd >= last_d:
                break
            hd[i] = bd
            hn[i] = hn[b]
            i = b
        hd[i] = last_d
        hn[i] = last_n
        # A node is pushed only with a strictly smaller time than before, so the one entry
        # whose time equals dist[u] is the live one: stale entries are recognised without
        # a separate ``settled`` array, and a settled node is never pushed again since
        # d + w >= d for w >= 0 under IEEE rounding.
        if d > dist[u]:
            continue
        pos = target_pos[u]
        if pos >= 0:
            cols[nnz] = pos
            vals[nnz] = d
            nnz += 1
            if check_targets:
                found += 1
                if found == n_targets:
                    break
        e0 = indptr[u]
        e1 = indptr[u + 1]
        relax += e1 - e0
        for e in range(e0, e1):
            v = indices[e]
            nd = d + weights[e]
            # Pushes only happen for nd <= limit, so every popped entry is within the bound
            # and no separate stop test is needed.
            if nd < dist[v] and nd <= limit:
                if dist[v] == _INF:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nd
                i = size
                size += 1
                while i > 0:
                    p = (i - 1) >> 2
                    if hd[p] <= nd:
                        break
                    hd[i] = hd[p]
                    hn[i] = hn[p]
                    i = p
                hd[i] = nd
                hn[i] = v
    # Reset only what this search touched, so each source costs O(reached), not O(n).
    for t in range(n_touched):
        dist[touched[t]] = _INF
    return nnz, relax


@njit(cache=True, nogil=True)
def _run_chunk(indptr, indices, weights, sources, limit, n_targets, target_pos):
    """Searches from ``sources`` one after the other, sharing one set of scratch arrays."""
    n = indptr.shape[0] - 1
    check_targets = n_targets < n
    dist = np.full(n, _INF)
    touched = np.empty(n, np.int32)
    hd = np.empty(indices.shape[0] + 1, np.float64)
    hn = np.empty(indices.shape[0] + 1, np.int32)
    counts = np.zeros(sources.shape[0], np.int64)
    cap = max(4096, 2 * n_targets)
    cols = np.empty(cap, np.int32)
    vals = np.empty(cap, np.float64)
    nnz = 0
    relax_total = 0
    for k in range(sources.shape[0]):
        if nnz + n_targets > cap:
            # Grow before the search, never inside it: a search adds at most n_targets.
            cap = max(2 * cap, nnz + n_targets)
            c2 = np.empty(cap, np.int32)
            v2 = np.empty(cap, np.float64)
            c2[:nnz] = cols[:nnz]
            v2[:nnz] = vals[:nnz]
            cols = c2
            vals = v2
        start = nnz
        nnz, relax = _sssp_bounded(indptr, indices, weights, sources[k:k + 1], limit,
                                   n_targets, target_pos, check_targets, dist, touched, hd, hn,
                                   cols, vals, nnz)
        relax_total += relax
        counts[k] = nnz - start
    return counts, cols[:nnz], vals[:nnz], relax_total


@njit(cache=True, parallel=True)
def _bounded_dijkstra(indptr, indices, weights, sources, limit, n_targets, target_pos, chunk):
    """Bounded Dijkstra from every source, in parallel over chunks of sources.

    Returns per-chunk lists of ``(counts, cols, vals)`` and the relaxation count; the
    caller concatenates them in chunk order, which keeps the output deterministic
    whatever the thread schedule.
    """
    n_src = sources.shape[0]
    n_chunks = (n_src + chunk - 1) // chunk
    out_counts = List()
    out_cols = List()
    out_vals = List()
    relax = np.zeros(n_chunks, np.int64)
    for _ in range(n_chunks):
        out_counts.append(np.empty(0, np.int64))
        out_cols.append(np.empty(0, np.int32))
        out_vals.append(np.empty(0, np.float64))
    for c in prange(n_chunks):
        lo = c * chunk
        hi = min(lo + chunk, n_src)
        counts, cols, vals, r = _run_chunk(indptr, indices, weights, sources[lo:hi], limit,
                                           n_targets, target_pos)
        out_counts[c] = counts
        out_cols[c] = cols
        out_vals[c] = vals
        relax[c] = r
    return out_counts, out_cols, out_vals, relax.sum()


@njit(cache=True, nogil=True)
def _nearest_seed(indptr, indices, weights, seeds, limit):
    """Time from the nearest of ``seeds`` to every node (``inf`` beyond ``limit``): one search."""
    n = indptr.shape[0] - 1
    dist = np.full(n, _INF)
    touched = np.empty(n, np.int32)
    hd = np.empty(indices.shape[0] + seeds.shape[0], np.float64)
    hn = np.empty(indices.shape[0] + seeds.shape[0], np.int32)
    cols = np.empty(n, np.int32)
    vals = np.empty(n, np.float64)
    nnz, relax = _sssp_bounded(indptr, indices, weights, seeds, limit, n, np.arange(n, dtype=np.int32),
                               False, dist, touched, hd, hn, cols, vals, 0)
    out = np.full(n, _INF)
    for k in range(nnz):
        out[cols[k]] = vals[k]
    return out, relax


def bounded_searches(indptr, indices, weights, sources, limit, n_targets, target_pos, chunk):
    """Bounded Dijkstra from every source: flat ``(counts, columns, seconds, relaxations)``.

    The entry point of the kernels for :mod:`engine.routing.matrix` and the Dask backend;
    arguments are the CSR arrays, ``sources`` (int64), ``limit`` in seconds (``inf`` for
    none), the number of targets, ``target_pos`` (int32 position of each node among the
    targets, -1 elsewhere) and the number of sources per parallel task. Rows come out in
    ``sources`` order, each row's targets in settle order.
    """
    counts, cols, vals, relax = _bounded_dijkstra(
        indptr, indices, weights, np.asarray(sources, dtype=np.int64), float(limit),
        np.int64(n_targets), target_pos, np.int64(max(1, int(chunk))))
    return (np.concatenate(list(counts)), np.concatenate(list(cols)),
            np.concatenate(list(vals)), int(relax))


def nearest_seconds(indptr, indices, weights, seeds, limit):
    """Seconds from the nearest of ``seeds`` to every node (``inf`` beyond ``limit``), one search."""
    seconds, _ = _nearest_seed(indptr, indices, weights, np.asarray(seeds, dtype=np.int64),
                               float(limit))
    return seconds
