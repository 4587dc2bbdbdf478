"""Routing against the dedicated peers: pandana, RoutingKit CCH, networkit, rustworkx.

Issue 17, item 4. Every peer is built from the engine's CSR arrays (same directed graph,
same float64 seconds; the adapters are in ``_peers.py``) and timed in the same run as the
engine on the same origins and destinations:

* Corsica, 1,000 origins to every node, 20-minute bound (the ``bench_routing`` case);
* Corsica's commune-to-commune table: the 360 communes snapped to their nearest node
  (360 distinct nodes), 20 minutes;
* the 1M-node synthetic grid (``synthetic_1m``), 32 origins to every node, 20 minutes;
* the France-like 4.2M-node graph of ``bench_national``, 200 origins to 35,000 commune
  nodes, 20 minutes (full mode only: building it and the peers' hierarchies takes minutes).

Preprocessing (contraction hierarchy, CCH order and customization, graph objects) is
reported apart from the query time, never added to it. A peer with no bound
(RoutingKit, networkit, rustworkx) computes unbounded times and the 20-minute cut is
applied afterwards, untimed; a peer timed on a subset of origins is scaled per origin,
and the note says so. Answers are checked against the engine: identical for float64
peers, within the rounding bound of ``_peers.rounding_tolerance`` for pandana (weights
truncated to 1 ms) and RoutingKit (uint32 milliseconds).

In quick mode (``--benchmark-min-rounds=1``) the pandana and RoutingKit rows on the 1M
grid are skipped with their reason: their preprocessing takes 2 to 12 minutes there.
A full run::

    python -m pytest benchmarks/bench_peers.py --benchmark-min-rounds=3 -p no:cacheprovider
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _harness import best_of, quick_mode, record, record_skip
from _peers import (
    PEER_ENVS,
    PEERS,
    OsrmTable,
    Peer,
    compare,
    edge_list,
    peer_env,
    rounding_tolerance,
    unavailable,
)

from engine.routing.matrix import travel_times

MINUTES = 20.0
LIMIT_S = MINUTES * 60.0
N_ORIGINS = 1000
GRID_ORIGINS = 32
FRANCE_ORIGINS = 200
FRANCE_COMMUNES = 35_000
KEYS = list(PEERS)
# Origins a peer routes per case (None: all); the rest is scaled per origin.
SUBSET = {
    "corsica": {"rustworkx": 100, "networkit": 100},
    "communes": {"rustworkx": 60},
    "grid": {"rustworkx": 2, "networkit": 4},
    "france": {"rustworkx": 2, "networkit": 8},
}
# Peers whose preprocessing of a large graph is too slow for quick mode (measured here:
# pandana's CH of the 1M grid 437-701 s, RoutingKit's CCH 81-173 s + 21-114 s customization).
FULL_ONLY = {"grid": {"pandana", "routingkit"}}


def _build(key: str, net, case: str) -> Peer:
    reason = unavailable(key)
    if reason is not None:
        record_skip(case=case, peer=key, reason=reason)
    return PEERS[key](net)


def _rounds(request) -> int:
    return 1 if quick_mode(request.config) else 3


def _compare_and_record(benchmark, request, *, case, key, net, peer, origins, destinations,
                        engine_m, engine_s, extra: dict[str, Any] | None = None) -> None:
    """Time the peer on (a subset of) the same origins, check it, record the row."""
    k = SUBSET[case].get(key) or len(origins)
    sub = origins[:k]
    peer_sub_s, native = best_of(lambda: peer.run(sub, destinations, LIMIT_S), _rounds(request))
    got = peer.to_seconds(native, sub, destinations, LIMIT_S)
    del native
    scope = ("" if k == len(origins) else
             f"timed on {k} of {len(origins)} origins, scaled x{len(origins) / k:g}; ")
    _check_and_record(benchmark, case=case, net=net, peer=peer, origins=origins,
                      destinations=destinations, engine_m=engine_m, got=got,
                      engine_s=engine_s, peer_s=peer_sub_s * len(origins) / k, scope=scope,
                      subset_origins=k, peer_subset_s=peer_sub_s, **(extra or {}))


def _check_and_record(benchmark, *, case, net, peer, origins, destinations, engine_m, got,
                      engine_s, peer_s, scope="", label=None, **extra) -> None:
    """Check the peer's seconds ``got`` (its first rows of origins) and record the row."""
    k = got.shape[0]
    min_edge = float(np.min(net.travel_time_s))
    wide = None
    if peer.eps_per_edge:
        tol = float(rounding_tolerance(LIMIT_S, peer.eps_per_edge, min_edge))
        wide = travel_times(net, origins[:k], destinations,
                            max_minutes=(LIMIT_S + tol) / 60.0).to_dense() * 60.0
    checked = compare(peer, engine_m.to_dense()[:k], got, LIMIT_S, wide, min_edge)
    info = peer.info()
    pre = ", ".join(f"{name} {s:.2f} s" for name, s in info["preprocess_s"].items())
    bound = ("bounded at 20 min by the peer" if peer.bounded else
             "the peer has no bound: unbounded times, cut at 20 min afterwards (untimed)")
    err = (f", max |err| {checked['max_abs_err_s'] * 1e3:.1f} ms" if peer.eps_per_edge else "")
    record(benchmark, case=CASES[case], peer=label or f"{peer.name} {peer.version}",
           engine_s=engine_s, peer_s=peer_s, target=None,
           preprocessing=f"{pre} (not in peer s)", nodes=net.n_nodes, edges=net.n_edges,
           note=f"{scope}{bound}; {checked['check']}{err}", **info, **checked, **extra)


