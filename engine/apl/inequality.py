"""Inequality and poverty of an accessibility distribution, weighted by population.

One value per zone (commune, hexagon...) with the zone's population as weight, as IPEA's R
package ``accessibility`` defines them (its ``gini_index``, ``palma_ratio``, ``theil_t``,
``concentration_index`` and ``fgt_poverty``); ``docs/measures.md`` gives the formulas.
Notation: ``x_i`` accessibility, ``p_i`` population, ``mu = sum p_i x_i / sum p_i``.

Zones with no population count for nothing; their income may be NaN (IPEA's data has no
income where nobody lives). Accessibility must be a number everywhere: compute it with
``unreached=0.0`` (the default), not NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine._validate import finite_vector, non_negative_number, positive_number
from engine.errors import InputError

__all__ = [
    "TheilDecomposition",
    "concentration_index",
    "fgt_poverty",
    "gini_index",
    "palma_ratio",
    "theil_t",
    "weighted_quantile",
]


# --------------------------------------------------------------------------- validation


def _values(values, name: str = "values") -> np.ndarray:
    return finite_vector(values, name, hint="accessibility must be finite for every zone "
                         "(compute it with unreached=0.0)")


def _population(population, n: int) -> np.ndarray:
    p = finite_vector(population, "population", size=n, non_negative=True,
                      what="one value per zone")
    if not p.sum() > 0:
        raise InputError("population adds up to 0: nobody to weight the index with")
    return p


def _income(income, population: np.ndarray) -> np.ndarray:
    y = np.asarray(income, dtype=np.float64)
    if y.shape != population.shape:
        raise InputError(f"income must have one value per zone ({len(population)}), got shape "
                         f"{y.shape}")
    bad = ~np.isfinite(y) & (population > 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"income[{i}] = {y[i]!r} where population is {population[i]:g}; income "
                         "may be missing only where nobody lives", row=i, column="income")
    return y


# --------------------------------------------------------------------------- indices


def weighted_quantile(values, weights, probs) -> np.ndarray:
    """Weighted quantiles, as R's ``Hmisc::wtd.quantile`` (``type = "quantile"``).

    Values with a zero or missing weight, and missing values, are dropped; the rest are
    sorted and their weights cumulated to ``c_1 < ... < c_K`` (total ``n``). With
    ``h = 1 + (n - 1) p`` the quantile interpolates between the order statistics at
    ``floor(h)`` and ``floor(h) + 1``, the order statistic at position ``r`` being the
    first value whose cumulated weight reaches ``r``. With unit weights this is numpy's
    default (linear) quantile. IPEA's ``palma_ratio`` cuts incomes with it.

    Parameters
    ----------
    values : array-like of shape (n,)
    weights : array-like of shape (n,)
        Non-negative weights (population).
    probs : float or array-like of float in [0, 1]

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> weighted_quantile([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], [0.4, 0.9]).round(2)
    array([2.2, 3.7])
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if x.shape != w.shape or x.ndim != 1:
        raise InputError(f"values and weights must be 1-D of the same length, got {x.shape} "
                         f"and {w.shape}")
    pr = np.asarray(probs, dtype=np.float64)
    if np.any(~np.isfinite(pr)) or np.any((pr < 0) | (pr > 1)):
        raise InputError(f"probs must lie in [0, 1], got {probs!r}")
    keep = np.isfinite(x) & np.isfinite(w) & (w != 0)
    if np.any(w[keep] < 0):
        raise InputError("weights must be >= 0")
    if not keep.any():
        raise InputError("no value with a positive weight")
    levels, inverse = np.unique(x[keep], return_inverse=True)
    cum = np.cumsum(np.bincount(inverse, weights=w[keep]))
    total = cum[-1]
    order = 1.0 + (total - 1.0) * np.atleast_1d(pr)
    low = np.maximum(np.floor(order), 1.0)
    high = np.minimum(low + 1.0, total)
    frac = order % 1.0

    def at(position):
        return levels[np.minimum(np.searchsorted(cum, position, side="left"), len(levels) - 1)]

    out = (1.0 - frac) * at(low) + frac * at(high)
    return float(out[0]) if pr.ndim == 0 else out


def gini_index(values, population) -> float:
    """Gini index of accessibility: 0 when everybody has the same, towards 1 when a few have all.

    Zones sorted by accessibility; ``L_k`` the share of total accessibility ``sum p x`` held
    by the first ``k``, ``s_k = p_k / sum p``: ``G = 1 - sum_k s_k (L_{k-1} + L_k)``, one
    minus twice the area under the Lorenz curve (trapezoids), as IPEA's ``gini_index``.

    Parameters
    ----------
    values : array-like of shape (n,)
        Accessibility per zone.
    population : array-like of shape (n,)

    Returns
    -------
    float
        NaN when total accessibility is 0.

    Examples
    --------
    >>> round(gini_index([1.0, 1.0, 1.0], [10, 20, 30]), 12)
    0.0
    >>> round(gini_index([0.0, 0.0, 9.0], [1, 1, 1]), 4)
    0.6667
    """
    x = _values(values)
    p = _population(population, len(x))
    order = np.argsort(x, kind="stable")
    x, p = x[order], p[order]
    mass = p * x
    total = mass.sum()
    if not total > 0:
        return float("nan")
    lorenz = np.cumsum(mass) / total
    previous = np.concatenate(([0.0], lorenz[:-1]))
    return float(1.0 - np.sum((previous + lorenz) * (p / p.sum())))


