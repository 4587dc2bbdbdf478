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


# --------------------------------------------------------------------------- floating catchment
