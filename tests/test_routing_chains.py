"""The search kernel on road-like graphs: pass-through chains, dead ends, rings, zero times.

Road networks are mostly chains of pass-through nodes and dead ends, which the kernel walks
without queueing; these tests draw graphs made of such "ways" (one-way, two-way, closed
into rings, sharing nodes) with zero and tiny times, and compare every time with the
textbook Dijkstra of ``tests/naive.py`` to the last bit, and the kernel's chain structure
with its naive twins.
"""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
from conftest import random_network
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

from engine.routing import _dijkstra
from engine.routing._dijkstra import bounded_searches, nearest_seconds, search_graph
from engine.routing.matrix import nearest_travel_times, travel_times
from engine.routing.network import RoadNetwork

_HYP = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Zero and tiny times make ties and in-bucket improvements; the floats exercise rounding.
_WEIGHT = st.one_of(st.just(0.0), st.integers(0, 5).map(float),
                    st.floats(0, 500, allow_nan=False, allow_infinity=False),
                    st.floats(1e-9, 1e-3))


@st.composite
def way_edges(draw, max_nodes: int = 40):
    """Edges of a few "ways" (node sequences, one- or two-way, some closed) and stray edges."""
    n = draw(st.integers(2, max_nodes))
    u, v = [], []
    for _ in range(draw(st.integers(1, 8))):
        nodes = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=14))
        if draw(st.booleans()):
            nodes.append(nodes[0])  # a ring
        direction = draw(st.sampled_from([1, 1, 0, -1]))  # 1 two-way, 0 forward, -1 backward
        for a, b in zip(nodes, nodes[1:], strict=False):
            if direction >= 0:
                u.append(a)
                v.append(b)
            if direction != 0:
                u.append(b)
                v.append(a)
    for _ in range(draw(st.integers(0, 4))):
        u.append(draw(st.integers(0, n - 1)))
        v.append(draw(st.integers(0, n - 1)))
    w = draw(st.lists(_WEIGHT, min_size=len(u), max_size=len(u)))
    return n, np.asarray(u), np.asarray(v), np.asarray(w, dtype=np.float64)


@st.composite
def road_graphs(draw):
    n, u, v, w = draw(way_edges())
    if not (u != v).any():
        u, v, w = np.array([0]), np.array([1]), np.array([1.0])
    coords = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random((n, 2))
    return RoadNetwork.from_edges(u, v, w, w, 9 + coords[:, 0], 42 + coords[:, 1],
                                  np.arange(n) + 100, largest_component=False,
                                  node_order=draw(st.sampled_from(["spatial", "input"])))


def _csr(net: RoadNetwork, reverse: bool):
    return net.reverse_csr() if reverse else (net.indptr, net.indices, net.travel_time_s)


def _naive_dense(net, origins, dests, bound, reverse):
    indptr, indices, weights = _csr(net, reverse)
    limit = math.inf if bound is None else bound * 60.0
    full = naive.travel_time_rows(indptr, indices, weights, origins, limit)
    return full if dests is None else full[:, dests]


# --------------------------------------------------------------------------- chain structure


@_HYP
@given(road_graphs(), st.booleans())
def test_kinds_and_chain_steps_equal_naive_twins(net, reverse):
    indptr, indices, weights = _csr(net, reverse)
    graph = search_graph(indptr, indices, weights)
    kind = naive.node_kinds(indptr, indices)
    assert np.array_equal(graph.kind, kind)
    ptr, times, codes, span = naive.chain_steps(indptr, indices, weights, kind)
    assert np.array_equal(graph.ptr, ptr)
    assert np.array_equal(graph.times, times)
    assert np.array_equal(graph.codes, codes)
    assert graph.span == span


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(road_graphs(), st.booleans())
def test_kinds_by_sorting_equal_kinds_by_sums(net, reverse):
    # Past 2**26 nodes the in-neighbours are found by sorting; both ways agree.
    indptr, indices, weights = _csr(net, reverse)
    tails = np.repeat(np.arange(net.n_nodes, dtype=np.int32), np.diff(indptr))
    by_sums = _dijkstra._node_kinds(indptr, indices, tails)
    old = _dijkstra._EXACT_SQUARES
    _dijkstra._EXACT_SQUARES = 0
    try:
        by_sort = _dijkstra._node_kinds(indptr, indices, tails)
    finally:
        _dijkstra._EXACT_SQUARES = old
    assert np.array_equal(by_sums, by_sort)
    assert np.array_equal(by_sort, naive.node_kinds(indptr, indices))


