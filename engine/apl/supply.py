"""Supply of the APL: the activity counted for each practitioner, and where it is located.

The only place supply is computed. Each step has one function:

1. :func:`select_profession` keeps a roster's rows of one profession;
2. :func:`attach_practitioners` gives each practitioner a commune: its ``code_commune``, or,
   for one given by a point, the commune whose point (town hall) is nearest by great-circle
   distance, within ``settings.max_attach_distance_m``;
3. :func:`bounded_activity` / :func:`practitioner_activity` count each practitioner's yearly
   activity with the profession's bounds and exceptions (for GPs, DREES: at most 250
   consultations count 0, 251 to 3,600 count 3,600, over 6,000 count 6,000; no liberal
   activity the previous year counts 5,400; health centres unbounded), the profession's
   default where the activity is unknown;
4. :func:`supply_by_commune` sums counted activity per commune — for one supply vector or
   for many Monte Carlo draws at once, with the same summation order, so a scenario that
   changes nothing reproduces the baseline to the last bit.

:func:`commune_supply` chains them; :class:`engine.region.Region`, the forecast and the
optimizer call the same functions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine import settings
from engine._validate import non_negative_number, show
from engine.apl.profession import Profession
from engine.apl.profession import profession as as_profession
from engine.errors import InputError, InputWarning
from engine.routing.network import haversine_m, unit_vectors

__all__ = [
    "attach_practitioners",
    "bounded_activity",
    "commune_supply",
    "practitioner_activity",
    "select_profession",
    "supply_by_commune",
]


def bounded_activity(consultations, active_previous_year=True, health_centre=False, *,
                     profession: str | Profession = "gp") -> np.ndarray:
    """Yearly activity counted for each practitioner, with the profession's bounds.

    For GPs (DREES): at most 250 consultations counts 0; 251 to 3,600 counts 3,600; 3,601
    to 6,000 as is; over 6,000 counts 6,000. A GP with no liberal activity the previous
    year is imputed 5,400; health-centre GPs are counted as they are (no bounds).

    Parameters
    ----------
    consultations : array-like of float
        Consultations and visits of each practitioner in the year.
    active_previous_year : bool or array-like of bool
        False where the practitioner had no liberal activity the previous year.
    health_centre : bool or array-like of bool
        True for practitioners of health centres.
    profession : str, path-like or Profession
        Whose bounds (default ``"gp"``).

    Returns
    -------
    numpy.ndarray
        The counted activity, float64.

    Raises
    ------
    InputError
        On a negative or non-finite activity (for practitioners it is not imputed for).

    Examples
    --------
    >>> bounded_activity([100, 250, 251, 4000, 7000])
    array([   0.,    0., 3600., 4000., 6000.])
    >>> bounded_activity([100, 7000], active_previous_year=[False, True], health_centre=[False, True])
    array([5400., 7000.])
    """
    rule = as_profession(profession).activity
    c = np.atleast_1d(np.asarray(consultations, dtype=np.float64))
    active = np.broadcast_to(np.asarray(active_previous_year, dtype=bool), c.shape)
    centre = np.broadcast_to(np.asarray(health_centre, dtype=bool), c.shape)
    # An imputed practitioner's own activity is never read, so it may be missing.
    need = active if rule.no_activity_previous_year is not None else np.ones(c.shape, bool)
    bad = need & (~np.isfinite(c) | (c < 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"activity {show(c[i])} must be a finite number >= 0 (consultations "
                         "and visits in the year)", row=i, column="activity")
    upper = np.asarray(rule.upper)
    counted = np.asarray(rule.counted)
    with np.errstate(invalid="ignore"):
        k = np.searchsorted(upper, np.where(np.isfinite(c), c, 0.0), side="left")
        k = np.minimum(k, len(upper) - 1)
        value = counted[k]
        out = np.where(np.isnan(value), c, value)
    if not rule.health_centre_bounds:
        out = np.where(centre, c, out)
    if rule.no_activity_previous_year is not None:
        out = np.where(active, out, float(rule.no_activity_previous_year))
    return np.ascontiguousarray(out, dtype=np.float64)


def _bool_column(df: pd.DataFrame, col: str, default: bool) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), default)
    values = df[col]
    if values.dtype == bool:
        return values.to_numpy()
    known = values.isna() | values.isin([True, False, 0, 1])
    if not known.all():
        i = int(np.flatnonzero(~known.to_numpy())[0])
        raise InputError(f"{values.iloc[i]!r} is not a yes/no value", row=df.index[i], column=col)
    return values.astype(object).where(values.notna(), default).astype(bool).to_numpy()


def practitioner_activity(practitioners: pd.DataFrame, *, profession: str | Profession = "gp",
                          default_activity: float | None = None) -> np.ndarray:
    """Counted yearly activity of each practitioner of a roster.

    Parameters
    ----------
    practitioners : pandas.DataFrame
        Optional columns ``activity`` (consultations and visits a year; missing or NaN means
        unknown), ``active_previous_year`` (bool, default True) and ``health_centre``
        (bool, default False).
    profession : str, path-like or Profession
        Whose bounds, exceptions and default activity.
    default_activity : float, optional
        Activity of a practitioner whose activity is unknown, before the bounds (default:
        the profession's documented default, 4,140 for GPs).

    Returns
    -------
    numpy.ndarray
        Counted activity per row, in order.

    Examples
    --------
    >>> practitioner_activity(pd.DataFrame({"activity": [100.0, np.nan],
    ...                                     "active_previous_year": [False, True]}))
    array([5400., 4140.])
    """
    prof = as_profession(profession)
    default = (prof.activity.default if default_activity is None
               else non_negative_number(default_activity, "default_activity"))
    n = len(practitioners)
    if "activity" in practitioners.columns:
        act = pd.to_numeric(practitioners["activity"], errors="coerce").to_numpy(np.float64)
        raw = practitioners["activity"]
        nonnum = raw.notna().to_numpy() & np.isnan(act)
        if nonnum.any():
            i = int(np.flatnonzero(nonnum)[0])
            raise InputError(f"{raw.iloc[i]!r} is not a number of consultations",
                             row=practitioners.index[i], column="activity")
        act = np.where(np.isnan(act), float(default), act)
    else:
        act = np.full(n, float(default))
    active = _bool_column(practitioners, "active_previous_year", True)
    centre = _bool_column(practitioners, "health_centre", False)
    try:
        return bounded_activity(act, active, centre, profession=prof)
    except InputError as exc:
        message = str(exc).split(": ", 1)[-1]
        raise InputError(message, row=practitioners.index[exc.row], column="activity") from None


def select_profession(practitioners: pd.DataFrame, *,
                      profession: str | Profession = "gp") -> pd.DataFrame:
    """The rows of a roster that belong to ``profession``.

    A roster without a ``profession`` column is taken as all of that profession, and so are
    rows with an empty value (with an :class:`~engine.errors.InputWarning`). Values are
    matched with :meth:`engine.apl.Profession.matches` (names, aliases and BPE codes; case,
    accents, spaces and underscores ignored).

    Returns
    -------
    pandas.DataFrame
        The matching rows, with their original index.

    Examples
    --------
    >>> df = pd.DataFrame({"profession": ["Médecin généraliste", "infirmier"]})
    >>> len(select_profession(df))
    1
    """
    if "profession" not in practitioners.columns:
        return practitioners
    prof = as_profession(profession)
    given = practitioners["profession"]
    empty = (given.isna() | (given.astype(str).str.strip() == "")).to_numpy()
    if empty.all():
        return practitioners
    if empty.any():
        warnings.warn(f"{int(empty.sum())} practitioner(s) have no profession; they are counted "
                      f"as {prof.label}", InputWarning, stacklevel=2)
    keep = empty | given.map(prof.matches).to_numpy(dtype=bool)
    return practitioners[keep]


def attach_practitioners(practitioners: pd.DataFrame, communes: pd.DataFrame, *,
                         max_distance_m: float | None = None) -> np.ndarray:
    """The commune of each practitioner: by code, or the nearest commune point for a point.

    Parameters
    ----------
    practitioners : pandas.DataFrame
        ``code_commune`` (may be missing or NaN for some rows) and/or ``lon``/``lat``
        (WGS84) for rows without a code.
    communes : pandas.DataFrame
        ``code_commune``; ``lon``/``lat`` (the point each commune is routed from) when some
        practitioners are given by a point.
    max_distance_m : float, optional
        A point farther than this from every commune point is an error (default
        ``settings.max_attach_distance_m``, 50 km): a point outside the study area, or
        swapped coordinates.

    Returns
    -------
    numpy.ndarray of int64
        Row of ``communes`` for each practitioner, in order.

    Raises
    ------
    InputError
        On an unknown commune code, a practitioner with neither a code nor valid
        coordinates, or a point too far from every commune.

    Examples
    --------
    >>> communes = pd.DataFrame({"code_commune": ["2A004", "2B033"], "lon": [8.74, 9.45],
    ...                          "lat": [41.92, 42.70]})
    >>> gps = pd.DataFrame({"code_commune": ["2B033", None], "lon": [np.nan, 8.75],
    ...                     "lat": [np.nan, 41.93]})
    >>> attach_practitioners(gps, communes).tolist()
    [1, 0]
    """
    if not isinstance(practitioners, pd.DataFrame):
        raise InputError(f"practitioners must be a DataFrame, got {type(practitioners).__name__}")
    limit = settings.max_attach_distance_m if max_distance_m is None else float(max_distance_m)
    index = pd.Index(communes["code_commune"].astype(str).to_numpy())
    n = len(practitioners)
    where = np.full(n, -1, dtype=np.int64)
    has_code = np.zeros(n, dtype=bool)
    if "code_commune" in practitioners.columns:
        raw = practitioners["code_commune"]
        has_code = (raw.notna() & (raw.astype(str).str.strip() != "")).to_numpy()
        pos = index.get_indexer(raw.astype(str).str.strip().to_numpy())
        unknown = has_code & (pos < 0)
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(f"practitioner in commune {str(raw.iloc[i])!r}, which is not among "
                             f"the {len(index)} communes used ({int(unknown.sum())} such row(s))",
                             row=practitioners.index[i], column="code_commune")
        where[has_code] = pos[has_code]
    need = np.flatnonzero(~has_code)
    if len(need):
        if not {"lon", "lat"} <= set(practitioners.columns):
            raise InputError("practitioner has neither a commune code nor lon/lat",
                             row=practitioners.index[need[0]], column="code_commune")
        lon = pd.to_numeric(practitioners["lon"], errors="coerce").to_numpy(np.float64)[need]
        lat = pd.to_numeric(practitioners["lat"], errors="coerce").to_numpy(np.float64)[need]
        bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
        if bad.any():
            i = need[int(np.flatnonzero(bad)[0])]
            raise InputError("practitioner has neither a commune code nor valid lon/lat "
                             "(longitude in [-180, 180], latitude in [-90, 90])",
                             row=practitioners.index[i], column="lon")
        from scipy.spatial import cKDTree

        clon = pd.to_numeric(communes["lon"], errors="coerce").to_numpy(np.float64)
        clat = pd.to_numeric(communes["lat"], errors="coerce").to_numpy(np.float64)
        ok = np.flatnonzero(np.isfinite(clon) & np.isfinite(clat))
        if not len(ok):
            raise InputError("practitioners are given by a point but no commune has lon/lat",
                             column="lon")
        _, k = cKDTree(unit_vectors(clon[ok], clat[ok])).query(unit_vectors(lon, lat))
        # In metres by the formula snap and the edge lengths use.
        metres = haversine_m(lon, lat, clon[ok][k], clat[ok][k])
        far = metres > limit
        if far.any():
            j = int(np.flatnonzero(far)[0])
            raise InputError(
                f"point ({lon[j]:.5f}, {lat[j]:.5f}) is {metres[j] / 1000:,.1f} km from the "
                f"nearest commune point (limit {limit / 1000:,.0f} km; {int(far.sum())} such "
                "row(s)): a point outside the study area, or lon and lat swapped?",
                row=practitioners.index[need[j]], column="lon")
        where[need] = ok[k]
    return where


def supply_by_commune(commune_index, activity, n_communes: int) -> np.ndarray:
    """Counted activity summed per commune, for one roster state or many draws at once.

    Parameters
    ----------
    commune_index : array-like of int
        Commune (row) of each practitioner; negative entries are not counted.
    activity : array-like of float, shape (n_practitioners,) or (n_draws, n_practitioners)
        Counted activity (0 for an inactive practitioner).
    n_communes : int
        Number of communes.

    Returns
    -------
    numpy.ndarray
        ``(n_communes,)`` or ``(n_communes, n_draws)``. Each commune sums its practitioners
        in roster order, the same for 1-D and 2-D input (bit-identical columns).

    Examples
    --------
    >>> supply_by_commune([0, 0, 2], [1.0, 2.0, 4.0], 3)
    array([3., 0., 4.])
    """
    idx = np.asarray(commune_index, dtype=np.int64)
    act = np.asarray(activity, dtype=np.float64)
    if act.shape[-1] != len(idx):
        raise InputError(f"activity has {act.shape[-1]} practitioners, commune_index {len(idx)}")
    keep = np.flatnonzero(idx >= 0)
    incidence = sp.csr_matrix((np.ones(len(keep)), (idx[keep], keep)), shape=(n_communes, len(idx)))
    if act.ndim == 1:
        return np.asarray(incidence @ act, dtype=np.float64)
    return np.ascontiguousarray(incidence @ act.T, dtype=np.float64)


def commune_supply(communes: pd.DataFrame, practitioners: pd.DataFrame, *,
                   profession: str | Profession = "gp", max_age: float | None = None,
                   default_activity: float | None = None,
                   return_practitioners: bool = False):
    """Supply of each commune: the counted activity of its practitioners, summed.

    Parameters
    ----------
    communes : pandas.DataFrame
        ``code_commune`` (and ``lon``, ``lat`` to place practitioners given by a point).
    practitioners : pandas.DataFrame
        One row per practitioner: ``code_commune``, or ``lon``/``lat``; optional
        ``profession`` (other professions are left out, see :func:`select_profession`),
        ``activity``, ``active_previous_year``, ``health_centre``, ``age`` (years).
    profession : str, path-like or Profession
        Whose rules (default ``"gp"``).
    max_age : float, optional
        Count only practitioners aged ``max_age`` or less (65: the official "65 ans et
        moins" variant for GPs). Practitioners with an unknown age are kept, with a warning.
    default_activity : float, optional
        See :func:`practitioner_activity`.
    return_practitioners : bool
        Also return the practitioners of the profession with the columns ``commune_index``,
        ``counted_activity`` and ``excluded`` (over ``max_age``).

    Returns
    -------
    numpy.ndarray of shape (n_communes,)
        Counted activity per commune, in ``communes`` order.

    Examples
    --------
    >>> communes = pd.DataFrame({"code_commune": ["2A004", "2B033"]})
    >>> gps = pd.DataFrame({"code_commune": ["2A004", "2A004", "2B033"],
    ...                     "activity": [5000, 100, 7000]})
    >>> commune_supply(communes, gps)
    array([5000., 6000.])
    """
    prof = as_profession(profession)
    if not isinstance(practitioners, pd.DataFrame):
        raise InputError(f"practitioners must be a DataFrame, got {type(practitioners).__name__}")
    roster = select_profession(practitioners, profession=prof)
    where = attach_practitioners(roster, communes)
    counted = practitioner_activity(roster, profession=prof, default_activity=default_activity)
    excluded = np.zeros(len(roster), dtype=bool)
    if max_age is not None:
        if "age" not in roster.columns:
            raise InputError(f"max_age={show(max_age)} needs an 'age' column in practitioners",
                             column="age")
        age = pd.to_numeric(roster["age"], errors="coerce").to_numpy(np.float64)
        implausible = np.isfinite(age) & ((age < 0) | (age > 120))
        if implausible.any():
            i = int(np.flatnonzero(implausible)[0])
            raise InputError(f"age {show(age[i])} is not a plausible age",
                             row=roster.index[i], column="age")
        if np.isnan(age).any():
            warnings.warn(f"{int(np.isnan(age).sum())} practitioner(s) have no age; they are "
                          f"counted in the max_age={show(max_age)} variant", UserWarning,
                          stacklevel=2)
        excluded = age > max_age
    supply = supply_by_commune(np.where(excluded, -1, where), counted, len(communes))
    if return_practitioners:
        return supply, roster.assign(commune_index=where, counted_activity=counted,
                                     excluded=excluded)
    return supply
