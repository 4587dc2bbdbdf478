"""The new kernels against their naive twins on real inputs: Corsica's commune matrix."""

from __future__ import annotations

import naive
import numpy as np
import pytest

from engine.apl import (
    DREES_DECAY,
    cost_to_closest,
    cumulative_cutoff,
    cumulative_interval,
    doubly_constrained,
    exponential,
    fgt_poverty,
    gini_index,
    gravity_accessibility,
    raam,
    theil_t,
)

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def corsica(corse_region):
    r = corse_region
    times = r.commune_times()
    counts = np.bincount(r.practitioner_commune, minlength=r.n_communes).astype(float)
    return {"times": times, "dense": times.to_dense(), "supply": r.supply(),
            "head": times.to_scipy()[:90], "head_dense": times.to_dense()[:90],
            "gps": counts, "demand": r.demand, "pop": r.population, "apl": r.apl()}


def test_cumulative_gravity_and_interval_on_corsica(corsica):
    c = corsica  # the first 90 communes as rows (the naive twins loop over every pair)
    t, dense = c["head"], c["head_dense"]
    got = cumulative_cutoff(c["supply"], t, [5, 10, 20])
    for k, cut in enumerate((5, 10, 20)):
        np.testing.assert_allclose(got[:, k], naive.cumulative_cutoff(c["supply"], dense, cut),
                                   rtol=1e-12)
    passive = cumulative_cutoff(c["demand"][:90], t, 15, active=False)
    np.testing.assert_allclose(passive, naive.cumulative_cutoff(c["demand"][:90], dense, 15,
                                                                False), rtol=1e-12)
    np.testing.assert_allclose(gravity_accessibility(c["supply"], t, DREES_DECAY),
                               naive.gravity_accessibility(c["supply"], dense, DREES_DECAY),
                               rtol=1e-12)
    np.testing.assert_allclose(cumulative_interval(c["gps"], t, (10, 20), increment=2.5),
                               naive.cumulative_interval(c["gps"], dense, 10, 20, 2.5),
                               rtol=1e-12)


def test_cost_to_closest_on_corsica(corsica):
    c = corsica
    got = cost_to_closest(c["gps"], c["times"], [1, 3, 10])
    for k, n in enumerate((1, 3, 10)):
        np.testing.assert_array_equal(got[:, k], naive.cost_to_closest(c["gps"], c["dense"], n))


def test_raam_on_corsica(corsica):
    c = corsica
    ours = raam(c["pop"], c["gps"], c["times"], tau=10)
    rows, cols = c["pop"] > 0, c["gps"] > 0
    t = c["dense"][rows][:, cols]
    ok = np.isfinite(t).any(axis=1)
    rho = c["pop"][rows].sum() / c["gps"][cols].sum()
    theirs = naive.raam(c["pop"][rows][ok], c["gps"][cols] * rho, t[ok] / 10)
    np.testing.assert_allclose(ours[np.flatnonzero(rows)[ok]], theirs, rtol=1e-12)
    assert np.isinf(ours[np.flatnonzero(rows)[~ok]]).all()


def test_doubly_constrained_on_a_corsican_block(corsica):
    c = corsica
    block = np.argsort(-c["pop"])[:25]  # the 25 largest communes, a dense enough block
    t = c["dense"][np.ix_(block, block)]
    demand = c["pop"][block]
    supply = c["supply"][block] + 1.0
    supply *= demand.sum() / supply.sum()
    res = doubly_constrained(demand, supply, t, exponential(0.2), tol=1e-6, max_iterations=200)
    flows, a, _, error, it = naive.doubly_constrained(demand, supply, t, exponential(0.2), 1e-6,
                                                      1e-12, 200)
    assert res.iterations == it
    np.testing.assert_allclose(res.flows.toarray(), flows, rtol=1e-9, atol=1e-9)


def test_inequality_of_the_corsican_apl(corsica):
    c = corsica
    apl, pop = c["apl"], c["pop"]
    assert gini_index(apl, pop) == pytest.approx(naive.gini_index(apl, pop), rel=1e-12)
    assert theil_t(apl, pop) == pytest.approx(naive.theil_t(apl, pop), rel=1e-12)
    for alpha in (0, 1, 2):
        assert fgt_poverty(apl, pop, 2.5, alpha) == pytest.approx(
            naive.fgt_poverty(apl, pop, 2.5, alpha), rel=1e-12)
    # FGT0 at the zone sous-dense line is the population share under 2.5
    assert fgt_poverty(apl, pop, 2.5, 0) == pytest.approx(pop[apl < 2.5].sum() / pop.sum())
