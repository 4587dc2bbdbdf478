"""Greedy against exact siting on Corsica's 360 communes (population as demand).

For each case the greedy heuristic of :mod:`scenarios.siting` (the engine's fast path) and
the exact integer programme through spopt + CBC (the reference) solve the same model on the
same commune matrix; recorded: both times (``engine_s`` greedy, ``peer_s`` exact), both
objectives and the gap of the greedy to the optimum. Cases: MCLP with 10 and 15-minute
radii and 1 to 40 sites (the 20-minute routing bound of the region's matrix), LSCP with the
same radii, p-median with 5 to 20 sites on the unbounded matrix, the 60 most populous
communes as candidates (all 360 take 12 to 190 s per case in CBC).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from _harness import record

pytest.importorskip("spopt")

from scenarios.siting import maximal_covering, p_median, set_covering  # noqa: E402


@pytest.fixture(scope="module")
def corsica(corse_region):
    from engine.apl import commune_matrix

    r = corse_region
    return {"times": r.commune_times(), "pop": r.population,
            "full": commune_matrix(r.network, r.communes, max_minutes=np.inf)}


def _record(benchmark, case, peer, greedy, exact, *, minimise: bool):
    gap = (greedy.objective - exact.objective) if minimise else (exact.objective - greedy.objective)
    row = record(benchmark, case=case, peer=peer, engine_s=benchmark.stats.stats.min,
                 peer_s=exact.seconds, target=None, greedy=greedy.objective,
                 exact=exact.objective, optimal=exact.optimal,
                 gap_percent=100.0 * gap / exact.objective if exact.objective else 0.0,
                 note="engine = greedy heuristic, peer = exact optimum (spopt, CBC)")
    assert gap >= -1e-9 * max(1.0, abs(exact.objective))  # never better than the optimum
    return row


@pytest.mark.parametrize("radius", [10.0, 15.0])
@pytest.mark.parametrize("sites", [1, 5, 10, 20, 40])
def test_bench_mclp(benchmark, corsica, radius, sites):
    c = corsica
    greedy = benchmark.pedantic(maximal_covering, args=(c["times"], c["pop"], sites, radius),
                                kwargs={"method": "greedy"}, rounds=3, iterations=1)
    exact = maximal_covering(c["times"], c["pop"], sites, radius)
    _record(benchmark, f"MCLP {radius:g} min, {sites} sites", "spopt MCLP", greedy, exact,
            minimise=False)


@pytest.mark.parametrize("radius", [10.0, 15.0])
def test_bench_lscp(benchmark, corsica, radius):
    c = corsica
    greedy = benchmark.pedantic(set_covering, args=(c["times"], radius),
                                kwargs={"method": "greedy"}, rounds=3, iterations=1)
    exact = set_covering(c["times"], radius)
    assert exact.covered.sum() == greedy.covered.sum()
    _record(benchmark, f"LSCP {radius:g} min", "spopt LSCP", greedy, exact, minimise=True)


@pytest.mark.parametrize("sites", [5, 10, 20])
def test_bench_p_median(benchmark, corsica, sites):
    c = corsica
    cand = np.argsort(-c["pop"], kind="stable")[:60]
    greedy = benchmark.pedantic(p_median, args=(c["full"], c["pop"], sites),
                                kwargs={"method": "greedy", "candidates": cand}, rounds=3,
                                iterations=1)
    start = time.perf_counter()
    exact = p_median(c["full"], c["pop"], sites, candidates=cand)
    assert exact.seconds <= time.perf_counter() - start + 1e-6
    _record(benchmark, f"p-median {sites} sites (60 cand.)", "spopt PMedian", greedy, exact,
            minimise=True)