def test_kinds_on_small_cases():
    def kinds(u, v):
        n = max(max(u), max(v)) + 1
        w = np.ones(len(u))
        net = RoadNetwork.from_edges(np.array(u), np.array(v), w, w, np.arange(n) / 100 + 9,
                                     np.full(n, 42.0), np.arange(n), largest_component=False,
                                     node_order="input")
        return search_graph(net.indptr, net.indices, net.travel_time_s).kind.tolist()

    # A two-way street 0-1-2-3 with a dead end at each end: 0 and 3 dead ends, but a dead
    # end has nothing to walk from, so the first pass-through node of the chain is active.
    assert kinds([0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]) == [1, 0, 3, 1]
    # A one-way ring 0 -> 1 -> 2 -> 0: one node made active, the others one-way pass-through.
    assert kinds([0, 1, 2], [1, 2, 0]) == [0, 2, 2]
    # A junction: 0 has three neighbours, the spokes are dead ends.
    assert kinds([0, 1, 0, 2, 0, 3], [1, 0, 2, 0, 3, 0]) == [0, 1, 1, 1]


# --------------------------------------------------------------------------- exactness


@_HYP
@given(road_graphs(), st.data())
def test_road_graphs_equal_textbook_dijkstra_exactly(net, data):
    n = net.n_nodes
    origins = data.draw(st.lists(st.integers(0, n - 1), max_size=8))
    dests = data.draw(st.one_of(st.none(), st.lists(st.integers(0, n - 1), unique=True,
                                                    max_size=n)))
    bound = data.draw(st.one_of(st.none(), st.just(0.0), st.floats(0, 30, allow_nan=False)))
    reverse = data.draw(st.booleans())
    m = travel_times(net, origins, dests, max_minutes=bound, reverse=reverse)
    assert np.array_equal(m.to_dense(), _naive_dense(net, origins, dests, bound, reverse))
    for i in range(m.shape[0]):
        assert len(np.unique(m.row(i)[0])) == len(m.row(i)[0])


@_HYP
@given(road_graphs(), st.data())
def test_road_graphs_nearest_equals_naive(net, data):
    n = net.n_nodes
    sources = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6))
    bound = data.draw(st.one_of(st.none(), st.just(0.0), st.floats(0, 10, allow_nan=False)))
    reverse = data.draw(st.booleans())
    indptr, indices, weights = _csr(net, reverse)
    limit = math.inf if bound is None else bound * 60.0
    assert np.array_equal(nearest_travel_times(net, sources, max_minutes=bound, reverse=reverse),
                          naive.nearest_times(indptr, indices, weights, sources, limit))


@st.composite
def raw_csr(draw):
    """CSR arrays straight from an edge list: parallel edges and self-loops kept."""
    n, u, v, w = draw(way_edges(max_nodes=20))
    dup = draw(st.lists(st.integers(0, len(u) - 1), max_size=6))
    u, v = np.concatenate([u, u[dup]]), np.concatenate([v, v[dup]])
    w = np.concatenate([w, draw(st.lists(_WEIGHT, min_size=len(dup), max_size=len(dup)))])
    order = np.argsort(u, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    return indptr, v[order].astype(np.int32), w[order]


@_HYP
@given(raw_csr(), st.data())
def test_kernel_on_raw_csr_with_parallel_edges_and_self_loops(csr, data):
    indptr, indices, weights = csr
    n = len(indptr) - 1
    sources = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=5)))
    limit = data.draw(st.sampled_from([math.inf, 0.0, 3.0, 300.0]))
    every = np.arange(n, dtype=np.int32)
    counts, cols, secs, relax = bounded_searches(indptr, indices, weights, sources, limit, n,
                                                 every, 2)
    lo = 0
    for k, s in enumerate(sources):
        ref = naive.dijkstra(indptr, indices, weights, s, limit)
        got = dict(zip(cols[lo:lo + counts[k]].tolist(), secs[lo:lo + counts[k]].tolist(),
                       strict=True))
        assert got == ref and len(got) == counts[k]
        lo += counts[k]
    textbook = naive.relaxations(indptr, indices, weights, sources, limit)
    invw, _ = _dijkstra._buckets(search_graph(indptr, indices, weights), limit)
    if (weights > 0).all() and 1.0 / invw < search_graph(indptr, indices, weights).min_weight:
        # Buckets narrower than every edge: no bucket is scanned twice.
        assert relax == textbook
    else:  # zero times (or widened buckets) may rescan a bucket's nodes
        assert relax >= textbook
    assert np.array_equal(nearest_seconds(indptr, indices, weights, sources, limit) / 60.0,
                          naive.nearest_times(indptr, indices, weights, sources, limit))