def palma_ratio(values, population, income, *, income_cutoffs=None) -> float:
    """Palma ratio: mean accessibility of the richest 10% over that of the poorest 40%.

    Zones with ``income <= q40`` are the poorest, those with ``income > q90`` the richest,
    ``q`` the population-weighted income quantiles (:func:`weighted_quantile`); each mean
    is weighted by population. As IPEA's ``palma_ratio``.

    Parameters
    ----------
    values : array-like of shape (n,)
        Accessibility per zone.
    population : array-like of shape (n,)
    income : array-like of shape (n,)
        Income per capita (not total income) of each zone.
    income_cutoffs : (float, float), optional
        ``(q40, q90)`` to use instead of this population's quantiles, e.g. those of a
        wider area: IPEA takes them from its whole socio-demographic table even when the
        accessibility covers some zones only.

    Returns
    -------
    float
        NaN when one of the two groups is empty (or has no population); ``inf`` when the
        poorest reach nothing and the richest something.

    Examples
    --------
    >>> palma_ratio([1.0, 1.0, 2.0, 4.0, 8.0], [1, 1, 1, 1, 1], [1, 2, 3, 4, 5])
    8.0
    """
    x = _values(values)
    p = _population(population, len(x))
    y = _income(income, p)
    if income_cutoffs is None:
        q40, q90 = weighted_quantile(y, p, [0.4, 0.9])
    else:
        try:
            q40, q90 = (float(v) for v in income_cutoffs)
        except (TypeError, ValueError):
            raise InputError(f"income_cutoffs must be two numbers (q40, q90), got "
                             f"{income_cutoffs!r}") from None
    with np.errstate(invalid="ignore"):
        poor, rich = y <= q40, y > q90
    wp, wr = p[poor].sum(), p[rich].sum()
    if not (wp > 0 and wr > 0):
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(p[rich] @ x[rich] / wr) / np.float64(p[poor] @ x[poor] / wp))


@dataclass(frozen=True)
class TheilDecomposition:
    """Theil T split into between- and within-group inequality (:func:`theil_t`).

    Attributes
    ----------
    total, between, within : float
        ``total = between + within``.
    groups : pandas.DataFrame
        One row per group (sorted): ``population_share``, ``access_share``, ``theil``
        (within the group), ``between`` (``access_share * ln(access_share /
        population_share)``, its term of the between component) and ``within``
        (``access_share * theil``, its term of the within component).
    """

    total: float
    between: float
    within: float
    groups: pd.DataFrame


def _theil(x: np.ndarray, p: np.ndarray) -> float:
    mu = p @ x / p.sum()
    if not mu > 0:
        return float("nan")
    r = x / mu
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(x > 0, r * np.log(r), 0.0)  # 0 ln 0 = 0
    return float(p @ terms / p.sum())


def theil_t(values, population, groups=None) -> float | TheilDecomposition:
    """Theil T index, optionally decomposed into between- and within-group inequality.

    ``T = sum_i p_i (x_i / mu) ln(x_i / mu) / sum_i p_i``, from 0 (equality) to ``ln(N)``.
    With groups ``g`` (income deciles, say) of population share ``pi_g``, accessibility
    share ``s_g`` and index ``T_g``: ``T = sum_g s_g ln(s_g / pi_g) + sum_g s_g T_g``,
    between plus within, as IPEA's ``theil_t`` (with ``socioeconomic_groups``).

    Parameters
    ----------
    values : array-like of shape (n,)
        Accessibility per zone.
    population : array-like of shape (n,)
    groups : array-like of shape (n,), optional
        Group label of each zone (zones without population may have any label).

    Returns
    -------
    float, or TheilDecomposition when ``groups`` is given
        NaN when mean accessibility is 0.

    Notes
    -----
    A zone with no accessibility adds ``0 ln 0 = 0``. IPEA instead leaves such zones out
    of the weights of its ungrouped index (so its value is higher when some zones reach
    nothing) and gives NaN for groups that hold one; on positive values the two agree.

    Examples
    --------
    >>> round(theil_t([1.0, 1.0], [5, 5]), 12)
    0.0
    >>> d = theil_t([1.0, 3.0, 2.0, 2.0], [1, 1, 1, 1], groups=["a", "a", "b", "b"])
    >>> round(d.total, 6) == round(d.between + d.within, 6)
    True
    """
    x = _values(values)
    p = _population(population, len(x))
    total = _theil(x, p)
    if groups is None:
        return total
    g = np.asarray(groups)
    if g.shape != x.shape:
        raise InputError(f"groups must have one label per zone ({len(x)}), got shape {g.shape}")
    labels, inverse = np.unique(g, return_inverse=True)
    pop_g = np.bincount(inverse, weights=p, minlength=len(labels))
    acc_g = np.bincount(inverse, weights=p * x, minlength=len(labels))
    pop_share = pop_g / pop_g.sum()
    acc_share = acc_g / acc_g.sum() if acc_g.sum() > 0 else np.full(len(labels), np.nan)
    within_t = np.array([_theil(x[inverse == k], p[inverse == k]) if pop_g[k] > 0 else np.nan
                         for k in range(len(labels))])
    with np.errstate(divide="ignore", invalid="ignore"):
        between_terms = np.where(acc_share > 0, acc_share * np.log(acc_share / pop_share), 0.0)
        within_terms = np.where(acc_share > 0, acc_share * within_t, 0.0)
    table = pd.DataFrame({"group": labels, "population_share": pop_share,
                          "access_share": acc_share, "theil": within_t,
                          "between": between_terms, "within": within_terms})
    return TheilDecomposition(total=total, between=float(between_terms.sum()),
                              within=float(within_terms.sum()), groups=table)


