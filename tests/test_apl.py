"""Floating-catchment kernels, decays, DREES rules and zoning, on synthetic data."""

from __future__ import annotations

import warnings

import naive
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.apl import (
    AGE_BANDS,
    DREES_DECAY,
    Catchment,
    UnservedSupplyWarning,
    balanced_fca,
    bounded_activity,
    catchment_weights,
    classify,
    cumulative,
    exponential,
    fca_from_weights,
    gaussian,
    gravity,
    profession,
    select_under_cap,
    spatial_availability,
    standardised_population,
    step,
    three_step_fca,
    two_step_fca,
    zoning_summary,
)
from engine.errors import InputError

# --------------------------------------------------------------------------- helpers


def random_problem(seed: int, n: int = 12, m: int = 7, p_unreached: float = 0.3):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 30, (n, m))
    t[rng.random((n, m)) < p_unreached] = np.inf
    t[rng.random((n, m)) < 0.05] = 0.0
    demand = rng.uniform(0, 1000, n)
    demand[rng.random(n) < 0.1] = 0.0
    supply = rng.uniform(0, 6000, m)
    supply[rng.random(m) < 0.2] = 0.0
    return demand, supply, t


DECAYS = [DREES_DECAY, gaussian(10.0, cutoff=25.0), exponential(0.1), gravity(1.5),
          cumulative(15.0)]


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 10_000))
    n = draw(st.integers(1, 9))
    m = draw(st.integers(1, 6))
    return random_problem(seed, n, m, draw(st.floats(0.0, 0.9)))


# --------------------------------------------------------------------------- decays


def test_drees_decay_steps_closed_left():
    t = np.array([0.0, 9.999, 10.0, 14.99, 15.0, 19.99, 20.0, 60.0, np.inf])
    np.testing.assert_allclose(DREES_DECAY(t), [1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0, 0, 0])
    assert DREES_DECAY.max_minutes == 20.0


def test_drees_decay_matches_official_parameters(mirror):
    import json

    official = json.loads((mirror / "drees" / "apl_parametres.json").read_text("utf-8"))
    for s in official["distance_decay_minutes"]:
        np.testing.assert_allclose(DREES_DECAY(np.array([float(s["from"])])), [s["weight"]])


def test_decay_support_bounds():
    assert gaussian(10).max_minutes == np.inf
    assert gaussian(10, cutoff=30).max_minutes == 30
    assert cumulative(15).max_minutes == 15
    assert step([10], [1.0, 0.5]).max_minutes == np.inf
    assert gravity(2)(np.array([0.0]))[0] == 1.0
    for d in DECAYS:
        t = np.linspace(0, 100, 501)
        w = d(t)
        assert np.all(w >= 0) and np.all(np.isfinite(w))
        assert np.all(w[t > d.max_minutes] == 0)


def test_bad_decays():
    with pytest.raises(InputError):
        step([10, 5], [1, 1])
    with pytest.raises(InputError):
        step([10], [1, 1, 1])
    with pytest.raises(InputError):
        gaussian(-1)
    with pytest.raises(InputError, match="weight"):
        catchment_weights(np.array([[1.0]]), lambda t: -t)


def test_scalar_callable_decay_is_accepted():
    from access import weights

    fn = weights.step_fn({10: 1, 20: 0.5})
    w = catchment_weights(np.array([[5.0, 15.0, 25.0]]), fn)
    np.testing.assert_allclose(w.toarray(), [[1.0, 0.5, 0.0]])


# --------------------------------------------------------------------------- input conventions


def test_sparse_absent_is_unreachable_explicit_zero_is_zero_minutes():
    m = sp.csr_matrix((np.array([0.0, 12.0]), np.array([0, 1]), np.array([0, 2, 2])), shape=(2, 2))
    w = catchment_weights(m)
    np.testing.assert_allclose(w.toarray(), [[1.0, 2 / 3], [0.0, 0.0]])
    dense = np.array([[0.0, 12.0], [np.inf, np.nan]])
    np.testing.assert_allclose(catchment_weights(dense).toarray(), w.toarray())


def test_travel_time_matrix_input(corse_small_matrix=None):
    from engine.routing.matrix import TravelTimeMatrix

    tm = TravelTimeMatrix(origins=np.array([0, 1]), destinations=np.array([0, 1]),
                          indptr=np.array([0, 2, 3]), indices=np.array([0, 1, 1], np.int32),
                          minutes=np.array([0.0, 16.0, 0.0]))
    a = two_step_fca([10.0, 20.0], [100.0, 200.0], tm)
    b = naive.two_step_fca([10.0, 20.0], [100.0, 200.0], tm.to_dense(), DREES_DECAY)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_negative_time_rejected():
    with pytest.raises(InputError, match="negative travel time"):
        two_step_fca([1.0], [1.0], np.array([[-1.0]]))


