"""Accessibility measures beyond floating catchment: gravity, cumulative, cost to the closest
opportunities, constrained accessibility and the rational agent access model (RAAM).

Array-first, like :mod:`engine.apl.fca`: quantities are arrays in matrix order, times a
:class:`~engine.routing.matrix.TravelTimeMatrix`, a ``scipy.sparse`` matrix or a dense
array of minutes from the demand locations (rows ``i``) to the supply locations (columns
``j``); see :mod:`engine.apl.fca` for how unreachable pairs are encoded. Notation:
``W_ij = decay(t_ij)``, ``P_i`` demand (population), ``S_j`` supply (opportunities).

*Active* measures count what can be reached from each row (opportunities at the columns);
*passive* ones (``active=False``) count, for each column, the demand at the rows that reach
it (market potential). Definitions follow IPEA's R package ``accessibility`` (Pereira and
Herszenhut) unless said otherwise, and RAAM follows PySAL ``access``; each function's
notes say which, and ``docs/measures.md`` gives the formulas.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine._validate import (
    finite_vector,
    non_negative_int,
    non_negative_number,
    positive_int,
    positive_number,
    unreached_value,
)
from engine.apl._measure_kernels import closest_costs, cumulative_sums, furness, raam_costs
from engine.apl.fca import (
    as_amounts,
    catchment_weights,
    fill_unreached,
    spatial_availability,
    travel_minutes,
)
from engine.errors import InputError

__all__ = [
    "ConvergenceWarning",
    "DoublyConstrained",
    "cost_to_closest",
    "cumulative_cutoff",
    "cumulative_interval",
    "doubly_constrained",
    "gravity_accessibility",
    "raam",
    "singly_constrained",
    "total_constrained",
]

_SUMMARIES = {"median": np.median, "mean": np.mean, "min": np.min, "max": np.max}


class ConvergenceWarning(UserWarning):
    """An iterative measure stopped at its iteration limit before meeting its tolerance."""


# --------------------------------------------------------------------------- helpers


def _oriented(matrix: sp.csr_matrix, active: bool) -> sp.csr_matrix:
    """Rows = the locations the measure is computed for: demand (active) or supply (passive)."""
    if not isinstance(active, (bool, np.bool_)):
        raise InputError(f"active must be True or False, got {active!r}")
    if active:
        return matrix
    t = matrix.T.tocsr()
    t.sort_indices()
    return t


def _opportunities(values, oriented: sp.csr_matrix, active: bool, *, allow_2d: bool = False
                   ) -> np.ndarray:
    """Opportunities follow the oriented matrix's columns: supply (active) or demand (passive)."""
    side = "the matrix columns (supply locations)" if active else \
        "the matrix rows (demand locations), as active=False"
    return finite_vector(values, "opportunities", size=oriented.shape[1], non_negative=True,
                         allow_2d=allow_2d, what=side)


def _cutoffs(values, name: str) -> tuple[np.ndarray, bool]:
    arr = np.asarray(values, dtype=np.float64)
    scalar = arr.ndim == 0
    arr = np.atleast_1d(arr).ravel()
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(f"{name} must be finite non-negative minutes, got {values!r}")
    return arr, scalar


# --------------------------------------------------------------------------- gravity


def gravity_accessibility(opportunities, times, decay, *, active: bool = True,
                          unreached: float = 0.0) -> np.ndarray:
    """Gravity (Hansen) accessibility: opportunities in reach, weighted by the decay.

    Active: ``A_i = sum_j W_ij S_j``. Passive (``active=False``): ``A_j = sum_i W_ij P_i``,
    the demand that reaches each supply location. As IPEA's ``gravity()`` and PySAL's
    ``Access.weighted_catchment``.

    Parameters
    ----------
    opportunities : array-like of shape (n_supply,) or (n_supply, k)
        What is counted: supply per column (active), or demand per row (passive), with
        shape ``(n_demand,)`` or ``(n_demand, k)``.
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
        Minutes from demand to supply locations.
    decay : Decay or callable
        Distance decay (e.g. :func:`~engine.apl.decay.exponential`).
    active : bool
        Active (per demand location, default) or passive (per supply location).
    unreached : float
        Value where nothing is in reach (no pair with a positive weight): 0.0 (default, as
        IPEA) or ``numpy.nan`` (as PySAL).

    Returns
    -------
    numpy.ndarray of shape (n_demand,) or, passive, (n_supply,) (a second axis of ``k``
    when ``opportunities`` is 2-D)

    Examples
    --------
    >>> import numpy as np
    >>> from engine.apl import exponential
    >>> t = np.array([[0.0, 10.0], [10.0, np.inf]])
    >>> gravity_accessibility([100.0, 50.0], t, exponential(0.1)).round(2)
    array([118.39,  36.79])
    """
    fill = unreached_value(unreached)
    w = _oriented(catchment_weights(times, decay), active)
    o = _opportunities(opportunities, w, active, allow_2d=True)
    return fill_unreached(np.asarray(w @ o, dtype=np.float64), w, fill)


