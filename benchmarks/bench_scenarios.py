"""Scenario module benchmarks on Corsica, each against a straightforward implementation.

- Forecast: 1,000 draws x 10 years (retire-at-65 with imputed ages, and the hazard scenario)
  vs a per-draw, per-year pandas/numpy loop (timed on 100 draws, scaled to 1,000 and said so).
- Optimizer: 20 GPs over all 360 communes vs a greedy that recomputes the whole APL for every
  candidate at every step.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from _harness import record

from scenarios import forecast, load_scenario, optimize_installations
from scenarios.baseline import model_baseline
from scenarios.forecast import CHUNK

FULL_DRAWS = 1000
NAIVE_DRAWS = 100


@pytest.fixture(scope="module")
def region(corse_region):
    return corse_region


def _naive_forecast_age_rule(region, base, ages0, years, retirement_age=65.0):
    """Per draw and year: pandas groupby for supply, dense numpy APL. Year 0 is observed
    (everybody active); in simulated year t a practitioner is active while aged at most
    ``retirement_age`` at the start of that year."""
    w = region.weights.toarray()
    demand = region.demand
    pop = region.communes["pop_totale"].to_numpy(float)
    gps = pd.DataFrame({"commune": base.slot_commune, "activity": base.slot_activity})
    out = np.empty((len(years), ages0.shape[0], region.n_communes))
    for d in range(ages0.shape[0]):
        for t, _year in enumerate(years):
            active = (ages0[d] + max(t - 1, 0) <= retirement_age) if t else np.ones(len(gps), bool)
            supply = gps[active].groupby("commune")["activity"].sum().reindex(
                range(region.n_communes), fill_value=0.0).to_numpy()
            reach = w.T @ demand
            ratio = np.divide(supply, reach, out=np.zeros_like(supply), where=reach > 0)
            out[t, d] = w @ ratio
    pop_under = np.einsum("tdn,n->td", out < 2.5, pop)
    return out, pop_under


def test_forecast_1000_draws_vs_naive(benchmark, region):
    scenario = load_scenario("retire-at-65")
    base = model_baseline(region)  # the roster as it is: the naive twin needs no calibration
    fc = benchmark.pedantic(forecast, args=(region, scenario),
                            kwargs={"draws": FULL_DRAWS, "seed": 0, "baseline": base},
                            rounds=1, iterations=1)
    engine_s = benchmark.stats.stats.min
    # The same ages as the engine drew for its first chunk (same seed stream).
    first = np.random.SeedSequence(0).spawn((FULL_DRAWS + CHUNK - 1) // CHUNK)[0]
    age_seed = int(first.spawn(2)[0].generate_state(1)[0])
    ages0 = base.ages(draws=min(CHUNK, FULL_DRAWS), seed=age_seed,
                      profession=region.profession)[:NAIVE_DRAWS]
    years = scenario.years(region.year)
    t0 = time.perf_counter()
    apl, pop_under = _naive_forecast_age_rule(region, base, ages0, years)
    naive_s = (time.perf_counter() - t0) * FULL_DRAWS / NAIVE_DRAWS
    # Same computation: the engine's draws equal the naive ones on the shared draws.
    np.testing.assert_allclose(fc.pop_deficit_draws[:, :NAIVE_DRAWS], pop_under, rtol=0, atol=1e-6)
    row = record(benchmark, case=f"forecast {FULL_DRAWS} draws x {len(years)} years",
                 peer="naive pandas/numpy loop", engine_s=engine_s, peer_s=naive_s, target=None,
                 naive_s_scaled=naive_s, speedup=naive_s / engine_s, draws=FULL_DRAWS,
                 years=len(years),
                 note=f"Corsica, retire-at-65; naive timed on {NAIVE_DRAWS} draws and scaled "
                      f"x{FULL_DRAWS // NAIVE_DRAWS}")
    print(f"\nforecast {FULL_DRAWS} draws x {len(years)} years: engine {engine_s:.2f} s, "
          f"naive pandas/numpy {naive_s:.1f} s (scaled) -> {row['ratio']:.0f}x")


def test_forecast_hazard_1000_draws(benchmark, region):
    fc = benchmark.pedantic(forecast, args=(region, "retirement-hazard"),
                            kwargs={"draws": FULL_DRAWS, "seed": 0}, rounds=1, iterations=1)
    benchmark.extra_info.update({"engine_s": benchmark.stats.stats.min, "draws": FULL_DRAWS})
    assert len(fc.summary) == 11  # year 0, observed, then ten simulated years


def _naive_greedy(region, supply, n_new, per_site):
    """Greedy that recomputes the full APL for every candidate at every step."""
    w = region.weights.toarray()
    demand = region.demand
    pop = region.communes["pop_totale"].to_numpy(float)

    def deficit_pop(s):
        reach = w.T @ demand
        apl = w @ np.divide(s, reach, out=np.zeros_like(s), where=reach > 0)
        return pop[apl < 2.5].sum(), apl

    s = supply.copy()
    chosen = []
    for _ in range(n_new):
        base, apl = deficit_pop(s)
        best, best_key = None, None
        for j in range(w.shape[1]):
            s2 = s.copy()
            s2[j] += per_site
            after, apl2 = deficit_pop(s2)
            gap = (demand * np.minimum(apl2 - apl, np.maximum(2.5 - apl, 0))).sum()
            key = (base - after, gap)
            if best_key is None or key > best_key:
                best, best_key = j, key
        s[best] += per_site
        chosen.append(best)
    return chosen, deficit_pop(s)[0]


def test_optimizer_20_gps_vs_naive(benchmark, region):
    n_new = 20
    base = model_baseline(region)
    supply = base.expected_supply(region.n_communes, years_ahead=2027 - region.year,
                                  retirement_age=65.0, profession=region.profession)
    res = benchmark.pedantic(optimize_installations, args=(region, n_new),
                             kwargs={"supply": supply, "baseline": base, "year": 2027},
                             rounds=3, iterations=1)
    engine_s = benchmark.stats.stats.min
    t0 = time.perf_counter()
    chosen, final = _naive_greedy(region, supply, n_new, region.profession.activity.default)
    naive_s = time.perf_counter() - t0
    assert final == pytest.approx(res["population_in_deficit"].iloc[-1])
    codes = region.communes["code_commune"].to_numpy()
    assert list(res["code_commune"]) == list(codes[chosen])
    row = record(benchmark, case=f"optimizer {n_new} GPs / {region.n_communes} communes",
                 peer="greedy, full APL recompute", engine_s=engine_s, peer_s=naive_s,
                 target=None, naive_s=naive_s, speedup=naive_s / engine_s,
                 note="Corsica, model baseline, planning year 2027")
    print(f"\noptimizer 20 GPs / 360 communes: engine {engine_s * 1e3:.0f} ms, naive full recompute "
          f"{naive_s:.2f} s -> {row['ratio']:.0f}x")
