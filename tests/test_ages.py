"""Age imputation: the bounded least squares recovers known senior shares; draws are seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from engine.apl import profession
from engine.errors import InputError
from scenarios.ages import ages_from_roster, draw_ages, estimate_senior_share

GP_AGE_PYRAMID = profession("gp").age_pyramid


def test_pyramid_is_a_distribution_anchored_at_12_percent_over_65():
    shares = np.array([p for _, _, p in GP_AGE_PYRAMID])
    assert shares.sum() == pytest.approx(1.0)
    assert sum(p for lo, _, p in GP_AGE_PYRAMID if lo > 65) == pytest.approx(0.12)


def _apl(w, demand, supply):
    reach = w.T @ demand
    r = np.divide(supply, reach, out=np.zeros_like(supply), where=reach > 0)
    return w @ r


def test_estimate_recovers_true_shares():
    rng = np.random.default_rng(3)
    n = 40
    dense = np.where(rng.random((n, n)) < 0.15, rng.choice([1, 2 / 3, 1 / 3], (n, n)), 0.0)
    np.fill_diagonal(dense, 1.0)
    w = sp.csr_matrix(dense)
    demand = rng.uniform(100, 5000, n)
    supply = np.where(rng.random(n) < 0.6, rng.uniform(3600, 30000, n), 0.0)
    truth = np.where(supply > 0, rng.uniform(0, 0.6, n), 0.0)
    apl_all = _apl(w, demand, supply)
    apl_u65 = _apl(w, demand, supply * (1 - truth))
    est = estimate_senior_share(w, demand, supply, apl_all, apl_u65)
    assert np.all((est >= 0) & (est <= 1))
    # The fitted shares reproduce the official gap exactly (and here the truth, as A is full rank).
    np.testing.assert_allclose(_apl(w, demand, supply * (1 - est)), apl_u65, atol=1e-8)
    np.testing.assert_allclose(est[supply > 0], truth[supply > 0], atol=1e-6)


def test_draw_ages_respects_shares_and_seed():
    col = np.repeat(np.arange(3), 2000)
    share = np.array([0.0, 0.5, 1.0])
    a = draw_ages(col, share, draws=2, seed=7)
    b = draw_ages(col, share, draws=2, seed=7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, draw_ages(col, share, draws=2, seed=8))
    over = (a > 65).reshape(2, 3, 2000).mean(axis=2)
    assert over[:, 0].max() == 0 and over[:, 2].min() == 1
    assert abs(over[:, 1].mean() - 0.5) < 0.03
    assert a.min() >= 28 and a.max() <= 79


def test_roster_ages():
    df = pd.DataFrame({"birth_year": [1960, 1990]})
    assert ages_from_roster(df, 2022).tolist() == [62, 32]
    assert ages_from_roster(pd.DataFrame({"age": [40]}), 2022).tolist() == [40]
    with pytest.raises(InputError, match="row 1, column 'birth_year': an empty value") as err:
        ages_from_roster(pd.DataFrame({"birth_year": [1960, None]}), 2022)
    assert "np." not in str(err.value)
    with pytest.raises(InputError, match="disagree"):
        ages_from_roster(pd.DataFrame({"birth_year": [1960], "age": [45]}), 2022)
    with pytest.raises(InputError):
        ages_from_roster(pd.DataFrame({"x": [1]}), 2022)