# --------------------------------------------------------------------------- cumulative


def cumulative_cutoff(opportunities, times, cutoff, *, active: bool = True,
                      unreached: float = 0.0) -> np.ndarray:
    """Cumulative opportunities: what is within ``cutoff`` minutes, ``t_ij <= cutoff``.

    Active: ``A_i = sum_j S_j [t_ij <= c]``; passive: ``A_j = sum_i P_i [t_ij <= c]``. As
    IPEA's ``cumulative_cutoff()`` (bound included, like its ``decay_binary()``).

    Parameters
    ----------
    opportunities : array-like of shape (n_supply,), or (n_demand,) when passive
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
    cutoff : float or sequence of float
        Minutes; several cutoffs give one column each.
    active : bool
        Active (per demand location, default) or passive (per supply location).
    unreached : float
        Value where no pair is within the cutoff: 0.0 (default, IPEA) or ``numpy.nan``.

    Returns
    -------
    numpy.ndarray of shape (n,) for one cutoff, (n, n_cutoffs) for several

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 20.0], [35.0, 10.0]])
    >>> cumulative_cutoff([3.0, 5.0], t, [15, 30])
    array([[3., 8.],
           [5., 5.]])
    """
    fill = unreached_value(unreached)
    cuts, scalar = _cutoffs(cutoff, "cutoff")
    m = _oriented(travel_minutes(times), active)
    o = _opportunities(opportunities, m, active)
    order = np.unique(cuts, return_inverse=True)
    sums, counts = cumulative_sums(m.indptr, m.indices, m.data, o, order[0])
    out, reached = sums[:, order[1]], counts[:, order[1]]
    if fill != 0.0:
        out[reached == 0] = fill
    return out[:, 0] if scalar else out


