"""RoadNetwork: construction, persistence, snapping, conversions and GraphML errors."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import random_network

import engine
from engine import settings
from engine.errors import InputError, NetworkError
from engine.routing.loaders import read_graphml
from engine.routing.network import RoadNetwork, haversine_m, hilbert_order


def _edges(u, v, w, n, **kw):
    u, v, w = np.asarray(u), np.asarray(v), np.asarray(w, dtype=float)
    rng = np.random.default_rng(0)
    return RoadNetwork.from_edges(u, v, w, w * 10, 9 + rng.random(n) / 10, 42 + rng.random(n) / 10,
                                  np.arange(n) + 100, **kw)


def test_parallel_edges_collapse_to_fastest_and_self_loops_drop():
    net = _edges([0, 0, 0, 1, 1, 2], [1, 1, 0, 0, 2, 0], [30, 10, 5, 7, 8, 9], 3,
                 node_order="input")
    assert net.n_edges == 4
    tails = net.edge_tails()
    pairs = {(int(a), int(b)): t for a, b, t in zip(tails, net.indices, net.travel_time_s,
                                                     strict=True)}
    assert pairs == {(0, 1): 10.0, (1, 0): 7.0, (1, 2): 8.0, (2, 0): 9.0}
    assert net.meta["collapsed_parallel_edges"] == 2  # one duplicate + one self-loop
    assert net.indices.dtype == np.int32 and net.indptr.dtype == np.int64


def test_largest_scc_kept_and_drops_counted():
    # 0 <-> 1 <-> 2 strongly connected; 3 only reachable; 4 <-> 5 a separate pair.
    net = _edges([0, 1, 1, 2, 2, 4, 5], [1, 0, 2, 1, 3, 5, 4], np.ones(7), 6)
    assert net.n_nodes == 3
    assert net.meta["dropped_nodes"] == 3
    assert net.meta["dropped_edges"] == 3
    assert net.meta["dropped_components"] == 2  # {3} and {4, 5}
    assert sorted(net.osmid.tolist()) == [100, 101, 102]
    full = _edges([0, 1, 1, 2, 2, 4, 5], [1, 0, 2, 1, 3, 5, 4], np.ones(7), 6,
                  largest_component=False)
    assert full.n_nodes == 6 and full.n_edges == 7


def test_spatial_order_is_a_consistent_permutation():
    net_in = random_network(500, 2000, 1)
    u, v = net_in.edge_tails(), net_in.indices
    kw = dict(lon=net_in.lon, lat=net_in.lat, osmid=net_in.osmid, largest_component=False)
    a = RoadNetwork.from_edges(u, v, net_in.travel_time_s, net_in.length_m, node_order="input", **kw)
    b = RoadNetwork.from_edges(u, v, net_in.travel_time_s, net_in.length_m, **kw)
    assert b.meta["node_order"] == "spatial"
    # Same edges when named by OSM id, and coordinates follow their node.
    ea = set(zip(a.osmid[a.edge_tails()].tolist(), a.osmid[a.indices].tolist(), a.travel_time_s.tolist(), strict=True))
    eb = set(zip(b.osmid[b.edge_tails()].tolist(), b.osmid[b.indices].tolist(), b.travel_time_s.tolist(), strict=True))
    assert ea == eb
    perm = b.node_of_osmid(a.osmid)
    assert np.array_equal(b.lon[perm], a.lon) and np.array_equal(b.lat[perm], a.lat)
    # Rows sorted by head within the CSR.
    for i in range(b.n_nodes):
        assert np.all(np.diff(b.indices[b.indptr[i]:b.indptr[i + 1]]) > 0)
    with pytest.raises(ValueError, match="node_order"):
        RoadNetwork.from_edges(u, v, net_in.travel_time_s, net_in.length_m, node_order="x", **kw)


def test_hilbert_order_visits_grid_cells_adjacently():
    xy = np.array([(x, y) for x in range(16) for y in range(16)], dtype=float)
    path = xy[hilbert_order(xy[:, 0], xy[:, 1], bits=4)]
    assert len({tuple(p) for p in path}) == 256
    assert np.abs(np.diff(path, axis=0)).sum(axis=1).max() == 1


def test_nan_coordinates_raise():
    with pytest.raises(NetworkError, match="NaN or infinite coordinates .first: OSM node 101"):
        RoadNetwork.from_edges(np.array([0, 1]), np.array([1, 0]), np.ones(2), np.ones(2),
                               np.array([9.0, np.nan]), np.array([42.0, 42.0]), np.array([100, 101]))


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_negative_or_non_finite_weights_raise(bad):
    with pytest.raises(NetworkError, match="must be finite and non-negative"):
        _edges([0, 1], [1, 0], [5.0, bad], 2)


def test_empty_network_raises():
    with pytest.raises(NetworkError, match="empty"):
        _edges([], [], [], 2)


def test_save_load_round_trip(tmp_path):
    net = random_network(300, 1200, 2)
    path = net.save(tmp_path / "net")
    assert path.suffix == ".npz"
    back = RoadNetwork.load(path)
    for name in RoadNetwork._ARRAYS:
        a, b = getattr(net, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert back.meta == {**net.meta}
    assert engine.load_network(path).n_edges == net.n_edges


def test_corrupt_or_missing_cache_raises(tmp_path):
    with pytest.raises(NetworkError, match="no such network cache"):
        RoadNetwork.load(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(NetworkError, match="not a network file written by the engine"):
        RoadNetwork.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.frombuffer(b"{}", dtype=np.uint8),
             **{k: np.zeros(1) for k in RoadNetwork._ARRAYS})
    with pytest.raises(NetworkError, match="not a network cache of format"):
        RoadNetwork.load(other)
    # A valid cache truncated half-way.
    good = random_network(50, 200, 0).save(tmp_path / "good.npz")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(NetworkError):
        RoadNetwork.load(cut)


def test_snap_matches_brute_force_haversine():
    net = random_network(400, 1600, 3)
    rng = np.random.default_rng(3)
    lon = 9.0 + rng.random(200) * 0.2
    lat = 42.0 + rng.random(200) * 0.2
    idx, dist = net.snap(lon, lat)
    brute = haversine_m(lon[:, None], lat[:, None], net.lon[None, :], net.lat[None, :])
    assert np.array_equal(idx, brute.argmin(axis=1))
    assert np.allclose(dist, brute.min(axis=1), rtol=1e-12)
    node, d = net.snap(float(lon[0]), float(lat[0]))
    assert isinstance(node, int) and node == idx[0] and d == pytest.approx(dist[0])


@pytest.mark.parametrize("where", ["mid-latitudes", "antimeridian", "near the pole"])
def test_snap_is_the_great_circle_nearest_anywhere(where):
    # The KD-tree works on 3-D unit vectors: no planar distortion, no seam at 180°.
    rng = np.random.default_rng(11)
    centre = {"mid-latitudes": (2.0, 46.0), "antimeridian": (179.95, -17.0),
              "near the pole": (40.0, 89.5)}[where]
    lon = centre[0] + rng.uniform(-0.3, 0.3, 500)
    lon = (lon + 180.0) % 360.0 - 180.0
    lat = np.clip(centre[1] + rng.uniform(-0.3, 0.3, 500), -90, 90)
    w = np.ones(499)
    net = RoadNetwork.from_edges(np.arange(499), np.arange(1, 500), w, w, lon, lat,
                                 np.arange(500), largest_component=False, node_order="input")
    qlon = (centre[0] + rng.uniform(-0.35, 0.35, 300) + 180.0) % 360.0 - 180.0
    qlat = np.clip(centre[1] + rng.uniform(-0.35, 0.35, 300), -90, 90)
    _assert_snap_is_brute_force(net, qlon, qlat)


def _assert_snap_is_brute_force(net, lon, lat):
    idx, dist = net.snap(lon, lat)
    brute = haversine_m(lon[:, None], lat[:, None], net.lon[None, :], net.lat[None, :])
    assert np.array_equal(dist, brute.min(axis=1))
    assert np.array_equal(idx, brute.argmin(axis=1))


def test_spatial_index_is_built_once_and_routing_never_imports_scikit_learn():
    net = random_network(60, 200, 1)
    assert net.spatial_index() is net.spatial_index()
    code = ("import sys, numpy as np\n"
            "from engine.routing.network import RoadNetwork\n"
            "w = np.ones(2)\n"
            "net = RoadNetwork.from_edges(np.array([0, 1]), np.array([1, 0]), w, w,\n"
            "    np.array([9.0, 9.01]), np.array([42.0, 42.0]), np.array([1, 2]))\n"
            "net.snap(9.0, 42.0)\n"
            "print('sklearn' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(settings.PACKAGE_DIR).parent)
    assert out.stdout.strip() == "False"


@pytest.mark.realdata
def test_corsica_snap_equals_brute_force(corse):
    rng = np.random.default_rng(4)
    _assert_snap_is_brute_force(corse, rng.uniform(8.5, 9.6, 400), rng.uniform(41.35, 43.0, 400))


def test_snap_errors():
    net = random_network(50, 200, 0)
    with pytest.raises(InputError, match="NaN or infinite"):
        net.snap([9.0, np.nan], [42.0, 42.0])
    with pytest.raises(InputError, match="different shapes"):
        net.snap([9.0, 9.1], [42.0])
    with pytest.raises(InputError, match="more than 1,000 m from any road"):
        net.snap(10.0, 42.0, max_distance_m=1000)
    net.snap(9.1, 42.1, max_distance_m=50_000)


def test_node_of_osmid():
    net = random_network(50, 200, 0)
    assert np.array_equal(net.node_of_osmid(net.osmid[[3, 1]]), [3, 1])
    with pytest.raises(KeyError, match="OSM node 1 is not"):
        net.node_of_osmid([1])


def test_to_networkx_and_to_igraph():
    net = random_network(200, 800, 4)
    g = net.to_networkx()
    assert g.number_of_nodes() == net.n_nodes and g.number_of_edges() == net.n_edges
    tails = net.edge_tails()
    for e in range(0, net.n_edges, 37):
        data = g.edges[int(tails[e]), int(net.indices[e])]
        assert data["travel_time"] == net.travel_time_s[e] and data["length"] == net.length_m[e]
    ig = net.to_igraph()
    assert ig.vcount() == net.n_nodes and ig.ecount() == net.n_edges
    assert np.array_equal(np.array(ig.es["travel_time"]), net.travel_time_s)
    assert np.array_equal(np.array(ig.get_edgelist())[:, 1], net.indices)
    assert ig.vs["osmid"] == net.osmid.tolist()


def test_reverse_csr_is_the_transpose():
    net = random_network(100, 400, 5)
    indptr, indices, w = net.reverse_csr()
    rev = net.to_scipy().T.tocsr()
    rev.sort_indices()
    assert np.array_equal(indptr, rev.indptr) and np.array_equal(indices, rev.indices)
    assert np.array_equal(w, rev.data)
    assert net.reverse_csr() is net.reverse_csr()


# --------------------------------------------------------------------------- GraphML errors


def test_graphml_missing_file(tmp_path):
    with pytest.raises(NetworkError, match="no such file"):
        read_graphml(tmp_path / "nope.graphml")
    with pytest.raises(NetworkError, match="no such file"):
        engine.load_network(tmp_path / "nope.graphml.gz")


def test_graphml_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.graphml.gz"
    path.write_bytes(gzip.compress(b"<graphml>" * 1000)[:50])
    with pytest.raises(NetworkError, match="corrupt or truncated"):
        read_graphml(path)
    path.write_bytes(b"definitely not gzip")
    with pytest.raises(NetworkError, match="corrupt or truncated"):
        read_graphml(path)


def test_graphml_malformed_xml(tmp_path):
    path = tmp_path / "bad.graphml"
    path.write_text('<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph><node id="1">')
    with pytest.raises(NetworkError, match="malformed GraphML"):
        read_graphml(path)


# --------------------------------------------------------------------------- Corsica


@pytest.mark.realdata
def test_corsica_loads_strongly_connected(corse):
    from scipy.sparse.csgraph import connected_components

    assert corse.n_nodes == 31_333
    assert 64_000 < corse.n_edges <= 65_009
    ncomp, _ = connected_components(corse.to_scipy(), directed=True, connection="strong")
    assert ncomp == 1
    assert corse.meta["node_order"] == "spatial"
    assert np.all(corse.travel_time_s >= 0) and np.all(np.isfinite(corse.travel_time_s))


@pytest.mark.realdata
@pytest.mark.slow
def test_corsica_cache_reloads_10x_faster_than_graphml(corse_graphml, tmp_path):
    t0 = time.perf_counter()
    net = engine.load_network(corse_graphml)
    parse = time.perf_counter() - t0
    path = net.save(tmp_path / "corse.npz")
    t0 = time.perf_counter()
    back = engine.load_network(path)
    reload = time.perf_counter() - t0
    assert np.array_equal(back.travel_time_s, net.travel_time_s)
    assert parse / reload >= 10, f"GraphML {parse:.3f} s vs cache {reload:.3f} s"
