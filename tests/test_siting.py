"""Exact and greedy siting against brute force and naive twins; the optimizer's method=."""

from __future__ import annotations

import naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from scenarios.siting import maximal_covering, p_median, set_covering

pytest.importorskip("spopt")


def instance(seed: int, n: int, m: int, holes: float = 0.3):
    rng = np.random.default_rng(seed)
    t = np.round(rng.uniform(0, 30, (n, m)))  # whole minutes: ties with the radius
    t[rng.random((n, m)) < holes] = np.inf
    w = rng.integers(0, 100, n).astype(float)
    return t, w


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 7), st.integers(1, 4),
       st.sampled_from([5.0, 10.0, 15.0]))
def test_greedy_coverage_matches_naive(seed, n, m, p, radius):
    t, w = instance(seed, n, m)
    p = min(p, m)
    got = maximal_covering(t, w, p, radius, method="greedy")
    assert got.sites.tolist() == naive.greedy_max_coverage(t, w, p, radius)
    assert got.objective == pytest.approx(w[got.covered].sum())


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 9), st.integers(2, 6), st.integers(1, 3))
def test_exact_coverage_is_the_brute_force_optimum(seed, n, m, p):
    t, w = instance(seed, n, m)
    p = min(p, m)
    exact = maximal_covering(t, w, p, 10.0)
    assert exact.optimal and len(exact.sites) == p
    assert exact.objective == pytest.approx(naive.best_max_coverage(t, w, p, 10.0))
    assert exact.objective >= maximal_covering(t, w, p, 10.0, method="greedy").objective


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 9), st.integers(1, 6))
def test_set_covering_is_the_smallest_cover(seed, n, m):
    t, w = instance(seed, n, m)
    need = w > 20
    exact = set_covering(t, 10.0, weights=np.where(need, w, 0.0))
    greedy = set_covering(t, 10.0, weights=np.where(need, 1.0, 0.0), method="greedy")
    best = naive.fewest_covering_sites(t, 10.0, need)
    assert exact.objective == best and greedy.objective >= best
    assert greedy.sites.tolist() == naive.greedy_set_cover(t, 10.0, need)
    coverable = need & (np.asarray(t) <= 10.0).any(axis=1)
    assert (exact.covered == coverable).all() and (greedy.covered == coverable).all()


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.integers(1, 6), st.integers(1, 3))
def test_p_median_exact_and_greedy(seed, n, m, p):
    t, w = instance(seed, n, m, holes=0.0)
    p = min(p, m)
    exact = p_median(t, w, p)
    assert exact.objective == pytest.approx(naive.best_p_median(t, w, p), abs=1e-9)
    greedy = p_median(t, w, p, method="greedy")
    assert greedy.sites.tolist() == naive.greedy_p_median(t, w, p)
    assert greedy.objective >= exact.objective - 1e-9


def test_siting_inputs():
    t, w = instance(0, 5, 4)
    with pytest.raises(InputError, match="n_sites"):
        maximal_covering(t, w, 5, 10.0)
    with pytest.raises(InputError, match="method"):
        maximal_covering(t, w, 1, 10.0, method="cbc")
    with pytest.raises(InputError, match="route without a bound"):
        p_median(t, w, 1)
    with pytest.raises(InputError, match="candidates"):
        set_covering(t, 10.0, candidates=[7])
    only = maximal_covering(t, w, 1, 30.0, candidates=[2])
    assert only.sites.tolist() == [2]


@pytest.mark.realdata
def test_optimizer_exact_methods_on_corsica(corse_region):
    from scenarios import optimize_installations

    times, pop = corse_region.commune_times(), corse_region.population
    greedy = maximal_covering(times, pop, 5, 10.0, method="greedy")
    exact = maximal_covering(times, pop, 5, 10.0)
    assert exact.optimal and exact.objective >= greedy.objective
    res = optimize_installations(corse_region, 5, method="mclp", retirement_age=None)
    assert len(res) == 5 and res["optimal"].all() and res["code_commune"].is_unique
    assert (np.diff(res["population_in_deficit"]) <= 1e-9).all()
    assert res["population_covered"].is_monotonic_decreasing or len(res) == 1
    with pytest.raises(InputError, match="needs .* sites, more than n_new=1"):
        optimize_installations(corse_region, 1, method="lscp", retirement_age=None)
    with pytest.raises(InputError, match="method"):
        optimize_installations(corse_region, 1, method="annealing", retirement_age=None)
