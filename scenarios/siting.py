"""Facility siting on travel-time matrices: coverage and p-median, exact or greedy.

Three classic location models, each solved exactly by integer programming through spopt
(PySAL's spatial optimisation library, with PuLP's bundled CBC solver; install the
``siting`` extra: ``pip install -e ".[siting]"``) or by a fast greedy heuristic:

- :func:`maximal_covering` (MCLP, Church and ReVelle 1974): ``n_sites`` sites covering the
  most demand within ``service_minutes``;
- :func:`set_covering` (LSCP, Toregas et al. 1971): the fewest sites covering every
  demand location that some candidate can cover;
- :func:`p_median` (Hakimi 1964; ReVelle and Swain 1970): ``n_sites`` sites minimising
  the demand-weighted time to the nearest one.

Times go from demand locations (rows) to candidate sites (columns), in minutes, as for the
accessibility measures (:class:`~engine.routing.matrix.TravelTimeMatrix`, sparse or dense;
absent = unreachable). :func:`exact_installations` applies the coverage models to a
region's GP installations, as ``method=`` of
:func:`scenarios.optimize.optimize_installations`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine._validate import finite_vector, non_negative_number
from engine.apl import catchment_weights, cumulative, travel_minutes
from engine.errors import InputError
from scenarios.labels import commune_names

__all__ = [
    "EXACT_METHODS",
    "Siting",
    "exact_installations",
    "maximal_covering",
    "p_median",
    "set_covering",
]

#: ``method=`` values of :func:`scenarios.optimize.optimize_installations` solved here.
EXACT_METHODS = ("mclp", "lscp")

_METHODS = ("exact", "greedy")


@dataclass(frozen=True)
class Siting:
    """A chosen set of sites.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen columns of the matrix, in the order chosen (greedy) or ascending (exact).
    objective : float
        Demand covered (MCLP), number of sites (LSCP), or demand-weighted minutes to the
        nearest site (p-median).
    covered : numpy.ndarray of bool
        Demand rows within ``service_minutes`` of a chosen site (coverage models), or
        rows with a finite time to one (p-median).
    method : str
        ``"exact"`` or ``"greedy"``.
    optimal : bool
        The solver proved the solution optimal (always False for greedy).
    seconds : float
        Wall time of the solve (model building included).
    """

    sites: np.ndarray
    objective: float
    covered: np.ndarray
    method: str
    optimal: bool
    seconds: float


# --------------------------------------------------------------------------- inputs


def _check_method(method: str) -> None:
    if method not in _METHODS:
        raise InputError(f"method must be one of {_METHODS}, got {method!r}")


def _candidates(candidates, n_cols: int) -> np.ndarray:
    if candidates is None:
        return np.arange(n_cols)
    cand = np.unique(np.asarray(candidates, dtype=np.int64))
    if cand.size == 0 or cand.min() < 0 or cand.max() >= n_cols:
        raise InputError(f"candidates must be column indices in [0, {n_cols}), got {candidates!r}")
    return cand


def _weights(values, n: int) -> np.ndarray:
    return finite_vector(values, "weights", size=n, non_negative=True, what="the matrix rows")


def _coverage(times, service_minutes: float) -> sp.csc_matrix:
    """``a_ij = 1`` where demand ``i`` is within ``service_minutes`` of column ``j``: the
    weights of a cumulative (plain 2SFCA) catchment of that radius."""
    radius = non_negative_number(service_minutes, "service_minutes")
    return catchment_weights(times, cumulative(radius)).tocsc()


def _problem(times, weights, candidates, n_sites):
    """The minutes, demand weights, candidate columns and site count of a p-site model."""
    m = travel_minutes(times)
    cand = _candidates(candidates, m.shape[1])
    return m, _weights(weights, m.shape[0]), cand, _n_sites(n_sites, len(cand))


def _n_sites(n_sites, n_cand: int) -> int:
    if not (isinstance(n_sites, (int, np.integer)) and 1 <= n_sites <= n_cand):
        raise InputError(f"n_sites must be an integer between 1 and the {n_cand} candidates, "
                         f"got {n_sites!r}")
    return int(n_sites)


def _solver(time_limit: float | None):
    try:
        import pulp
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise InputError('exact siting needs spopt and PuLP: pip install -e ".[siting]"') from None
    return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)


def _spopt():
    try:
        from spopt import locate
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise InputError('exact siting needs spopt and PuLP: pip install -e ".[siting]"') from None
    return locate


def _chosen(model) -> np.ndarray:
    return np.array([j for j, v in enumerate(model.fac_vars) if v.value() is not None
                     and v.value() > 0.5], dtype=np.int64)


def _is_optimal(model) -> bool:
    import pulp

    return pulp.LpStatus[model.problem.status] == "Optimal"


# --------------------------------------------------------------------------- greedy kernels


def _greedy_cover(a: sp.csc_matrix, w: np.ndarray, n_sites: int | None) -> np.ndarray:
    """Add the site covering the most uncovered weight (ties: lowest column) until
    ``n_sites`` are chosen, or, with ``n_sites=None``, until no site adds anything."""
    ar = a.tocsr()
    gain = np.asarray(a.T @ w, dtype=np.float64).ravel()
    uncovered = np.ones(a.shape[0], dtype=bool)
    chosen: list[int] = []
    while n_sites is None or len(chosen) < n_sites:
        j = int(np.argmax(gain))
        if n_sites is None and gain[j] <= 0:
            break
        chosen.append(j)
        rows = a.indices[a.indptr[j]:a.indptr[j + 1]]
        new = rows[uncovered[rows]]
        uncovered[new] = False
        for i in new:  # the sites that also covered a newly covered row lose its weight
            cols = ar.indices[ar.indptr[i]:ar.indptr[i + 1]]
            gain[cols] -= w[i]
        gain[j] = -np.inf  # never twice
    return np.array(chosen, dtype=np.int64)


# --------------------------------------------------------------------------- models


def maximal_covering(times, weights, n_sites: int, service_minutes: float, *,
                     method: str = "exact", candidates=None, time_limit: float | None = None
                     ) -> Siting:
    """Maximal covering location (MCLP): ``n_sites`` sites covering the most demand.

    Maximise ``sum_i w_i y_i`` subject to ``y_i <= sum_{j: t_ij <= r} x_j`` and
    ``sum_j x_j = n_sites`` (Church and ReVelle 1974), ``r = service_minutes``.

    Parameters
    ----------
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_cols)
        Minutes from demand locations to candidate sites.
    weights : array-like of shape (n_demand,)
        Demand to cover (population).
    n_sites : int
        Number of sites to open.
    service_minutes : float
        Coverage radius: a demand location is covered by a site within this time (bound
        included, as spopt).
    method : {"exact", "greedy"}
        Integer programme through spopt (``spopt.locate.MCLP``, CBC), or greedy: add the
        site covering the most uncovered demand, ``n_sites`` times (a ``1 - 1/e``
        approximation; ties go to the lowest column).
    candidates : array-like of int, optional
        Columns allowed as sites (default all).
    time_limit : float, optional
        Seconds allowed to the solver (exact); ``optimal`` tells whether it proved the
        optimum.

    Returns
    -------
    Siting
        ``sites`` are matrix columns.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 30.0, 9.0], [30.0, 0.0, 12.0], [9.0, 12.0, 0.0]])
    >>> maximal_covering(t, [10, 20, 5], 1, 10.0, method="greedy").sites
    array([1])
    """
    _check_method(method)
    start = time.perf_counter()
    m, w, cand, p = _problem(times, weights, candidates, n_sites)
    return _maximal_covering(_coverage(m, service_minutes), w, p, cand, method, time_limit,
                             start)


def _maximal_covering(coverage: sp.csc_matrix, w: np.ndarray, p: int, cand: np.ndarray,
                      method: str, time_limit: float | None, start: float) -> Siting:
    """:func:`maximal_covering` on a coverage matrix of every column (see :func:`_coverage`)."""
    a = coverage[:, cand].tocsc()
    if method == "greedy":
        local, optimal = _greedy_cover(a, w, p), False
    else:
        locate = _spopt()
        model = locate.MCLP.from_cost_matrix(_dense_cover_cost(a), w, service_radius=0.5,
                                             p_facilities=p)
        model.solve(_solver(time_limit), results=False)
        local, optimal = _chosen(model), _is_optimal(model)
    covered = np.asarray(a[:, local].sum(axis=1)).ravel() > 0
    return Siting(cand[local], float(w[covered].sum()), covered, method, optimal,
                  time.perf_counter() - start)


def set_covering(times, service_minutes: float, *, weights=None, method: str = "exact",
                 candidates=None, time_limit: float | None = None) -> Siting:
    """Location set covering (LSCP): the fewest sites covering every coverable demand.

    Minimise ``sum_j x_j`` subject to ``sum_{j: t_ij <= r} x_j >= 1`` for every demand
    location ``i`` to cover (Toregas, Swain, ReVelle and Bergman 1971). Demand locations
    that no candidate reaches within ``r`` cannot be covered and are left out (they are
    False in ``covered``).

    Parameters
    ----------
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_cols)
    service_minutes : float
    weights : array-like of shape (n_demand,), optional
        Only rows with a positive weight need covering (default: all rows).
    method : {"exact", "greedy"}
        spopt's ``LSCP`` (CBC), or greedy set cover (the site covering the most
        still-uncovered demand locations, counted by number, until all are covered).
    candidates : array-like of int, optional
    time_limit : float, optional

    Returns
    -------
    Siting
        ``objective`` is the number of sites.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 30.0, 9.0], [30.0, 0.0, 12.0], [9.0, 12.0, 0.0]])
    >>> set_covering(t, 10.0, method="greedy").sites
    array([0, 1])
    """
    _check_method(method)
    start = time.perf_counter()
    m = travel_minutes(times)
    need = np.ones(m.shape[0], dtype=bool) if weights is None else \
        _weights(weights, m.shape[0]) > 0
    cand = _candidates(candidates, m.shape[1])
    return _set_covering(_coverage(m, service_minutes), need, cand, method, time_limit, start)


def _set_covering(coverage: sp.csc_matrix, need: np.ndarray, cand: np.ndarray, method: str,
                  time_limit: float | None, start: float) -> Siting:
    """:func:`set_covering` on a coverage matrix of every column (see :func:`_coverage`)."""
    a = coverage[:, cand].tocsc()
    coverable = need & (np.diff(a.tocsr().indptr) > 0)
    rows = np.flatnonzero(coverable)
    if len(rows) == 0:
        return Siting(np.empty(0, np.int64), 0.0, coverable, method, method == "exact",
                      time.perf_counter() - start)
    sub = a[rows].tocsc()
    if method == "greedy":
        local, optimal = _greedy_cover(sub, np.ones(len(rows)), None), False
    else:
        locate = _spopt()
        model = locate.LSCP.from_cost_matrix(_dense_cover_cost(sub), service_radius=0.5)
        model.solve(_solver(time_limit), results=False)
        local, optimal = _chosen(model), _is_optimal(model)
    covered = np.asarray(a[:, local].sum(axis=1)).ravel() > 0
    return Siting(cand[local], float(len(local)), covered & need, method, optimal,
                  time.perf_counter() - start)


def p_median(times, weights, n_sites: int, *, method: str = "exact", candidates=None,
             time_limit: float | None = None) -> Siting:
    """p-median: ``n_sites`` sites minimising the demand-weighted time to the nearest one.

    Minimise ``sum_ij w_i t_ij z_ij`` with each demand assigned to one open site
    (``sum_j z_ij = 1``, ``z_ij <= x_j``, ``sum_j x_j = n_sites``; ReVelle and Swain 1970).

    Parameters
    ----------
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_cols)
        Every demand location with a positive weight must reach every candidate: route
        without a time bound (``engine.travel_times(..., max_minutes=None)``).
    weights : array-like of shape (n_demand,)
    n_sites : int
    method : {"exact", "greedy"}
        spopt's ``PMedian`` (CBC), or greedy: add the site that lowers the objective most,
        ``n_sites`` times.
    candidates : array-like of int, optional
    time_limit : float, optional

    Returns
    -------
    Siting
        ``objective`` in demand x minutes.

    Raises
    ------
    InputError
        When a weighted demand location cannot reach a candidate.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 30.0, 9.0], [30.0, 0.0, 12.0], [9.0, 12.0, 0.0]])
    >>> p_median(t, [10, 20, 5], 1, method="greedy").objective  # site 2: 10*9 + 20*12 + 5*0
    330.0
    """
    _check_method(method)
    start = time.perf_counter()
    m, w, cand, p = _problem(times, weights, candidates, n_sites)
    dense = np.full((m.shape[0], len(cand)), np.inf)
    sub = m[:, cand].tocsr()
    dense[np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr)), sub.indices] = sub.data
    rows = np.flatnonzero(w > 0)
    gaps = ~np.isfinite(dense[rows])
    if gaps.any():
        i, j = np.argwhere(gaps)[0]
        raise InputError(f"demand row {int(rows[i])} has no time to candidate column "
                         f"{int(cand[j])}; p-median needs every pair: route without a bound",
                         row=int(rows[i]))
    cost = dense[rows]
    wr = w[rows]
    if method == "greedy":
        local = _greedy_median(cost, wr, p)
        optimal = False
    else:
        locate = _spopt()
        model = locate.PMedian.from_cost_matrix(cost, wr, p_facilities=p)
        model.solve(_solver(time_limit), results=False)
        local, optimal = _chosen(model), _is_optimal(model)
    objective = float(wr @ cost[:, local].min(axis=1)) if len(rows) else 0.0
    covered = np.zeros(m.shape[0], dtype=bool)
    covered[rows] = True
    return Siting(cand[local], objective, covered, method, optimal, time.perf_counter() - start)


def _greedy_median(cost: np.ndarray, w: np.ndarray, n_sites: int) -> np.ndarray:
    """Add the column that lowers ``sum_i w_i min_j cost_ij`` most, ``n_sites`` times."""
    best = np.full(cost.shape[0], np.inf)
    chosen: list[int] = []
    for _ in range(n_sites):
        with np.errstate(invalid="ignore"):
            totals = w @ np.minimum(best[:, None], cost)
        totals[chosen] = np.inf
        j = int(np.argmin(totals))
        chosen.append(j)
        best = np.minimum(best, cost[:, j])
    return np.array(chosen, dtype=np.int64)


def _dense_cover_cost(a: sp.csc_matrix) -> np.ndarray:
    """A 0/1 cost matrix whose pairs within radius 0.5 are exactly the coverage ``a``.

    spopt builds its coverage as ``cost <= radius``; handing it 0 (covered) and 1 keeps
    the single definition of coverage here (bound included, absent pairs never).
    """
    return np.where(a.toarray() > 0, 0.0, 1.0)


# --------------------------------------------------------------------------- regions


def exact_installations(region, n_new: int, *, method: str, supply: np.ndarray,
                        supply_per_site: float, gps_per_site: int, service_minutes: float,
                        correction, candidates: np.ndarray | None = None) -> pd.DataFrame:
    """GP installations by an exact coverage model, in the optimizer's table layout.

    The demand to cover is the population of the communes in deficit (APL under the
    profession's deficit threshold, 2.5 for GPs) at the starting ``supply``; a commune is covered by a new site within ``service_minutes``.
    ``"mclp"`` opens ``n_new`` distinct sites covering the most of it; ``"lscp"`` the
    fewest sites covering all of it that can be covered, at most ``n_new``.

    Parameters
    ----------
    region : engine.region.Region
    n_new : int
        Sites to open (MCLP), or the most allowed (LSCP).
    method : {"mclp", "lscp"}
    supply : numpy.ndarray
        Supply per commune before the installations.
    supply_per_site : float
        Supply added at each site (consultations a year).
    gps_per_site : int
        Reported in the ``gps`` column.
    service_minutes : float
        Coverage radius in minutes.
    correction : engine.apl.calibration.Correction
        The baseline's correction, applied to the engine's APL (the identity for the model
        baseline).
    candidates : numpy.ndarray, optional
        Allowed commune (column) indices.

    Returns
    -------
    pandas.DataFrame
        One row per site, largest coverage first: ``rank``, ``code_commune``, ``nom``,
        ``gps``, ``population_covered`` (deficit population this site covers that no
        earlier row covers), ``population_in_deficit`` (after the installations so far,
        APL recomputed), ``optimal`` (the solver proved the optimum).

    Raises
    ------
    InputError
        On an unknown method, or when LSCP needs more than ``n_new`` sites.
    """
    if method not in EXACT_METHODS:
        raise InputError(f"method must be 'greedy' or one of {EXACT_METHODS}, got {method!r}")
    threshold = region.profession.zoning.deficit_threshold
    times = region.commune_times()
    pop = region.population

    def apl_of(s):
        return correction.apply(region.apl(s))

    deficit = np.where(apl_of(supply) < threshold, pop, 0.0)
    start = time.perf_counter()
    a = _coverage(times, service_minutes)
    cand = _candidates(candidates, a.shape[1])
    if method == "mclp":
        result = _maximal_covering(a, _weights(deficit, a.shape[0]),
                                   _n_sites(n_new, len(cand)), cand, "exact", None, start)
    else:
        result = _set_covering(a, _weights(deficit, a.shape[0]) > 0, cand, "exact", None, start)
        if len(result.sites) > n_new:
            raise InputError(f"covering every deficit commune within {service_minutes:g} min "
                             f"needs {len(result.sites)} sites, more than n_new={n_new}; "
                             "raise n_new or use method='mclp'", column="n_new")
    own = np.array([deficit[a[:, j].indices].sum() for j in result.sites])
    codes = region.codes
    noms = commune_names(region)
    rows, done, s = [], np.zeros(region.n_communes, dtype=bool), np.array(supply, dtype=float)
    for rank, j in enumerate(result.sites[np.argsort(-own, kind="stable")], start=1):
        reach = a[:, j].indices
        gained = deficit[reach][~done[reach]].sum()
        done[reach] = True
        s[j] += supply_per_site
        after = apl_of(s)
        rows.append({"rank": rank, "code_commune": codes[j], "nom": noms[j], "gps": gps_per_site,
                     "population_covered": float(gained),
                     "population_in_deficit": float(pop[after < threshold].sum()),
                     "optimal": result.optimal})
    return pd.DataFrame(rows, columns=["rank", "code_commune", "nom", "gps", "population_covered",
                                       "population_in_deficit", "optimal"])
