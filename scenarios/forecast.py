"""Year-by-year Monte Carlo forecast of the APL under a scenario.

The travel-time matrix and its decay weights are computed once per region; a new
installation site away from every commune adds one column. Each year, in every draw:

1. GPs of installations starting that year begin practising;
2. GPs leave (``age`` rule or age-specific ``hazard``);
3. each departure is replaced, in the same place, with a probability set by the APL class of
   the place the year before, after ``delay_years`` of vacancy;
4. supply per place is summed and the APL recomputed for all draws at once
   (:func:`engine.apl.fca_from_weights` with a 2-D supply);
5. ages advance by one year.

Draws are vectorised: the state is a few ``(draws, gps)`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine.apl import fca_from_weights
from scenarios.ages import draw_ages
from scenarios.config import Scenario, load_scenario

#: APL under which a commune is in deficit ("zone sous-dense", decree of 13 Nov 2017).
DEFICIT_THRESHOLD = 2.5
#: Upper bound of the intermediate class.
INTERMEDIATE_THRESHOLD = 4.0
_CLASS_NAMES = np.array(["sous-dense", "intermediaire", "hors-zone"])


def _class_index(apl: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array([DEFICIT_THRESHOLD, INTERMEDIATE_THRESHOLD]), apl, side="right")


@dataclass
class Forecast:
    """The result of :func:`forecast`.

    Attributes
    ----------
    communes : pandas.DataFrame
        One row per commune and year: ``code_commune``, ``nom``, ``year``, ``apl_mean``,
        ``apl_p10``, ``apl_p90``, ``p_deficit`` (probability that APL < 2.5), ``classe``
        (class of the mean APL).
    summary : pandas.DataFrame
        One row per year: ``pop_under_2_5_mean``, ``pop_under_2_5_p10``,
        ``pop_under_2_5_p90`` (total population in communes under 2.5: mean and 80%
        interval over draws), ``share_under_2_5_mean``, ``communes_new_deficit`` (communes
        whose probability of deficit reaches 0.5 that year), ``active_gps_mean``.
    baseline : pandas.DataFrame
        The APL today with every GP (``code_commune``, ``apl``, ``classe``).
    scenario : Scenario
        The scenario run.
    draws, seed : int
        Monte Carlo settings.
    pop_under_draws : numpy.ndarray
        ``(years, draws)`` population under 2.5 in each draw.
    supply_mean : numpy.ndarray
        ``(years, n_communes)`` mean supply located in each commune (installations at points
        away from communes excluded).
    """

    communes: pd.DataFrame
    summary: pd.DataFrame
    baseline: pd.DataFrame
    scenario: Scenario
    draws: int
    seed: int
    pop_under_draws: np.ndarray = field(repr=False)
    supply_mean: np.ndarray = field(repr=False, default=None)

    def supply_in(self, year: int) -> np.ndarray:
        """Mean supply per commune in ``year`` (a starting point for the optimizer)."""
        years = self.scenario.years
        if year not in years:
            raise ValueError(f"year {year} is not simulated ({years[0]}-{years[-1]})")
        return self.supply_mean[years.index(year)]

    def newly_in_deficit(self) -> pd.DataFrame:
        """Communes not in deficit today that fall into it, with the first year their
        probability of deficit reaches 0.5 and that probability."""
        base = self.baseline.set_index("code_commune")["apl"]
        df = self.communes[self.communes["p_deficit"] >= 0.5]
        df = df[df["code_commune"].map(base) >= DEFICIT_THRESHOLD]
        first = df.sort_values("year").groupby("code_commune", sort=False).head(1)
        return first[["code_commune", "nom", "year", "p_deficit", "apl_mean"]].sort_values(
            ["year", "p_deficit"], ascending=[True, False]).reset_index(drop=True)


def _oldest(active: np.ndarray, age: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The ``k`` oldest active GPs of each draw (ties broken at random)."""
    key = np.where(active, age + rng.random(age.shape) * 1e-3, -np.inf)
    k = min(k, key.shape[1])
    leaving = np.zeros_like(active)
    if k == 0:
        return leaving
    idx = np.argpartition(-key, k - 1, axis=1)[:, :k]
    np.put_along_axis(leaving, idx, True, axis=1)
    return leaving & active


