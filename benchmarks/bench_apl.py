"""APL benchmarks on the real Corsica data, peers timed in the same run.

- Recomputing the Corsica APL after a supply change, from a cached network and matrix:
  ``fca_from_weights`` against PySAL ``access`` ``enhanced_two_stage_fca`` on the same
  inputs (ratio in ``extra_info``, target >= 100, results asserted equal to 1e-9).
- Cold end-to-end Corsica APL (load the GraphML network, read the inputs, snap, matrix,
  APL), numba kernels already compiled: target under 5 seconds (reported, not asserted,
  like every speed target of this harness).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from _harness import record

import engine
from engine.apl import (
    DREES_DECAY,
    Catchment,
    apl_communes,
    catchment_weights,
    commune_matrix,
    commune_supply,
    fca_from_weights,
    two_step_fca,
)
from engine.mirror import corsica_inputs


@pytest.fixture(scope="module")
def corsica(mirror, corse, tmp_path_factory):
    net = corse
    cache = net.save(tmp_path_factory.mktemp("net") / "corse.npz")
    net = engine.load_network(cache)  # the cached network
    communes, gps = corsica_inputs(mirror, 2022)
    matrix = commune_matrix(net, communes)
    weights = catchment_weights(matrix, DREES_DECAY)
    supply = commune_supply(communes, gps)
    demand = communes["pop_standardisee"].to_numpy()
    # warm the numba kernels (compiled once per machine, cached on disk)
    two_step_fca([1.0], [1.0], np.zeros((1, 1)))
    return {"net": net, "communes": communes, "gps": gps, "matrix": matrix,
            "weights": weights, "supply": supply, "demand": demand}


def _pysal_inputs(c):
    frame = c["matrix"].to_frame()
    idx = np.repeat(np.arange(c["matrix"].shape[0]), np.diff(c["matrix"].indptr))
    cost = pd.DataFrame({"origin": idx, "dest": c["matrix"].indices.astype(np.int64),
                         "cost": frame["minutes"].to_numpy()})
    n = len(c["demand"])
    demand_df = pd.DataFrame({"geoid": np.arange(n), "pop": c["demand"]})
    return cost, demand_df


def _pysal_e2sfca(cost, demand_df, supply):
    from access import Access

    supply_df = pd.DataFrame({"geoid": np.arange(len(supply)), "doc": supply})
    acc = Access(demand_df=demand_df.copy(), demand_index="geoid", demand_value="pop",
                 supply_df=supply_df, supply_index="geoid", supply_value="doc",
                 cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost")
    weight = lambda t: float(DREES_DECAY(np.array([t]))[0])  # noqa: E731
    return acc.enhanced_two_stage_fca(name="apl", weight_fn=weight).iloc[:, 0]


def _changed_supply(supply, k):
    s = supply.copy()
    s[k % len(s)] += 4140.0  # one new GP somewhere
    return s


def test_bench_recompute_after_supply_change(benchmark, corsica):
    c = corsica
    w, p = c["weights"], c["demand"]
    catchment = Catchment(w, p)  # the demand side, prepared once (as Region.catchment)
    counter = iter(range(10**9))
    ours = benchmark(lambda: catchment.accessibility(_changed_supply(c["supply"], next(counter))))
    # the peer, same inputs, timed in the same run
    cost, demand_df = _pysal_inputs(c)
    s = _changed_supply(c["supply"], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer_times = []
        for _ in range(3):
            t0 = time.perf_counter()
            theirs = _pysal_e2sfca(cost, demand_df, s)
            peer_times.append(time.perf_counter() - t0)
    theirs = theirs.reindex(np.arange(len(p))).fillna(0.0).to_numpy()
    np.testing.assert_allclose(fca_from_weights(w, p, s), theirs, rtol=1e-9, atol=1e-9)
    assert ours.shape == (len(p),)
    row = record(benchmark, case="Corsica APL after a supply change",
                 peer="access enhanced_two_stage_fca", engine_s=benchmark.stats.stats.min,
                 peer_s=min(peer_times), target=100.0, communes=len(p),
                 note="cached network, matrix and weights; min over rounds for both")
    benchmark.extra_info["speedup_vs_peer"] = row["ratio"]


def test_bench_pysal_access_e2sfca(benchmark, corsica):
    cost, demand_df = _pysal_inputs(corsica)
    s = _changed_supply(corsica["supply"], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(_pysal_e2sfca, args=(cost, demand_df, s), rounds=3, iterations=1)


def test_bench_cold_end_to_end(benchmark, corsica, mirror, corse_graphml):
    graphml = corse_graphml

    def run():
        net = engine.load_network(graphml)
        communes, gps = corsica_inputs(mirror, 2022)
        return apl_communes(net, communes, gps)

    res = benchmark.pedantic(run, rounds=1, iterations=1)
    assert len(res) == 360 and res["apl"].notna().all()
    seconds = benchmark.stats.stats.max
    # speed targets are reported, not asserted (shared CI machines drift; see conftest.py)
    benchmark.extra_info.update({"end_to_end_s": seconds, "target_s": 5.0,
                                 "met": bool(seconds < 5.0)})
    print(f"\ncold end-to-end Corsica APL: {seconds:.2f} s (target < 5 s: "
          f"{'met' if seconds < 5.0 else 'MISSED'})")
