"""How well one APL agrees with another: a recomputation with the official values, a forecast
with what was observed.

:func:`compare` gives the per-commune figures (Spearman rank correlation, mean absolute
error, share of communes in the same zoning class, the confusion table) and the population
share in deficit of both; :func:`auc` and :func:`brier` score probabilities of falling into
deficit against what happened.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine._validate import finite_vector
from engine.apl.profession import Profession
from engine.apl.profession import profession as as_profession
from engine.apl.zoning import class_index
from engine.errors import InputError

__all__ = ["auc", "brier", "compare", "ranks", "spearman"]


def ranks(values) -> np.ndarray:
    """Ranks from 1, ties given their average rank (as ``scipy.stats.rankdata``).

    Examples
    --------
    >>> ranks([10.0, 30.0, 20.0, 20.0]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # Runs of equal values share the mean of their positions.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    mean_rank = (starts + ends + 1) / 2.0
    out = np.empty(len(x))
    out[order] = np.repeat(mean_rank, ends - starts)
    return out


def spearman(a, b) -> float:
    """Spearman's rank correlation (NaN when either side is constant).

    Examples
    --------
    >>> spearman([1.0, 2.0, 3.0], [10.0, 30.0, 20.0])
    0.5
    """
    ra, rb = ranks(a), ranks(b)
    if len(ra) < 2 or np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def compare(predicted, observed, *, population=None, profession: str | Profession = "gp") -> dict:
    """Agreement of ``predicted`` with ``observed``, commune by commune.

    Parameters
    ----------
    predicted, observed : array-like of float
        One APL per commune.
    population : array-like, optional
        Total population per commune, for the share of population in deficit.
    profession : str, path-like or Profession
        Whose zoning.

    Returns
    -------
    dict
        ``communes``, ``spearman``, ``mae``, ``class_agreement``, ``confusion`` (DataFrame,
        rows observed classes, columns predicted ones), and with ``population``
        ``share_deficit_predicted``, ``share_deficit_observed``.

    Examples
    --------
    >>> r = compare([1.0, 3.0, 5.0], [1.5, 2.0, 5.5])
    >>> round(r["mae"], 3), round(r["class_agreement"], 3)
    (0.667, 0.667)
    """
    prof = as_profession(profession)
    p = finite_vector(predicted, "predicted")
    o = finite_vector(observed, "observed", size=len(p))
    cp = class_index(p, profession=prof)
    co = class_index(o, profession=prof)
    codes = list(prof.zoning.codes)
    confusion = pd.DataFrame(np.zeros((len(codes), len(codes)), dtype=np.int64), index=codes,
                             columns=codes)
    np.add.at(confusion.values, (co, cp), 1)
    out = {"communes": len(p), "spearman": spearman(p, o), "mae": float(np.abs(p - o).mean()),
           "class_agreement": float((cp == co).mean()), "confusion": confusion}
    if population is not None:
        pop = finite_vector(population, "population", size=len(p), non_negative=True)
        total = pop.sum()
        out["share_deficit_predicted"] = float(pop[cp == 0].sum() / total) if total else 0.0
        out["share_deficit_observed"] = float(pop[co == 0].sum() / total) if total else 0.0
    return out


def auc(scores, outcomes) -> float:
    """Area under the ROC curve: the probability that a random positive outranks a random
    negative (ties count half). NaN when there is no positive or no negative.

    Examples
    --------
    >>> auc([0.9, 0.2, 0.6, 0.1], [1, 0, 1, 0])
    1.0
    >>> auc([0.5, 0.5], [1, 0])
    0.5
    """
    s = finite_vector(scores, "scores")
    y = np.asarray(outcomes, dtype=bool)
    if y.shape != s.shape:
        raise InputError(f"outcomes has {y.size} values for {s.size} scores")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = ranks(s)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def brier(probabilities, outcomes) -> float:
    """Mean squared difference between probabilities and outcomes (0 is perfect).

    Examples
    --------
    >>> brier([1.0, 0.0, 0.5], [1, 0, 1])
    0.08333333333333333
    """
    p = finite_vector(probabilities, "probabilities")
    y = np.asarray(outcomes, dtype=np.float64)
    if y.shape != p.shape:
        raise InputError(f"outcomes has {y.size} values for {p.size} probabilities")
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")
