"""New measures, decays and conventions against their naive twins (hypothesis, synthetic)."""

from __future__ import annotations

import math
import warnings

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from test_apl import random_problem as base_problem

from engine.apl import (
    DREES_DECAY,
    ConvergenceWarning,
    UnservedSupplyWarning,
    balanced_fca,
    cost_to_closest,
    cumulative,
    cumulative_cutoff,
    cumulative_interval,
    doubly_constrained,
    exponential,
    gaussian,
    gravity,
    gravity_accessibility,
    linear,
    logistic,
    raam,
    singly_constrained,
    spatial_availability,
    step,
    three_step_fca,
    total_constrained,
    two_step_fca,
)
from engine.errors import InputError


def random_problem(seed: int, n: int = 12, m: int = 7, p_unreached: float = 0.3,
                   integer_times: bool = False):
    """test_apl's random problem, optionally on whole minutes (ties with breaks and cutoffs)."""
    demand, supply, t = base_problem(seed, n, m, p_unreached)
    return demand, supply, (np.round(t) if integer_times else t)


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 10_000))
    n = draw(st.integers(1, 8))
    m = draw(st.integers(1, 6))
    return random_problem(seed, n, m, draw(st.floats(0.0, 0.9)), draw(st.booleans()))


DECAYS = [DREES_DECAY, gaussian(10.0, cutoff=25.0), exponential(0.1), gravity(1.5),
          cumulative(15.0), linear(20.0), logistic(15.0, 4.0),
          step([10, 20], [1.0, 0.5], closed="right")]
quiet = pytest.mark.filterwarnings("ignore::engine.apl.fca.UnservedSupplyWarning")


# --------------------------------------------------------------------------- decays


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 200.0), st.floats(0.5, 60.0), st.floats(0.5, 20.0))
def test_linear_and_logistic_match_their_formulas(t, c, sd):
    assert linear(c)(t) == pytest.approx(max(0.0, 1.0 - t / c), abs=1e-15)
    z = lambda x: math.pi * (x - c) / (sd * math.sqrt(3.0))  # noqa: E731
    # beyond exp's range the weight is below 1e-300: 0 within the tolerance
    expected = (1.0 + math.exp(z(0.0))) / (1.0 + math.exp(z(t))) if z(t) < 700 else 0.0
    assert logistic(c, sd)(t) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_ipea_decay_expectations():
    # tests/testthat/test-decay_linear.R and test-decay_logistic.R (ipeaGIT/accessibility)
    np.testing.assert_allclose(linear(20)([0, 5, 10, 20, 60]), [1, 0.75, 0.5, 0, 0])
    np.testing.assert_array_equal(np.round(linear(30)([0, 10, 15, 30, 60]), 4),
                                  [1, 0.6667, 0.5, 0, 0])
    np.testing.assert_allclose(logistic(20, 2)([0, 20]), [1, 0.5], rtol=1e-4)
    np.testing.assert_allclose(logistic(30, 10)([0, 30]), [1, 0.502], atol=0.001)
    # test-decay_stepped.R: "steps intervals are open on the right", i.e. closed on the left
    np.testing.assert_array_equal(step([10, 20, 30, 40], [1, 0.75, 0.5, 0.25, 0])(
        [0, 10, 20, 30, 40]), [1, 0.75, 0.5, 0.25, 0])
    # test-decay_power.R: t^-a capped at 1 is gravity() with its 1-minute floor
    np.testing.assert_allclose(gravity(0.5)([0, 0.5, 1, 16, 64]), [1, 1, 1, 0.25, 0.125])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=1, max_size=4, unique=True),
       st.integers(0, 70))
def test_step_closed_right_is_pysal_step_fn(breaks, t):
    from access import weights

    breaks = sorted(breaks)
    w = [1.0 / (k + 1) for k in range(len(breaks))]
    pysal = weights.step_fn(dict(zip(breaks, w, strict=True)))
    assert step(breaks, w, closed="right")(float(t)) == pytest.approx(pysal(t))
    left = step(breaks, w)(float(t))
    expected_left = next((w[k] for k, b in enumerate(breaks) if t < b), 0.0)
    assert left == pytest.approx(expected_left)


