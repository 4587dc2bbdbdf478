"""Per-row statistics over draws (scenarios.draws): the binned quantiles against numpy's exact
ones, within the documented error; means and shares in deficit exact in both modes; and a
Corsica forecast in both modes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.draws import EDGES, DrawSummary, bin_error, choose_mode, summary_bytes


def _deficit(v):
    return v < 2.5


def _both(values: np.ndarray, chunk: int):
    rows, draws = values.shape
    out = {}
    for mode in ("exact", "binned"):
        s = DrawSummary(rows, draws, mode, _deficit)
        for lo in range(0, draws, chunk):
            s.add(lo, values[:, lo:lo + chunk])
        out[mode] = s
    return out["exact"], out["binned"]


def _bound(values: np.ndarray, q: float) -> np.ndarray:
    """The documented error of a binned quantile: the width of the bins of the two order
    statistics it lies between (above 100, the span from 100 to the row's maximum)."""
    s = np.sort(values, axis=1)
    h = (values.shape[1] - 1) * q
    a, b = s[:, int(np.floor(h))], s[:, int(np.ceil(h))]
    width = np.vectorize(bin_error)
    top = np.maximum(s[:, -1] - 100.0, 0.0)
    wa, wb = width(a), width(b)
    wa, wb = np.where(np.isinf(wa), top, wa), np.where(np.isinf(wb), top, wb)
    return np.maximum(wa, wb) + 1e-9


_VALUE = st.one_of(st.just(0.0), st.floats(0.0, 12.0), st.floats(0.0, 3.0),
                   st.floats(9.0, 150.0), st.sampled_from([2.5, 4.0, 10.0, 100.0, 0.005]))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(_VALUE, min_size=1, max_size=60), min_size=1, max_size=6)
       .map(lambda rows: [r * (60 // len(r) + 1) for r in rows])
       .map(lambda rows: np.array([r[:60] for r in rows])), st.integers(1, 25))
def test_binned_quantiles_within_the_documented_error(values, chunk):
    exact, binned = _both(values, chunk)
    qs = [0.1, 0.5, 0.9, 0.0, 1.0]
    e, b = exact.quantiles(qs), binned.quantiles(qs)
    assert np.allclose(e, np.quantile(values, qs, axis=1), rtol=0, atol=0)
    for i, q in enumerate(qs):
        assert np.all(np.abs(b[i] - e[i]) <= _bound(values, q)), (q, b[i], e[i])
    # Means and shares in deficit are running sums: the same in both modes.
    assert np.array_equal(exact.mean(), binned.mean())
    assert np.array_equal(binned.share_in_deficit(), (values < 2.5).mean(axis=1))


def test_zeros_and_constant_rows_are_exact():
    values = np.array([[0.0] * 70 + [3.0] * 30, [2.345678] * 100, [0.0] * 100])
    _, binned = _both(values, 7)
    q = binned.quantiles()
    assert q[0, 0] == 0.0 and q[1, 0] == 0.0  # P10 and median of a row mostly at 0
    assert np.all(q[:, 1] == 2.345678) and np.all(q[:, 2] == 0.0)


def test_random_draws_error_is_far_below_the_bound():
    rng = np.random.default_rng(3)
    values = np.clip(rng.normal(2.6, 0.4, (50, 5000)), 0, None)
    exact, binned = _both(values, 250)
    err = np.abs(binned.quantiles() - exact.quantiles())
    assert err.max() <= 0.005 and err.mean() < 0.001


def test_bins_and_memory():
    assert EDGES[0] == 0 and np.all(np.diff(EDGES[1:]) > 0) and EDGES[-1] == 100
    assert summary_bytes(3600, 10**6, "binned") == summary_bytes(3600, 10, "binned")
    assert choose_mode(3600, 500) == "exact" and choose_mode(3600, 10**6) == "binned"


def test_corsica_forecast_in_both_modes(corse_region, corse_baseline, monkeypatch):
    from engine import settings as engine_settings
    from scenarios import forecast

    runs = {}
    for budget in (1.0, 0.0):  # 0: binned once every draw costs more than the bins (>1,901)
        monkeypatch.setattr(engine_settings, "exact_forecast_memory_gib", budget)
        runs[budget] = forecast(corse_region, "retirement-hazard", draws=2000, seed=4,
                                baseline=corse_baseline)
    exact, binned = runs[1.0], runs[0.0]
    assert exact.quantiles == "exact" and binned.quantiles == "binned"
    a, b = exact.communes, binned.communes
    for col in ("apl_mean", "p_deficit"):
        assert np.array_equal(a[col].to_numpy(), b[col].to_numpy()), col
    for col in ("apl_median", "apl_p10", "apl_p90"):
        diff = np.abs(a[col].to_numpy() - b[col].to_numpy())
        bound = np.vectorize(bin_error)(np.maximum(a[col].to_numpy(), b[col].to_numpy()))
        assert np.all(diff <= bound + 1e-9), (col, diff.max())
        small = a[col].to_numpy() <= 10  # the whole range of French APL values but a few
        assert small.mean() > 0.99 and diff[small].max() <= 0.005 + 1e-9, col
    # Classes differ only where the exact median is within the error of a threshold.
    changed = a["classe"].to_numpy() != b["classe"].to_numpy()
    near = np.min(np.abs(a["apl_median"].to_numpy()[:, None] - np.array([2.5, 4.0])), axis=1)
    assert np.all(near[changed] <= 0.005)
    assert exact.summary.equals(binned.summary) or np.allclose(
        exact.summary["pop_deficit_mean"], binned.summary["pop_deficit_mean"])
    deps_a, deps_b = exact.departements, binned.departements
    assert np.array_equal(deps_a["apl_mean"], deps_b["apl_mean"])
    assert np.abs(deps_a["apl_median"] - deps_b["apl_median"]).max() <= 0.005 + 1e-9


@pytest.mark.parametrize("mode", ["exact", "binned"])
def test_release_frees_the_draws(mode):
    s = DrawSummary(3, 10, mode, _deficit)
    s.add(0, np.ones((3, 10)))
    s.quantiles()
    s.release()
    assert getattr(s, "values", None) is None and getattr(s, "counts", None) is None


@pytest.mark.parametrize("mode", ["exact", "binned"])
def test_a_given_deficit_mask_is_counted_as_the_summary_would(mode):
    values = np.random.default_rng(5).uniform(0.0, 5.0, (4, 12))
    own, given = DrawSummary(4, 12, mode, _deficit), DrawSummary(4, 12, mode, _deficit)
    for lo in range(0, 12, 5):
        chunk = values[:, lo:lo + 5]
        own.add(lo, chunk)
        given.add(lo, chunk, _deficit(chunk))
    assert np.array_equal(own.share_in_deficit(), given.share_in_deficit())
    assert np.array_equal(own.mean(), given.mean())
