"""Streaming PBF builder: same graph as osmnx, contraction exact, clear errors."""

from __future__ import annotations

import naive
import numpy as np
import osmium
import pytest
from osmium.osm.mutable import Node, Way
from synthetic import write_synthetic_osm

import engine
from engine.errors import NetworkError
from engine.routing.matrix import travel_times
from engine.routing.pbf import chain_sums, stream_pbf_network

_ARRAYS = ("indptr", "indices", "travel_time_s", "length_m", "lon", "lat", "osmid")


@pytest.fixture(scope="module")
def grid_files(tmp_path_factory):
    """A ~3,000-node synthetic road grid, as PBF and as the same data in OSM XML."""
    tmp = tmp_path_factory.mktemp("grid")
    pbf, xml = tmp / "grid.osm.pbf", tmp / "grid.osm"
    write_synthetic_osm(pbf, 50, 60, seed=3)
    write_synthetic_osm(xml, 50, 60, seed=3)
    return pbf, xml


def _assert_same_network(a, b) -> None:
    for name in _ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def _times_between(net, osmids):
    idx = net.node_of_osmid(osmids)
    return travel_times(net, idx, idx).to_dense()


def test_uncontracted_equals_osmnx_xml(grid_files):
    pbf, xml = grid_files
    streamed = stream_pbf_network(pbf, contract=False, largest_component=False)
    # load_network reads the XML through osmnx.graph_from_xml(simplify=False, retain_all=True)
    via_osmnx = engine.load_network(xml, largest_component=False)
    _assert_same_network(streamed, via_osmnx)
    assert streamed.meta["contracted_nodes"] == 0


def test_uncontracted_equals_table_pbf_reader(grid_files):
    pbf, _ = grid_files
    _assert_same_network(stream_pbf_network(pbf, contract=False), engine.load_network(pbf))


@pytest.mark.parametrize("seed", range(5))
def test_chain_sums_kernel_equals_naive_twin(seed):
    rng = np.random.default_rng(seed)
    values = rng.exponential(10.0, 500) * 10.0 ** rng.integers(-6, 6, 500)
    starts = np.unique(np.concatenate([[0], rng.integers(0, 500, 60), [500]])).astype(np.int64)
    for reverse in (False, True):
        # Same additions in the same order: equal to the last bit.
        assert np.array_equal(chain_sums(values, starts, reverse),
                              naive.chain_sums(values, starts, reverse))


def test_load_network_contract_streams(grid_files):
    pbf, xml = grid_files
    _assert_same_network(engine.load_network(pbf, contract=True), stream_pbf_network(pbf))
    with pytest.raises(NetworkError, match="PBF"):
        engine.load_network(xml, contract=True)


def test_contraction_keeps_travel_times(grid_files):
    pbf, _ = grid_files
    full = stream_pbf_network(pbf, contract=False)
    small = stream_pbf_network(pbf)
    assert small.meta["contracted_nodes"] > full.n_nodes // 2  # contraction matters here
    assert np.isin(small.osmid, full.osmid).all()
    # The kept nodes of the giant component are exactly the uncontracted one's survivors.
    assert small.n_nodes < full.n_nodes
    rng = np.random.default_rng(0)
    ids = np.sort(rng.choice(small.osmid, 150, replace=False))
    t_small = _times_between(small, ids)
    t_full = _times_between(full, ids)
    assert np.isfinite(t_full).all()
    # Equal up to the order of the float64 additions along each chain.
    np.testing.assert_allclose(t_small, t_full, rtol=1e-12, atol=0)
    # Lengths of contracted edges are the sums of their segments: total road length is kept
    # (each road counted once per direction it can be driven).
    assert abs(small.length_m.sum() / full.length_m.sum() - 1) < 1e-9


def _write(path, nodes, ways):
    w = osmium.SimpleWriter(str(path), overwrite=True)
    try:
        for nid, (lon, lat) in nodes.items():
            w.add_node(Node(id=nid, location=(lon, lat), version=1))
        for wid, refs, tags in ways:
            w.add_way(Way(id=wid, nodes=refs, tags=tags, version=1))
    finally:
        w.close()