def _installation_columns(region, scenario: Scenario, decay):
    """Column of each installation: its commune, or a new site column appended to W."""
    code_to_col = {c: i for i, c in enumerate(region.communes["code_commune"])}
    extra_cols = []
    home_rows = []
    cols = []
    for k, inst in enumerate(scenario.installations):
        if inst.commune is not None:
            if inst.commune not in code_to_col:
                from engine.errors import InputError

                raise InputError(f"commune {inst.commune!r} is not in region {region.name!r}",
                                 path=scenario.path, column=f"installation[{k}].commune")
            cols.append(code_to_col[inst.commune])
        else:
            column, home = region.site_column(inst.lon, inst.lat, decay=decay,
                                              context=f"{scenario.path}: installation[{k}]")
            cols.append(region.n_communes + len(extra_cols))
            extra_cols.append(column)
            home_rows.append(home)
    return cols, extra_cols, home_rows


def forecast(
    region,
    scenario: Scenario | str,
    *,
    draws: int = 500,
    seed: int = 0,
    progress=None,
) -> Forecast:
    """Forecast the APL of every commune, year by year, under a scenario.

    Parameters
    ----------
    region : engine.region.Region
        Network, communes, practitioners (see :func:`engine.region.load_region`).
    scenario : Scenario or str
        A validated scenario or a path/name for :func:`scenarios.load_scenario`.
    draws : int
        Number of Monte Carlo draws (ages when imputed, retirements, replacements).
    seed : int
        Seed; the same inputs and seed give identical outputs.
    progress : callable, optional
        Called as ``progress(done, total)`` after each simulated year.

    Returns
    -------
    Forecast

    Examples
    --------
    >>> from engine.region import load_region  # doctest: +SKIP
    >>> fc = forecast(load_region("corse"), "retire-at-65", draws=200, seed=1)  # doctest: +SKIP
    >>> fc.summary[["year", "pop_under_2_5_mean"]]  # doctest: +SKIP
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if not (isinstance(draws, (int, np.integer)) and draws >= 1):
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    decay = region.decay
    weights = region.weights()
    n = region.n_communes
    inst_cols, extra_cols, extra_home = _installation_columns(region, scenario, decay)
    if extra_cols:
        weights = sp.hstack([weights] + extra_cols, format="csr")
    home_row = np.concatenate([np.arange(n), np.asarray(extra_home, dtype=np.int64)])

    seq = np.random.SeedSequence(seed)
    age_seed, sim_seed = (int(s.generate_state(1)[0]) for s in seq.spawn(2))
    rng = np.random.default_rng(sim_seed)

    # Slots: existing GPs, then one per installed GP.
    gp_col = region.gp_columns()
    gp_act = region.gp_activity()
    ages0 = region.gp_ages(draws=draws, seed=age_seed)  # (draws, n_gp) at start_year
    default_act = region.default_activity
    start_year_slot = [np.full(len(gp_col), -1)]
    cols = [gp_col]
    acts = [gp_act]
    age_cols = [ages0.astype(float)]
    for inst, col in zip(scenario.installations, inst_cols, strict=True):
        a = default_act if inst.activity is None else region.bounded(inst.activity)
        cols.append(np.full(inst.gps, col))
        acts.append(np.full(inst.gps, a))
        start_year_slot.append(np.full(inst.gps, inst.year))
        # Age at start_year, so that the GP is `inst.age` when installing.
        age_cols.append(np.full((draws, inst.gps), inst.age - (inst.year - scenario.start_year)))
    col = np.concatenate(cols)
    act0 = np.concatenate(acts)
    start_slot = np.concatenate(start_year_slot)
    age = np.concatenate(age_cols, axis=1)
    n_slots = len(col)
    if scenario.retirement_model == "count":
        asked = scenario.retirements_per_year * scenario.horizon
        if asked > n_slots:
            from engine.errors import InputError

            raise InputError(f"the scenario asks for {asked} retirements ({scenario.retirements_per_year} a "
                             f"year for {scenario.horizon} years) but region {region.name!r} has only "
                             f"{n_slots} GPs, installations included", path=scenario.path,
                             column="retirement.per_year")
    n_cols = weights.shape[1]
    incidence = sp.csr_matrix((np.ones(n_slots), (col, np.arange(n_slots))), shape=(n_cols, n_slots))

    active = np.broadcast_to(start_slot < 0, (draws, n_slots)).copy()
    activity = np.broadcast_to(act0, (draws, n_slots)).copy()
    pending = np.full((draws, n_slots), np.iinfo(np.int64).max)
    rep_act = default_act if scenario.replacement_activity is None else region.bounded(
        scenario.replacement_activity)
    rates = np.array([scenario.replacement_rates[c] for c in _CLASS_NAMES])

    demand0 = region.demand
    pop_total = region.communes["pop_totale"].to_numpy(float)
    baseline = region.baseline_apl()
    prev_apl = np.broadcast_to(baseline[home_row][:, None], (n_cols, draws))
    prev_deficit = (baseline < DEFICIT_THRESHOLD).astype(float)

    rows = []
    supply_means = []
    summary = []
    pop_under_all = []
    quantiles = np.array([0.1, 0.9])
    years = scenario.years
    for t, year in enumerate(years):
        starting = (start_slot == year)[None, :]
        active |= starting
        if scenario.retirement_model == "age":
            leaving = active & (age > scenario.retirement_age)
        elif scenario.retirement_model == "hazard":
            leaving = active & (rng.random((draws, n_slots)) < scenario.hazard_at(age))
        elif scenario.retirement_model == "count":
            leaving = _oldest(active, age, scenario.retirements_per_year, rng)
        else:
            leaving = np.zeros_like(active)
        active &= ~leaving
        if rates.any():
            cls = _class_index(prev_apl[col].T)  # (draws, slots): class of the slot's place
            replaced = leaving & (rng.random((draws, n_slots)) < rates[cls])
            pending = np.where(replaced, year + scenario.replacement_delay, pending)
        successors = pending == year
        if successors.any():
            active |= successors
            age = np.where(successors, scenario.replacement_age, age)
            activity = np.where(successors, rep_act, activity)
            pending = np.where(successors, np.iinfo(np.int64).max, pending)

        supply = incidence @ (activity * active).T  # (n_cols, draws)
        supply_means.append(supply[:n].mean(axis=1))
        demand = demand0 * (1.0 + scenario.growth_per_year) ** t
        apl = fca_from_weights(weights, demand, supply)  # (n, draws)
        prev_apl = apl[home_row]

        deficit = apl < DEFICIT_THRESHOLD
        p_def = deficit.mean(axis=1)
        mean = apl.mean(axis=1)
        q = np.quantile(apl, quantiles, axis=1)
        pop_under = pop_total @ deficit  # (draws,)
        pop_under_all.append(pop_under)
        new_def = int(((p_def >= 0.5) & (prev_deficit < 0.5)).sum())
        prev_deficit = p_def
        rows.append(pd.DataFrame({
            "code_commune": region.communes["code_commune"].to_numpy(),
            "nom": region.communes["nom"].to_numpy() if "nom" in region.communes else "",
            "year": year, "apl_mean": mean, "apl_p10": q[0], "apl_p90": q[1],
            "p_deficit": p_def, "classe": _CLASS_NAMES[_class_index(mean)],
        }))
        pq = np.quantile(pop_under, quantiles)
        summary.append({
            "year": year, "pop_under_2_5_mean": float(pop_under.mean()),
            "pop_under_2_5_p10": float(pq[0]), "pop_under_2_5_p90": float(pq[1]),
            "share_under_2_5_mean": float(pop_under.mean() / pop_total.sum()),
            "communes_new_deficit": new_def,
            "active_gps_mean": float(active.sum(axis=1).mean()),
        })
        age = age + 1
        if progress is not None:
            progress(t + 1, len(years))

    base = pd.DataFrame({"code_commune": region.communes["code_commune"].to_numpy(),
                         "apl": baseline, "classe": _CLASS_NAMES[_class_index(baseline)]})
    return Forecast(
        communes=pd.concat(rows, ignore_index=True), summary=pd.DataFrame(summary),
        baseline=base, scenario=scenario, draws=int(draws), seed=int(seed),
        pop_under_draws=np.vstack(pop_under_all), supply_mean=np.vstack(supply_means),
    )


__all__ = ["DEFICIT_THRESHOLD", "Forecast", "draw_ages", "forecast"]