@pytest.mark.parametrize("seed", range(4))
def test_relaxations_are_the_textbook_count(seed):
    net = random_network(300, 700, seed)
    origins = np.random.default_rng(seed).integers(0, net.n_nodes, 10)
    for bound in (None, 2.0):
        m = travel_times(net, origins, max_minutes=bound)
        limit = math.inf if bound is None else bound * 60
        assert m.stats["relaxations"] == naive.relaxations(
            net.indptr, net.indices, net.travel_time_s, origins, limit)


@pytest.mark.parametrize("seed", range(3))
def test_tiny_buffers_grow_to_the_same_result(monkeypatch, seed):
    net = random_network(200, 500, seed)
    origins = np.random.default_rng(seed).integers(0, net.n_nodes, 12)
    dests = np.random.default_rng(seed).choice(net.n_nodes, 40, replace=False)
    ref = [travel_times(net, origins, d, max_minutes=b).to_dense()
           for d in (None, dests) for b in (None, 3.0)]
    monkeypatch.setattr(_dijkstra, "_FIRST_POOL", 1)
    monkeypatch.setattr(_dijkstra, "_FIRST_OUT", 1)
    got = [travel_times(net, origins, d, max_minutes=b).to_dense()
           for d in (None, dests) for b in (None, 3.0)]
    assert all(np.array_equal(a, b) for a, b in zip(ref, got, strict=True))


def test_huge_spread_of_edge_times_widens_buckets_and_stays_exact(monkeypatch):
    rng = np.random.default_rng(5)
    net = random_network(150, 600, 5)
    w = net.travel_time_s.copy()
    w[rng.choice(len(w), 30, replace=False)] = 1e-12  # tiny times beside minutes-long ones
    net = RoadNetwork(net.indptr, net.indices, w, net.length_m, net.lon, net.lat, net.osmid)
    monkeypatch.setattr(_dijkstra, "_MAX_BUCKETS", 128)
    origins = rng.integers(0, net.n_nodes, 15)
    ref = scipy_dijkstra(net.to_scipy(), indices=origins) / 60.0
    assert np.array_equal(travel_times(net, origins).to_dense(), ref)


# --------------------------------------------------------------------------- Corsica


@pytest.mark.realdata
@pytest.mark.slow
def test_corsica_chains_equal_naive_twins(corse):
    for reverse in (False, True):
        indptr, indices, weights = _csr(corse, reverse)
        graph = search_graph(indptr, indices, weights)
        kind = naive.node_kinds(indptr, indices)
        assert np.array_equal(graph.kind, kind)
        ptr, times, codes, span = naive.chain_steps(indptr, indices, weights, kind)
        assert np.array_equal(graph.ptr, ptr) and np.array_equal(graph.codes, codes)
        assert np.array_equal(graph.times, times) and graph.span == span
        # Two nodes in three never enter the queue.
        assert graph.n_passive > corse.n_nodes * 0.6


@pytest.mark.realdata
@pytest.mark.slow
def test_corsica_destination_subsets_and_reverse_equal_scipy(corse):
    rng = np.random.default_rng(17)
    origins = rng.choice(corse.n_nodes, 120, replace=False)
    for reverse in (False, True):
        adj = corse.to_scipy().T.tocsr() if reverse else corse.to_scipy()
        ref = scipy_dijkstra(adj, indices=origins, limit=1200.0) / 60.0
        for size in (1, 5, 360):
            dests = rng.choice(corse.n_nodes, size, replace=False)
            m = travel_times(corse, origins, dests, max_minutes=20, reverse=reverse)
            assert np.array_equal(m.to_dense(), ref[:, dests])
        # Unbounded, to a handful of targets: the search stops at its last target.
        dests = rng.choice(corse.n_nodes, 3, replace=False)
        full = scipy_dijkstra(adj, indices=origins[:20])[:, dests] / 60.0
        assert np.array_equal(travel_times(corse, origins[:20], dests,
                                           reverse=reverse).to_dense(), full)


@pytest.mark.realdata
@pytest.mark.slow
def test_corsica_relaxations_are_the_textbook_count(corse):
    origins = np.random.default_rng(3).choice(corse.n_nodes, 25, replace=False)
    m = travel_times(corse, origins, max_minutes=20)
    assert m.stats["relaxations"] == naive.relaxations(
        corse.indptr, corse.indices, corse.travel_time_s, origins, 1200.0)


def test_chains_are_kept_per_network_and_dropped_with_it():
    import gc

    net = random_network(120, 400, 9)
    key = (id(net.indptr), id(net.indices), id(net.travel_time_s))
    first = search_graph(net.indptr, net.indices, net.travel_time_s)
    again = search_graph(net.indptr, net.indices, net.travel_time_s)
    assert again.kind is first.kind and key in _dijkstra._CHAINS
    del net, first, again
    gc.collect()
    assert key not in _dijkstra._CHAINS
