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

from engine.apl import Catchment, bounded_activity, class_index, supply_by_commune
from engine.errors import InputError
from scenarios.ages import practitioner_ages
from scenarios.config import Scenario, load_scenario


@dataclass
class Forecast:
    """The result of :func:`forecast`.

    Attributes
    ----------
    communes : pandas.DataFrame
        One row per commune and year: ``code_commune``, ``nom``, ``year``, ``apl_mean``,
        ``apl_p10``, ``apl_p90``, ``p_deficit`` (probability that the APL is under the
        profession's deficit threshold), ``classe`` (class code of the mean APL).
    summary : pandas.DataFrame
        One row per year: ``pop_deficit_mean``, ``pop_deficit_p10``, ``pop_deficit_p90``
        (total population in communes in deficit: mean and 80% interval over draws),
        ``share_deficit_mean``, ``communes_new_deficit`` (communes whose probability of
        deficit reaches 0.5 that year), ``active_practitioners_mean``.
    baseline : pandas.DataFrame
        The APL today with every practitioner (``code_commune``, ``apl``, ``classe``).
    profession : engine.apl.Profession
        Whose zoning the classes and deficits use.
    scenario : Scenario
        The scenario run.
    draws, seed : int
        Monte Carlo settings.
    pop_deficit_draws : numpy.ndarray
        ``(years, draws)`` population in deficit in each draw.
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
    profession: object = field(repr=False)
    pop_deficit_draws: np.ndarray = field(repr=False)
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
        df = df[df["code_commune"].map(base) >= self.profession.zoning.deficit_threshold]
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


def _installation_columns(region, scenario: Scenario):
    """Column of each installation: its commune, or a new site column appended to W."""
    code_to_col = {c: i for i, c in enumerate(region.communes["code_commune"])}
    extra_cols = []
    home_rows = []
    cols = []
    for k, inst in enumerate(scenario.installations):
        if inst.commune is not None:
            if inst.commune not in code_to_col:
                raise InputError(f"commune {inst.commune!r} is not in region {region.name!r}",
                                 path=scenario.path, key=f"installation[{k}].commune")
            cols.append(code_to_col[inst.commune])
        else:
            column, home = region.site_column(inst.lon, inst.lat,
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
        raise InputError(f"draws must be a positive integer, got {draws!r}", column="draws")
    prof = region.profession
    n = region.n_communes
    inst_cols, extra_cols, extra_home = _installation_columns(region, scenario)
    if extra_cols:
        catchment = Catchment(sp.hstack([region.weights] + extra_cols, format="csr"),
                              region.demand)
    else:
        catchment = region.catchment
    n_cols = catchment.shape[1]
    home_row = np.concatenate([np.arange(n), np.asarray(extra_home, dtype=np.int64)])
    rates = np.array(scenario.rate_by_class(prof.zoning.codes))

    seq = np.random.SeedSequence(seed)
    age_seed, sim_seed = (int(s.generate_state(1)[0]) for s in seq.spawn(2))
    rng = np.random.default_rng(sim_seed)

    def counted(activity) -> float:
        return float(bounded_activity([prof.activity.default if activity is None else activity],
                                      profession=prof)[0])

    # Slots: existing practitioners, then one per installed practitioner.
    cols = [region.practitioner_commune]
    acts = [region.practitioner_activity()]
    start_year_slot = [np.full(len(cols[0]), -1)]
    age_cols = [practitioner_ages(region, draws=draws, seed=age_seed)]  # at start_year
    for inst, col in zip(scenario.installations, inst_cols, strict=True):
        cols.append(np.full(inst.gps, col))
        acts.append(np.full(inst.gps, counted(inst.activity)))
        start_year_slot.append(np.full(inst.gps, inst.year))
        # Age at start_year, so that the practitioner is `inst.age` when installing.
        age_cols.append(np.full((draws, inst.gps), inst.age - (inst.year - scenario.start_year)))
    col = np.concatenate(cols)
    act0 = np.concatenate(acts)
    start_slot = np.concatenate(start_year_slot)
    age = np.concatenate(age_cols, axis=1)
    n_slots = len(col)
    if scenario.retirement_model == "count":
        asked = scenario.retirements_per_year * scenario.horizon
        if asked > n_slots:
            raise InputError(f"the scenario asks for {asked} retirements ({scenario.retirements_per_year} a "
                             f"year for {scenario.horizon} years) but region {region.name!r} has only "
                             f"{n_slots} practitioners, installations included", path=scenario.path,
                             key="retirement.per_year")

    active = np.broadcast_to(start_slot < 0, (draws, n_slots)).copy()
    activity = np.broadcast_to(act0, (draws, n_slots)).copy()
    pending = np.full((draws, n_slots), np.iinfo(np.int64).max)
    rep_act = counted(scenario.replacement_activity)

    pop_total = region.population
    baseline = region.apl()
    prev_apl = np.broadcast_to(baseline[home_row][:, None], (n_cols, draws))
    prev_deficit = (class_index(baseline, profession=prof) == 0).astype(float)
    codes = np.asarray(prof.zoning.codes)

    rows = []
    supply_means = []
    summary = []
    pop_deficit_all = []
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
            cls = class_index(prev_apl[col].T, profession=prof)  # (draws, slots)
            replaced = leaving & (rng.random((draws, n_slots)) < rates[cls])
            pending = np.where(replaced, year + scenario.replacement_delay, pending)
        successors = pending == year
        if successors.any():
            active |= successors
            age = np.where(successors, scenario.replacement_age, age)
            activity = np.where(successors, rep_act, activity)
            pending = np.where(successors, np.iinfo(np.int64).max, pending)

        supply = supply_by_commune(col, activity * active, n_cols)  # (n_cols, draws)
        supply_means.append(supply[:n].mean(axis=1))
        if scenario.growth_per_year:
            demand = region.demand * (1.0 + scenario.growth_per_year) ** t
            apl = Catchment(catchment.weights, demand).accessibility(supply)
        else:
            apl = catchment.accessibility(supply)  # (n, draws)
        prev_apl = apl[home_row]

        deficit = class_index(apl, profession=prof) == 0
        p_def = deficit.mean(axis=1)
        mean = apl.mean(axis=1)
        q = np.quantile(apl, quantiles, axis=1)
        pop_deficit = pop_total @ deficit  # (draws,)
        pop_deficit_all.append(pop_deficit)
        new_def = int(((p_def >= 0.5) & (prev_deficit < 0.5)).sum())
        prev_deficit = p_def
        rows.append(pd.DataFrame({
            "code_commune": region.codes,
            "nom": region.communes["nom"].to_numpy() if "nom" in region.communes else "",
            "year": year, "apl_mean": mean, "apl_p10": q[0], "apl_p90": q[1],
            "p_deficit": p_def, "classe": codes[class_index(mean, profession=prof)],
        }))
        pq = np.quantile(pop_deficit, quantiles)
        summary.append({
            "year": year, "pop_deficit_mean": float(pop_deficit.mean()),
            "pop_deficit_p10": float(pq[0]), "pop_deficit_p90": float(pq[1]),
            "share_deficit_mean": float(pop_deficit.mean() / pop_total.sum()),
            "communes_new_deficit": new_def,
            "active_practitioners_mean": float(active.sum(axis=1).mean()),
        })
        age = age + 1
        if progress is not None:
            progress(t + 1, len(years))

    base = pd.DataFrame({"code_commune": region.codes, "apl": baseline,
                         "classe": codes[class_index(baseline, profession=prof)]})
    return Forecast(
        communes=pd.concat(rows, ignore_index=True), summary=pd.DataFrame(summary),
        baseline=base, scenario=scenario, draws=int(draws), seed=int(seed), profession=prof,
        pop_deficit_draws=np.vstack(pop_deficit_all), supply_mean=np.vstack(supply_means),
    )


__all__ = ["Forecast", "forecast"]