def test_bad_demand_supply_named():
    t = np.zeros((2, 2))
    with pytest.raises(InputError, match=r"demand\[1\]"):
        two_step_fca([1.0, np.nan], [1.0, 1.0], t)
    with pytest.raises(InputError, match=r"supply\[0\]"):
        two_step_fca([1.0, 1.0], [-1.0, 1.0], t)
    with pytest.raises(InputError, match="entries"):
        two_step_fca([1.0], [1.0, 1.0], t)


# --------------------------------------------------------------------------- kernels vs naive


@settings(max_examples=60, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))))
def test_two_step_matches_naive(prob, k):
    demand, supply, t = prob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservedSupplyWarning)
        a = two_step_fca(demand, supply, t, DECAYS[k])
    np.testing.assert_allclose(a, naive.two_step_fca(demand, supply, t, DECAYS[k]),
                               rtol=1e-10, atol=1e-12)
    assert np.all(np.isfinite(a))


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))))
def test_three_step_matches_naive(prob, k):
    demand, supply, t = prob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservedSupplyWarning)
        a = three_step_fca(demand, supply, t, DECAYS[k])
    np.testing.assert_allclose(a, naive.three_step_fca(demand, supply, t, DECAYS[k]),
                               rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))), st.sampled_from(["demand", "supply"]))
def test_balanced_matches_naive(prob, k, variant):
    demand, supply, t = prob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservedSupplyWarning)
        a = balanced_fca(demand, supply, t, DECAYS[k], step2_weights=variant)
    np.testing.assert_allclose(a, naive.balanced_fca(demand, supply, t, DECAYS[k], variant),
                               rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(range(len(DECAYS))), st.sampled_from([0.5, 1.0, 2.0]))
def test_spatial_availability_matches_naive(prob, k, alpha):
    demand, supply, t = prob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservedSupplyWarning)
        v = spatial_availability(demand, supply, t, DECAYS[k], alpha=alpha)
    np.testing.assert_allclose(v, naive.spatial_availability(demand, supply, t, DECAYS[k], alpha),
                               rtol=1e-10, atol=1e-9)


def _served_supply(demand, supply, t, decay):
    w = catchment_weights(t, decay).toarray()
    return supply[(w * np.asarray(demand)[:, None]).sum(axis=0) > 0].sum()


@pytest.mark.parametrize("seed", range(5))
def test_conservation_of_supply(seed):
    demand, supply, t = random_problem(seed, 30, 12)
    demand = demand + 1.0  # positive demand everywhere
    served = _served_supply(demand, supply, t, DREES_DECAY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservedSupplyWarning)
        a2 = two_step_fca(demand, supply, t)
        ab = balanced_fca(demand, supply, t)
        v = spatial_availability(demand, supply, t)
    assert a2 @ demand == pytest.approx(served, rel=1e-10)
    assert ab @ demand == pytest.approx(served, rel=1e-10)
    assert v.sum() == pytest.approx(served, rel=1e-10)
    # with alpha = 1, spatial availability per capita is the 2SFCA
    np.testing.assert_allclose(spatial_availability(demand, supply, t, per_capita=True), a2,
                               rtol=1e-10)


# --------------------------------------------------------------------------- PySAL access


def _pysal_2sfca(demand, supply, t, decay):
    from access import Access

    n, m = t.shape
    rows, cols = np.nonzero(np.isfinite(t))
    cost = pd.DataFrame({"origin": rows, "dest": cols + 100_000, "cost": t[rows, cols]})
    dem = pd.DataFrame({"geoid": np.arange(n), "pop": demand})
    sup = pd.DataFrame({"geoid": np.arange(m) + 100_000, "doc": supply})
    acc = Access(demand_df=dem, demand_index="geoid", demand_value="pop", supply_df=sup,
                 supply_index="geoid", supply_value="doc", cost_df=cost, cost_origin="origin",
                 cost_dest="dest", cost_name="cost")
    scalar = lambda x: float(decay(np.array([x]))[0])  # noqa: E731
    out = acc.enhanced_two_stage_fca(name="e2sfca", weight_fn=scalar)
    return out.iloc[:, 0].reindex(np.arange(n)).fillna(0.0).to_numpy()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decay", [DREES_DECAY, gaussian(12.0), cumulative(20.0)])
def test_two_step_agrees_with_pysal_access(seed, decay):
    rng = np.random.default_rng(seed)
    n, m = 40, 15
    t = rng.uniform(0, 25, (n, m))
    t[rng.random((n, m)) < 0.4] = np.inf
    t[np.arange(m), np.arange(m)] = 0.0  # every supply site has its own demand at 0 min
    demand = rng.uniform(1, 5000, n)
    supply = rng.uniform(0, 6000, m)
    ours = two_step_fca(demand, supply, t, decay)
    theirs = _pysal_2sfca(demand, supply, t, decay)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- prepared / batched