def concentration_index(values, population, income, *, kind: str = "standard") -> float:
    """Concentration index: whether accessibility favours the rich (> 0) or the poor (< 0).

    Zones sorted by income (ties keep their order), population shares ``s_i`` and
    fractional ranks ``R_i = sum_{k<i} s_k + s_i / 2`` (van Doorslaer and Koolman 2004):
    ``C = (2 / mu) sum_i s_i (x_i - mu) (R_i - 1/2)``. ``kind="corrected"`` gives
    Erreygers' (2009) correction ``E = 4 mu C / (max x - min x)``, bounded for bounded
    variables. As IPEA's ``concentration_index`` (``type``).

    Parameters
    ----------
    values : array-like of shape (n,)
        Accessibility per zone.
    population : array-like of shape (n,)
    income : array-like of shape (n,)
        Income per capita, or any ordering of socio-economic status (higher = better off).
    kind : {"standard", "corrected"}

    Returns
    -------
    float
        NaN when mean accessibility is 0 (standard) or all values are equal (corrected).

    Notes
    -----
    ``max x`` and ``min x`` run over every zone given, populated or not, as in IPEA.

    Examples
    --------
    >>> round(concentration_index([1.0, 2.0, 3.0], [1, 1, 1], [10, 20, 30]), 4)
    0.2222
    """
    if kind not in ("standard", "corrected"):
        raise InputError(f"kind must be 'standard' or 'corrected', got {kind!r}")
    x = _values(values)
    p = _population(population, len(x))
    y = _income(income, p)
    order = np.argsort(np.where(np.isfinite(y), y, -np.inf), kind="stable")
    xs, ps = x[order], p[order] / p.sum()
    rank = np.cumsum(ps) - ps / 2.0
    mu = ps @ xs
    if not mu > 0:
        return float("nan")
    c = 2.0 * np.sum((rank - 0.5) * (xs - mu) * ps) / mu
    if kind == "standard":
        return float(c)
    spread = x.max() - x.min()
    return float(4 * mu * c / spread) if spread > 0 else float("nan")


def fgt_poverty(values, population, poverty_line: float, alpha=(0, 1, 2)):
    """Foster-Greer-Thorbecke (1984) poverty measures of accessibility.

    ``FGT_a = sum_i p_i [x_i < z] ((z - x_i) / z)^a / sum_i p_i`` for a poverty line ``z``:
    ``a = 0`` the share of population below the line (headcount), ``a = 1`` the mean
    normalised gap, ``a = 2`` the mean squared gap (severity). As IPEA's ``fgt_poverty``,
    which returns the three.

    Parameters
    ----------
    values : array-like of shape (n,)
        Accessibility per zone.
    population : array-like of shape (n,)
    poverty_line : float
        ``z > 0``, in the units of ``values`` (2.5 for the APL's zone sous-dense).
    alpha : float or sequence of float
        Exponents, ``>= 0`` (default ``(0, 1, 2)``).

    Returns
    -------
    float, or numpy.ndarray with one value per exponent

    Examples
    --------
    >>> fgt_poverty([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], 2.5).round(4)
    array([0.5, 0.2, 0.1])
    """
    x = _values(values)
    p = _population(population, len(x))
    z = positive_number(poverty_line, "poverty_line")
    a = (np.float64(non_negative_number(alpha, "alpha")) if np.ndim(alpha) == 0
         else finite_vector(alpha, "alpha", non_negative=True))
    poor = x < z
    gap = np.where(poor, (z - x) / z, 0.0)
    w = p / p.sum()
    out = np.array([w @ np.where(poor, gap ** e, 0.0) for e in np.atleast_1d(a)])
    return float(out[0]) if a.ndim == 0 else out