def cumulative_interval(opportunities, times, interval, *, increment: float = 1.0,
                        summary="median", active: bool = True, round_down: bool = False
                        ) -> np.ndarray:
    """Cumulative opportunities summarised over an interval of cutoffs (Tomasiello et al. 2023).

    The cumulative measure at every cutoff ``lo, lo + increment, ..., <= hi``, then its
    ``summary`` (the median by default) over those cutoffs: less sensitive to one arbitrary
    cutoff. As IPEA's ``cumulative_interval()``.

    Parameters
    ----------
    opportunities : array-like of shape (n_supply,), or (n_demand,) when passive
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
    interval : (float, float)
        ``(lo, hi)`` minutes, ``0 <= lo <= hi``.
    increment : float
        Step between cutoffs (minutes, default 1).
    summary : {"median", "mean", "min", "max"} or callable
        Summary over the cutoffs; a callable gets an ``(n, n_cutoffs)`` array and an
        ``axis=1`` keyword, like the numpy reductions.
    active : bool
        Active (per demand location, default) or passive (per supply location).
    round_down : bool
        Round the summary down to a whole number, as IPEA does (it returns integers: one
        cannot reach part of a job). Default False: supply in consultations is not a count.

    Returns
    -------
    numpy.ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[5.0, 12.0, 18.0]])
    >>> cumulative_interval([1.0, 1.0, 1.0], t, (10, 20), summary="mean").round(3)
    array([2.091])
    """
    try:
        lo, hi = (float(x) for x in interval)
    except (TypeError, ValueError):
        raise InputError(f"interval must be two numbers of minutes (lo, hi), got {interval!r}"
                         ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
        raise InputError(f"interval must satisfy 0 <= lo <= hi (finite minutes), got {interval!r}")
    step = positive_number(increment, "increment")
    if callable(summary):
        reduce = summary
    elif summary in _SUMMARIES:
        reduce = _SUMMARIES[summary]
    else:
        raise InputError(f"summary must be one of {tuple(_SUMMARIES)} or a callable, got {summary!r}")
    # As R's seq.int(lo, hi, by = step): lo + k * step up to hi, with a little slack for
    # binary fractions such as 0.1.
    cuts = lo + step * np.arange(int(math.floor((hi - lo) / step + 1e-10)) + 1)
    values = cumulative_cutoff(opportunities, times, cuts, active=active)
    out = np.asarray(reduce(values, axis=1), dtype=np.float64)
    return np.floor(out) if round_down else out


# --------------------------------------------------------------------------- cost to closest


def cost_to_closest(opportunities, times, n=1, *, active: bool = True) -> np.ndarray:
    """Minutes to the closest ``n`` opportunities (``inf`` where they are out of reach).

    ``n = 1``: the time to the nearest location holding any opportunity (a positive
    quantity). ``n > 1``: the least time within which the opportunities add up to at least
    ``n`` (locations sorted by time, quantities cumulated). As IPEA's ``cost_to_closest()``.
    Passive: the time within which ``n`` people (demand) reach each supply location.

    Parameters
    ----------
    opportunities : array-like of shape (n_supply,), or (n_demand,) when passive
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
    n : float or sequence of float
        Number of opportunities, ``>= 1``; several give one column each.
    active : bool
        Active (per demand location, default) or passive (per supply location).

    Returns
    -------
    numpy.ndarray of shape (n_rows,) for one ``n``, (n_rows, len(n)) for several

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[3.0, 8.0, 1.0]])
    >>> cost_to_closest([2.0, 2.0, 0.0], t, [1, 3, 5])
    array([[ 3.,  8., inf]])
    """
    arr = np.asarray(n, dtype=np.float64)
    scalar = arr.ndim == 0
    targets = np.atleast_1d(arr).ravel()
    if targets.size == 0 or not np.all(np.isfinite(targets)) or np.any(targets < 1):
        raise InputError(f"n must be finite numbers of opportunities >= 1, got {n!r}")
    m = _oriented(travel_minutes(times), active)
    o = _opportunities(opportunities, m, active)
    out = closest_costs(m.indptr, m.indices, m.data, o, targets)
    return out[:, 0] if scalar else out


# --------------------------------------------------------------------------- constrained


def total_constrained(opportunities, times, decay, *, active: bool = True) -> np.ndarray:
    """Total-constrained accessibility (Soukhov et al. 2025): the region's total, shared.

    Active: ``A_i = O * sum_j S_j W_ij / sum_kl S_l W_kl`` with ``O = sum_j S_j``, so the
    results add up to the total supply. Passive: the same with demand, per supply location.
    As IPEA's ``constrained_accessibility(constraint = "total")``.

    Parameters
    ----------
    opportunities : array-like of shape (n_supply,), or (n_demand,) when passive
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
    decay : Decay or callable
    active : bool

    Returns
    -------
    numpy.ndarray of shape (n_demand,), or (n_supply,) when passive
        All 0 when no pair has a positive weight.

    Notes
    -----
    ``O`` sums every column (row when passive) of the matrix; IPEA sums the locations that
    appear in its travel matrix, which is the same unless a location has no pair at all.

    Examples
    --------
    >>> import numpy as np
    >>> from engine.apl import exponential
    >>> t = np.array([[0.0, 10.0], [10.0, 0.0]])
    >>> float(total_constrained([100.0, 50.0], t, exponential(0.1)).sum())
    150.0
    """
    w = _oriented(catchment_weights(times, decay), active)
    o = _opportunities(opportunities, w, active)
    reached = np.asarray(w @ o, dtype=np.float64)
    system = reached.sum()
    if system <= 0:
        return np.zeros(w.shape[0])
    return reached * (o.sum() / system)


def singly_constrained(demand, supply, times, decay, *, active: bool = True) -> np.ndarray:
    """Singly-constrained accessibility (Wilson 1971; Soukhov et al. 2023, 2025).

    Active (supply-constrained, per demand location): each supply ``S_j`` is shared among
    the demand locations in proportion to ``P_i W_ij``, which is spatial availability
    (:func:`~engine.apl.fca.spatial_availability` with ``alpha=1``):
    ``V_i = sum_j S_j P_i W_ij / sum_k P_k W_kj``. Passive (demand-constrained, per supply
    location): each demand ``P_i`` is shared among the supply locations in proportion to
    ``S_j W_ij``: ``M_j = sum_i P_i S_j W_ij / sum_l S_l W_il``. The active results add up
    to the supply in reach of some demand, the passive ones to the demand in reach of some
    supply. As IPEA's ``constrained_accessibility(constraint = "singly")``.

    Parameters
    ----------
    demand : array-like of shape (n_demand,)
    supply : array-like of shape (n_supply,)
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
    decay : Decay or callable
    active : bool

    Returns
    -------
    numpy.ndarray of shape (n_demand,), or (n_supply,) when passive

    Examples
    --------
    >>> import numpy as np
    >>> from engine.apl import exponential
    >>> t = np.array([[0.0, 10.0], [10.0, 0.0]])
    >>> float(singly_constrained([10.0, 5.0], [100.0, 50.0], t, exponential(0.1),
    ...                          active=False).sum())
    15.0
    """
    if not isinstance(active, (bool, np.bool_)):
        raise InputError(f"active must be True or False, got {active!r}")
    if active:
        return spatial_availability(demand, supply, times, decay)
    w = catchment_weights(times, decay)
    p = as_amounts(demand, w.shape[0], "demand")
    s = as_amounts(supply, w.shape[1], "supply")
    row = np.asarray(w @ s, dtype=np.float64)
    share = np.divide(p, row, out=np.zeros_like(p), where=row > 0)
    return s * np.asarray(w.T @ share, dtype=np.float64)


@dataclass(frozen=True)
class DoublyConstrained:
    """Flows of the doubly-constrained gravity model (:func:`doubly_constrained`).

    Attributes
    ----------
    flows : scipy.sparse.csr_matrix
        ``T_ij = A_i P_i B_j S_j W_ij``, rows demand, columns supply.
    origin_factors, destination_factors : numpy.ndarray
        The balancing factors ``A_i`` and ``B_j`` (0 where a location reaches nothing).
    error : float
        ``(sum_i |P_i - T_i.| + sum_j |S_j - T_.j|) / sum_i P_i`` at the last iteration.
    iterations : int
    converged : bool
        Whether ``error < tol``.
    """

    flows: sp.csr_matrix
    origin_factors: np.ndarray
    destination_factors: np.ndarray
    error: float
    iterations: int
    converged: bool


def doubly_constrained(demand, supply, times, decay, *, tol: float = 1e-9,
                       improvement_tol: float = 1e-12, max_iterations: int = 1000
                       ) -> DoublyConstrained:
    """Doubly-constrained accessibility (Wilson 1971; Soukhov et al. 2025): balanced flows.

    Finds ``A_i`` and ``B_j`` such that the flows ``T_ij = A_i P_i B_j S_j W_ij`` add up to
    ``P_i`` over each row and to ``S_j`` over each column, by iterative proportional
    fitting (Furness): ``A_i = 1 / sum_j B_j S_j W_ij`` then ``B_j = 1 / sum_i A_i P_i W_ij``,
    from ``B = 1``, until the relative marginal error is under ``tol``. As IPEA's
    ``constrained_accessibility(constraint = "doubly")``, whose defaults stop much earlier
    (``error_threshold = 0.001``, ``improvement_threshold = 1e-6``): pass ``tol=1e-3,
    improvement_tol=1e-6`` to stop where it stops.

    Parameters
    ----------
    demand : array-like of shape (n_demand,)
    supply : array-like of shape (n_supply,)
        Must add up to the total demand (relative difference under 1e-9).
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
    decay : Decay or callable
    tol : float
        Stop when the error is below this.
    improvement_tol : float
        Also stop when the error changes by less than this between iterations: it has
        stalled (0: never).
    max_iterations : int
        Stop after this many iterations.

    Returns
    -------
    DoublyConstrained

    Raises
    ------
    InputError
        When demand and supply totals differ.

    Warns
    -----
    ConvergenceWarning
        When it stops with the error still over ``tol``; typically some demand reaches no
        supply or some supply no demand, and their totals cannot be met.

    Examples
    --------
    >>> import numpy as np
    >>> from engine.apl import exponential
    >>> t = np.array([[10.0, 30.0, 15.0], [30.0, 10.0, 25.0], [15.0, 25.0, 10.0]])
    >>> res = doubly_constrained([4.0, 10.0, 6.0], [7.0, 5.0, 8.0], t, exponential(0.1))
    >>> np.asarray(res.flows.sum(axis=1)).ravel().round(6)
    array([ 4., 10.,  6.])
    """
    w = catchment_weights(times, decay)
    p = as_amounts(demand, w.shape[0], "demand")
    s = as_amounts(supply, w.shape[1], "supply")
    tp, ts = p.sum(), s.sum()
    if abs(tp - ts) > 1e-9 * max(tp, ts, 1.0):
        raise InputError(f"doubly-constrained flows need total demand = total supply; got "
                         f"{tp:,.6g} and {ts:,.6g} (rescale one of them)")
    tol = non_negative_number(tol, "tol")
    improvement_tol = non_negative_number(improvement_tol, "improvement_tol")
    max_iterations = positive_int(max_iterations, "max_iterations")
    wt = w.T.tocsr()
    wt.sort_indices()
    a, b, error, iterations, reason = furness(w.indptr, w.indices, w.data, wt.indptr,
                                              wt.indices, wt.data, p, s, tol,
                                              improvement_tol, max_iterations)
    if not error < tol:
        stuck_rows = int(((p > 0) & (np.asarray(w @ s).ravel() == 0)).sum())
        stuck_cols = int(((s > 0) & (np.asarray(wt @ p).ravel() == 0)).sum())
        why = ("it stalled" if reason == 1 else f"max_iterations={max_iterations} was reached")
        warnings.warn(f"doubly_constrained stopped after {iterations} iterations ({why}) with "
                      f"error {error:.3g} >= tol {tol:g}; {stuck_rows} demand location(s) reach "
                      f"no supply and {stuck_cols} supply location(s) no demand, so their totals "
                      "cannot be met", ConvergenceWarning, stacklevel=2)
    rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
    flows = sp.csr_matrix(((a * p)[rows] * (b * s)[w.indices] * w.data, w.indices, w.indptr),
                          shape=w.shape)
    return DoublyConstrained(flows, a, b, float(error), int(iterations), bool(error < tol))


# --------------------------------------------------------------------------- RAAM


def raam(demand, supply, times, *, tau: float = 60.0, rho: float | None = None,
         max_cycles: int = 150, initial_step: float = 0.2, min_step: float = 0.005,
         half_life: float = 50.0, limit_initial: int = 20, absolute_steps: bool = False
         ) -> np.ndarray:
    """Rational Agent Access Model (Saxon and Snow 2019): travel plus congestion cost.

    Each person picks the supply location minimising ``t_ij / tau + D_j / (rho S_j)``,
    travel plus congestion, where ``D_j`` is the demand assigned to ``j`` and ``rho`` the
    mean demand-to-supply ratio; the assignment is iterated towards that equilibrium. The
    result is each origin's mean total cost (lower is better), in units of ``tau``: 1 is
    ``tau`` minutes of travel, or a site as congested as the region on average. This is
    PySAL ``access``'s ``Access.raam`` algorithm, step for step (its integer moves and
    damping), so results equal it to rounding.

    Parameters
    ----------
    demand : array-like of shape (n_demand,)
        People per origin (PySAL moves whole people: give counts).
    supply : array-like of shape (n_supply,)
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
        Minutes; pairs absent from the matrix are not options.
    tau : float
        Minutes of travel worth a congestion of one mean demand-to-supply ratio.
    rho : float, optional
        Demand-to-supply scale (default ``sum P / sum S`` over positive values).
    max_cycles, initial_step, min_step, half_life, limit_initial :
        PySAL's iteration settings: cycles; the largest move per cycle as a share of each
        origin's demand, ``initial_step * 0.5 ** (cycle / half_life)`` but not under
        ``min_step``; cycles during which moves to a site are scaled down so that none
        receives more than its capacity at once.
    absolute_steps : bool
        Steps in people rather than shares of demand (PySAL does this when its
        ``initial_step`` is an ``int``).

    Returns
    -------
    numpy.ndarray of shape (n_demand,)
        ``NaN`` where demand is 0 (as PySAL), ``inf`` where no supply is in reach.

    Notes
    -----
    PySAL assigns an origin with no site in its cost table to its first site anyway; here
    it stays out of the assignment (cost ``inf``).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 60.0], [60.0, 0.0]])
    >>> raam([10.0, 10.0], [1.0, 1.0], t).round(3)
    array([1., 1.])
    """
    m = travel_minutes(times)
    p = as_amounts(demand, m.shape[0], "demand")
    s = as_amounts(supply, m.shape[1], "supply")
    tau = positive_number(tau, "tau")
    initial_step = positive_number(initial_step, "initial_step")
    half_life = positive_number(half_life, "half_life")
    min_step = non_negative_number(min_step, "min_step")
    max_cycles = non_negative_int(max_cycles, "max_cycles")
    limit_initial = non_negative_int(limit_initial, "limit_initial")
    rows = np.flatnonzero(p > 0)
    cols = np.flatnonzero(s > 0)
    out = np.full(m.shape[0], np.nan)
    if len(rows) == 0:
        return out
    if len(cols) == 0:
        out[rows] = np.inf
        return out
    rho = p[rows].sum() / s[cols].sum() if rho is None else positive_number(rho, "rho")
    sub = m[rows][:, cols]
    dense = np.full(sub.shape, np.inf)
    r_idx = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    dense[r_idx, sub.indices] = sub.data / tau
    ok = np.isfinite(dense).any(axis=1)
    out[rows[~ok]] = np.inf
    if ok.any():
        out[rows[ok]] = raam_costs(p[rows[ok]], s[cols] * rho, dense[ok], max_cycles,
                                      initial_step, min_step, half_life, limit_initial,
                                      absolute_steps)
    return out
