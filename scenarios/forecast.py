"""Year-by-year Monte Carlo forecast of the APL under a scenario.

Year 0 is the data year, **observed**: the baseline's APL (the official values by default,
see :mod:`scenarios.baseline`), with no draw. Then, each simulated year, in every draw:

1. practitioners of installations starting that year begin practising;
2. practitioners leave, by their age at the start of the year (``age`` rule, age-specific
   ``hazard``, or the ``count`` oldest): under the rule "older than 65" the first simulated
   year keeps exactly those aged 65 or less in the data year, as DREES's variant counts them;
3. ages advance by one year;
4. each departure is replaced, in the same place and with the same activity, with a
   probability set by the zoning class of the place the year before, after
   ``delay_years`` of vacancy;
5. supply is summed per place (:func:`engine.apl.supply_by_commune`), the engine's APL is
   recomputed for all draws at once through the prepared catchment, and the baseline's
   correction carries it onto the official scale.

The travel-time matrix and its weights are the region's; a new installation site away
from every commune adds one column. Draws run in chunks of :data:`CHUNK`, each with its own
child of the seed, so that more draws extend a run rather than reshuffle it: a run of 1,000
draws begins with the 500 of a run of 500 (runs whose numbers of draws are multiples of
:data:`CHUNK`). Each commune's (and département's, zone's) draws of each simulated year are
summarised by :class:`scenarios.draws.DrawSummary`: means and shares in deficit are exact
running sums; medians and 80 % intervals are exact order statistics while keeping every draw
costs at most :data:`engine.settings.exact_forecast_memory_gib` (about 37,000 draws of
Corsica), and are read from fixed bins beyond, within 0.005 APL, in memory that no longer
grows with the draws. A forecast that would need more than
:func:`engine.settings.forecast_memory_limit` is refused before any work
(:class:`ForecastTooLarge`, with the estimate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine import settings
from engine.apl import (
    Catchment,
    class_index,
    departement_of,
    supply_by_commune,
    zone_apl,
    zone_indicator,
)
from engine.errors import InputError
from engine.french import departement_name
from scenarios.baseline import Baseline
from scenarios.baseline import baseline as make_baseline
from scenarios.config import Scenario, load_scenario
from scenarios.draws import DrawSummary, choose_mode, summary_bytes
from scenarios.labels import commune_names

__all__ = ["Forecast", "ForecastTooLarge", "crossing_year", "forecast", "memory_needed"]

#: Draws simulated together (memory per chunk: a few ``(chunk, practitioners)`` arrays).
CHUNK = 250


class ForecastTooLarge(InputError):
    """A forecast would keep more draws than :func:`engine.settings.forecast_memory_limit`."""


def memory_needed(n_communes: int, n_groups: int, years: int, draws: int) -> int:
    """Bytes a forecast keeps: the per-draw statistics of every commune and group in each
    simulated year (:func:`scenarios.draws.summary_bytes`, in the mode
    :func:`scenarios.draws.choose_mode` takes), plus the population in deficit of each draw
    and year (float64).

    Examples
    --------
    >>> memory_needed(360, 2, 11, 1_000) / 2**20  # Corsica, ten simulated years: exact
    27.8...
    >>> memory_needed(360, 2, 11, 1_000_000) / 2**20  # binned, most of it the populations
    136.5...
    """
    rows = (years - 1) * (n_communes + n_groups)
    return summary_bytes(rows, draws, choose_mode(rows, draws)) + 8 * draws * years


@dataclass
class Forecast:
    """The result of :func:`forecast`.

    Attributes
    ----------
    communes : pandas.DataFrame
        One row per commune and year (year 0 first): ``code_commune``, ``nom``, ``year``,
        ``apl_mean``, ``apl_median``, ``apl_p10``, ``apl_p90``, ``p_deficit`` (share of draws
        under the deficit threshold), ``classe`` (class of the median).
    summary : pandas.DataFrame
        One row per year (year 0 first): ``pop_deficit_mean``, ``pop_deficit_p10``,
        ``pop_deficit_p90`` (total population in communes in deficit: mean and 80 % interval
        over draws), ``share_deficit_mean``, ``share_deficit_p10``, ``share_deficit_p90``
        (the same as shares of the year's population), ``communes_deficit`` (median under
        the threshold), ``communes_new_deficit`` (at or above it in year 0, under it for the
        first time that year), ``active_practitioners_mean``.
    baseline : Baseline
        The observed state of year 0.
    scenario : Scenario
    years : list of int
        Year 0 then the simulated years.
    draws, seed : int
        Monte Carlo settings.
    profession : engine.apl.Profession
    zones : pandas.DataFrame or None
        When the region has zones: one row per zone and year, ``zone``, ``zone_nom``,
        ``year``, ``apl_mean``, ``apl_median``, ``apl_p10``, ``apl_p90`` (the zone's APL, its
        communes' weighted by standardised population, over draws), ``p_deficit`` (share of
        draws where the zone's APL is under the threshold), ``share_deficit_mean`` (share of
        the zone's population living in a commune in deficit), ``pop_deficit_mean``,
        ``classe``.
    departements : pandas.DataFrame
        The same per département (``zone`` holds the département code).
    quantiles : {"exact", "binned"}
        How the medians and intervals were computed (see :mod:`scenarios.draws`): exact
        order statistics, or read from fixed bins within 0.005 APL (large ``draws``).
    pop_deficit_draws : numpy.ndarray
        ``(years, draws)`` population in deficit in each draw (year 0: every draw equal).
    supply_mean : numpy.ndarray
        ``(years, n_communes)`` mean supply located in each commune.
    population : numpy.ndarray
        Total population of each commune (data year).
    """

    communes: pd.DataFrame
    summary: pd.DataFrame
    baseline: Baseline
    scenario: Scenario
    years: list
    draws: int
    seed: int
    profession: object = field(repr=False)
    pop_deficit_draws: np.ndarray = field(repr=False)
    supply_mean: np.ndarray = field(repr=False, default=None)
    population: np.ndarray = field(repr=False, default=None)
    zones: pd.DataFrame | None = field(repr=False, default=None)
    departements: pd.DataFrame | None = field(repr=False, default=None)
    quantiles: str = "exact"

    def supply_in(self, year: int) -> np.ndarray:
        """Mean supply per commune in ``year`` (a starting point for the optimizer)."""
        if year not in self.years:
            raise InputError(f"year {year} is not in the forecast ({self.years[0]}-"
                             f"{self.years[-1]})", column="year")
        return self.supply_mean[self.years.index(year)]

    def _threshold(self) -> float:
        return self.profession.zoning.deficit_threshold

    def newly_in_deficit(self) -> pd.DataFrame:
        """Communes at or above the deficit threshold in year 0 whose median projected APL
        falls under it, with the first year it does.

        Returns
        -------
        pandas.DataFrame
            ``code_commune``, ``nom``, ``pop_totale`` (data year), ``year``, ``p_deficit``,
            ``apl_median``, ``apl_p10``, ``apl_p90``, ``apl_year0``, sorted by year then
            probability.
        """
        thr = self._threshold()
        base = pd.Series(self.baseline.apl, index=self.communes["code_commune"].iloc[
            :len(self.baseline.apl)].to_numpy())
        later = self.communes[self.communes["year"] > self.years[0]]
        df = later[(later["apl_median"] < thr) & (later["code_commune"].map(base) >= thr)]
        first = df.sort_values("year").groupby("code_commune", sort=False).head(1).copy()
        first["apl_year0"] = first["code_commune"].map(base)
        pop = pd.Series(self.population, index=base.index)
        first["pop_totale"] = first["code_commune"].map(pop)
        cols = ["code_commune", "nom", "pop_totale", "year", "p_deficit", "apl_median", "apl_p10",
                "apl_p90", "apl_year0"]
        return first[cols].sort_values(["year", "p_deficit"], ascending=[True, False]
                                       ).reset_index(drop=True)

    def already_in_deficit(self) -> pd.DataFrame:
        """Communes already under the deficit threshold in year 0 (the observed state), with
        their population, their APL then and their median in the last year, the most
        populated first."""
        thr = self._threshold()
        first = self.communes[self.communes["year"] == self.years[0]]
        last = self.communes[self.communes["year"] == self.years[-1]].set_index("code_commune")
        df = first[first["apl_mean"] < thr][["code_commune", "nom", "apl_mean"]].rename(
            columns={"apl_mean": "apl_year0"})
        pop = pd.Series(self.population, index=first["code_commune"].to_numpy())
        df.insert(2, "pop_totale", df["code_commune"].map(pop).to_numpy())
        df["apl_median_last_year"] = df["code_commune"].map(last["apl_median"]).to_numpy()
        return df.sort_values(["pop_totale", "apl_year0"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)

    def zone_crossing_year(self) -> pd.Series:
        """First year each zone's median APL is under the deficit threshold (NaN never),
        indexed by ``zone``; empty without zones."""
        if self.zones is None:
            return pd.Series(dtype="Int64")
        return crossing_year(self.zones, self._threshold(), key="zone")

    def crossing_year(self) -> pd.Series:
        """First year each commune's median APL is under the deficit threshold (NaN never),
        year 0 included, indexed by ``code_commune``."""
        return crossing_year(self.communes, self._threshold())


def crossing_year(rows: pd.DataFrame, threshold: float, *, key: str = "code_commune"
                  ) -> pd.Series:
    """First year each place's median APL is under ``threshold`` (NA never).

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per place and year, with ``key``, ``year`` and ``apl_median`` (as
        :attr:`Forecast.communes`, :attr:`Forecast.zones` or a run's ``forecast.csv``).
    threshold : float
        The deficit threshold.
    key : str
        The column naming the place.

    Returns
    -------
    pandas.Series
        ``Int64`` years indexed by the places of ``rows`` in their first order.
    """
    under = rows[rows["apl_median"] < threshold]
    first = under.groupby(key)["year"].min()
    return first.reindex(rows[key].drop_duplicates().to_numpy()).astype("Int64")


def _oldest(active: np.ndarray, age: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The ``k`` oldest active practitioners of each draw (ties broken at random)."""
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
    code_to_col = {c: i for i, c in enumerate(region.codes)}
    extra_cols, home_rows, cols = [], [], []
    for k, inst in enumerate(scenario.installations):
        if inst.commune is not None:
            if inst.commune not in code_to_col:
                raise scenario.error(f"commune {inst.commune!r} is not in region {region.name!r}",
                                     "installation", "commune", k)
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
    baseline: Baseline | str | None = None,
    demand_by_year: dict | None = None,
    population_by_year: dict | None = None,
    progress=None,
) -> Forecast:
    """Forecast the APL of every commune, year by year, under a scenario.

    Parameters
    ----------
    region : engine.region.Region
        Network, communes, practitioners (see :func:`engine.mirror.load_region`).
    scenario : Scenario or str
        A validated scenario or a path/name for :func:`scenarios.load_scenario`.
    draws : int
        Number of Monte Carlo draws (imputed ages, retirements, replacements).
    seed : int
        Seed; the same inputs and seed give identical outputs.
    baseline : Baseline, {"official", "model"}, optional
        Year 0 and the practitioners to start from (default: official where the region has
        official values, see :func:`scenarios.baseline.baseline`).
    demand_by_year : dict of int to array, optional
        Demand (standardised population) of some simulated years, instead of the data year's
        demand grown by the scenario's ``growth_per_year`` (a backtest passes the next year's
        official populations).
    population_by_year : dict of int to array, optional
        Total population of some simulated years, for the population in deficit (default:
        the data year's).
    progress : callable, optional
        Called as ``progress(done, total)`` as draws are simulated.

    Returns
    -------
    Forecast

    Examples
    --------
    >>> from engine.mirror import load_region  # doctest: +SKIP
    >>> fc = forecast(load_region("corse"), "retire-at-65", draws=200, seed=1)  # doctest: +SKIP
    >>> fc.summary[["year", "pop_deficit_mean"]]  # doctest: +SKIP
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InputError(f"draws must be a positive integer, got {draws!r}", column="draws")
    base = baseline if isinstance(baseline, Baseline) else make_baseline(region, baseline)
    prof = region.profession
    years = scenario.years(region.year)
    n = region.n_communes
    n_groups = len(np.unique(departement_of(region.codes))) + (
        region.zones["zone"].nunique() if region.zones is not None else 0)
    need, limit = memory_needed(n, n_groups, len(years), draws), settings.forecast_memory_limit()
    if need > limit:
        fixed = memory_needed(n, n_groups, len(years), 0)
        per_draw = max((need - fixed) / draws, 1.0)
        raise ForecastTooLarge(
            f"{draws:,} draws would keep {need / 2**30:,.1f} GiB ({n:,} communes x "
            f"{len(years) - 1} years), over the limit of {limit / 2**30:,.1f} GiB: use about "
            f"{max(1, int((0.9 * limit - fixed) // per_draw)):,} draws or fewer or raise the "
            f"limit (${settings.FORECAST_MEMORY_ENV}, in GiB)")
    mode = choose_mode((len(years) - 1) * (n + n_groups), draws)
    inst_cols, extra_cols, extra_home = _installation_columns(region, scenario)
    weights = (sp.hstack([region.weights] + extra_cols, format="csr") if extra_cols
               else region.weights)
    home_row = np.concatenate([np.arange(n), np.asarray(extra_home, dtype=np.int64)])
    thr = prof.zoning.deficit_threshold

    # Slots: the baseline's practitioners, then one per installed practitioner.
    cols = [base.slot_commune]
    acts = [base.slot_activity]
    starts = [np.full(base.n_slots, -1)]
    for inst, col in zip(scenario.installations, inst_cols, strict=True):
        cols.append(np.full(inst.gps, col))
        acts.append(np.full(inst.gps, base.new_practitioner_activity(prof, inst.activity)))
        starts.append(np.full(inst.gps, inst.year))
    col = np.concatenate(cols).astype(np.int64)
    act0 = np.concatenate(acts)
    start_slot = np.concatenate(starts)
    n_slots = len(col)
    n_cols = weights.shape[1]
    if scenario.retirement_model == "count":
        asked = scenario.retirements_per_year * scenario.horizon
        if asked > n_slots:
            raise scenario.error(f"the scenario asks for {asked} retirements "
                                 f"({scenario.retirements_per_year} a year for {scenario.horizon} "
                                 f"years) but region {region.name!r} has only {n_slots} "
                                 "practitioners, installations included", "retirement", "per_year")
    rates = np.array(scenario.rate_by_class(prof.zoning.codes))
    rep_act = None if scenario.replacement_activity is None else \
        base.new_practitioner_activity(prof, scenario.replacement_activity)

    # One catchment per demand: the data year's, grown, or given by year.
    catchments: dict = {}

    def catchment_for(t: int, year: int) -> Catchment:
        if demand_by_year and year in demand_by_year:
            key = ("given", year)
            demand = np.asarray(demand_by_year[year], dtype=np.float64)
        elif scenario.growth_per_year:
            key = ("grown", t)
            demand = region.demand * (1.0 + scenario.growth_per_year) ** t
        else:
            key = ("data",)
            if not extra_cols:
                return region.catchment
            demand = region.demand
        if key not in catchments:
            catchments[key] = Catchment(weights, demand)
        return catchments[key]

    pop_total = region.population

    def population_for(year: int) -> np.ndarray:
        if population_by_year and year in population_by_year:
            return np.asarray(population_by_year[year], dtype=np.float64)
        return pop_total

    n_years = len(years)

    def in_deficit(values: np.ndarray) -> np.ndarray:
        return class_index(values, profession=prof) == 0

    stats = [None] + [DrawSummary(n, draws, mode, in_deficit) for _ in range(1, n_years)]
    pop_deficit = np.zeros((n_years, draws))
    supply_sum = np.zeros((n_years, n))
    active_sum = np.zeros(n_years)
    deps = departement_of(region.codes)
    groupings = {"departements": (deps, pd.Series({d: departement_name(d) or d
                                                   for d in np.unique(deps)}))}
    if region.zones is not None:
        groupings["zones"] = (region.zones["zone"].to_numpy(),
                              region.zones.drop_duplicates("zone").set_index("zone")["zone_nom"])
    groups = {}
    for key, (labels_of, names) in groupings.items():
        labels, ind = zone_indicator(labels_of)
        groups[key] = {"labels": labels, "ind": ind, "names": names,
                       "stats": [None] + [DrawSummary(len(labels), draws, mode, in_deficit)
                                          for _ in range(1, n_years)],
                       "pop_deficit": np.zeros((n_years, len(labels)))}

    # Year 0, observed.
    apl0 = np.asarray(base.apl, dtype=np.float64)
    deficit0 = class_index(apl0, profession=prof) == 0
    pop_deficit[0] = pop_total @ deficit0
    supply0 = base.supply(n)

    root = np.random.SeedSequence(seed)
    n_chunks = (draws + CHUNK - 1) // CHUNK
    # Chunk c always draws from the seed's c-th child: more draws extend a run, never reshuffle it.
    children = root.spawn(n_chunks)
    for c in range(n_chunks):
        lo, hi = c * CHUNK, min(draws, (c + 1) * CHUNK)
        m = hi - lo
        age_seed, sim_seed = (int(s.generate_state(1)[0]) for s in children[c].spawn(2))
        rng = np.random.default_rng(sim_seed)
        ages0 = base.ages(draws=m, seed=age_seed, profession=prof)
        # Installed practitioners are inst.age in their first year.
        inst_age = [np.full((m, inst.gps), inst.age - (inst.year - years[0]))
                    for inst in scenario.installations]
        age = np.concatenate([ages0, *inst_age], axis=1) if inst_age else ages0
        active = np.broadcast_to(start_slot < 0, (m, n_slots)).copy()
        activity = np.broadcast_to(act0, (m, n_slots)).copy()
        pending = np.full((m, n_slots), np.iinfo(np.int64).max)
        prev_apl = np.broadcast_to(apl0[home_row][:, None], (n_cols, m))
        supply_sum[0] += supply0 * m
        active_sum[0] += float(active.sum())
        for t, year in enumerate(years[1:], start=1):
            active |= (start_slot == year)[None, :]
            if scenario.retirement_model == "age":
                leaving = active & (age > scenario.retirement_age)
            elif scenario.retirement_model == "hazard":
                leaving = active & (rng.random((m, n_slots)) < scenario.hazard_at(age))
            elif scenario.retirement_model == "count":
                leaving = _oldest(active, age, scenario.retirements_per_year, rng)
            else:
                leaving = np.zeros_like(active)
            active &= ~leaving
            if rates.any():
                cls = class_index(prev_apl[col].T, profession=prof)  # (draws, slots)
                replaced = leaving & (rng.random((m, n_slots)) < rates[cls])
                pending = np.where(replaced, year + scenario.replacement_delay, pending)
            age = age + 1
            successors = pending == year
            if successors.any():
                active |= successors
                age = np.where(successors, scenario.replacement_age, age)
                if rep_act is not None:
                    activity = np.where(successors, rep_act, activity)
                pending = np.where(successors, np.iinfo(np.int64).max, pending)
            supply = supply_by_commune(col, activity * active, n_cols)  # (n_cols, draws)
            model = catchment_for(t, year).accessibility(supply)  # (n, draws)
            apl = base.correction.apply(model)
            prev_apl = np.vstack([apl, apl[home_row[n:]]]) if n_cols > n else apl
            deficit = in_deficit(apl)
            stats[t].add(lo, apl, deficit)
            for g in groups.values():
                g["stats"][t].add(lo, zone_apl(apl, region.demand, g["ind"]))
                g["pop_deficit"][t] += (g["ind"] @ (population_for(year)[:, None] * deficit)
                                        ).sum(axis=1)
            pop_deficit[t, lo:hi] = population_for(year) @ deficit
            supply_sum[t] += supply[:n].sum(axis=1)
            active_sum[t] += float(active.sum())
            if progress is not None:
                # Draws are simulated year by year in chunks: count a chunk's years as parts.
                progress(lo + (m * t) // (n_years - 1), draws)

    codes = np.asarray(prof.zoning.codes)
    names = commune_names(region)
    rows, summary = [], []
    ever_under = deficit0.copy()
    for t, year in enumerate(years):
        if t == 0:
            # The observed state: every statistic is the baseline itself, exactly.
            mean = q10 = median = q90 = apl0
            p_def = deficit0.astype(np.float64)
        else:
            q10, median, q90 = stats[t].quantiles()
            stats[t].release()  # the year's draws go as soon as they are summarised
            mean, p_def = stats[t].mean(), stats[t].share_in_deficit()
        rows.append(pd.DataFrame({
            "code_commune": region.codes, "nom": names, "year": year, "apl_mean": mean,
            "apl_median": median, "apl_p10": q10, "apl_p90": q90, "p_deficit": p_def,
            "classe": codes[class_index(median, profession=prof)],
        }))
        under = median < thr
        new = int((under & ~ever_under).sum())
        ever_under |= under
        pq = np.quantile(pop_deficit[t], [0.1, 0.9])
        total = population_for(year).sum()
        sq = np.quantile(pop_deficit[t] / total, [0.1, 0.9])
        summary.append({
            "year": year, "pop_deficit_mean": float(pop_deficit[t].mean()),
            "pop_deficit_p10": float(pq[0]), "pop_deficit_p90": float(pq[1]),
            "share_deficit_mean": float(pop_deficit[t].mean() / total),
            "share_deficit_p10": float(sq[0]), "share_deficit_p90": float(sq[1]),
            "communes_deficit": int(under.sum()), "communes_new_deficit": new,
            "active_practitioners_mean": active_sum[t] / draws,
        })
    frames = {}
    for key, g in groups.items():
        ind, labels = g["ind"], g["labels"]
        names = (g["names"].reindex(labels).to_numpy() if g["names"] is not None else labels)
        parts = []
        for t, year in enumerate(years):
            pop_g = ind @ population_for(year)
            if t == 0:
                mean = q10 = median = q90 = zone_apl(apl0, region.demand, ind)
                p_def = (class_index(mean, profession=prof) == 0).astype(np.float64)
                pop_def = ind @ (pop_total * deficit0)
            else:
                q10, median, q90 = g["stats"][t].quantiles()
                mean, p_def = g["stats"][t].mean(), g["stats"][t].share_in_deficit()
                g["stats"][t].release()
                pop_def = g["pop_deficit"][t] / draws
            parts.append(pd.DataFrame({
                "zone": labels, "zone_nom": names, "year": year, "apl_mean": mean,
                "apl_median": median, "apl_p10": q10, "apl_p90": q90, "p_deficit": p_def,
                "pop_deficit_mean": pop_def,
                "share_deficit_mean": np.divide(pop_def, pop_g, out=np.zeros(len(labels)),
                                                where=pop_g > 0),
                "classe": codes[class_index(median, profession=prof)]}))
        frames[key] = pd.concat(parts, ignore_index=True)
    return Forecast(
        communes=pd.concat(rows, ignore_index=True), summary=pd.DataFrame(summary),
        baseline=base, scenario=scenario, years=years, draws=int(draws), seed=int(seed),
        quantiles=mode,
        profession=prof, pop_deficit_draws=pop_deficit, supply_mean=supply_sum / draws,
        population=pop_total, zones=frames.get("zones"), departements=frames["departements"],
    )