def test_chains_oneways_and_roundabouts(tmp_path):
    nodes = {i: (2.0 + 0.001 * i, 48.0 + 0.0003 * (i % 3)) for i in range(1, 20)}
    ways = [
        (1, [1, 2, 3, 4, 5], {"highway": "residential"}),                # chain 2-3-4 removed
        (2, [5, 6, 7, 8], {"highway": "primary", "oneway": "-1"}),       # 8 -> 5 only
        (3, [8, 9, 10, 1], {"highway": "secondary", "oneway": "yes"}),   # 8 -> 1
        (4, [1, 11, 12, 13, 1], {"highway": "tertiary", "junction": "roundabout"}),
        (5, [5, 14, 15, 15, 8], {"highway": "residential"}),             # duplicate 15
        (6, [3, 16], {"highway": "footway"}),                            # filtered: 3 still pass-through
    ]
    path = tmp_path / "chains.osm.pbf"
    _write(path, nodes, ways)
    full = stream_pbf_network(path, contract=False, largest_component=False)
    small = stream_pbf_network(path, largest_component=False)
    assert set(small.osmid.tolist()) == {1, 5, 8}
    assert set(full.osmid.tolist()) == set(range(1, 16))
    t_small = _times_between(small, [1, 5, 8])
    t_full = _times_between(full, [1, 5, 8])
    np.testing.assert_allclose(t_small, t_full, rtol=1e-12, atol=0)
    # Direction survives contraction: 5 -> 8 only through way 5, 8 -> 5 also through way 2.
    i1, i5, i8 = small.node_of_osmid([1, 5, 8])
    succ = {(int(a), int(b)) for a, b in zip(small.edge_tails(), small.indices, strict=True)}
    assert (i8, i5) in succ and (i5, i8) in succ and (i8, i1) in succ and (i1, i8) not in succ
    # Merged edge 1 -> 5 is the exact sum of its four segments, in path order.
    seg = full.to_scipy()
    f = full.node_of_osmid([1, 2, 3, 4, 5])
    expect = 0.0
    for a, b in zip(f[:-1], f[1:], strict=True):
        expect += seg[a, b]
    k = small.indptr[i1] + np.flatnonzero(small.indices[small.indptr[i1]:small.indptr[i1 + 1]] == i5)[0]
    assert small.travel_time_s[k] == expect


def test_saint_barthelemy(mirror):
    path = mirror / "osm" / "saint-barthelemy.osm.pbf"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the data mirror")
    full = stream_pbf_network(path, contract=False)
    _assert_same_network(full, engine.load_network(path))
    small = stream_pbf_network(path)
    assert 0 < small.n_nodes < full.n_nodes
    assert small.meta["contracted_nodes"] > 0
    rng = np.random.default_rng(1)
    ids = np.sort(rng.choice(small.osmid, min(100, small.n_nodes), replace=False))
    np.testing.assert_allclose(_times_between(small, ids), _times_between(full, ids),
                               rtol=1e-12, atol=0)


def test_missing_file(tmp_path):
    with pytest.raises(NetworkError, match="no such file") as info:
        stream_pbf_network(tmp_path / "nope.osm.pbf")
    assert "nope.osm.pbf" in str(info.value)


def test_corrupt_file(grid_files, tmp_path):
    data = grid_files[0].read_bytes()
    for name, payload in (("half", data[: len(data) // 2]), ("garbage", b"not a pbf" * 50)):
        path = tmp_path / f"{name}.osm.pbf"
        path.write_bytes(payload)
        with pytest.raises(NetworkError, match="corrupt or truncated") as info:
            stream_pbf_network(path)
        assert str(path) in str(info.value)


def test_no_drivable_road(tmp_path):
    path = tmp_path / "paths.osm.pbf"
    _write(path, {1: (2.0, 48.0), 2: (2.001, 48.0)}, [(1, [1, 2], {"highway": "footway"})])
    with pytest.raises(NetworkError, match="no drivable road"):
        stream_pbf_network(path)


def test_missing_nodes_drop_segments(tmp_path):
    nodes = {1: (2.0, 48.0), 2: (2.001, 48.0), 4: (2.003, 48.0), 5: (2.004, 48.0)}
    path = tmp_path / "clipped.osm.pbf"
    _write(path, nodes, [(1, [1, 2, 3, 4, 5], {"highway": "residential"})])
    with pytest.warns(UserWarning, match="1 way node"):
        net = stream_pbf_network(path, largest_component=False)
    # 2 and 4 become dead ends next to the missing node 3: kept, not contracted.
    assert sorted(net.osmid.tolist()) == [1, 2, 4, 5]
    assert net.n_edges == 4
