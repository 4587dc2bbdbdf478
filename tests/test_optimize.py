"""Greedy placement: incremental updates equal a full recomputation; brute force on small cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from engine.errors import InputError
from scenarios.optimize import greedy_placement


def _apl(w, demand, supply):
    reach = np.asarray(w.T @ demand).ravel()
    r = np.divide(supply, reach, out=np.zeros_like(supply), where=reach > 0)
    return np.asarray(w @ r).ravel()


def _instance(seed, n=12):
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, n)) < 0.3, rng.choice([1, 2 / 3, 1 / 3], (n, n)), 0.0)
    np.fill_diagonal(dense, 1.0)
    w = sp.csr_matrix(dense)
    demand = rng.uniform(200, 3000, n)
    pop = demand * rng.uniform(0.9, 1.1, n)
    supply = np.where(rng.random(n) < 0.5, rng.uniform(0, 6000, n), 0.0)
    return w, demand, pop, supply


def _pop_in_deficit(w, demand, pop, supply):
    return pop[_apl(w, demand, supply) < 2.5].sum()


@pytest.mark.parametrize("seed", range(5))
def test_incremental_equals_recomputed(seed):
    w, demand, pop, supply = _instance(seed)
    res = greedy_placement(w, demand, pop, _apl(w, demand, supply), 4, supply_per_site=4000)
    s = supply.copy()
    for _, row in res.iterrows():
        s[int(row["column"])] += 4000
        assert row["population_in_deficit"] == pytest.approx(_pop_in_deficit(w, demand, pop, s))


@pytest.mark.parametrize("seed", range(8))
def test_first_step_is_the_best_single_site_and_brute_force_bounds(seed):
    w, demand, pop, supply = _instance(seed, n=8)
    apl = _apl(w, demand, supply)
    res = greedy_placement(w, demand, pop, apl, 2, supply_per_site=4000)
    before = pop[apl < 2.5].sum()
    singles = []
    for j in range(w.shape[1]):
        s = supply.copy()
        s[j] += 4000
        singles.append(before - _pop_in_deficit(w, demand, pop, s))
    assert res["population_lifted"].iloc[0] == pytest.approx(max(singles))
    best_pair = 0.0
    for a, b in itertools.combinations_with_replacement(range(w.shape[1]), 2):
        s = supply.copy()
        s[a] += 4000
        s[b] += 4000
        best_pair = max(best_pair, before - _pop_in_deficit(w, demand, pop, s))
    greedy_pair = before - res["population_in_deficit"].iloc[-1]
    assert greedy_pair <= best_pair + 1e-9


def test_candidates_restrict_and_validation():
    w, demand, pop, supply = _instance(1)
    res = greedy_placement(w, demand, pop, _apl(w, demand, supply), 3, supply_per_site=4000,
                           candidates=np.array([2, 5]))
    assert set(res["column"]) <= {2, 5}
    with pytest.raises(InputError):
        greedy_placement(w, demand, pop, supply, 0, supply_per_site=1)
    with pytest.raises(InputError):
        greedy_placement(w, demand, pop, supply, 1, supply_per_site=1, objective="votes")