def test_fca_from_weights_1d_2d_and_cache():
    demand, supply, t = random_problem(3, 50, 20, 0.5)
    w = catchment_weights(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservedSupplyWarning)
        a = fca_from_weights(w, demand, supply)
        np.testing.assert_allclose(a, two_step_fca(demand, supply, t), rtol=1e-12)
        draws = np.random.default_rng(0).uniform(0, 6000, (20, 8))
        a2 = fca_from_weights(w, demand, draws)
        assert a2.shape == (50, 8)
        for k in range(8):
            np.testing.assert_allclose(a2[:, k], fca_from_weights(w, demand, draws[:, k]),
                                       rtol=1e-12)
        # a changed demand must not hit the cache of the previous one
        np.testing.assert_allclose(fca_from_weights(w, demand * 2, supply), a / 2, rtol=1e-12)
        cat = Catchment(w, demand)
        np.testing.assert_allclose(fca_from_weights(cat, None, supply), a, rtol=1e-12)


def test_unserved_supply_warns_and_gives_zero_ratio():
    t = np.array([[0.0, np.inf], [np.inf, 0.0]])
    with pytest.warns(UnservedSupplyWarning, match="no demand in reach"):
        a = two_step_fca([100.0, 0.0], [3600.0, 3600.0], t)
    np.testing.assert_array_equal(a, [36.0, 0.0])
    cat = Catchment(catchment_weights(t), [100.0, 0.0])
    assert list(cat.unreached) == [1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cat.accessibility([3600.0, 0.0])  # no supply lost: no warning


# --------------------------------------------------------------------------- DREES rules


def test_bounded_activity_table():
    c = [0, 249, 250, 251, 3600, 3601, 5999, 6000, 6001, 10_000]
    np.testing.assert_array_equal(
        bounded_activity(c), [0, 0, 0, 3600, 3600, 3601, 5999, 6000, 6000, 6000])
    np.testing.assert_array_equal(bounded_activity(c, active_previous_year=False), [5400] * 10)
    np.testing.assert_array_equal(bounded_activity(c, health_centre=True), c)
    with pytest.raises(InputError, match="activity"):
        bounded_activity([np.nan])
    with pytest.raises(InputError):
        bounded_activity([-3])


def test_standardised_population_official_weights():
    w22 = list(profession("gp").age_weights[2022])
    w23 = list(profession("gp").age_weights[2023])
    assert len(w22) == 19 and w22[2] == 0.55 and w22[-1] == 2.39
    pop = np.arange(19, dtype=float) * 10
    assert standardised_population(pop, 2022) == pytest.approx(pop @ w22)
    assert standardised_population(pop, 2023) == pytest.approx(pop @ w23)
    frame = pd.DataFrame([pop, pop * 2], columns=list(AGE_BANDS), index=["a", "b"])
    s = standardised_population(frame, 2022)
    assert list(s.index) == ["a", "b"] and s["b"] == pytest.approx(2 * pop @ w22)
    with pytest.raises(InputError):
        standardised_population(pop, 2019)
    with pytest.raises(InputError, match="missing age-band"):
        standardised_population(frame.drop(columns="90+"), 2022)
    bad = frame.copy()
    bad.loc["b", "5-9"] = -1
    with pytest.raises(InputError, match="5-9"):
        standardised_population(bad, 2022)


def test_parameters_ship_with_package():
    gp = profession("gp")
    assert gp.source.is_file() and gp.source.name == "gp.toml"
    assert "DREES" in gp.source.read_text("utf-8")


# --------------------------------------------------------------------------- zoning


def test_classify_thresholds():
    assert list(classify([0.0, 2.49, 2.5, 3.99, 4.0, 9.0])) == [
        "sous-dense", "sous-dense", "intermediaire", "intermediaire", "hors-zone", "hors-zone"]
    with pytest.raises(InputError):
        classify([np.nan])


def test_zoning_summary_weights_and_departements():
    s = zoning_summary([1.0, 3.0, 5.0, 2.0], [100, 300, 600, 50], [200, 300, 600, 50],
                       ["2A001", "2A002", "2B001", "2B002"])
    assert list(s.index) == ["2A", "2B", "total"]
    assert s.loc["total", "communes_sous-dense"] == 2
    assert s.loc["total", "share_sous-dense"] == pytest.approx(150 / 1050)
    assert s.loc["2A", "mean_apl"] == pytest.approx((1 * 200 + 3 * 300) / 500)
    assert s.loc["2B", "population_hors-zone"] == 600


def test_select_under_cap():
    sel = select_under_cap([3.0, 1.0, 2.0, 0.5], [100, 100, 100, 700], 0.8)
    assert sel.tolist() == [False, True, False, True]
    assert not select_under_cap([1.0], [10], 0.0).any()
    assert select_under_cap([1.0, 2.0], [10, 10], 1.0).all()


def test_a_bad_profession_file_names_the_line(tmp_path):
    # The line comes from engine.tomlkeys, shared with the scenario files.
    from engine.apl import profession
    from engine.apl.profession import Profession
    from engine.errors import InputError

    text = profession("gp").source.read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("within_commune_minutes = 0.0",
                                'within_commune_minutes = "zero"'), encoding="utf-8")
    line = 1 + text.splitlines().index("within_commune_minutes = 0.0")
    with pytest.raises(InputError) as e:
        Profession.from_file(bad)
    assert e.value.line == line and e.value.key == "decay.within_commune_minutes"
