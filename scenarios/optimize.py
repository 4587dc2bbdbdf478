"""Where to install new GPs: greedy placement with incremental APL updates.

For a fixed demand, adding supply ``dS`` in column ``j`` changes only the ratio
``R_j = S_j / D_j`` (the demand in reach ``D_j`` does not depend on supply), so the engine's
APL of commune ``i`` rises by ``W_ij * dS / D_j`` and nothing else moves; on the official
baseline, the commune's correction factor ``f_i`` scales that rise (see
:mod:`engine.apl.calibration`), and the APL is the unclipped value clipped at 0. Each greedy step therefore
scores every candidate from its own column of the weight matrix, picks the best, updates the
APL of the communes in reach of that site only, and rescores only the candidates that share
a commune with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine.apl import profession as as_profession
from engine.errors import InputError
from engine.french import fmt_int
from scenarios.baseline import Baseline
from scenarios.baseline import baseline as make_baseline
from scenarios.labels import commune_names

_OBJECTIVES = ("population_in_deficit", "deficit_gap")


def _gains(wc: sp.csc_matrix, reach: np.ndarray, apl: np.ndarray, pop: np.ndarray,
           weight_pop: np.ndarray, add: float, cols: np.ndarray, threshold: float,
           factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Population lifted over the threshold and weighted gap closed, for each column in ``cols``.

    ``apl`` is unclipped (it may be negative where an offset correction holds a commune at
    0): the APL shown is ``max(apl, 0)``, so the gap closed is measured on the clipped values.
    """
    lifted = np.zeros(len(cols))
    gap = np.zeros(len(cols))
    for k, j in enumerate(cols):
        if reach[j] <= 0:
            continue
        lo, hi = wc.indptr[j], wc.indptr[j + 1]
        rows = wc.indices[lo:hi]
        delta = factor[rows] * wc.data[lo:hi] * (add / reach[j])
        a = apl[rows]
        under = a < threshold
        lifted[k] = pop[rows][under & (a + delta >= threshold)].sum()
        closed = np.clip(a + delta, 0.0, threshold) - np.clip(a, 0.0, threshold)
        gap[k] = (weight_pop[rows] * closed).sum()
    return lifted, gap


