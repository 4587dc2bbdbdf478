"""Supply calibrated on official values: the NNLS kernel against its naive twin, recovery of a
known supply on synthetic data, the correction that makes year 0 exact."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.apl._kernels import nnls_normal
from engine.apl.calibration import (
    catchment_operator,
    choose_regularisation,
    correction,
    fit_supply,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 7))
def test_nnls_kernel_matches_brute_force(seed, k, extra_rows):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(k + extra_rows, k))
    m[rng.random(m.shape) < 0.3] = 0.0
    m += np.eye(k + extra_rows, k) * 0.5  # full column rank, so the optimum is unique
    y = rng.normal(size=k + extra_rows) * 2
    x, _ = nnls_normal(sp.csr_matrix(m.T @ m), m.T @ y, tol=1e-13)
    ref = naive.nnls_brute_force(m, y)
    np.testing.assert_allclose(x, ref, atol=1e-7)


def test_nnls_kernel_warm_start_and_scipy():
    from scipy.optimize import nnls

    rng = np.random.default_rng(3)
    m = rng.random((40, 25))
    y = rng.random(40)
    ref, _ = nnls(m, y)
    x, sweeps = nnls_normal(sp.csr_matrix(m.T @ m), m.T @ y, tol=1e-12)
    cost = lambda v: float(np.sum((m @ v - y) ** 2))  # noqa: E731
    assert cost(x) <= cost(ref) + 1e-9
    x2, sweeps2 = nnls_normal(sp.csr_matrix(m.T @ m), m.T @ y, x, tol=1e-12)
    assert sweeps2 <= 2 and np.allclose(x, x2)


def _synthetic(n=120, seed=0):
    """A random sparse catchment with a known supply, young and senior."""
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, n)) < 0.06, rng.choice([1.0, 2 / 3, 1 / 3], (n, n)), 0.0)
    np.fill_diagonal(dense, 1.0)
    w = sp.csr_matrix(dense)
    demand = rng.uniform(200, 3000, n)
    has = rng.random(n) < 0.5
    young = np.where(has, rng.uniform(2000, 20000, n), 0.0)
    senior = np.where(has & (rng.random(n) < 0.5), rng.uniform(0, 8000, n), 0.0)
    a_op = catchment_operator(w, demand)
    return w, demand, young, senior, a_op


def test_calibration_recovers_a_known_supply():
    w, demand, young, senior, a_op = _synthetic()
    apl = a_op @ (young + senior)
    apl_young = a_op @ young
    # The roster knows where practitioners are, but counts them badly (+-50 %).
    rng = np.random.default_rng(1)
    prior = (young + senior) * rng.uniform(0.5, 1.5, len(young))
    truth = young + senior

    def error(x, ref):
        return np.abs(x - ref).sum() / ref.sum()

    # Barely regularised, the fit finds the truth (relative L1 error 1.3e-6 at seed 0).
    fit = fit_supply(w, demand, apl, apl_young, prior, scale=4000.0, regularisation=1e-6)
    assert error(fit.total, truth) < 1e-4 and error(fit.senior, senior) < 1e-3
    np.testing.assert_allclose(fit.fitted, apl, atol=1e-5)
    # With the regularisation chosen by cross-validation (0.01 here) the error is 1.1 % of the
    # supply (9.7 % of the senior supply), against 21.5 % for the roster scaled to the total.
    cv = fit_supply(w, demand, apl, apl_young, prior, scale=4000.0)
    assert cv.cv is not None and cv.regularisation == pytest.approx(0.01)
    assert error(cv.total, truth) < 0.02 < 0.2 < error(prior * cv.total_scale, truth)
    assert error(cv.senior, senior) < 0.15
    # Total supply is conserved by the E2SFCA, so the official values give it exactly.
    assert fit.total_scale * prior.sum() == pytest.approx(np.dot(demand, apl))


def test_cross_validation_prefers_fitting_when_the_roster_is_wrong():
    w, demand, young, senior, a_op = _synthetic(seed=4)
    apl = a_op @ (young + senior)
    rng = np.random.default_rng(5)
    prior = (young + senior) * rng.uniform(0.2, 1.8, len(young))
    lam, table = choose_regularisation(w, demand, apl, None, prior, scale=4000.0, folds=4)
    assert list(table.columns[:2]) == ["regularisation", "mae_heldout"]
    assert lam == table["regularisation"].iloc[int(np.argmin(table["mae_heldout"]))]
    assert table["mae_heldout"].iloc[0] < table["mae_heldout"].iloc[-1]


def test_correction_makes_year_zero_exact_and_keeps_installations_heard():
    model = np.array([2.0, 1.0, 0.0, 3.0, 0.0])
    official = np.array([3.0, 0.0, 0.5, 3.0, 0.0])
    c = correction(model, official)
    np.testing.assert_array_equal(c.apply(model), official)
    assert c.kind.tolist() == ["factor", "offset", "offset", "factor", "factor"]  # 0 and 0: none
    # A commune the official values see at 0 rises once its own catchment gains supply beyond
    # what the engine sees today, instead of staying deaf to it (a factor of 0 would).
    assert c.apply(model + 1.5)[1] == pytest.approx(1.5)
    # Losing every practitioner brings a factor-corrected commune to 0.
    assert c.apply(np.zeros(5))[0] == 0.0
