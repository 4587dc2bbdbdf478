"""travel_times: exact agreement with textbook Dijkstra, scipy and networkx; matrix API."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import naive
import networkx as nx
import numpy as np
import pytest
from conftest import random_network
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

from engine import settings as engine_settings
from engine.errors import InputError
from engine.routing.matrix import TravelTimeMatrix, nearest_travel_times, travel_times
from engine.routing.network import RoadNetwork

# --------------------------------------------------------------------------- strategies


@st.composite
def graphs(draw, max_nodes: int = 25):
    """A random directed network with ties, zero weights, parallel edges and isolated nodes."""
    n = draw(st.integers(2, max_nodes))
    m = draw(st.integers(1, 4 * n))
    u = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    v = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    # Small integers make ties and exact zeros common; the floats exercise rounding.
    weight = st.one_of(st.integers(0, 5).map(float),
                       st.floats(0, 500, allow_nan=False, allow_infinity=False))
    w = draw(st.lists(weight, min_size=m, max_size=m))
    coords = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random((n, 2))
    order = draw(st.sampled_from(["spatial", "input"]))
    w = np.asarray(w)
    if not (np.asarray(u) != np.asarray(v)).any():
        # from_edges refuses a network left empty once self-loops are dropped.
        u, v, w = [0], [1], np.array([1.0])
    return RoadNetwork.from_edges(np.asarray(u), np.asarray(v), w, w, 9 + coords[:, 0],
                                  42 + coords[:, 1], np.arange(n) + 100,
                                  largest_component=False, node_order=order)


@st.composite
def queries(draw):
    """A network, origins (duplicates allowed), destinations (subset or all) and a bound."""
    net = draw(graphs())
    n = net.n_nodes
    origins = draw(st.lists(st.integers(0, n - 1), min_size=0, max_size=8))
    dests = draw(st.one_of(st.none(), st.lists(st.integers(0, n - 1), unique=True, max_size=n)))
    bound = draw(st.one_of(st.none(), st.just(0.0), st.floats(0, 30, allow_nan=False)))
    return net, origins, dests, bound


def naive_dense(net: RoadNetwork, origins, dests, max_minutes, reverse=False):
    """Reference matrix in minutes, inf where unreached, from tests/naive.py."""
    if reverse:
        indptr, indices, weights = net.reverse_csr()
    else:
        indptr, indices, weights = net.indptr, net.indices, net.travel_time_s
    limit = math.inf if max_minutes is None else max_minutes * 60.0
    full = naive.travel_time_rows(indptr, indices, weights, origins, limit)
    return full if dests is None else full[:, dests]


_HYP = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# --------------------------------------------------------------------------- exactness


@_HYP
@given(queries(), st.booleans())
def test_equals_textbook_dijkstra_exactly(q, reverse):
    net, origins, dests, bound = q
    m = travel_times(net, origins, dests, max_minutes=bound, reverse=reverse)
    assert m.shape == (len(origins), net.n_nodes if dests is None else len(dests))
    assert np.array_equal(m.to_dense(), naive_dense(net, origins, dests, bound, reverse))


@_HYP
@given(queries())
def test_equals_scipy_exactly(q):
    net, origins, dests, bound = q
    if not origins:
        return
    limit = np.inf if bound is None else bound * 60.0
    ref = scipy_dijkstra(net.to_scipy(), directed=True, indices=origins, limit=limit) / 60.0
    if dests is not None:
        ref = ref[:, dests]
    assert np.array_equal(travel_times(net, origins, dests, max_minutes=bound).to_dense(), ref)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("integer_weights", [False, True])
def test_random_networks_against_naive_and_scipy(seed, integer_weights):
    net = random_network(300, 900, seed, integer_weights=integer_weights)
    origins = np.random.default_rng(seed).integers(0, net.n_nodes, 20)
    for bound in (None, 0.0, 1.0, 5.0):
        m = travel_times(net, origins, max_minutes=bound).to_dense()
        assert np.array_equal(m, naive_dense(net, origins, None, bound))
        limit = np.inf if bound is None else bound * 60
        ref = scipy_dijkstra(net.to_scipy(), indices=origins, limit=limit) / 60.0
        assert np.array_equal(m, ref)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=graphs(), n_sources=st.integers(1, 6), bound=st.sampled_from([None, 0.0, 0.05, 2.0]),
       reverse=st.booleans())
def test_nearest_equals_minimum_over_single_searches_exactly(q, n_sources, bound, reverse):
    net = q
    rng = np.random.default_rng(n_sources)
    sources = rng.integers(0, net.n_nodes, n_sources)  # duplicates allowed
    got = nearest_travel_times(net, sources, max_minutes=bound, reverse=reverse)
    indptr, indices, weights = (net.reverse_csr() if reverse else
                                (net.indptr, net.indices, net.travel_time_s))
    limit = math.inf if bound is None else bound * 60
    assert np.array_equal(got, naive.nearest_times(indptr, indices, weights, sources, limit))
    rows = travel_times(net, sources, max_minutes=bound, reverse=reverse).to_dense()
    assert np.array_equal(got, rows.min(axis=0))


@pytest.mark.parametrize("seed", range(4))
def test_nearest_on_random_networks_against_naive(seed):
    net = random_network(400, 1600, seed)
    sources = np.random.default_rng(seed).integers(0, net.n_nodes, 25)
    for bound in (None, 3.0):
        limit = math.inf if bound is None else bound * 60
        assert np.array_equal(
            nearest_travel_times(net, sources, max_minutes=bound),
            naive.nearest_times(net.indptr, net.indices, net.travel_time_s, sources, limit))


def test_nearest_edge_cases():
    net = random_network(50, 200, 3)
    assert np.isinf(nearest_travel_times(net, [])).all()
    t = nearest_travel_times(net, [4, 4, 9], max_minutes=0)
    assert t[4] == 0 and t[9] == 0 and np.isinf(np.delete(t, [4, 9])).all()
    with pytest.raises(InputError, match="max_minutes"):
        nearest_travel_times(net, [0], max_minutes=-1)
    with pytest.raises(InputError, match="not a node index"):
        nearest_travel_times(net, [net.n_nodes])


@pytest.mark.parametrize("seed", range(3))
def test_equals_networkx_with_cutoff(seed):
    net = random_network(200, 700, seed)
    g = net.to_networkx()
    origins = np.random.default_rng(seed).integers(0, net.n_nodes, 5)
    cutoff = 180.0
    m = travel_times(net, origins, max_minutes=cutoff / 60.0)
    for i, s in enumerate(origins):
        ref = nx.single_source_dijkstra_path_length(g, int(s), cutoff=cutoff, weight="travel_time")
        cols, minutes = m.row(i)
        assert dict(zip(cols.tolist(), minutes.tolist(), strict=True)) == {
            k: val / 60.0 for k, val in ref.items()}


def test_destination_subset_early_exit_matches_full_search():
    net = random_network(400, 1600, 7)
    rng = np.random.default_rng(7)
    origins = rng.integers(0, net.n_nodes, 30)
    for size in (1, 3, 50):
        dests = rng.choice(net.n_nodes, size, replace=False)
        sub = travel_times(net, origins, dests, max_minutes=10)
        full = travel_times(net, origins, max_minutes=10).to_dense()[:, dests]
        assert np.array_equal(sub.to_dense(), full)


def test_chunking_does_not_change_results(monkeypatch):
    net = random_network(300, 1000, 3)
    origins = np.random.default_rng(3).integers(0, net.n_nodes, 70)
    ref = travel_times(net, origins, max_minutes=4)
    for chunk in (1, 7, 1000):
        monkeypatch.setattr(engine_settings, "routing_chunk_size", chunk)
        m = travel_times(net, origins, max_minutes=4)
        assert np.array_equal(m.indptr, ref.indptr)
        assert np.array_equal(m.indices, ref.indices)
        assert np.array_equal(m.minutes, ref.minutes)


def test_rows_hold_each_reached_column_once():
    # Rows are in search order, not sorted: each reached column appears exactly once.
    net = random_network(300, 1200, 11)
    m = travel_times(net, np.arange(0, net.n_nodes, 10), max_minutes=6)
    dense = m.to_dense()
    for i in range(m.shape[0]):
        cols, minutes = m.row(i)
        assert len(np.unique(cols)) == len(cols) == np.isfinite(dense[i]).sum()
        assert np.array_equal(minutes, dense[i, cols])


def test_deterministic():
    net = random_network(500, 2000, 5, integer_weights=True)
    origins = np.random.default_rng(0).integers(0, net.n_nodes, 200)
    a = travel_times(net, origins, max_minutes=3)
    b = travel_times(net, origins, max_minutes=3)
    for name in ("indptr", "indices", "minutes"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.stats == b.stats


def test_relaxation_count_is_reported():
    net = random_network(100, 300, 1)
    m = travel_times(net, [0], max_minutes=None)
    # Unbounded from one origin: every edge leaving a reached node is relaxed exactly once.
    reached = np.isfinite(m.to_dense()[0])
    assert m.stats["relaxations"] == int(np.diff(net.indptr)[reached].sum())


# --------------------------------------------------------------------------- matrix API


def _small():
    #   0 --60s--> 1 --0s--> 2 --120s--> 3, plus 3 --30s--> 0
    u, v = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0])
    w = np.array([60.0, 0.0, 120.0, 30.0])
    xy = np.arange(4.0)
    return RoadNetwork.from_edges(u, v, w, w, 9 + xy / 100, 42 + xy / 100, np.arange(4) + 10,
                                  largest_component=False, node_order="input")


def test_zero_time_is_a_stored_entry():
    net = _small()
    m = travel_times(net, [0, 1], max_minutes=1.5)
    s = m.to_scipy()
    assert s.nnz == m.nnz == 5  # {0: 0, 1: 1, 2: 1} and {1: 0, 2: 0}
    assert 0 in m.row(0)[0] and set(m.row(1)[0].tolist()) == {1, 2}
    frame = m.to_frame()
    assert ((frame.origin == 1) & (frame.destination == 2) & (frame.minutes == 0)).any()
    assert ((frame.origin == 0) & (frame.destination == 0) & (frame.minutes == 0)).any()
    # Explicit zeros survive to_scipy: the CSR keeps them as stored entries.
    assert np.count_nonzero(s.data == 0) == 3


def test_to_frame_to_dense_to_scipy_agree():
    net = random_network(200, 800, 2)
    origins = np.array([5, 3, 5])
    dests = np.array([7, 1, 0, 4, 9, 12])
    m = travel_times(net, origins, dests, max_minutes=8)
    dense = m.to_dense()
    assert np.array_equal(m.to_scipy().toarray() + np.where(np.isinf(dense), np.inf, 0), dense)
    frame = m.to_frame()
    assert len(frame) == m.nnz == np.isfinite(dense).sum()
    for row in frame.itertuples():
        i = int(np.flatnonzero(origins == row.origin)[0])
        j = int(np.flatnonzero(dests == row.destination)[0])
        assert dense[i, j] == row.minutes
    assert np.array_equal(m.to_dense(fill=-1.0) == -1.0, np.isinf(dense))


def test_transpose_round_trip():
    net = random_network(150, 600, 4)
    m = travel_times(net, [1, 2, 3, 2], np.arange(0, 150, 3), max_minutes=6)
    t = m.transpose()
    assert t.shape == (m.shape[1], m.shape[0]) and t.reverse is not m.reverse
    assert np.array_equal(t.to_dense(), m.to_dense().T)
    back = t.transpose()
    assert np.array_equal(back.to_dense(), m.to_dense())
    assert back.reverse == m.reverse
    assert np.array_equal(back.to_scipy().toarray(), m.to_scipy().toarray())


def test_empty_origins_or_destinations():
    net = _small()
    m = travel_times(net, [], max_minutes=5)
    assert m.shape == (0, 4) and m.nnz == 0
    m = travel_times(net, [0], [], max_minutes=5)
    assert m.shape == (1, 0) and m.to_dense().shape == (1, 0)


def test_float_indices_that_are_integers_are_accepted():
    net = _small()
    assert np.array_equal(travel_times(net, np.array([0.0, 2.0])).to_dense(),
                          travel_times(net, [0, 2]).to_dense())


def test_repr():
    assert "reverse" in repr(travel_times(_small(), [0], max_minutes=1, reverse=True))
    assert isinstance(travel_times(_small(), 0), TravelTimeMatrix)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origins": [0, 4]}, r"origins\[1\] = 4 is not a node index"),
        ({"origins": [-1]}, r"origins\[0\] = -1 is not a node index"),
        ({"origins": [0], "destinations": [9]}, r"destinations\[0\] = 9"),
        ({"origins": [0.5]}, "must be integer node indices"),
        ({"origins": ["a"]}, "must be integer node indices"),
        ({"origins": [np.nan]}, "must be integer node indices"),
        ({"origins": [[0, 1]]}, "1-D sequence"),
        ({"origins": [0], "max_minutes": -1}, "max_minutes must be >= 0"),
        ({"origins": [0], "max_minutes": np.nan}, "max_minutes must be >= 0"),
        ({"origins": [0], "max_minutes": "soon"}, "max_minutes must be a number"),
        ({"origins": [0], "destinations": [1, 2, 1]}, "destinations contain duplicates .node 1"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(InputError, match=message):
        travel_times(_small(), **kwargs)


# --------------------------------------------------------------------------- numba cache


_CACHE_PROBE = textwrap.dedent("""
    import sys
    import numpy as np
    from engine.routing.matrix import (compile_kernels, kernels_cached, nearest_travel_times,
                                       travel_times)
    from engine.routing.network import RoadNetwork
    from engine.routing._dijkstra import KERNELS
    before = kernels_cached()
    if sys.argv[1] == "compile":
        compile_kernels()
    w = np.array([60.0, 30.0, 45.0])
    net = RoadNetwork.from_edges(np.array([0, 1, 2]), np.array([1, 2, 0]), w, w,
                                 np.array([9.0, 9.1, 9.2]), np.array([42.0, 42.1, 42.0]),
                                 np.array([1, 2, 3]))
    travel_times(net, np.arange(3), max_minutes=5)
    nearest_travel_times(net, [0, 1])
    kernels = [f for f, _ in KERNELS.values()]
    print(len(kernels), int(before), int(kernels_cached()),
          sum(sum(f.stats.cache_misses.values()) for f in kernels),
          sum(sum(f.stats.cache_hits.values()) for f in kernels),
          sum(len(f.signatures) for f in kernels))
