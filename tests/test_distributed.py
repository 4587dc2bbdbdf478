"""Dask backend: identical to the local backend, on two worker processes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES, random_network

from engine.apl import apl_communes, commune_matrix
from engine.cli import main
from engine.errors import InputError
from engine.region import Region
from engine.routing.matrix import travel_times
from engine.routing.network import RoadNetwork

distributed = pytest.importorskip("distributed")

from engine.routing.cluster import connect  # noqa: E402  (after the importorskip)

_FIELDS = ("origins", "destinations", "indptr", "indices", "minutes")


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    net = random_network(3000, 12000, 7)
    # Compile (or load from numba's cache) in this process first, so that the workers
    # find the cache written and do not each compile the kernels.
    travel_times(net, [0], max_minutes=1)
    return net


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _assert_identical(a, b) -> None:
    for name in _FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), name
    assert a.max_minutes == b.max_minutes and a.reverse == b.reverse
    if "relaxations" in b.stats:
        assert a.stats["relaxations"] == b.stats["relaxations"]


@pytest.mark.parametrize(("reverse", "max_minutes", "n_dst"), [
    (False, 30.0, 400), (True, None, None), (False, 0.0, 50),
])
def test_identical_to_local(network, client, reverse, max_minutes, n_dst):
    rng = np.random.default_rng(0)
    origins = rng.integers(0, network.n_nodes, 230)  # duplicates allowed
    dst = None if n_dst is None else rng.choice(network.n_nodes, n_dst, replace=False)
    local = travel_times(network, origins, dst, max_minutes=max_minutes, reverse=reverse)
    dist = travel_times(network, origins, dst, max_minutes=max_minutes,
                                    reverse=reverse, client=client, chunk_size=37)
    assert dist.stats["tasks"] == 7 and dist.stats["workers"] == 2
    _assert_identical(dist, local)


def test_empty_origins(network, client):
    m = travel_times(network, [], client=client)
    assert m.shape == (0, network.n_nodes) and m.nnz == 0


def _grid(side: int = 40) -> RoadNetwork:
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    node = np.arange(side * side).reshape(side, side)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    lon = 2.0 + jj.ravel() * 0.004
    lat = 46.0 + ii.ravel() * 0.003
    rng = np.random.default_rng(5)
    tt = rng.uniform(20, 60, len(u))
    return RoadNetwork.from_edges(np.concatenate([u, v]), np.concatenate([v, u]),
                                  np.concatenate([tt, tt]), np.concatenate([tt, tt]) * 12,
                                  lon, lat, np.arange(side * side) + 1)


def test_apl_identical_to_local(client):
    net = _grid()
    communes, gps = _example_region(net)
    _assert_identical(commune_matrix(net, communes, client=client, chunk_size=20),
                      commune_matrix(net, communes))
    local = apl_communes(net, communes, gps)
    dist = apl_communes(net, communes, gps, client=client, chunk_size=20)
    pd.testing.assert_frame_equal(dist, local, check_exact=True)


def test_errors(network, client):
    with pytest.raises(TypeError, match="Client"):
        travel_times(network, [0], client="tcp://nowhere:1")
    with pytest.raises(InputError, match="chunk_size"):
        travel_times(network, [0], client=client, chunk_size=0)
    with pytest.raises(InputError, match="not a node index"):
        travel_times(network, [network.n_nodes], client=client)
    with pytest.raises(InputError, match="duplicates"):
        travel_times(network, [0], [1, 1], client=client)
    with pytest.raises(InputError, match="local:N"):
        connect("local:two")


def test_connect_local_and_disconnect(network):
    from engine.routing.cluster import disconnect

    c = connect("local:1")
    try:
        # Issue 16: the dashboard listened on 0.0.0.0; it must be reachable from this machine only.
        link = c.cluster.dashboard_link
        assert link.startswith("http://127.0.0.1:"), link
        m = travel_times(network, [0, 1, 2], max_minutes=10, client=c, chunk_size=2)
        _assert_identical(m, travel_times(network, [0, 1, 2], max_minutes=10))
    finally:
        disconnect(c)
    assert c.status == "closed"


def test_travel_times_client_argument_and_graph_scattered_once(client, monkeypatch):
    net = random_network(800, 3200, 11)
    calls = []
    scatter = client.scatter

    def spy(data, **kwargs):
        calls.append(len(data))
        return scatter(data, **kwargs)

    monkeypatch.setattr(client, "scatter", spy)
    a = travel_times(net, [0, 1, 2], max_minutes=15, client=client, chunk_size=2)
    b = travel_times(net, [3, 4], [5, 6, 7], client=client)
    c = travel_times(net, [3, 4], reverse=True, client=client)
    _assert_identical(a, travel_times(net, [0, 1, 2], max_minutes=15))
    _assert_identical(b, travel_times(net, [3, 4], [5, 6, 7]))
    _assert_identical(c, travel_times(net, [3, 4], reverse=True))
    # The forward graph (3 arrays) is sent once for two calls, the reversed graph once;
    # only the destination lookup (1 array) travels with every call.
    assert calls == [3, 1, 1, 3, 1]


def _example_region(net: RoadNetwork, n: int = 90):
    rng = np.random.default_rng(2)
    communes = pd.DataFrame({
        "code_commune": [f"{i:05d}" for i in range(n)],
        "lon": 2.0 + rng.uniform(0, 0.156, n),
        "lat": 46.0 + rng.uniform(0, 0.117, n),
        "pop_standardisee": rng.uniform(100, 5000, n),
    })
    gps = pd.DataFrame({
        "code_commune": communes["code_commune"].sample(150, replace=True, random_state=1).to_numpy(),
        "activity": rng.uniform(0, 8000, 150),
    })
    return communes, gps


def test_region_routes_on_the_cluster(client):
    net = _grid()
    communes, gps = _example_region(net)
    region = Region(name="grid", network=net, communes=communes, practitioners=gps, client=client)
    _assert_identical(region.commune_times(), commune_matrix(net, communes))
    assert region.commune_times().stats.get("tasks", 0) >= 1


def test_cli_scheduler_gives_the_same_outputs(tmp_path, corse, monkeypatch):
    import engine.routing.cluster as backend

    examples = EXAMPLES
    net = corse.save(tmp_path / "corse.npz")
    argv = ["forecast", "--network", str(net), "--communes", str(examples / "communes.csv"),
            "--practitioners", str(examples / "practitioners.csv"), "--draws", "20",
            "--new", "0", "--seed", "3", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "local")]) == 0
    used = []
    route = backend.route_on_cluster
    monkeypatch.setattr(backend, "route_on_cluster",
                        lambda *a, **k: used.append(1) or route(*a, **k))
    assert main([*argv, "--out", str(tmp_path / "dask"), "--scheduler", "local:1"]) == 0
    assert used, "--scheduler did not route on the cluster"
    for name in ("forecast.csv", "forecast_summary.csv", "communes.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "local" / name),
                                      pd.read_csv(tmp_path / "dask" / name), check_exact=True)


def test_cli_scheduler_unreachable_is_a_one_line_error(tmp_path, capsys):
    examples = EXAMPLES
    code = main(["compute", "--network", str(tmp_path / "none.npz"), "--communes",
                 str(examples / "communes.csv"), "--practitioners",
                 str(examples / "practitioners.csv"), "--scheduler", "local:zero",
                 "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2  # an invalid option value: a usage error, refused before any work
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "local:N" in err[0]