CASES = {
    "corsica": f"corsica 20 min, {N_ORIGINS} origins",
    "communes": "corsica commune table, 20 min",
    "grid": f"synthetic 1M grid, 20 min, {GRID_ORIGINS} orig.",
    "france": f"France-like 4.2M, {FRANCE_ORIGINS} -> 35k, 20 min",
}


def _engine(benchmark, net, origins, destinations=None):
    travel_times(net, origins[:2], destinations, max_minutes=MINUTES)  # numba cache load
    benchmark.group = "peers"
    m = benchmark(travel_times, net, origins, destinations, max_minutes=MINUTES)
    return m, benchmark.stats.stats.min


# --------------------------------------------------------------------------- Corsica


@pytest.fixture(scope="module")
def corse_origins(corse) -> np.ndarray:
    # The same draw as bench_routing's 1,000 origins.
    return np.sort(np.random.default_rng(2024).choice(corse.n_nodes, N_ORIGINS, replace=False))


@pytest.fixture(scope="module")
def corse_peers(corse):
    """Peers built on Corsica once for the module (each skips when not installed)."""
    built: dict[str, Peer] = {}

    def get(key: str, case: str) -> Peer:
        if key not in built:
            built[key] = _build(key, corse, CASES[case])
        return built[key]

    return get


@pytest.fixture(scope="module")
def commune_nodes(corse) -> np.ndarray:
    """The distinct nearest nodes of Corsica's 360 communes (as ``commune_matrix`` snaps)."""
    from engine.mirror import corsica_inputs

    communes, _gps = corsica_inputs()
    node, _dist = corse.snap(communes["lon"].to_numpy(), communes["lat"].to_numpy())
    return np.unique(node)


@pytest.mark.parametrize("key", KEYS)
def test_corsica_one_to_all(benchmark, request, corse, corse_origins, corse_peers, key):
    peer = corse_peers(key, "corsica")
    m, engine_s = _engine(benchmark, corse, corse_origins)
    _compare_and_record(benchmark, request, case="corsica", key=key, net=corse, peer=peer,
                        origins=corse_origins, destinations=None, engine_m=m,
                        engine_s=engine_s)