""")


def _probe(mode: str, **env: str) -> list[int]:
    root = Path(engine_settings.PACKAGE_DIR).parent
    run = subprocess.run([sys.executable, "-c", _CACHE_PROBE, mode], cwd=root, check=True,
                         capture_output=True, text=True, env={**os.environ, **env})
    return [int(x) for x in run.stdout.split()[-6:]]


def test_numba_cache_is_used_in_a_fresh_process():
    # The first run may compile and write the cache; the second must only read it.
    _probe("compile")
    kernels, before, after, misses, hits, variants = _probe("run")
    # One compiled variant per kernel, loaded from the cache, and known to be cached.
    assert before == after == 1 and misses == 0 and hits == variants == kernels


@pytest.mark.slow
def test_kernels_cached_is_false_on_an_empty_cache_then_true(tmp_path):
    cache = str(tmp_path / "numba-cache")
    kernels, before, after, misses, hits, variants = _probe("compile", NUMBA_CACHE_DIR=cache)
    assert (before, after, misses, hits, variants) == (0, 1, kernels, 0, kernels)
    assert _probe("run", NUMBA_CACHE_DIR=cache)[1:5] == [1, 1, 0, kernels]


@pytest.mark.slow
def test_kernels_work_without_a_writable_cache(tmp_path):
    """No writable cache folder: one warning, kernels compile in memory, same results."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where numba wants a folder")
    code = textwrap.dedent("""
        import warnings
        import numpy as np
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from engine.routing.matrix import kernels_cached, travel_times
            from engine.routing.network import RoadNetwork
        w = np.array([60.0, 30.0, 45.0, 10.0])
        net = RoadNetwork.from_edges(np.array([0, 1, 2, 1]), np.array([1, 2, 0, 0]), w, w,
                                     np.array([9.0, 9.1, 9.2]), np.array([42.0, 42.1, 42.0]),
                                     np.array([1, 2, 3]), node_order="input")
        before = kernels_cached()
        print(travel_times(net, [0]).to_dense().tolist(), before, kernels_cached(),
              [type(c.message).__name__ for c in caught])
    """)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(blocked / "sub"),
           "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator"}
    run = subprocess.run([sys.executable, "-c", code], cwd=Path(engine_settings.PACKAGE_DIR).parent,
                         capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    # Not cached before (nothing on disk), ready after (compiled in memory).
    assert run.stdout.strip() == "[[0.0, 1.0, 1.5]] False True ['NumbaCacheWarning']"


# --------------------------------------------------------------------------- Corsica


@pytest.mark.realdata
@pytest.mark.slow
def test_corsica_200_origins_equal_scipy(corse):
    origins = np.random.default_rng(2024).choice(corse.n_nodes, 200, replace=False)
    m = travel_times(corse, origins, max_minutes=20)
    ref = scipy_dijkstra(corse.to_scipy(), indices=origins, limit=1200.0) / 60.0
    assert np.array_equal(m.to_dense(), ref)
    assert m.nnz == np.isfinite(ref).sum() > 200 * 100


@pytest.mark.realdata
@pytest.mark.slow
def test_corsica_nearest_equals_minimum_over_sources(corse):
    sources = np.random.default_rng(11).choice(corse.n_nodes, 300, replace=False)
    for reverse in (False, True):
        rows = travel_times(corse, sources, max_minutes=30, reverse=reverse)
        expect = np.full(corse.n_nodes, np.inf)
        np.minimum.at(expect, rows.indices, rows.minutes)
        got = nearest_travel_times(corse, sources, max_minutes=30, reverse=reverse)
        assert np.array_equal(got, expect)
        assert np.isfinite(got).sum() > corse.n_nodes // 2


@pytest.mark.realdata
@pytest.mark.slow
def test_corsica_reverse_equals_forward_on_transposed_graph(corse):
    tails = corse.edge_tails()
    transposed = RoadNetwork.from_edges(
        corse.indices, tails, corse.travel_time_s, corse.length_m, corse.lon, corse.lat,
        corse.osmid, largest_component=False, node_order="input")
    assert transposed.n_nodes == corse.n_nodes
    origins = np.random.default_rng(7).choice(corse.n_nodes, 50, replace=False)
    rev = travel_times(corse, origins, max_minutes=20, reverse=True)
    fwd = travel_times(transposed, origins, max_minutes=20)
    assert np.array_equal(rev.to_dense(), fwd.to_dense())
    # And reverse really is "from the column node to the row node". Only to rounding: the
    # reverse search adds the same edge times in the opposite order along the path.
    cols = np.arange(0, corse.n_nodes, 97)
    back = travel_times(corse, cols, origins, max_minutes=20).to_dense().T
    got = rev.to_dense()[:, cols]
    assert np.array_equal(np.isfinite(got), np.isfinite(back))
    assert np.allclose(got[np.isfinite(got)], back[np.isfinite(back)], rtol=1e-12, atol=0)