def test_step_closed_validated_and_drees_unchanged():
    with pytest.raises(InputError, match="closed"):
        step([10], [1.0], closed="both")
    assert "<10: 1" in repr(DREES_DECAY)
    np.testing.assert_allclose(DREES_DECAY([10.0, 20.0]), [2 / 3, 0.0])


# --------------------------------------------------------------------------- conventions


@quiet
@settings(max_examples=30, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))), st.sampled_from(["positive_supply", "all"]),
       st.booleans())
def test_three_step_conventions_match_naive(prob, k, over, own_selection):
    demand, supply, t = prob
    sel = gaussian(30.0) if own_selection else None
    a = three_step_fca(demand, supply, t, DECAYS[k], normalise_over=over, selection_decay=sel)
    b = naive.three_step_fca(demand, supply, t, DECAYS[k], over, sel)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@quiet
@settings(max_examples=30, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))), st.sampled_from(["positive_supply", "all"]),
       st.sampled_from(["demand", "supply"]))
def test_balanced_conventions_match_naive(prob, k, over, step2):
    demand, supply, t = prob
    a = balanced_fca(demand, supply, t, DECAYS[k], step2_weights=step2, normalise_over=over)
    b = naive.balanced_fca(demand, supply, t, DECAYS[k], step2, over)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@quiet
def test_several_supply_types_at_once():
    demand, supply, t = random_problem(7, 20, 9)
    s2 = np.column_stack([supply, supply[::-1], np.zeros_like(supply)])
    for fn in (three_step_fca, balanced_fca):
        both = fn(demand, s2, t)
        assert both.shape == (20, 3)
        for k in range(3):
            np.testing.assert_allclose(both[:, k], fn(demand, s2[:, k], t), rtol=1e-13)


@quiet
def test_unreached_convention():
    t = np.array([[0.0, 5.0], [np.inf, np.inf], [25.0, 30.0]])  # row 2: all beyond DREES 20 min
    demand, supply = [10.0, 20.0, 30.0], [100.0, 0.0]
    for fn in (two_step_fca, three_step_fca, balanced_fca, spatial_availability):
        zero = fn(demand, supply, t)
        nan = fn(demand, supply, t, unreached=np.nan)
        assert zero[1] == 0 and zero[2] == 0
        assert np.isnan(nan[1]) and np.isnan(nan[2]) and nan[0] == zero[0]
    g = gravity_accessibility(supply, t, DREES_DECAY, unreached=np.nan)
    assert np.isnan(g[1:]).all() and g[0] == 100.0
    c = cumulative_cutoff(supply, t, [4, 10], unreached=np.nan)
    assert c[0, 0] == 100.0 and np.isnan(c[1:]).all()
    with pytest.raises(InputError, match="unreached"):
        two_step_fca(demand, supply, t, unreached="none")
    with pytest.raises(InputError, match="normalise_over"):
        balanced_fca(demand, supply, t, normalise_over="positive")


