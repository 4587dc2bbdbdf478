"""Zoning from the APL: classes, summaries per département or zone, population caps.

The thresholds, class codes, French labels and colours are the profession's
(:attr:`engine.apl.Profession.zoning`; for GPs the decree of 13 November 2017: under the
first threshold a commune is *sous-dense*, automatically eligible as ZIP). Everything else
that classifies or aggregates an APL — the forecast, the optimizer, maps, report, tables,
command line — calls the functions here.

Aggregation follows the DREES reading notes: the mean APL of an area is weighted by the
**standardised** population, a population count or share under a threshold uses the
**total** population.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine._validate import finite_vector
from engine.apl.profession import Profession
from engine.apl.profession import profession as as_profession
from engine.errors import InputError

__all__ = [
    "class_index",
    "classify",
    "departement_of",
    "select_under_cap",
    "zone_apl",
    "zone_indicator",
    "zone_table",
    "zoning_summary",
]


def class_index(apl, *, profession: str | Profession = "gp") -> np.ndarray:
    """Index of the zoning class of each APL value (0 = the deficit class).

    Parameters
    ----------
    apl : array-like of float
        APL values; any shape.
    profession : str, path-like or Profession
        Whose zoning (default ``"gp"``).

    Returns
    -------
    numpy.ndarray of int64
        ``k`` such that ``thresholds[k-1] <= apl < thresholds[k]``.

    Examples
    --------
    >>> class_index([1.0, 2.5, 3.99, 4.0]).tolist()
    [0, 1, 1, 2]
    """
    zoning = as_profession(profession).zoning
    a = np.asarray(apl, dtype=np.float64)
    if np.isnan(a).any():
        raise InputError("APL values must not be NaN", column="apl")
    return np.searchsorted(np.asarray(zoning.thresholds), a, side="right").astype(np.int64)


def classify(apl, *, profession: str | Profession = "gp") -> pd.Categorical:
    """Zoning class code of each APL value.

    Parameters
    ----------
    apl : array-like of float
        APL values (consultations per standardised inhabitant per year for GPs).
    profession : str, path-like or Profession
        Whose zoning (default ``"gp"``: under 2.5 ``"sous-dense"``, from 2.5 to under 4
        ``"intermediaire"``, 4 and over ``"hors-zone"``).

    Returns
    -------
    pandas.Categorical
        Ordered categories: the profession's class codes, least served first.

    Examples
    --------
    >>> list(classify([1.0, 2.5, 3.99, 4.0]))
    ['sous-dense', 'intermediaire', 'intermediaire', 'hors-zone']
    """
    prof = as_profession(profession)
    a = finite_vector(apl, "apl")
    return pd.Categorical.from_codes(class_index(a, profession=prof),
                                     categories=list(prof.zoning.codes), ordered=True)


def departement_of(code_commune) -> np.ndarray:
    """Département of INSEE commune codes (``"2A004" -> "2A"``, ``"97411" -> "974"``).

    Examples
    --------
    >>> list(departement_of(["01001", "2B033", "97411"]))
    ['01', '2B', '974']
    """
    codes = pd.Series(code_commune, dtype=str).str.zfill(5)
    return np.where(codes.str.startswith("97"), codes.str[:3], codes.str[:2])


def zoning_summary(apl, pop_totale, pop_standardisee, code_commune=None, *, groups=None,
                   profession: str | Profession = "gp") -> pd.DataFrame:
    """Communes and population per zoning class, per group (département by default) and overall.

    Parameters
    ----------
    apl, pop_totale, pop_standardisee : array-like of float
        One value per commune.
    code_commune : array-like of str, optional
        Commune codes, to break the summary down per département.
    groups : array-like, optional
        A group label per commune (a zone, an EPCI...) to break down by instead of the
        département; communes with a missing label are counted in the total only.
    profession : str, path-like or Profession
        Whose zoning.

    Returns
    -------
    pandas.DataFrame
        Indexed by group (plus ``"total"``): ``communes``, ``population``, ``mean_apl``
        (weighted by standardised population), and for each class code ``c``
        ``communes_<c>``, ``population_<c>``, ``share_<c>`` (share of the total population).

    Examples
    --------
    >>> s = zoning_summary([1.0, 3.0, 5.0], [100, 300, 600], [100, 300, 600])
    >>> float(s.loc["total", "share_sous-dense"])
    0.1
    """
    prof = as_profession(profession)
    a = finite_vector(apl, "apl")
    pt = finite_vector(pop_totale, "pop_totale", size=len(a), non_negative=True)
    ps = finite_vector(pop_standardisee, "pop_standardisee", size=len(a), non_negative=True)
    idx = class_index(a, profession=prof)
    if groups is not None:
        label = pd.Series(groups).to_numpy(dtype=object)
        if len(label) != len(a):
            raise InputError(f"groups has {len(label)} labels for {len(a)} communes")
    elif code_commune is not None:
        label = departement_of(code_commune).astype(object)
    else:
        label = None
    rows = {}
    if label is not None:
        keep = pd.notna(label)
        for g in sorted(set(label[keep].tolist()), key=str):
            sel = label == g
            rows[g] = _summarise(a[sel], pt[sel], ps[sel], idx[sel], prof)
    rows["total"] = _summarise(a, pt, ps, idx, prof)
    return pd.DataFrame.from_dict(rows, orient="index")


def _summarise(a, pt, ps, idx, prof: Profession) -> dict:
    total = float(pt.sum())
    wsum = float(ps.sum())
    row = {"communes": len(a), "population": total,
           "mean_apl": float((a * ps).sum() / wsum) if wsum > 0 else 0.0}
    for k, code in enumerate(prof.zoning.codes):
        sel = idx == k
        row[f"communes_{code}"] = int(sel.sum())
        row[f"population_{code}"] = float(pt[sel].sum())
        row[f"share_{code}"] = float(pt[sel].sum() / total) if total > 0 else 0.0
    return row


def zone_indicator(zones) -> tuple[np.ndarray, sp.csr_matrix]:
    """The zones of a list of communes, and the ``(zones x communes)`` 0/1 matrix.

    Parameters
    ----------
    zones : array-like
        Zone label of each commune (missing: in no zone).

    Returns
    -------
    labels : numpy.ndarray
        The zones, sorted.
    indicator : scipy.sparse.csr_matrix
        ``indicator[z, i] = 1`` when commune ``i`` is in zone ``labels[z]``.
    """
    z = pd.Series(zones, dtype=object)
    keep = z.notna().to_numpy()
    labels, codes = np.unique(z[keep].astype(str).to_numpy(), return_inverse=True)
    cols = np.flatnonzero(keep)
    matrix = sp.csr_matrix((np.ones(len(cols)), (codes, cols)), shape=(len(labels), len(z)))
    return labels, matrix


def zone_apl(apl, pop_standardisee, indicator) -> np.ndarray:
    """APL of each zone: its communes' APL weighted by standardised population (DREES).

    Parameters
    ----------
    apl : array-like, shape (n_communes,) or (n_communes, n_draws)
    pop_standardisee : array-like, shape (n_communes,)
    indicator : scipy.sparse matrix
        From :func:`zone_indicator`.

    Returns
    -------
    numpy.ndarray
        ``(n_zones,)`` or ``(n_zones, n_draws)``; 0 for a zone without standardised population.
    """
    a = np.asarray(apl, dtype=np.float64)
    ps = np.asarray(pop_standardisee, dtype=np.float64)
    weighted = indicator @ (a * (ps if a.ndim == 1 else ps[:, None]))
    total = indicator @ ps
    return np.divide(weighted, total if a.ndim == 1 else total[:, None],
                     out=np.zeros_like(weighted),
                     where=(total > 0) if a.ndim == 1 else (total > 0)[:, None])


def zone_table(apl, pop_totale, pop_standardisee, zones, *, names=None,
               profession: str | Profession = "gp") -> pd.DataFrame:
    """The APL of each zone, aggregated from its communes as DREES does.

    A zone's APL is the mean of its communes' APL weighted by standardised population
    (:func:`zone_apl`); its class is the class of that mean. Its population in deficit is
    the total population of its communes under the deficit threshold — a zone may hold
    communes in deficit without being in deficit itself, and planning documents treat the
    two cases differently.

    Parameters
    ----------
    apl, pop_totale, pop_standardisee : array-like of float
        One value per commune.
    zones : array-like
        Zone code of each commune (missing: the commune belongs to no zone).
    names : array-like, optional
        Zone name of each commune (the first name seen per zone is kept).
    profession : str, path-like or Profession
        Whose zoning.

    Returns
    -------
    pandas.DataFrame
        One row per zone, sorted by APL: ``zone``, ``zone_nom``, ``communes``,
        ``pop_totale``, ``pop_standardisee``, ``apl``, ``classe``, ``communes_deficit``,
        ``pop_deficit``, ``share_deficit``.

    Examples
    --------
    >>> t = zone_table([1.0, 5.0, 3.0], [100, 100, 50], [100, 300, 50], ["A", "A", "B"])
    >>> t[["zone", "apl", "pop_deficit"]].values.tolist()
    [['B', 3.0, 0.0], ['A', 4.0, 100.0]]
    """
    prof = as_profession(profession)
    a = finite_vector(apl, "apl")
    pt = finite_vector(pop_totale, "pop_totale", size=len(a), non_negative=True)
    ps = finite_vector(pop_standardisee, "pop_standardisee", size=len(a), non_negative=True)
    z = pd.Series(zones, dtype=object).to_numpy()
    if len(z) != len(a):
        raise InputError(f"zones has {len(z)} labels for {len(a)} communes", column="zone")
    labels, ind = zone_indicator(z)
    nm = pd.Series(names if names is not None else z, dtype=object)
    first_name = {}
    for label, name in zip(pd.Series(z, dtype=object), nm, strict=True):
        if pd.notna(label) and str(label) not in first_name:
            first_name[str(label)] = name if pd.notna(name) else str(label)
    deficit = (class_index(a, profession=prof) == 0).astype(np.float64)
    za = zone_apl(a, ps, ind)
    pop = ind @ pt
    pop_def = ind @ (pt * deficit)
    out = pd.DataFrame({
        "zone": labels, "zone_nom": [first_name[str(x)] for x in labels],
        "communes": np.asarray(ind.sum(axis=1)).ravel().astype(np.int64),
        "pop_totale": pop, "pop_standardisee": ind @ ps, "apl": za,
        "classe": np.asarray(classify(za, profession=prof)),
        "communes_deficit": (ind @ deficit).astype(np.int64), "pop_deficit": pop_def,
        "share_deficit": np.divide(pop_def, pop, out=np.zeros_like(pop), where=pop > 0),
    })
    return out.sort_values(["apl", "zone"], kind="stable").reset_index(drop=True)


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
    a = finite_vector(apl, "apl")
    p = finite_vector(population, "population", size=len(a), non_negative=True)
    if not 0 <= cap_share <= 1:
        raise InputError(f"cap_share must be in [0, 1], got {cap_share!r}")
    order = np.argsort(a, kind="stable")
    cum = np.cumsum(p[order])
    limit = cap_share * p.sum()
    n_take = int(np.searchsorted(cum, limit * (1 + 1e-12), side="right"))
    out = np.zeros(len(a), dtype=bool)
    out[order[:n_take]] = True
    return out
