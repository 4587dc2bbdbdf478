"""Zoning from the APL: the classes of the 2017 decree, summaries and population caps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.errors import InputError

__all__ = ["CLASSES", "classify", "departement_of", "select_under_cap", "zoning_summary"]

#: Zoning classes, from the least to the best served.
CLASSES: tuple[str, str, str] = ("sous-dense", "intermediaire", "hors-zone")


def _finite(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{name}[{i}] = {arr[i]!r} is not finite", row=i, column=name)
    return arr


def classify(apl, thresholds: tuple[float, float] = (2.5, 4.0)) -> pd.Categorical:
    """Zoning class of each APL value.

    Parameters
    ----------
    apl : array-like of float
        APL values (consultations per standardised inhabitant per year).
    thresholds : (float, float)
        ``(low, high)``: below ``low`` is ``"sous-dense"`` (automatically eligible to ZIP),
        ``low <= apl < high`` is ``"intermediaire"``, ``apl >= high`` is ``"hors-zone"``.

    Returns
    -------
    pandas.Categorical
        Ordered categories :data:`CLASSES`.

    Examples
    --------
    >>> list(classify([1.0, 2.5, 3.99, 4.0]))
    ['sous-dense', 'intermediaire', 'intermediaire', 'hors-zone']
    """
    a = _finite(apl, "apl")
    low, high = (float(t) for t in thresholds)
    if not low <= high:
        raise InputError(f"thresholds must be increasing, got {thresholds}")
    codes = np.where(a < low, 0, np.where(a < high, 1, 2))
    return pd.Categorical.from_codes(codes, categories=list(CLASSES), ordered=True)


def departement_of(code_commune) -> np.ndarray:
    """Département of INSEE commune codes (``"2A004" -> "2A"``, ``"97411" -> "974"``).

    Examples
    --------
    >>> list(departement_of(["01001", "2B033", "97411"]))
    ['01', '2B', '974']
    """
    codes = pd.Series(code_commune, dtype=str).str.zfill(5)
    return np.where(codes.str.startswith("97"), codes.str[:3], codes.str[:2])


def zoning_summary(apl, pop_totale, pop_standardisee, code_commune=None, *,
                   thresholds: tuple[float, float] = (2.5, 4.0)) -> pd.DataFrame:
    """Communes and population per zoning class, per département and overall.

    Following the DREES reading notes, population counts and shares use the total
    population and the mean APL is weighted by the standardised population.

    Parameters
    ----------
    apl, pop_totale, pop_standardisee : array-like of float
        One value per commune.
    code_commune : array-like of str, optional
        Commune codes, to break the summary down per département.
    thresholds : (float, float)
        See :func:`classify`.

    Returns
    -------
    pandas.DataFrame
        Indexed by département (plus ``"total"``): ``communes``, ``population``,
        ``mean_apl``, and for each class ``communes_<class>``, ``population_<class>``,
        ``share_<class>`` (share of total population).

    Examples
    --------
    >>> s = zoning_summary([1.0, 3.0, 5.0], [100, 300, 600], [100, 300, 600])
    >>> float(s.loc["total", "share_sous-dense"])
    0.1
    """
    a = _finite(apl, "apl")
    pt = _finite(pop_totale, "pop_totale")
    ps = _finite(pop_standardisee, "pop_standardisee")
    if not len(a) == len(pt) == len(ps):
        raise InputError(f"apl, pop_totale and pop_standardisee differ in length "
                         f"({len(a)}, {len(pt)}, {len(ps)})")
    if (pt < 0).any() or (ps < 0).any():
        raise InputError("populations must be non-negative")
    cls = classify(a, thresholds)
    frame = pd.DataFrame({"apl": a, "pt": pt, "ps": ps, "cls": np.asarray(cls)})
    frame["dep"] = "total" if code_commune is None else departement_of(code_commune)

    def summarise(g: pd.DataFrame) -> dict:
        total = g["pt"].sum()
        wsum = g["ps"].sum()
        row = {
            "communes": len(g),
            "population": total,
            "mean_apl": float((g["apl"] * g["ps"]).sum() / wsum) if wsum > 0 else 0.0,
        }
        for c in CLASSES:
            sel = g["cls"] == c
            row[f"communes_{c}"] = int(sel.sum())
            row[f"population_{c}"] = float(g.loc[sel, "pt"].sum())
            row[f"share_{c}"] = float(g.loc[sel, "pt"].sum() / total) if total > 0 else 0.0
        return row

    rows = {}
    if code_commune is not None:
        for dep, g in frame.groupby("dep", sort=True):
            rows[dep] = summarise(g)
    rows["total"] = summarise(frame)
    return pd.DataFrame.from_dict(rows, orient="index")


def select_under_cap(apl, population, cap_share: float) -> np.ndarray:
    """The lowest-APL communes whose cumulated population stays within a cap.

    Communes are taken by increasing APL (ties by input order) while the cumulated
    population stays at most ``cap_share`` of the total population, as when a region's
    eligible population is capped.

    Parameters
    ----------
    apl : array-like of float
    population : array-like of float
        Total population of each commune.
    cap_share : float
        Cap as a share of the total population, in ``[0, 1]`` (e.g. 0.18).

    Returns
    -------
    numpy.ndarray of bool
        True for the selected communes.

    Examples
    --------
    >>> select_under_cap([3.0, 1.0, 2.0], [100, 100, 100], 0.7)
    array([False,  True,  True])
    """
    a = _finite(apl, "apl")
    p = _finite(population, "population")
    if len(a) != len(p):
        raise InputError(f"apl and population differ in length ({len(a)}, {len(p)})")
    if (p < 0).any():
        i = int(np.flatnonzero(p < 0)[0])
        raise InputError(f"population[{i}] = {p[i]!r} is negative", row=i, column="population")
    if not 0 <= cap_share <= 1:
        raise InputError(f"cap_share must be in [0, 1], got {cap_share!r}")
    order = np.argsort(a, kind="stable")
    cum = np.cumsum(p[order])
    limit = cap_share * p.sum()
    n_take = int(np.searchsorted(cum, limit * (1 + 1e-12), side="right"))
    out = np.zeros(len(a), dtype=bool)
    out[order[:n_take]] = True
    return out