def greedy_placement(
    weights,
    demand: np.ndarray,
    population: np.ndarray,
    apl: np.ndarray,
    n_new: int,
    *,
    supply_per_site: float,
    candidates: np.ndarray | None = None,
    objective: str = "population_in_deficit",
    profession="gp",
    factor: np.ndarray | None = None,
    progress=None,
) -> pd.DataFrame:
    """Greedy placement on arrays (the kernel behind :func:`optimize_installations`).

    Parameters
    ----------
    weights : scipy.sparse matrix
        Decay weights, rows = communes (demand), columns = candidate places.
    demand : numpy.ndarray
        Standardised population per row (``D_j = sum_i W_ij demand_i``).
    population : numpy.ndarray
        Total population per row (what "population in deficit" counts).
    apl : numpy.ndarray
        Current APL per row (unclipped: see ``factor``).
    n_new : int
        Number of placements.
    supply_per_site : float
        Supply added by one placement (consultations per year).
    candidates : numpy.ndarray, optional
        Allowed columns (default: all). A column may be chosen several times.
    objective : {"population_in_deficit", "deficit_gap"}
        Maximise the population lifted out of deficit (to the profession's deficit
        threshold or above; ties broken by the gap closed), or the population-weighted gap
        to that threshold that is closed.
    profession : str, path-like or Profession
        Whose deficit threshold (default ``"gp"``).
    factor : numpy.ndarray, optional
        Per-row factor of the APL response to supply (the baseline correction's factor;
        default 1).
    progress : callable, optional
        Called as ``progress(done, total)`` after each placement.

    Returns
    -------
    pandas.DataFrame
        One row per placement in order: ``rank``, ``column``, ``population_lifted``,
        ``gap_closed`` (consultations a year: the standardised population times the APL
        gained up to the threshold), ``apl_before`` (the APL of the chosen commune before
        the placement), ``lifted_rows`` (the communes it lifts to the threshold or above),
        ``population_in_deficit`` (after the placement).
    """
    if objective not in _OBJECTIVES:
        raise InputError(f"objective must be one of {_OBJECTIVES}, got {objective!r}",
                         column="objective")
    threshold = as_profession(profession).zoning.deficit_threshold
    if not (isinstance(n_new, (int, np.integer)) and n_new >= 1):
        raise InputError(f"n_new must be a positive integer, got {n_new!r}")
    wc = sp.csc_matrix(weights, dtype=np.float64)
    wr = wc.tocsr()
    demand = np.asarray(demand, dtype=np.float64)
    pop = np.asarray(population, dtype=np.float64)
    apl = np.array(apl, dtype=np.float64)
    reach = np.asarray(wc.T @ demand).ravel()
    factor = np.ones(len(apl)) if factor is None else np.asarray(factor, dtype=np.float64)
    cand = np.arange(wc.shape[1]) if candidates is None else np.asarray(candidates, dtype=np.int64)
    weight_pop = demand  # the gap is weighted by standardised population, as DREES averages are
    lifted, gap = _gains(wc, reach, apl, pop, weight_pop, supply_per_site, cand, threshold,
                         factor)
    pos_of = {int(c): k for k, c in enumerate(cand)}
    out = []
    for rank in range(1, n_new + 1):
        if objective == "population_in_deficit":
            # lexsort: last key is primary; prefer the lower column on full ties (determinism).
            best = int(np.lexsort((-np.arange(len(cand)), gap, lifted))[-1])
        else:
            best = int(np.lexsort((-np.arange(len(cand)), lifted, gap))[-1])
        j = int(cand[best])
        out.append({"rank": rank, "column": j, "population_lifted": float(lifted[best]),
                    "gap_closed": float(gap[best]), "apl_before": float(max(apl[j], 0.0)),
                    "lifted_rows": []})
        if reach[j] > 0:
            lo, hi = wc.indptr[j], wc.indptr[j + 1]
            rows = wc.indices[lo:hi]
            before = apl[rows].copy()
            apl[rows] += factor[rows] * wc.data[lo:hi] * (supply_per_site / reach[j])
            crossed = (before < threshold) & (apl[rows] >= threshold)
            out[-1]["lifted_rows"] = rows[crossed].tolist()
            # Only candidates reaching one of the changed communes need rescoring.
            touched = np.unique(np.concatenate([wr.indices[wr.indptr[r]:wr.indptr[r + 1]] for r in rows]))
            idx = np.array([pos_of[int(c)] for c in touched if int(c) in pos_of], dtype=np.int64)
            if len(idx):
                lifted[idx], gap[idx] = _gains(wc, reach, apl, pop, weight_pop, supply_per_site,
                                               cand[idx], threshold, factor)
        out[-1]["population_in_deficit"] = float(pop[apl < threshold].sum())
        if progress is not None:
            progress(rank, n_new)
    return pd.DataFrame(out)


