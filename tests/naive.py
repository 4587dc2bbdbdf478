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


def node_kinds(indptr, indices):
    """Twin of ``_classify``: 0 active, 1 dead end, 2 one-way and 3 two-way pass-through.

    A dead end has one edge out and one in, both with the same neighbour; a one-way
    pass-through node one edge in and one out, with different neighbours; a two-way one
    two edges out and two in, to and from the same two distinct neighbours. Pass-through
    nodes no walk from an active node reaches lie on cycles of pass-through nodes: in
    node order, each such node not reached yet becomes active.
    """
    n = len(indptr) - 1
    outs = [[int(v) for v in indices[indptr[x]:indptr[x + 1]]] for x in range(n)]
    ins = [[] for _ in range(n)]
    for u in range(n):
        for v in outs[u]:
            ins[v].append(u)
    kind = []
    for x in range(n):
        o, i = outs[x], ins[x]
        k = 0
        if len(o) == 1 and len(i) == 1 and o[0] != x:
            if o[0] == i[0]:
                k = 1
            elif i[0] != x:
                k = 2
        elif (len(o) == 2 and len(i) == 2 and o[0] != o[1] and x not in o
              and sorted(o) == sorted(i)):
            k = 3
        kind.append(k)
    reached = set()

    def walk_from(u):
        for x in outs[u]:
            prev = u
            while kind[x] >= 2 and x not in reached:
                reached.add(x)
                nxt = [v for v in outs[x] if v != prev] if kind[x] == 3 else outs[x]
                prev, x = x, nxt[0]

    for u in range(n):
        if kind[u] == 0:
            walk_from(u)
    for u in range(n):
        if kind[u] >= 2 and u not in reached:
            kind[u] = 0
            walk_from(u)
    return np.array(kind, dtype=np.int8)


def chain_steps(indptr, indices, weights, kind):
    """Twin of ``_chain_steps``: every active node's out-edges followed through their chains.

    Returns ``(ptr, times, codes, span)``: node ``u``'s steps are ``ptr[u]:ptr[u + 1]``;
    a step's code is the node reached, ``~node`` for a one-way pass-through node,
    ``~(node | 2**29)`` for a two-way one and ``~(node | 2**30)`` for a dead end ending the
    chain; ``span`` is the largest chain
    time (added in order), over chains from active nodes and dead ends.
    """
    end, two = 1 << 30, 1 << 29
    n = len(indptr) - 1
    ptr, times, codes = [0], [], []
    span = 0.0
    for u in range(n):
        if kind[u] <= 1:
            for e in range(indptr[u], indptr[u + 1]):
                chain = [(float(weights[e]), int(indices[e]))]
                prev, x = u, int(indices[e])
                while kind[x] >= 2:
                    edges = list(range(indptr[x], indptr[x + 1]))
                    f = [g for g in edges if indices[g] != prev][0] if kind[x] == 3 else edges[0]
                    prev, x = x, int(indices[f])
                    chain.append((float(weights[f]), x))
                total = 0.0
                for w, _ in chain:
                    total += w
                span = max(span, total)
                if kind[u] == 0:
                    for w, x in chain:
                        times.append(w)
                        codes.append(x if kind[x] == 0 else ~(x | end) if kind[x] == 1
                                     else ~(x | two) if kind[x] == 3 else ~x)
        ptr.append(len(times))
    return (np.array(ptr, dtype=np.int64), np.array(times, dtype=np.float64),
            np.array(codes, dtype=np.int32), span)


def relaxations(indptr, indices, weights, sources, limit=math.inf):
    """Edges a textbook Dijkstra relaxes from each source in turn: out-edges of settled nodes."""
    total = 0
    for s in sources:
        for node in dijkstra(indptr, indices, weights, s, limit):
            total += int(indptr[node + 1] - indptr[node])
    return total


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