# --------------------------------------------------------------------------- measures vs naive


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))), st.booleans())
def test_gravity_matches_naive(prob, k, active):
    demand, supply, t = prob
    o = supply if active else demand
    a = gravity_accessibility(o, t, DECAYS[k], active=active)
    np.testing.assert_allclose(a, naive.gravity_accessibility(o, t, DECAYS[k], active),
                               rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(problems(), st.lists(st.integers(0, 35), min_size=1, max_size=4), st.booleans())
def test_cumulative_cutoff_matches_naive(prob, cuts, active):
    demand, supply, t = prob
    o = supply if active else demand
    a = cumulative_cutoff(o, t, cuts, active=active)
    expected = np.column_stack([naive.cumulative_cutoff(o, t, c, active) for c in cuts])
    np.testing.assert_allclose(a, expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(cumulative_cutoff(o, t, cuts[0], active=active), expected[:, 0],
                               rtol=1e-12, atol=1e-9)
    # a binary decay is the cumulative measure
    np.testing.assert_allclose(gravity_accessibility(o, t, cumulative(cuts[0]), active=active),
                               expected[:, 0], rtol=1e-12, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(problems(), st.integers(0, 20), st.integers(0, 12), st.sampled_from([1.0, 0.5, 2.5]),
       st.sampled_from(["median", "mean", "min", "max"]), st.booleans(), st.booleans())
def test_cumulative_interval_matches_naive(prob, lo, width, inc, summary, active, round_down):
    demand, supply, t = prob
    o = supply if active else demand
    a = cumulative_interval(o, t, (lo, lo + width), increment=inc, summary=summary,
                            active=active, round_down=round_down)
    b = naive.cumulative_interval(o, t, lo, lo + width, inc, summary, active, round_down)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(problems(), st.lists(st.sampled_from([1, 2, 3, 500.0, 4000.0, 12000.0]), min_size=1,
                            max_size=3, unique=True), st.booleans(), st.booleans())
def test_cost_to_closest_matches_naive(prob, ns, active, counts):
    demand, supply, t = prob
    o = supply if active else demand
    if counts:  # whole numbers of schools/doctors
        o = np.floor(o / 1000)
    a = cost_to_closest(o, t, ns, active=active)
    expected = np.column_stack([naive.cost_to_closest(o, t, n, active) for n in ns])
    np.testing.assert_array_equal(a, expected)


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))), st.booleans())
def test_total_constrained_matches_naive_and_conserves(prob, k, active):
    demand, supply, t = prob
    o = supply if active else demand
    a = total_constrained(o, t, DECAYS[k], active=active)
    b = naive.total_constrained(o, t, DECAYS[k], active)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-9)
    if b.sum() > 0:
        assert a.sum() == pytest.approx(np.sum(o), rel=1e-10)


@quiet
@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))))
def test_singly_constrained_matches_naive(prob, k):
    demand, supply, t = prob
    np.testing.assert_allclose(singly_constrained(demand, supply, t, DECAYS[k], active=False),
                               naive.singly_constrained_passive(demand, supply, t, DECAYS[k]),
                               rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(singly_constrained(demand, supply, t, DECAYS[k]),
                               naive.spatial_availability(demand, supply, t, DECAYS[k]),
                               rtol=1e-10, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 6), st.integers(2, 5),
       st.sampled_from([(1e-9, 0.0), (1e-3, 1e-6)]))
def test_doubly_constrained_matches_naive(seed, n, m, stops):
    rng = np.random.default_rng(seed)
    t = rng.uniform(1, 40, (n, m))
    demand = rng.uniform(1, 100, n)
    supply = rng.uniform(1, 100, m)
    supply *= demand.sum() / supply.sum()
    tol, improvement = stops
    res = doubly_constrained(demand, supply, t, exponential(0.1), tol=tol,
                             improvement_tol=improvement, max_iterations=500)
    flows, a, b, error, it = naive.doubly_constrained(demand, supply, t, exponential(0.1), tol,
                                                      improvement, 500)
    assert res.iterations == it
    np.testing.assert_allclose(res.flows.toarray(), flows, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.origin_factors, a, rtol=1e-9)
    assert res.error == pytest.approx(error, rel=1e-6, abs=1e-15)
    if tol == 1e-9:
        assert res.converged
        np.testing.assert_allclose(res.flows.sum(axis=1).A1, demand, rtol=1e-8)
        np.testing.assert_allclose(res.flows.sum(axis=0).A1, supply, rtol=1e-8)


