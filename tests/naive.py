"""Plain, obviously-correct references for every numba kernel (stumpy style).

Slow on purpose: pure Python, no cleverness. Tests compare each kernel with its twin here.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

# --------------------------------------------------------------------------- routing


def dijkstra(indptr, indices, weights, source, limit=math.inf):
    """Textbook Dijkstra with a binary heap; returns ``{node: seconds}`` with seconds <= limit."""
    dist = {int(source): 0.0}
    done = set()
    heap = [(0.0, int(source))]
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        for e in range(indptr[u], indptr[u + 1]):
            v = int(indices[e])
            nd = d + float(weights[e])
            if nd <= limit and nd < dist.get(v, math.inf):
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return {k: v for k, v in dist.items() if k in done}


def travel_time_rows(indptr, indices, weights, sources, limit=math.inf):
    """Dense minutes (inf where unreached) from each source to every node."""
    n = len(indptr) - 1
    out = np.full((len(sources), n), np.inf)
    for i, s in enumerate(sources):
        for node, sec in dijkstra(indptr, indices, weights, s, limit).items():
            out[i, node] = sec / 60.0
    return out


def nearest_times(indptr, indices, weights, sources, limit=math.inf):
    """Minutes from the nearest source to every node: the minimum over one Dijkstra each."""
    rows = travel_time_rows(indptr, indices, weights, sources, limit)
    return rows.min(axis=0) if len(rows) else np.full(len(indptr) - 1, np.inf)


# --------------------------------------------------------------------------- floating catchment


def _dense_weights(times, decay):
    """Dense decay weights, 0 where the time is inf/NaN (unreachable)."""
    t = np.asarray(times, dtype=float)
    w = np.zeros(t.shape)
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            if math.isfinite(t[i, j]):
                w[i, j] = float(decay(np.array([t[i, j]]))[0])
    return w


def two_step_fca(demand, supply, times, decay):
    """2SFCA with plain loops: R_j = S_j / sum_i W_ij P_i (0 if no demand), A_i = sum_j W_ij R_j."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    ratio = [0.0] * m
    for j in range(m):
        d = sum(w[i, j] * demand[i] for i in range(n))
        ratio[j] = supply[j] / d if d > 0 else 0.0
    return np.array([sum(w[i, j] * ratio[j] for j in range(m)) for i in range(n)])


def three_step_fca(demand, supply, times, decay):
    """3SFCA (Wan et al. 2012): selection G_ij = W_ij / sum_{k: S_k > 0} W_ik."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    g = np.zeros((n, m))
    for i in range(n):
        tot = sum(w[i, k] for k in range(m) if supply[k] > 0)
        for j in range(m):
            if supply[j] > 0 and tot > 0:
                g[i, j] = w[i, j] / tot
    ratio = [0.0] * m
    for j in range(m):
        d = sum(g[i, j] * w[i, j] * demand[i] for i in range(n))
        ratio[j] = supply[j] / d if d > 0 else 0.0
    return np.array([sum(g[i, j] * w[i, j] * ratio[j] for j in range(m)) for i in range(n)])


def balanced_fca(demand, supply, times, decay, step2_weights="demand"):
    """BFCA (Paez et al. 2019) with row-balanced weights over supply sites with S_j > 0."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    wr = np.zeros((n, m))
    for i in range(n):
        tot = sum(w[i, k] for k in range(m) if supply[k] > 0)
        for j in range(m):
            if supply[j] > 0 and tot > 0:
                wr[i, j] = w[i, j] / tot
    wc = np.zeros((n, m))
    for j in range(m):
        tot = sum(w[k, j] for k in range(n))
        for i in range(n):
            if tot > 0:
                wc[i, j] = w[i, j] / tot
    ratio = [0.0] * m
    for j in range(m):
        d = sum(wr[i, j] * demand[i] for i in range(n))
        ratio[j] = supply[j] / d if d > 0 else 0.0
    w2 = wr if step2_weights == "demand" else wc
    return np.array([sum(w2[i, j] * ratio[j] for j in range(m)) for i in range(n)])


def spatial_availability(demand, supply, times, decay, alpha=1.0):
    """Spatial availability (Soukhov et al. 2023): V_i = sum_j S_j P_i^a W_ij / sum_k P_k^a W_kj."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    pa = [demand[i] ** alpha if demand[i] > 0 else 0.0 for i in range(n)]
    out = np.zeros(n)
    for j in range(m):
        tot = sum(pa[k] * w[k, j] for k in range(n))
        if tot > 0:
            for i in range(n):
                out[i] += supply[j] * pa[i] * w[i, j] / tot
    return out


def chain_sums(values, group_start, reverse=False):
    """Sum of each group ``values[group_start[g]:group_start[g + 1]]``, in order (or reversed)."""
    out = []
    for g in range(len(group_start) - 1):
        part = list(values[group_start[g]:group_start[g + 1]])
        if reverse:
            part.reverse()
        total = 0.0
        for v in part:
            total += v
        out.append(total)
    return np.array(out, dtype=np.float64)


def nnls_brute_force(m, y):
    """``min |M x - y|`` over ``x >= 0`` by trying every set of free coordinates.

    For each subset of coordinates left free, solve the unconstrained least squares on it
    (the others at 0); keep the feasible solutions and return the one of smallest residual.
    Exponential in the number of columns: for tiny problems only, and obviously right.
    """
    from itertools import combinations

    m = np.asarray(m, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    k = m.shape[1]
    best, best_cost = np.zeros(k), float(np.sum(y ** 2))
    for size in range(1, k + 1):
        for free in combinations(range(k), size):
            sub = m[:, list(free)]
            sol, *_ = np.linalg.lstsq(sub, y, rcond=None)
            if np.all(sol >= -1e-12):
                x = np.zeros(k)
                x[list(free)] = np.maximum(sol, 0.0)
                cost = float(np.sum((m @ x - y) ** 2))
                if cost < best_cost - 1e-15:
                    best, best_cost = x, cost
    return best