@pytest.mark.parametrize("key", KEYS)
def test_corsica_commune_table(benchmark, request, corse, commune_nodes, corse_peers, key):
    peer = corse_peers(key, "communes")
    nodes = commune_nodes
    m, engine_s = _engine(benchmark, corse, nodes, nodes)
    # Peers without a bound compute the whole table: the engine's unbounded time for it.
    unbounded_s, _ = best_of(lambda: travel_times(corse, nodes, nodes), _rounds(request))
    _compare_and_record(benchmark, request, case="communes", key=key, net=corse, peer=peer,
                        origins=nodes, destinations=nodes, engine_m=m, engine_s=engine_s,
                        extra={"communes": 360, "distinct_nodes": len(nodes),
                               "engine_unbounded_s": unbounded_s})


def test_corsica_commune_table_osrm(benchmark, request, corse, commune_nodes, tmp_path):
    """OSRM's own CH table, in a Python 3.12 environment of its own (see ``osrm_peer.py``)."""
    case = CASES["communes"]
    python, reason = peer_env("osrm-bindings", PEER_ENVS["osrm-bindings"])
    if python is None:
        record_skip(case=case, peer="OSRM CH table (osrm-bindings)", reason=reason)
    nodes = commune_nodes
    tail, head, w = edge_list(corse)
    graph = tmp_path / "graph.npz"
    np.savez(graph, tail=tail, head=head, travel_time_s=w, lon=corse.lon, lat=corse.lat,
             query=nodes)
    proc = subprocess.run([python, str(Path(__file__).with_name("osrm_peer.py")), str(graph),
                           str(tmp_path / "osrm"), str(_rounds(request))],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        record_skip(case=case, peer="OSRM CH table (osrm-bindings)",
                    reason="osrm_peer.py failed: "
                           + (proc.stderr.strip().splitlines() or ["no output"])[-1])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    m, engine_s = _engine(benchmark, corse, nodes, nodes)
    unbounded_s, _ = best_of(lambda: travel_times(corse, nodes, nodes), _rounds(request))
    peer = OsrmTable(version=out["version"], preprocess_s=out["preprocess_s"])
    got = np.asarray(out["table"], dtype=np.float64)
    got[~(got <= LIMIT_S)] = np.inf
    _check_and_record(benchmark, case="communes", net=corse, peer=peer, origins=nodes,
                      destinations=nodes, engine_m=m, got=got, engine_s=engine_s,
                      peer_s=out["table_s"], label=f"{peer.name} {peer.version} "
                      f"(py{out['python']})", scope=f"own Python {out['python']} environment; ",
                      peer_python=out["python"], engine_unbounded_s=unbounded_s)


# --------------------------------------------------------------------------- large graphs


@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_synthetic_1m(benchmark, request, synthetic_1m, key):
    net = synthetic_1m
    case = CASES["grid"]
    if key in FULL_ONLY["grid"] and quick_mode(request.config):
        record_skip(case=case, peer=key,
                    reason="full mode only: its preprocessing of the 1M grid takes 2-12 min")
    peer = _build(key, net, case)
    origins = np.sort(np.random.default_rng(7).choice(net.n_nodes, GRID_ORIGINS, replace=False))
    m, engine_s = _engine(benchmark, net, origins)
    _compare_and_record(benchmark, request, case="grid", key=key, net=net, peer=peer, origins=origins,
                        destinations=None, engine_m=m, engine_s=engine_s)


@pytest.fixture(scope="module")
def france_like():
    from bench_national import france_like_network

    return france_like_network()


@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_france_like(benchmark, request, key):
    case = CASES["france"]
    if quick_mode(request.config):
        record_skip(case=case, peer=key, reason="full mode only: the 4.2M-node graph takes "
                    "a minute to build and the CH/CCH peers several to preprocess")
    net = request.getfixturevalue("france_like")
    peer = _build(key, net, case)
    rng = np.random.default_rng(11)
    destinations = np.sort(rng.choice(net.n_nodes, FRANCE_COMMUNES, replace=False))
    origins = np.sort(rng.choice(destinations, FRANCE_ORIGINS, replace=False))
    m, engine_s = _engine(benchmark, net, origins, destinations)
    _compare_and_record(benchmark, request, case="france", key=key, net=net, peer=peer, origins=origins,
                        destinations=destinations, engine_m=m, engine_s=engine_s)
