"""The scenario module on real data: Corsica, BPE 2019 GPs, DREES 2022 populations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError
from scenarios import forecast, load_scenario, optimize_installations, parse_scenario
from scenarios.optimize import greedy_placement

DREES_U65_SHARE_2022 = 0.270  # population share with APL < 2.5 counting GPs aged <= 65 (DREES)


DREES_SHARE_2022 = 0.180  # population share with APL < 2.5, all GPs (DREES 2022)


def test_retire_at_65_first_year_matches_drees_u65(corse_region, corse_baseline):
    fc = forecast(corse_region, "retire-at-65", draws=300, seed=0, baseline=corse_baseline)
    year0, first = fc.summary.iloc[0], fc.summary.iloc[1]
    assert year0["year"] == 2022 and first["year"] == 2023
    assert round(year0["share_deficit_mean"], 3) == DREES_SHARE_2022
    # The first simulated year keeps the GPs aged 65 or less in 2022: DREES's u65 variant.
    assert abs(first["share_deficit_mean"] - DREES_U65_SHARE_2022) < 0.01
    # Nobody is replaced: the deficit population never shrinks in any draw.
    assert np.all(np.diff(fc.pop_deficit_draws, axis=0) >= -1e-6)
    assert fc.summary["active_practitioners_mean"].is_monotonic_decreasing


def test_forecast_outputs_are_complete_and_consistent(corse_region, corse_baseline):
    fc = forecast(corse_region, "retirement-hazard", draws=100, seed=3, baseline=corse_baseline)
    s = load_scenario("retirement-hazard")
    assert list(fc.summary["year"]) == s.years(2022) == fc.years
    c = fc.communes
    assert len(c) == 360 * 11
    assert c[["apl_mean", "apl_p10", "apl_p90", "p_deficit"]].notna().all().all()
    # The mean may sit below p10 with a long left tail; the interval itself must be ordered.
    assert (c["apl_p10"] <= c["apl_p90"] + 1e-12).all() and (c["apl_p10"] >= 0).all()
    assert c["p_deficit"].between(0, 1).all()
    assert set(c["classe"]) <= {"sous-dense", "intermediaire", "hors-zone"}
    sm = fc.summary
    assert (sm["pop_deficit_p10"] <= sm["pop_deficit_mean"]).all()
    assert (sm["pop_deficit_mean"] <= sm["pop_deficit_p90"]).all()
    # A commune listed as falling is at or above 2.5 in year 0 and under it (median) that year.
    newly = fc.newly_in_deficit()
    assert len(newly) and (newly["apl_year0"] >= 2.5).all() and (newly["apl_median"] < 2.5).all()
    population = dict(zip(corse_region.codes, corse_region.population, strict=True))
    assert np.array_equal(newly["pop_totale"], newly["code_commune"].map(population))
    already = fc.already_in_deficit()
    assert not set(already["code_commune"]) & set(newly["code_commune"])
    assert len(already) == fc.summary["communes_deficit"].iloc[0]


def test_same_seed_same_output_other_seed_differs(corse_region, corse_baseline):
    def run(seed):
        return forecast(corse_region, "retirement-hazard", draws=50, seed=seed,
                        baseline=corse_baseline)

    a, b, c = run(11), run(11), run(12)
    pd.testing.assert_frame_equal(a.communes, b.communes)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert not a.summary.equals(c.summary)


def test_installations_raise_apl_where_installed(corse_region, corse_baseline):
    base = forecast(corse_region, "retirement-hazard", draws=100, seed=5, baseline=corse_baseline)
    msp = forecast(corse_region, "new-msp", draws=100, seed=5, baseline=corse_baseline)
    y = 2024
    code = "2B219"  # the MSP of 3 GPs installed in 2024

    def apl_at(fc):
        c = fc.communes
        return c.loc[(c["year"] == y) & (c["code_commune"] == code), "apl_mean"].item()

    assert apl_at(msp) > apl_at(base) + 1.0
    # The point site near Ghisonaccia (2025) adds its own column and supply.
    assert msp.summary["active_practitioners_mean"].iloc[-1] > base.summary["active_practitioners_mean"].iloc[-1]


def test_bad_installations_name_file_and_key(corse_region, tmp_path):
    head = "[scenario]\nname='x'\nstart_year=2022\nhorizon=3\n"
    f = tmp_path / "unknown.toml"
    f.write_text(head + "[[installation]]\ncommune='99999'\nyear=2023\n")
    with pytest.raises(InputError, match=r"unknown\.toml.*installation\[0\]\.commune"):
        forecast(corse_region, load_scenario(f), draws=2, baseline="model")
    g = tmp_path / "offmap.toml"
    g.write_text(head + "[[installation]]\nlon=2.35\nlat=48.85\nyear=2023\n")
    with pytest.raises(InputError, match=r"offmap\.toml.*off the map"):
        forecast(corse_region, load_scenario(g), draws=2, baseline="model")


def test_more_retirements_than_gps(corse_region, tmp_path):
    f = tmp_path / "count.toml"
    f.write_text("[scenario]\nname='x'\nstart_year=2022\nhorizon=10\n[retirement]\nmodel='count'\nper_year=40\n")
    with pytest.raises(InputError, match=r"count\.toml.*retirement\.per_year.*only 335 practitioners"):
        forecast(corse_region, load_scenario(f), draws=2, baseline="model")
    ok = parse_scenario("[scenario]\nname='x'\nstart_year=2022\nhorizon=3\n[retirement]\nmodel='count'\nper_year=10\n")
    fc = forecast(corse_region, ok, draws=3, baseline="model")
    assert np.allclose(fc.summary["active_practitioners_mean"], [335, 325, 315, 305])


def test_optimizer_beats_lowest_apl_rule(corse_region):
    from engine.apl import fca_from_weights
    from scenarios.baseline import model_baseline

    base = model_baseline(corse_region)
    res = optimize_installations(corse_region, 10, year=2027, baseline=base)
    assert list(res["rank"]) == list(range(1, 11))
    greedy_lifted = res["population_lifted"].sum()
    # The naive rule: one GP in each of the 10 lowest-APL inhabited communes.
    supply = base.expected_supply(360, years_ahead=5, retirement_age=65.0)
    w, demand = corse_region.weights, corse_region.demand
    apl = fca_from_weights(w, demand, supply)
    pop = corse_region.communes["pop_totale"].to_numpy(float)
    order = [i for i in np.argsort(apl, kind="stable") if pop[i] > 0][:10]
    s = supply.copy()
    s[order] += corse_region.profession.activity.default
    after = fca_from_weights(w, demand, s)
    naive_lifted = pop[apl < 2.5].sum() - pop[after < 2.5].sum()
    assert greedy_lifted > naive_lifted
    assert greedy_lifted == pytest.approx(pop[apl < 2.5].sum() - res["population_in_deficit"].iloc[-1])


def test_optimizer_candidates_and_msp(corse_region):
    res = optimize_installations(corse_region, 3, candidates=["2A004", "2B033", "2B096"], gps_per_site=3)
    assert set(res["code_commune"]) <= {"2A004", "2B033", "2B096"} and (res["gps"] == 3).all()
    with pytest.raises(InputError, match="not in region"):
        optimize_installations(corse_region, 1, candidates=["75056"])
    with pytest.raises(InputError, match="before the data year 2022"):
        optimize_installations(corse_region, 1, year=2010)


def test_greedy_on_corsica_incremental_equals_full(corse_region):
    from engine.apl import fca_from_weights

    w, demand = corse_region.weights, corse_region.demand
    supply = corse_region.supply()
    apl = fca_from_weights(w, demand, supply)
    pop = corse_region.communes["pop_totale"].to_numpy(float)
    res = greedy_placement(w, demand, pop, apl, 5, supply_per_site=4000.0)
    s = supply.copy()
    for j, after in zip(res["column"], res["population_in_deficit"], strict=True):
        s[j] += 4000.0
        assert after == pytest.approx(pop[fca_from_weights(w, demand, s) < 2.5].sum())


def test_optimizer_from_forecast_supply(corse_region, corse_baseline):
    fc = forecast(corse_region, "retire-at-65", draws=50, seed=2, baseline=corse_baseline)
    supply = fc.supply_in(2031)
    assert supply.shape == (360,) and supply.sum() < corse_baseline.supply(360).sum()
    res = optimize_installations(corse_region, 3, supply=supply, baseline=corse_baseline)
    assert len(res) == 3 and (res["population_lifted"] >= 0).all()
    with pytest.raises(InputError, match="supply"):
        optimize_installations(corse_region, 1, supply=-supply, baseline=corse_baseline)
    with pytest.raises(InputError, match="not in the forecast"):
        fc.supply_in(2040)
