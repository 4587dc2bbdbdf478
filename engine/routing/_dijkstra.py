"""Numba kernels: bounded multi-source Dijkstra on CSR arrays.

Pure array code: no file, no pandas, no Python objects. The public wrapper is
:func:`engine.routing.matrix.travel_times`, which validates inputs before calling here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.typed import List

_INF = np.inf


@njit(cache=True, nogil=True)
def _sssp_bounded(indptr, indices, weights, source, limit, n_targets, target_pos,
                  dist, settled, touched, hd, hn):
    """One bounded Dijkstra from ``source``.

    Fills ``dist`` for reached nodes and lists them in ``touched``. Returns
    ``(n_settled, n_touched, relaxations)``. Nodes with ``dist <= limit`` are settled; the
    search stops early once every target is settled. The lazy heap ``hd``/``hn`` must hold
    ``n_edges + 1`` entries: each push follows a successful relaxation, so that bound is
    never exceeded, and a fixed buffer keeps array reallocation out of the hot loop.
    """
    check_targets = n_targets < dist.shape[0]
    n_touched = 0
    n_settled = 0
    found = 0
    relax = 0
    dist[source] = 0.0
    touched[n_touched] = source
    n_touched += 1
    # Binary min-heap of (time, node) in two parallel arrays, written out by hand: numba's
    # inlining of helper functions measured 3x slower here.
    hd[0] = 0.0
    hn[0] = source
    size = 1
    while size > 0:
        d = hd[0]
        u = hn[0]
        size -= 1
        last_d = hd[size]
        last_n = hn[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and hd[c + 1] < hd[c]:
                c += 1
            if hd[c] >= last_d:
                break
            hd[i] = hd[c]
            hn[i] = hn[c]
            i = c
        hd[i] = last_d
        hn[i] = last_n
        if settled[u]:
            continue
        if d > limit:
            break
        settled[u] = True
        n_settled += 1
        if check_targets and target_pos[u] >= 0:
            found += 1
            if found == n_targets:
                break
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            # A settled v has dist[v] <= d <= nd (weights are >= 0), so the test below
            # already skips it without reading ``settled``.
            nd = d + weights[e]
            relax += 1
            if nd < dist[v] and nd <= limit:
                if dist[v] == _INF:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nd
                i = size
                size += 1
                while i > 0:
                    p = (i - 1) >> 1
                    if hd[p] <= nd:
                        break
                    hd[i] = hd[p]
                    hn[i] = hn[p]
                    i = p
                hd[i] = nd
                hn[i] = v
    return n_settled, n_touched, relax


@njit(cache=True, nogil=True)
def _collect(touched, n_touched, dist, settled, target_pos, cols, vals, nnz):
    # Copy the settled targets of one search into the output and reset the scratch arrays.
    for t in range(n_touched):
        node = touched[t]
        pos = target_pos[node]
        if settled[node] and pos >= 0:
            cols[nnz] = pos
            vals[nnz] = dist[node]
            nnz += 1
        dist[node] = _INF
        settled[node] = False
    return nnz


@njit(cache=True, nogil=True)
def _run_chunk(indptr, indices, weights, sources, limit, n_targets, target_pos):
    n = indptr.shape[0] - 1
    dist = np.full(n, _INF)
    settled = np.zeros(n, np.bool_)
    touched = np.empty(n, np.int64)
    hd = np.empty(indices.shape[0] + 1, np.float64)
    hn = np.empty(indices.shape[0] + 1, np.int64)
    counts = np.zeros(sources.shape[0], np.int64)
    cap = 1024
    cols = np.empty(cap, np.int32)
    vals = np.empty(cap, np.float64)
    nnz = 0
    relax_total = 0
    for k in range(sources.shape[0]):
        n_settled, n_touched, relax = _sssp_bounded(
            indptr, indices, weights, sources[k], limit, n_targets, target_pos,
            dist, settled, touched, hd, hn)
        relax_total += relax
        if nnz + n_touched > cap:
            # Grow once per source, outside the copy loop below.
            cap = max(2 * cap, nnz + n_touched)
            c2 = np.empty(cap, np.int32)
            v2 = np.empty(cap, np.float64)
            c2[:nnz] = cols[:nnz]
            v2[:nnz] = vals[:nnz]
            cols = c2
            vals = v2
        start = nnz
        nnz = _collect(touched, n_touched, dist, settled, target_pos, cols, vals, nnz)
        counts[k] = nnz - start
    return counts, cols[:nnz], vals[:nnz], relax_total


@njit(cache=True, parallel=True)
def _bounded_dijkstra(indptr, indices, weights, sources, limit, n_targets, target_pos, chunk):
    """Bounded Dijkstra from every source, in parallel over chunks of sources.

    Returns per-chunk lists of ``(counts, cols, vals)`` and the relaxation count; the
    caller concatenates them in chunk order, which keeps the output deterministic.
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
