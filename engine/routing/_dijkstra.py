"""Numba kernels: exact bounded multi-source shortest paths on CSR arrays.

Pure array code: no file, no pandas. The public entry points at the bottom
(:func:`bounded_searches`, :func:`nearest_seconds`, :func:`search_graph`) convert inputs
and run the kernels; :func:`engine.routing.matrix.travel_times` validates before calling.

**Exactness.** Every time is the float64 sum of the edge weights along the path, added one
after the other from the origin, as a textbook Dijkstra computes it: no ``fastmath``, no
reassociation. The results equal ``tests/naive.py`` and ``scipy.sparse.csgraph.dijkstra``
bit for bit, because the final labels of *any* search that (a) only ever sets a label to
``fl(label(u) + w(u, v))`` for an edge ``u -> v`` (0 at the origins) and (b) stops with
``label(v) <= fl(label(u) + w)`` for every edge out of a node reached within the bound
are those of Dijkstra: ``x + w`` rounds monotonically in ``x``, so Dijkstra's label is a
lower bound of every path's float sum, and it is reached along Dijkstra's own tree. The
kernel below is such a search; it differs from a heap-based Dijkstra in the order nodes
are handled, not in the additions.

**Queue.** A monotone bucket queue (Dial's) replaces the 4-ary heap: bucket ``b`` holds the
labels in ``[b W, (b + 1) W)`` where ``W`` is just under the smallest positive edge time,
so no label in a bucket can improve another one of the same bucket and a bucket's nodes
can be handled in any order. Zero-time edges (or a ``W`` widened for a graph with a huge
spread of times) can improve a label within its own bucket: the bucket is then handled
as a label-correcting pass until nothing changes, and only its final labels are written,
which keeps (a) and (b). The buckets are a circular array sized by the longest edge (or
chain), found with a bitmap of non-empty buckets.

**Chains.** A node is *passive* when it never needs to be expanded: a pass-through node
(one way in and one way out, or two-way between two distinct neighbours) or a dead end
(its only edge leads back where it came from). Passive nodes never enter the queue: when a
node is expanded, each of its out-edges is followed through the pass-through nodes to the
next node that is not (the walk adds the edge times in path order, and stops as soon as a
label does not improve, since the rest of the chain was then reached as well or better
from the other side). Only the node at the end of the chain is queued. Passive nodes keep
their own exact times; they are written when the search is over (or queued as targets
when the search may stop early at its last target). Corsica's GraphML has 20,584 passive
nodes out of 31,333. A dead end is never expanded because its one edge leads back to a
node reached earlier: ``fl(label(x) + w) >= label(x) >= label(neighbour)`` keeps (b).

Only final times are written, so within a row the order is the search's: active nodes
bucket by bucket, then passive ones; it is not sorted by time.
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
import scipy.sparse as sp
from numba import types
from numba.cpython.unsafe.numbers import trailing_zeros
from scipy.sparse.csgraph import connected_components

from engine.jit import kernel

_INF = np.inf
# Step codes (see _chain_steps): >= 0 an active node; ~code for a passive node, with bit
# _END set when it ends the chain (a dead end) and bit _TWO when it is two-way (two edges
# out, one edge otherwise).
_END = 1 << 30
_TWO = 1 << 29
_NODE = _TWO - 1
_ONE = np.uint64(1)
#: Circular bucket arrays never exceed this many buckets (W widens instead).
_MAX_BUCKETS = 1 << 22
#: Below this many nodes, node numbers squared and summed in pairs are exact in float64.
_EXACT_SQUARES = 1 << 26
#: First sizes of a thread's queue pool and output buffers (both grow when needed).
_FIRST_POOL = 1 << 16
_FIRST_OUT = 1 << 24
#: Output buffers up to this many entries (48 MB) are kept between calls.
_KEEP_OUT = 1 << 22


def _node_kinds(indptr: np.ndarray, indices: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """Kind of each node: 0 active, 1 dead end, 2 one-way pass-through, 3 two-way pass-through.

    A dead end has one edge out and one in, with the same neighbour; a one-way pass-through
    node one edge in and one out, with different neighbours; a two-way one two edges out and
    two in, to and from the same two distinct neighbours. A group of pass-through nodes no
    chain from an active node reaches (a cycle of them, or a path between dead ends) has its
    smallest node made active, so that every pass-through node lies on a chain that starts
    at an active node. ``tails`` is the tail node of each edge. (Plain numpy: no kernel to
    compile.)
    """
    n = len(indptr) - 1
    out = np.diff(indptr)
    heads = indices
    indeg = np.bincount(heads, minlength=n)
    first, second = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    first[out >= 1] = heads[indptr[:-1][out >= 1]]
    second[out >= 2] = heads[indptr[:-1][out >= 2] + 1]
    if n < _EXACT_SQUARES:
        # The in-neighbours of a node with one or two of them, without sorting: a pair of
        # integers is fixed by its sum and its sum of squares (exact in float64 here).
        t = tails.astype(np.float64)
        in_sum = np.bincount(heads, weights=t, minlength=n)
        in_sq = np.bincount(heads, weights=t * t, minlength=n)
        in1 = np.where(indeg >= 1, in_sum, -1).astype(np.int64)  # the one, when only one
        f, g = first.astype(np.float64), second.astype(np.float64)
        same_pair = (in_sum == f + g) & (in_sq == f * f + g * g)
    else:
        in_tails = tails[np.argsort(heads, kind="stable")]
        in_start = np.concatenate([[0], np.cumsum(indeg)[:-1]])
        in1, in2 = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
        in1[indeg >= 1] = in_tails[in_start[indeg >= 1]]
        in2[indeg >= 2] = in_tails[in_start[indeg >= 2] + 1]
        same_pair = ((first == in1) & (second == in2)) | ((first == in2) & (second == in1))
    x = np.arange(n)
    one = (out == 1) & (indeg == 1) & (first != x)
    two = ((out == 2) & (indeg == 2) & (first != second) & (first != x) & (second != x)
           & same_pair)
    kind = np.zeros(n, np.int8)
    kind[one & (first == in1)] = 1
    kind[one & (first != in1) & (in1 != x)] = 2
    kind[two] = 3
    reached = np.zeros(n, bool)
    for _, edges in _chain_walk(indptr, indices, kind, kind == 0, tails):
        reached[indices[edges]] = True
    lost = (kind >= 2) & ~reached
    if lost.any():
        # Groups of pass-through nodes linked to each other only: one active node each.
        lost_edge = lost[tails] & lost[heads]
        graph = sp.csr_matrix((np.ones(int(lost_edge.sum())), (tails[lost_edge], heads[lost_edge])),
                              shape=(n, n))
        _, label = connected_components(graph, directed=True, connection="weak")
        nodes = np.flatnonzero(lost)
        smallest = np.full(n, n, np.int64)
        np.minimum.at(smallest, label[nodes], nodes)
        kind[smallest[np.unique(label[nodes])]] = 0
    return kind


def _chain_walk(indptr, indices, kind, starts, tails):
    """Follow every out-edge of the nodes ``starts`` (a mask) through the pass-through nodes.

    Yields, step by step, ``(chains, edges)``: the chains still going (numbered by their
    first edge, in CSR order) and the edge each takes at this step, all chains at once.
    """
    edges = np.flatnonzero(starts[tails])
    tails = tails[edges]
    chains = np.arange(len(edges))
    while len(edges):
        yield chains, edges
        heads = indices[edges]
        go = kind[heads] >= 2
        chains, edges, tails, heads = chains[go], edges[go], tails[go], heads[go]
        # The next edge leaves the pass-through node by its other side.
        nxt = indptr[heads]
        back = (kind[heads] == 3) & (indices[nxt] == tails)
        edges = nxt + back
        tails = heads


def _chain_steps(indptr, indices, weights, kind, tails):
    """The out-edges of every active node, each followed through its chain.

    Node ``u``'s steps are ``codes[ptr[u]:ptr[u + 1]]`` with times ``times[...]``: the
    edges of each chain in travel order, ending at an active node (code ``>= 0``) or at a
    dead end (``~(node | _END)``); pass-through nodes are ``~node`` (one-way) or
    ``~(node | _TWO)`` (two-way). Returns ``(ptr, times, codes, span)``, ``span`` being
    the longest chain time, added in travel order, over the chains from active nodes and
    dead ends: it bounds how far apart the labels queued can be. (Plain numpy.)
    """
    n = len(indptr) - 1
    span = 0.0
    for starts, store in ((kind == 1, False), (kind == 0, True)):
        total = None
        steps = []
        for chains, edges in _chain_walk(indptr, indices, kind, starts, tails):
            if total is None:
                total = np.zeros(len(chains))
                owner = tails[edges]
            total[chains] += weights[edges]
            if store:
                steps.append((chains, edges))
        if total is not None and len(total):
            span = max(span, float(total.max()))
    if not steps:
        return np.zeros(n + 1, np.int64), np.empty(0), np.empty(0, np.int32), span
    length = np.zeros(len(steps[0][0]), np.int64)
    for chains, _ in steps:
        length[chains] += 1
    offset = np.concatenate([[0], np.cumsum(length)[:-1]])
    times = np.empty(int(length.sum()), np.float64)
    codes = np.empty(len(times), np.int32)
    code_of = np.arange(n, dtype=np.int64)
    code_of = np.where(kind == 1, ~(code_of | _END), np.where(
        kind == 3, ~(code_of | _TWO), np.where(kind == 2, ~code_of, code_of)))
    for i, (chains, edges) in enumerate(steps):
        at = offset[chains] + i
        times[at] = weights[edges]
        codes[at] = code_of[indices[edges]]
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(owner, weights=length, minlength=n).astype(np.int64), out=ptr[1:])
    return ptr, times, codes, span


@kernel(inline="always")
def _queue(t, x, invw, mask, head, bits, pd, pn, pnext, entry):
    """Queue node ``x`` at time ``t``: entry ``entry`` joins the list of its bucket."""
    slot = np.int64(t * invw) & mask
    pd[entry] = t
    pn[entry] = x
    pnext[entry] = head[slot]
    head[slot] = entry
    bits[slot >> 6] |= _ONE << np.uint64(slot & 63)


@kernel
def _search(indptr, indices, weights, kind, ptr, times, codes, sources, together, limit, invw,
            mask, target_pos, every, dst, n_targets, dist, head, bits, pd, pn, pnext, ilist,
            counts, cols, vals, k, nnz, reserve):
    """Bounded searches from ``sources[k:]`` one after the other (or one from all, ``together``).

    Search ``k`` writes the positions (``cols``) and seconds (``vals``) of the targets it
    reaches from ``nnz`` on, and their number in ``counts[k]``; ``every`` says that the
    targets are all the nodes in order (``target_pos`` is then not read). ``dist`` (all ``inf``),
    ``head`` (all -1) and ``bits`` (all 0) are left as found; ``pd``/``pn``/``pnext`` are
    the queue's entry pool and ``ilist`` (``n`` entries) the passive nodes reached.
    A search starts only with room for ``reserve`` outputs (raised to the most a search
    wrote so far), so that output buffers are grown between searches rather than by
    undoing one. Returns ``(k, nnz, relaxations, status)``: ``status`` 0 when every
    search is done, 1 (pool) or 2 (output) when search ``k`` found a buffer too small (and
    was undone if it had started): grow it and call again from ``k``.
    """
    cap = pd.shape[0]
    cap_out = cols.shape[0]
    check = n_targets < dist.shape[0]
    n_search = 1 if together else sources.shape[0]
    relax_total = 0
    status = 0
    while k < n_search and status == 0:
        if cap_out - nnz < reserve:
            status = 2
            break
        nnz0 = nnz
        npool = 0
        pending = 0
        ni = 0
        relax = 0
        lo = 0 if together else k
        hi = sources.shape[0] if together else k + 1
        for q in range(lo, hi):
            s = sources[q]
            if dist[s] == 0.0:  # a repeated seed
                continue
            queued = kind[s] == 0 or (check and target_pos[s] >= 0)
            if queued and npool == cap:
                status = 1
                break
            if kind[s] > 0 and dist[s] == _INF:
                ilist[ni] = s
                ni += 1
                relax += (kind[s] + 1) >> 1
            dist[s] = 0.0
            if queued:
                _queue(0.0, s, invw, mask, head, bits, pd, pn, pnext, npool)
                npool += 1
                pending += 1
            if kind[s] == 0:
                continue
            # A passive seed has no steps of its own: walk its chains on the CSR arrays.
            for e in range(indptr[s], indptr[s + 1]):
                prev = s
                x = indices[e]
                t = weights[e]
                while t < dist[x] and t <= limit:
                    kx = kind[x]
                    queued = kx == 0 or (check and target_pos[x] >= 0)
                    if queued and npool == cap:
                        status = 1
                        break
                    if kx > 0 and dist[x] == _INF:
                        ilist[ni] = x
                        ni += 1
                        relax += (kx + 1) >> 1
                    dist[x] = t
                    if queued:
                        _queue(t, x, invw, mask, head, bits, pd, pn, pnext, npool)
                        npool += 1
                        pending += 1
                    if kx < 2:
                        break
                    f = indptr[x]
                    if kx == 3 and indices[f] == prev:
                        f += 1
                    prev = x
                    x = indices[f]
                    t = t + weights[f]
                if status:
                    break
            if status:
                break
        b = 0
        while pending > 0 and status == 0:
            slot = b & mask
            word = bits[slot >> 6] >> np.uint64(slot & 63)
            if word == 0:
                b += 64 - (slot & 63)
                continue
            b += np.int64(trailing_zeros(word))
            slot = b & mask
            start = nnz
            dirty = False
            while head[slot] >= 0 and status == 0:
                e = head[slot]
                head[slot] = -1
                bits[slot >> 6] &= ~(_ONE << np.uint64(slot & 63))
                while e >= 0:
                    pending -= 1
                    d = pd[e]
                    u = pn[e]
                    e = pnext[e]
                    if d > dist[u]:
                        continue
                    pos = u if every else target_pos[u]
                    if pos >= 0:
                        if nnz == cap_out:
                            status = 2
                            break
                        cols[nnz] = pos
                        vals[nnz] = d
                        nnz += 1
                    j = ptr[u]
                    j1 = ptr[u + 1]
                    t = d
                    while j < j1:
                        c = codes[j]
                        t = t + times[j]
                        j += 1
                        if c >= 0:
                            # The chain ends at an active node: queue it.
                            relax += 1
                            if t < dist[c] and t <= limit:
                                if npool == cap:
                                    status = 1
                                    break
                                dist[c] = t
                                if np.int64(t * invw) == b:
                                    dirty = True
                                _queue(t, c, invw, mask, head, bits, pd, pn, pnext, npool)
                                npool += 1
                                pending += 1
                            t = d
                            continue
                        y = ~c
                        x = y & _NODE
                        if t < dist[x] and t <= limit:
                            # A passive node: labelled, written at the end (or queued as a
                            # target when the search may stop early).
                            queued = check and target_pos[x] >= 0
                            if queued and npool == cap:
                                status = 1
                                break
                            if dist[x] == _INF:
                                ilist[ni] = x
                                ni += 1
                                relax += 1 + ((y >> 29) & 1)  # its own out-edges
                            dist[x] = t
                            if queued:
                                if np.int64(t * invw) == b:
                                    dirty = True
                                _queue(t, x, invw, mask, head, bits, pd, pn, pnext, npool)
                                npool += 1
                                pending += 1
                            if y >= _END:
                                relax += 1
                                t = d
                        else:
                            # Not improved: the rest of the chain cannot improve either.
                            while y < _END:
                                c = codes[j]
                                j += 1
                                if c >= 0:
                                    break
                                y = ~c
                            relax += 1
                            t = d
                    if status:
                        break
            if status:
                break
            if dirty:
                # Labels of this bucket improved after being written: keep the final ones.
                q0 = start
                for q in range(start, nnz):
                    if vals[q] == dist[dst[cols[q]]]:
                        cols[q0] = cols[q]
                        vals[q0] = vals[q]
                        q0 += 1
                nnz = q0
            if check and nnz - nnz0 >= n_targets:
                break
            b += 1
        # Passive nodes: written now that their times are final, then reset.
        for q in range(ni):
            x = ilist[q]
            if status == 0 and not check:
                pos = x if every else target_pos[x]
                if pos >= 0:
                    if nnz == cap_out:
                        status = 2
                    else:
                        cols[nnz] = pos
                        vals[nnz] = dist[x]
                        nnz += 1
            dist[x] = _INF
        if pending > 0:
            for q in range(npool):
                head[np.int64(pd[q] * invw) & mask] = -1
            for q in range(bits.shape[0]):
                bits[q] = 0
        for q in range(npool):
            dist[pn[q]] = _INF
        if status:
            nnz = nnz0
        else:
            counts[k] = nnz - nnz0
            reserve = max(reserve, nnz - nnz0)
            relax_total += relax
            k += 1
    return k, nnz, relax_total, status


# --------------------------------------------------------------------------- signatures

_i8 = types.Array(types.int8, 1, "C")
_i32 = types.Array(types.int32, 1, "C")
_i64 = types.Array(types.int64, 1, "C")
_f64 = types.Array(types.float64, 1, "C")
_u64 = types.Array(types.uint64, 1, "C")

#: Every routing kernel of this module and the one signature the entry points call it with
#: (inputs are converted to these types first, so no other variant is ever compiled).
KERNELS = {
    "_search": (_search, (
        _i64, _i32, _f64, _i8, _i64, _f64, _i32, _i64, types.boolean, types.float64,
        types.float64, types.int64, _i32, types.boolean, _i64, types.int64, _f64, _i32, _u64,
        _f64, _i32, _i32, _i32, _i64, _i32, _f64, types.int64, types.int64, types.int64)),
}


# --------------------------------------------------------------------------- entry points


class SearchGraph(NamedTuple):
    """A CSR graph with its pass-through chains, as the search kernel reads it."""

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    kind: np.ndarray
    ptr: np.ndarray
    times: np.ndarray
    codes: np.ndarray
    span: float
    min_weight: float

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_passive(self) -> int:
        """Nodes that never enter the queue (pass-through nodes and dead ends)."""
        return int(np.count_nonzero(self.kind))


#: Chains of the graphs searched so far, by the identity of their CSR arrays; an entry
#: holds no reference to those arrays and goes when ``indices`` is garbage-collected.
_CHAINS: dict[tuple[int, int, int], tuple[tuple, tuple]] = {}


def search_graph(indptr, indices, weights) -> SearchGraph:
    """A CSR graph with its chains, computed once per graph (kept while ``indices`` lives).

    Parameters
    ----------
    indptr, indices, weights : numpy.ndarray
        CSR arrays: row pointers, heads, non-negative finite seconds. They must not be
        modified afterwards (networks are immutable).

    Returns
    -------
    SearchGraph
    """
    ip = np.ascontiguousarray(indptr, dtype=np.int64)
    ix = np.ascontiguousarray(indices, dtype=np.int32)
    w = np.ascontiguousarray(weights, dtype=np.float64)
    key = (id(indptr), id(indices), id(weights))
    hit = _CHAINS.get(key)
    if hit is not None and all(r() is a for r, a in zip(hit[0], (indptr, indices, weights),
                                                          strict=True)):
        return SearchGraph(ip, ix, w, *hit[1])
    n = len(ip) - 1
    if n > _NODE:
        raise ValueError(f"at most {_NODE:,} nodes, got {n:,}")
    tails = np.repeat(np.arange(n, dtype=np.int32), np.diff(ip))
    kind = _node_kinds(ip, ix, tails)
    ptr, times, codes, span = _chain_steps(ip, ix, w, kind, tails)
    del tails
    positive = w[w > 0]
    chains = (kind, ptr, times, codes, span, float(positive.min()) if len(positive) else 0.0)
    try:
        refs = tuple(weakref.ref(a) for a in (indptr, indices, weights))
        weakref.finalize(indices, _CHAINS.pop, key, None)
    except TypeError:  # not weak-referenceable: not kept
        pass
    else:
        _CHAINS[key] = (refs, chains)
    return SearchGraph(ip, ix, w, *chains)


def _buckets(graph: SearchGraph, limit: float) -> tuple[float, int]:
    """``(1 / W, number of buckets)`` of the circular bucket queue for this bound."""
    reach = min(graph.span, limit)
    # Just under the smallest positive time, so that a relaxation always leaves its bucket.
    width = graph.min_weight * (1.0 - 2.0**-20) if graph.min_weight > 0 else 1.0
    if reach / width > _MAX_BUCKETS - 3:
        # A huge spread of edge times: wider buckets (still exact, a little slower).
        width = reach / (_MAX_BUCKETS - 3)
    need = int(reach / width) + 3
    size = 64
    while size < need:
        size *= 2
    return 1.0 / width, size


class _Scratch:
    """One thread's working arrays, reused from one chunk of sources to the next.

    Kept between calls (see :func:`_take`): a process routing again on a network of the
    same size finds them allocated, without the page faults of fresh memory.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.dist = np.full(n, _INF)
        self.ilist = np.empty(n, np.int32)
        self.head = np.empty(0, np.int32)
        self.bits = np.empty(0, np.uint64)
        self.pd = np.empty(0, np.float64)
        self.cols = np.empty(0, np.int32)
        self.vals = np.empty(0, np.float64)

    def ready(self, size: int, entries: int, out: int) -> _Scratch:
        if len(self.head) != size:
            self.head = np.full(size, -1, np.int32)
            self.bits = np.zeros(size // 64, np.uint64)
        if len(self.pd) < entries:
            self.pool(entries)
        if len(self.cols) < out:
            self.cols = np.empty(out, np.int32)
            self.vals = np.empty(out, np.float64)
        return self

    def pool(self, entries: int) -> None:
        self.pd = np.empty(entries, np.float64)
        self.pn = np.empty(entries, np.int32)
        self.pnext = np.empty(entries, np.int32)

    def grow_output(self, nnz: int, room: int) -> None:
        cols = np.empty(max(2 * len(self.cols), nnz + 2 * room), np.int32)
        vals = np.empty(len(cols), np.float64)
        cols[:nnz] = self.cols[:nnz]
        vals[:nnz] = self.vals[:nnz]
        self.cols, self.vals = cols, vals


#: Idle scratch sets, for the next searches on a network with as many nodes.
_IDLE: list[_Scratch] = []
_IDLE_LOCK = threading.Lock()


def _take(n: int) -> _Scratch:
    with _IDLE_LOCK:
        for i, sc in enumerate(_IDLE):
            if sc.n == n:
                return _IDLE.pop(i)
    return _Scratch(n)


def _give_back(used: list[_Scratch]) -> None:
    for sc in used:
        if len(sc.cols) > _KEEP_OUT:  # a big result's buffers are not kept
            sc.cols = np.empty(0, np.int32)
            sc.vals = np.empty(0, np.float64)
    with _IDLE_LOCK:
        # Only the latest network size is kept, at most one set per thread.
        keep = [sc for sc in _IDLE if used and sc.n == used[0].n]
        _IDLE[:] = (used + keep)[:max(len(used), numba.config.NUMBA_NUM_THREADS)]


def _run(graph: SearchGraph, sources: np.ndarray, together: bool, limit: float,
         target_pos: np.ndarray, dst: np.ndarray, chunk: int, threads: int,
         unit: float = 1.0):
    """Run the searches on ``threads`` threads, ``chunk`` sources per task.

    Returns ``(counts, cols, times, relaxations)``, times in seconds divided by ``unit``.
    """
    invw, size = _buckets(graph, limit)
    n = graph.n_nodes
    n_targets = len(dst)
    every = n_targets == n and bool((dst == np.arange(n)).all())
    if together:
        pieces = [sources]
    else:
        pieces = [sources[i:i + chunk] for i in range(0, len(sources), chunk)]
    # Per piece: its counts, the scratch holding its output, where, and its relaxations.
    out: list = [None] * len(pieces)
    todo = iter(range(len(pieces)))  # next() on it is atomic under the GIL
    entries = max(1, min(len(graph.times) + len(sources) + 16, _FIRST_POOL))
    per_thread = -(-len(pieces) // max(1, threads)) * (1 if together else min(chunk, len(sources)))
    first_out = max(1, min(n_targets * per_thread, _FIRST_OUT))

    used: list[_Scratch] = []

    def work() -> None:
        sc = _take(n).ready(size, entries, first_out)
        used.append(sc)
        nnz = reserve = 0
        for i in todo:
            piece = pieces[i]
            counts = np.zeros(1 if together else len(piece), np.int64)
            k = relax = 0
            start = nnz
            while True:
                # Each thread appends its pieces' output to its own buffers.
                k, nnz, r, status = _search(
                    graph.indptr, graph.indices, graph.weights, graph.kind, graph.ptr,
                    graph.times, graph.codes, piece, together, limit, invw, size - 1, target_pos,
                    every, dst, n_targets, sc.dist, sc.head, sc.bits, sc.pd, sc.pn, sc.pnext,
                    sc.ilist, counts, sc.cols, sc.vals, k, nnz, reserve)
                relax += r
                if k:
                    reserve = max(reserve, int(counts[:k].max()))
                if status == 0:
                    break
                if status == 1:
                    sc.pool(4 * len(sc.pd) + len(piece))
                else:
                    sc.grow_output(nnz, reserve)
            out[i] = (counts, sc, start, nnz, relax)

    threads = max(1, min(threads, len(pieces)))
    if threads == 1:
        work()
    else:
        for f in [_executor(threads).submit(work) for _ in range(threads)]:
            f.result()
    # One copy from the threads' buffers to the result, in piece order (in parallel too:
    # numpy copies release the GIL).
    sizes = [o[3] - o[2] for o in out]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    cols = np.empty(int(starts[-1]), np.int32)
    times = np.empty(len(cols), np.float64)

    def gather(pieces_: range) -> None:
        for i in pieces_:
            _, sc, lo, hi, _ = out[i]
            at = slice(starts[i], starts[i + 1])
            cols[at] = sc.cols[lo:hi]
            if unit == 1.0:
                times[at] = sc.vals[lo:hi]
            else:
                np.divide(sc.vals[lo:hi], unit, out=times[at])

    if threads == 1 or len(cols) < 1 << 18:
        gather(range(len(out)))
    else:
        # Pieces split where the entries are, so that each thread copies as much.
        cut = np.searchsorted(starts, np.linspace(0, starts[-1], threads + 1)[1:-1])
        bounds = [0, *cut.tolist(), len(out)]
        for f in [_executor(threads).submit(gather, range(bounds[t], bounds[t + 1]))
                  for t in range(threads)]:
            f.result()
    counts = out[0][0] if len(out) == 1 else np.concatenate([o[0] for o in out])
    relax = int(sum(o[4] for o in out))
    _give_back(used)
    return counts, cols, times, relax


_EXECUTOR: dict[str, ThreadPoolExecutor] = {}
_EXECUTOR_SIZE = [0]


def _executor(threads: int) -> ThreadPoolExecutor:
    """A process-wide pool of at least ``threads`` threads (the kernels release the GIL)."""
    pool = _EXECUTOR.get("pool")
    if pool is None or _EXECUTOR_SIZE[0] < threads:
        if pool is not None:
            pool.shutdown(wait=False)
        pool = _EXECUTOR["pool"] = ThreadPoolExecutor(threads, thread_name_prefix="apl-routing")
        _EXECUTOR_SIZE[0] = threads
    return pool


def _targets(target_pos: np.ndarray) -> np.ndarray:
    """The node of each target position (inverse of ``target_pos``)."""
    nodes = np.flatnonzero(target_pos >= 0)
    dst = np.empty(len(nodes), np.int64)
    dst[target_pos[nodes]] = nodes
    return dst


def bounded_searches(indptr, indices, weights, sources, limit, n_targets, target_pos, chunk, *,
                     unit=1.0):
    """Bounded searches from every source: flat ``(counts, columns, seconds, relaxations)``.

    The entry point of the kernels for :mod:`engine.routing.matrix` and the Dask backend;
    arguments are the CSR arrays, ``sources`` (int64), ``limit`` in seconds (``inf`` for
    none), the number of targets, ``target_pos`` (int32 position of each node among the
    targets, -1 elsewhere) and the least number of sources per task (tasks hold more when
    there are many sources: about eight per thread, which keeps the per-call overhead
    negligible). The searches run on ``numba.get_num_threads()`` threads. Rows come out
    in ``sources`` order, each row's targets in the search's order (not sorted). ``relaxations`` counts the edges scanned,
    those of passive nodes included: as many as a textbook Dijkstra settling the same
    nodes relaxes (more when zero-time edges make a bucket be scanned again, or when a
    search stopping at its last target had labelled passive nodes beyond it). With
    ``unit`` the times are divided by it (``60.0`` gives minutes, each ``seconds / 60.0``).
    """
    graph = search_graph(indptr, indices, weights)
    target_pos = np.ascontiguousarray(target_pos, dtype=np.int32)
    dst = _targets(target_pos)
    if len(dst) != int(n_targets):
        raise ValueError(f"target_pos has {len(dst)} targets, n_targets says {n_targets}")
    sources = np.ascontiguousarray(sources, dtype=np.int64)
    threads = numba.get_num_threads()
    chunk = max(1, int(chunk), -(-len(sources) // (8 * threads)))
    return _run(graph, sources, False, float(limit), target_pos, dst, chunk, threads, float(unit))


def nearest_seconds(indptr, indices, weights, seeds, limit):
    """Seconds from the nearest of ``seeds`` to every node (``inf`` beyond ``limit``), one search."""
    graph = search_graph(indptr, indices, weights)
    n = graph.n_nodes
    every = np.arange(n, dtype=np.int32)
    _, cols, secs, _ = _run(graph, np.ascontiguousarray(seeds, dtype=np.int64), True,
                            float(limit), every, every.astype(np.int64), 1, 1)
    out = np.full(n, _INF)
    out[cols] = secs
    return out