def optimize_installations(
    region,
    n_new: int,
    *,
    year: int | None = None,
    candidates=None,
    objective: str = "population_in_deficit",
    gps_per_site: int = 1,
    activity: float | None = None,
    retirement_age: float | None = None,
    draws: int = 200,
    seed: int = 0,
    supply: np.ndarray | None = None,
    baseline: Baseline | str | None = None,
    progress=None,
    method: str = "greedy",
    service_minutes: float = 10.0,
) -> pd.DataFrame:
    """Where to install ``n_new`` GPs (or MSPs of ``gps_per_site`` GPs) to lift most people
    out of deficit.

    The starting point is the baseline (official by default, see
    :mod:`scenarios.baseline`) in ``year``: each practitioner counts with its probability
    of still practising then (aged ``<= retirement_age``, over ``draws`` draws of imputed
    ages when the roster has none). Placement is greedy: at each step the
    commune whose new GP(s) lift the most population out of deficit (ties: the largest
    population-weighted gap closed), with incremental APL updates.

    Parameters
    ----------
    region : engine.region.Region
        The region.
    n_new : int
        Number of sites to choose (a commune may be chosen more than once).
    year : int, optional
        Planning year (default: the supply data year, with every current GP).
    candidates : sequence of str, optional
        INSEE codes of allowed communes (default: every commune).
    objective : {"population_in_deficit", "deficit_gap"}
        What each step maximises.
    gps_per_site : int
        GPs installed at each chosen site (3 to 5 for an MSP).
    activity : float, optional
        Yearly consultations of each new GP (default: the region's default activity).
    retirement_age : float, optional
        Age over which practitioners are assumed gone by ``year`` (default: the
        profession's variant age, 65 for GPs).
    draws, seed : int
        Draws of imputed ages used for the expected supply.
    supply : numpy.ndarray, optional
        Supply per commune to start from instead, e.g. a forecast's mean supply in the
        planning year (:meth:`scenarios.Forecast.supply_in`, with the same baseline);
        ``year`` and ``retirement_age`` are then ignored.
    baseline : Baseline, {"official", "model"}, optional
        The state to start from (default: official where the region has official values).
    progress : callable, optional
        Called as ``progress(done, total)`` after each placement.
    method : {"greedy", "mclp", "lscp"}
        ``"greedy"`` (default): the APL objective above. ``"mclp"`` / ``"lscp"``: an exact
        coverage model instead (:func:`scenarios.siting.exact_installations`, needs the
        ``siting`` extra): cover the population of the communes in deficit within
        ``service_minutes`` of a new site with ``n_new`` distinct sites (MCLP), or with
        the fewest sites, at most ``n_new`` (LSCP); ``objective`` does not apply.
    service_minutes : float
        Coverage radius of the exact methods (default 10 minutes, the full-weight band of
        the DREES decay: an assumption, not an official coverage standard).

    Returns
    -------
    pandas.DataFrame
        One row per site in order: ``rank``, ``code_commune``, ``nom``, ``population`` (of
        the site's commune), ``gps``, ``year`` (the planning year), ``population_lifted``
        (people living in the communes lifted to the threshold or above), ``gap_closed``
        (consultations a year added where access is below the threshold, up to it),
        ``apl_before`` (the site commune's APL before this step), ``population_in_deficit``
        (after the step), ``communes_lifted`` (names, codes and populations) and
        ``n_communes_lifted``.
        The exact methods give ``population_covered`` and ``optimal`` instead of
        ``population_lifted`` and ``gap_closed``.

    Examples
    --------
    >>> from engine.region import load_region  # doctest: +SKIP
    >>> optimize_installations(load_region("corse"), 10, year=2027).head()  # doctest: +SKIP
    """
    if not (isinstance(gps_per_site, (int, np.integer)) and gps_per_site >= 1):
        raise InputError(f"gps_per_site must be a positive integer, got {gps_per_site!r}")
    weights = region.weights
    codes = region.codes
    if candidates is None:
        cand = None
    else:
        index = {c: i for i, c in enumerate(codes)}
        unknown = [c for c in candidates if c not in index]
        if unknown:
            raise InputError(f"candidate commune(s) {unknown[:5]} are not in region {region.name!r}",
                             column="candidates")
        cand = np.array([index[c] for c in candidates], dtype=np.int64)
    prof = region.profession
    base = baseline if isinstance(baseline, Baseline) else make_baseline(region, baseline)
    if year is not None and int(year) < region.year:
        raise InputError(f"planning year {year} is before the data year {region.year} of region "
                         f"{region.name!r}; plan for {region.year} or later", column="year")
    if supply is None and year is None:
        supply = base.supply(region.n_communes)
    elif supply is None:
        limit = prof.variant_max_age if retirement_age is None else retirement_age
        supply = base.expected_supply(region.n_communes, years_ahead=int(year) - region.year,
                                      retirement_age=limit, draws=draws, seed=seed,
                                      profession=prof)
    else:
        supply = np.asarray(supply, dtype=np.float64)
        if supply.shape != (region.n_communes,) or not np.all(np.isfinite(supply)) or (supply < 0).any():
            raise InputError(f"supply must be {region.n_communes} finite non-negative values, one per "
                             "commune", column="supply")
    per_gp = base.new_practitioner_activity(prof, activity)
    if method != "greedy":
        from scenarios.siting import exact_installations

        return exact_installations(region, n_new, method=method, supply=supply,
                                   supply_per_site=per_gp * gps_per_site, gps_per_site=gps_per_site,
                                   service_minutes=service_minutes, candidates=cand,
                                   correction=base.correction)
    apl = base.correction.unclipped(region.apl(supply))
    result = greedy_placement(weights, region.demand, region.population, apl, n_new,
                              supply_per_site=per_gp * gps_per_site, candidates=cand,
                              objective=objective, profession=prof,
                              factor=base.correction.factor, progress=progress)
    cols = result["column"].to_numpy()
    noms = commune_names(region)
    pop = region.population
    result.insert(1, "code_commune", codes[cols])
    result.insert(2, "nom", noms[cols])
    result.insert(3, "population", pop[cols])
    result.insert(4, "gps", gps_per_site)
    result.insert(5, "year", region.year if year is None else int(year))
    result["communes_lifted"] = [
        " ; ".join(f"{noms[r]} ({codes[r]}, {fmt_int(pop[r])} hab.)"
                  for r in sorted(rows, key=lambda r: -pop[r]))
        for rows in result["lifted_rows"]]
    result["n_communes_lifted"] = [len(rows) for rows in result["lifted_rows"]]
    return result.drop(columns=["column", "lifted_rows"])