def test_doubly_constrained_errors_and_warning():
    t = np.array([[10.0, 30.0], [30.0, 10.0]])
    with pytest.raises(InputError, match="total demand = total supply"):
        doubly_constrained([1.0, 2.0], [1.0, 1.0], t, exponential(0.1))
    # a row that reaches nothing cannot be balanced: stops at max_iterations with a warning
    t2 = np.array([[10.0, np.inf], [np.inf, np.inf]])
    with pytest.warns(ConvergenceWarning):
        res = doubly_constrained([1.0, 1.0], [1.0, 1.0], t2, exponential(0.1), max_iterations=5)
    assert not res.converged and res.origin_factors[1] == 0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 8), st.booleans(),
       st.booleans())
def test_raam_matches_naive(seed, n, m, holes, absolute):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 60, (n, m))
    if holes:
        t[rng.random((n, m)) < 0.3] = np.inf
        t[:, 0] = rng.uniform(0, 60, n)  # everyone reaches site 0
    demand = rng.integers(1, 300, n).astype(float)
    supply = rng.integers(1, 40, m).astype(float)
    rho = demand.sum() / supply.sum()
    kw = {"initial_step": 3, "min_step": 1} if absolute else {}
    ours = raam(demand, supply, t, absolute_steps=absolute, **kw)
    theirs = naive.raam(demand, supply * rho, t / 60.0, absolute_steps=absolute, **kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_raam_edge_rows():
    t = np.array([[0.0, 10.0], [np.inf, np.inf], [5.0, 0.0]])
    out = raam([10.0, 5.0, 0.0], [2.0, 3.0], t)
    assert np.isfinite(out[0]) and out[1] == np.inf and np.isnan(out[2])
    assert np.isnan(raam([0.0], [1.0], np.zeros((1, 1)))).all()
    with pytest.raises(InputError, match="tau"):
        raam([1.0], [1.0], np.zeros((1, 1)), tau=0)


# --------------------------------------------------------------------------- inputs


def test_inputs_validated_with_actionable_messages():
    t = np.zeros((2, 3))
    with pytest.raises(InputError, match="rows .demand locations., as active=False"):
        gravity_accessibility([1.0, 2.0, 3.0], t, exponential(0.1), active=False)
    with pytest.raises(InputError, match="opportunities"):
        cumulative_cutoff([1.0, -2.0, 3.0], t, 10)
    with pytest.raises(InputError, match="cutoff"):
        cumulative_cutoff([1.0, 2.0, 3.0], t, -1)
    with pytest.raises(InputError, match="n must be"):
        cost_to_closest([1.0, 2.0, 3.0], t, 0.5)
    with pytest.raises(InputError, match="interval"):
        cumulative_interval([1.0, 2.0, 3.0], t, (30, 10))
    with pytest.raises(InputError, match="summary"):
        cumulative_interval([1.0, 2.0, 3.0], t, (10, 30), summary="mode")
    with pytest.raises(InputError, match="active"):
        gravity_accessibility([1.0, 2.0, 3.0], t, exponential(0.1), active="yes")


def test_travel_time_matrix_and_sparse_inputs_agree():
    from engine.routing.matrix import TravelTimeMatrix

    tm = TravelTimeMatrix(origins=np.array([0, 1]), destinations=np.array([0, 1]),
                          indptr=np.array([0, 2, 3]), indices=np.array([0, 1, 1], np.int32),
                          minutes=np.array([0.0, 16.0, 0.0]))
    dense = tm.to_dense()
    csr = sp.csr_matrix(tm.to_scipy())
    for times in (tm, dense, csr):
        np.testing.assert_array_equal(cumulative_cutoff([3.0, 4.0], times, 15), [3.0, 4.0])
        np.testing.assert_array_equal(cost_to_closest([3.0, 4.0], times, 5), [16.0, np.inf])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnservedSupplyWarning)
            np.testing.assert_allclose(gravity_accessibility([3.0, 4.0], times, linear(32)),
                                       [3.0 + 2.0, 4.0])
