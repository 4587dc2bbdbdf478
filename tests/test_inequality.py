"""Inequality and poverty indices against their naive twins (hypothesis) and known values."""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.apl import (
    concentration_index,
    fgt_poverty,
    gini_index,
    palma_ratio,
    theil_t,
    weighted_quantile,
)
from engine.errors import InputError


@st.composite
def distributions(draw, min_size=2):
    n = draw(st.integers(min_size, 25))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    values = np.round(rng.gamma(2.0, 3.0, n), draw(st.sampled_from([0, 1, 6])))
    values[rng.random(n) < draw(st.floats(0, 0.4))] = 0.0
    pop = rng.integers(0, 500, n).astype(float)
    pop[0] = max(pop[0], 1.0)
    income = np.round(rng.lognormal(7, 1, n), draw(st.sampled_from([-2, 1])))  # ties at -2
    income[pop == 0] = np.nan
    groups = rng.integers(0, draw(st.integers(1, 4)), n)
    return values, pop, income, groups


@settings(max_examples=60, deadline=None)
@given(distributions(), st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_weighted_quantile_matches_naive(d, probs):
    _, pop, income, _ = d
    ours = weighted_quantile(income, pop, probs)
    theirs = [naive.weighted_quantile(income, pop, p) for p in probs]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_weighted_quantile_unit_weights_is_numpy_linear():
    x = np.random.default_rng(1).normal(size=37)
    p = np.linspace(0, 1, 11)
    np.testing.assert_allclose(weighted_quantile(x, np.ones_like(x), p), np.quantile(x, p),
                               rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(distributions())
def test_gini_matches_naive(d):
    x, pop, _, _ = d
    if (pop * x).sum() == 0:
        assert math.isnan(gini_index(x, pop))
        return
    assert gini_index(x, pop) == pytest.approx(naive.gini_index(x, pop), rel=1e-10, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(distributions())
def test_palma_matches_naive(d):
    x, pop, income, _ = d
    cut = (float(np.nanmedian(income)), float(np.nanmax(income)) - 1)
    for ours, theirs in ((palma_ratio(x, pop, income), naive.palma_ratio(x, pop, income)),
                         (palma_ratio(x, pop, income, income_cutoffs=cut),
                          naive.palma_ratio(x, pop, income, cut))):
        if math.isnan(theirs):
            assert math.isnan(ours)
        else:
            assert ours == pytest.approx(theirs, rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(distributions())
def test_theil_and_decomposition_match_naive(d):
    x, pop, _, groups = d
    t = theil_t(x, pop)
    if not (pop @ x) > 0:
        assert math.isnan(t)
        return
    assert t == pytest.approx(naive.theil_t(x, pop), rel=1e-10, abs=1e-12)
    dec = theil_t(x, pop, groups)
    between, within = naive.theil_decomposition(x, pop, groups)
    assert dec.between == pytest.approx(between, rel=1e-9, abs=1e-12)
    assert dec.within == pytest.approx(within, rel=1e-9, abs=1e-12)
    assert dec.total == pytest.approx(dec.between + dec.within, rel=1e-9, abs=1e-12)
    assert dec.groups["between"].sum() == pytest.approx(dec.between, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(distributions(), st.booleans())
def test_concentration_matches_naive(d, corrected):
    x, pop, income, _ = d
    if not (pop @ x) > 0 or (corrected and x.max() == x.min()):
        assert math.isnan(concentration_index(x, pop, income,
                                              kind="corrected" if corrected else "standard"))
        return
    ours = concentration_index(x, pop, income, kind="corrected" if corrected else "standard")
    assert ours == pytest.approx(naive.concentration_index(x, pop, income, corrected),
                                 rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(distributions(), st.floats(0.5, 20.0), st.sampled_from([0, 1, 2, 0.5, 3]))
def test_fgt_matches_naive(d, line, alpha):
    x, pop, _, _ = d
    assert fgt_poverty(x, pop, line, alpha) == pytest.approx(
        naive.fgt_poverty(x, pop, line, alpha), rel=1e-12, abs=1e-15)
    three = fgt_poverty(x, pop, line)
    assert three.shape == (3,) and three[0] >= three[1] >= three[2]


def test_known_values():
    assert gini_index([1.0, 1.0], [1, 3]) == pytest.approx(0.0, abs=1e-15)
    assert gini_index([0.0, 1.0], [1, 1]) == pytest.approx(0.5)  # one of two holds everything
    assert theil_t([0.0, 1.0], [1, 1]) == pytest.approx(math.log(2))  # ln N at full inequality
    assert concentration_index([1.0, 2.0], [1, 1], [1, 2]) == pytest.approx(1 / 6)
    assert concentration_index([2.0, 1.0], [1, 1], [1, 2]) == pytest.approx(-1 / 6)
    assert fgt_poverty([0.0, 4.0], [1, 1], 2.0, 0) == pytest.approx(0.5)


def test_inputs_validated():
    with pytest.raises(InputError, match="unreached=0.0"):
        gini_index([1.0, np.nan], [1, 1])
    with pytest.raises(InputError, match="population adds up to 0"):
        gini_index([1.0, 2.0], [0, 0])
    with pytest.raises(InputError, match=r"income\[1\]"):
        palma_ratio([1.0, 2.0], [1, 1], [1.0, np.nan])
    with pytest.raises(InputError, match="kind"):
        concentration_index([1.0, 2.0], [1, 1], [1, 2], kind="erreygers")
    with pytest.raises(InputError, match="poverty_line"):
        fgt_poverty([1.0], [1], 0)
    with pytest.raises(InputError, match="groups"):
        theil_t([1.0, 2.0], [1, 1], groups=[0])
