"""The official DREES APL to general practitioners: activity bounds, standardised
population, and the commune-level indicator on a road network.

The official parameters (activity bounds, decay steps, age weights) are read from
``engine/apl/drees_parameters.json``, a copy of the DREES "Paramètres" sheet shipped
with the package, so nothing here needs the data mirror.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from engine import settings
from engine.apl.decay import DREES_DECAY, as_decay
from engine.apl.fca import Catchment, UnservedSupplyWarning, catchment_weights
from engine.errors import InputError
from engine.routing.matrix import TravelTimeMatrix, travel_times
from engine.routing.network import RoadNetwork, haversine_m

__all__ = [
    "AGE_BANDS",
    "DEFAULT_ACTIVITY",
    "FarFromRoadWarning",
    "apl_communes",
    "bounded_activity",
    "commune_matrix",
    "commune_supply",
    "drees_parameters",
    "standardised_population",
]

#: The 19 five-year age bands of the DREES standardisation, as column names.
AGE_BANDS: tuple[str, ...] = tuple(f"{a}-{a + 4}" for a in range(0, 90, 5)) + ("90+",)

#: Default yearly activity (consultations + visits) of a GP whose activity is unknown.
#:
#: The E2SFCA conserves supply (``sum_i P_i APL_i = sum_j S_j``), so DREES's national
#: figures give the total bounded activity they counted: the sum over the communes of
#: France of ``pop_standardisee * apl`` (2022) is 254.5 million consultations. Spread
#: over the 61,429 general practitioners (``D201``) of INSEE's BPE 2019, that is 4,143 per
#: GP listed in the BPE (BPE counts include GPs DREES does not, so this is less than the
#: ~5,000 consultations of an average full-time liberal GP, IQVIA 2018). Rounded to
#: 4,140; within 3,601-6,000 the bounds keep it as is. National, not fitted on any region.
DEFAULT_ACTIVITY: float = 4140.0


class FarFromRoadWarning(UserWarning):
    """A point farther than ``settings.max_snap_distance_m`` from any road node."""


@lru_cache(maxsize=1)
def _params() -> dict:
    with resources.files("engine.apl").joinpath("drees_parameters.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def drees_parameters() -> dict:
    """The official DREES APL parameters shipped with the package.

    Returns
    -------
    dict
        ``source``, ``activity_bounds``, ``activity_exceptions``, ``distance_decay_minutes``
        and ``age_weights`` (19 bands, weights ``w2022`` and ``w2023``). A copy: edit it
        freely.

    Examples
    --------
    >>> drees_parameters()["activity_exceptions"]["no_liberal_activity_previous_year"]
    5400
    """
    return json.loads(json.dumps(_params()))


# --------------------------------------------------------------------------- activity


def bounded_activity(consultations, active_previous_year=True, health_centre=False) -> np.ndarray:
    """Yearly activity counted for each GP, with the official DREES bounds.

    At most 250 consultations counts 0; 251 to 3,600 counts 3,600; 3,601 to 6,000 as is;
    over 6,000 counts 6,000. A GP with no liberal activity the previous year is imputed
    5,400; health-centre GPs are counted as they are (no bounds).

    Parameters
    ----------
    consultations : array-like of float
        Consultations and visits of each GP in the year.
    active_previous_year : bool or array-like of bool
        False where the GP had no liberal activity the previous year.
    health_centre : bool or array-like of bool
        True for GPs of health centres.

    Returns
    -------
    numpy.ndarray
        The counted activity, float64.

    Raises
    ------
    InputError
        On a negative or NaN number of consultations (for GPs it is not imputed for).

    Examples
    --------
    >>> bounded_activity([100, 250, 251, 4000, 7000])
    array([   0.,    0., 3600., 4000., 6000.])
    >>> bounded_activity([100, 7000], active_previous_year=[False, True], health_centre=[False, True])
    array([5400., 7000.])
    """
    p = _params()
    c = np.atleast_1d(np.asarray(consultations, dtype=np.float64))
    active = np.broadcast_to(np.asarray(active_previous_year, dtype=bool), c.shape)
    centre = np.broadcast_to(np.asarray(health_centre, dtype=bool), c.shape)
    need = active
    bad = need & (~np.isfinite(c) | (c < 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"consultations[{i}] = {c[i]!r}; activity must be finite and >= 0",
                         row=i, column="activity")
    out = np.empty_like(c)
    lo, mid, hi = p["activity_bounds"][0], p["activity_bounds"][1], p["activity_bounds"][3]
    zero_max = float(lo["to"])           # 250
    floor_val = float(mid["counted"])    # 3,600
    cap = float(hi["counted"])           # 6,000
    with np.errstate(invalid="ignore"):
        out = np.where(c <= zero_max, 0.0, np.where(c <= floor_val, floor_val, np.minimum(c, cap)))
    out = np.where(centre, c, out)
    imputed = float(p["activity_exceptions"]["no_liberal_activity_previous_year"])
    out = np.where(active, out, imputed)
    return out.astype(np.float64)


# --------------------------------------------------------------------------- demand


def _age_weights(year: int) -> np.ndarray:
    key = f"w{int(year)}"
    bands = _params()["age_weights"]
    if key not in bands[0]:
        years = sorted(k[1:] for k in bands[0] if k.startswith("w"))
        raise InputError(f"no DREES age weights for year {year}; available: {', '.join(years)}")
    return np.array([b[key] for b in bands], dtype=np.float64)


def standardised_population(pop_by_age_band, year: int = 2022):
    """Population weighted by the DREES age-specific GP consumption (population standardisée).

    Parameters
    ----------
    pop_by_age_band : pandas.DataFrame or array-like of shape (..., 19)
        Population per five-year age band: a DataFrame with the columns
        :data:`AGE_BANDS` (``"0-4"``, ``"5-9"``, ..., ``"85-89"``, ``"90+"``), or an array
        whose last axis holds the 19 bands in that order.
    year : {2022, 2023}
        Which official weights to use.

    Returns
    -------
    pandas.Series or numpy.ndarray
        ``sum_band pop * weight`` per row (a Series with the frame's index for a DataFrame).

    Raises
    ------
    InputError
        On missing bands, negative or NaN counts, or an unknown year.

    Examples
    --------
    >>> import numpy as np
    >>> pop = np.zeros(19); pop[0] = 100; pop[-1] = 10
    >>> float(standardised_population(pop, 2022))
    116.9
    """
    w = _age_weights(year)
    if isinstance(pop_by_age_band, pd.DataFrame):
        missing = [b for b in AGE_BANDS if b not in pop_by_age_band.columns]
        if missing:
            raise InputError(f"missing age-band column(s) {missing}; expected {list(AGE_BANDS)}",
                             column=missing[0])
        arr = pop_by_age_band.loc[:, list(AGE_BANDS)].to_numpy(dtype=np.float64)
        _check_non_negative(arr, list(AGE_BANDS), pop_by_age_band.index)
        return pd.Series(arr @ w, index=pop_by_age_band.index, name="pop_standardisee")
    arr = np.asarray(pop_by_age_band, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != len(AGE_BANDS):
        raise InputError(f"expected {len(AGE_BANDS)} age bands on the last axis, got shape {arr.shape}")
    _check_non_negative(arr.reshape(-1, len(AGE_BANDS)), list(AGE_BANDS), None)
    return arr @ w


def _check_non_negative(arr: np.ndarray, columns, index) -> None:
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        r, c = (int(x) for x in np.argwhere(bad)[0])
        row = index[r] if index is not None else r
        raise InputError(f"value {arr[r, c]!r} must be finite and non-negative", row=row,
                         column=columns[c])


# --------------------------------------------------------------------------- communes


def _commune_table(communes: pd.DataFrame, year: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Validate the communes table; return it (string codes) and the standardised population."""
    if not isinstance(communes, pd.DataFrame):
        raise InputError(f"communes must be a pandas DataFrame, got {type(communes).__name__}")
    for col in ("code_commune", "lon", "lat"):
        if col not in communes.columns:
            raise InputError(f"communes lack the column {col!r} (need code_commune, lon, lat and "
                             "pop_standardisee or the age bands)", column=col)
    codes = communes["code_commune"].astype(str)
    dup = codes[codes.duplicated()]
    if len(dup):
        row = int(np.flatnonzero(codes.duplicated().to_numpy())[0])
        raise InputError(f"duplicate commune code {dup.iloc[0]!r} ({len(dup)} duplicate(s)); "
                         "give one row per commune", row=row, column="code_commune")
    if "pop_standardisee" in communes.columns:
        pop = communes["pop_standardisee"].to_numpy(dtype=np.float64)
        _check_column(pop, codes, "pop_standardisee")
    else:
        pop = np.asarray(standardised_population(communes, year), dtype=np.float64)
    if "pop_totale" in communes.columns:
        _check_column(communes["pop_totale"].to_numpy(dtype=np.float64), codes, "pop_totale")
    return communes.assign(code_commune=codes.to_numpy()), pop


def _check_column(values: np.ndarray, codes: pd.Series, column: str) -> None:
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"commune {codes.iloc[i]}: {column} = {values[i]!r}; it must be finite "
                         f"and non-negative ({int(bad.sum())} bad row(s))", row=i, column=column)


def _snap_points(network: RoadNetwork, lon, lat, labels, what: str):
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} {labels[i]} has no coordinates (lon={lon[i]}, lat={lat[i]})",
                         row=i, column="lon")
    node, dist = network.snap(lon, lat)
    far = dist > settings.max_snap_distance_m
    return np.asarray(node, dtype=np.int64), np.asarray(dist, dtype=np.float64), far


def commune_matrix(network: RoadNetwork, communes: pd.DataFrame, *,
                   max_minutes: float | None = DREES_DECAY.max_minutes, client=None,
                   chunk_size: int = 2000) -> TravelTimeMatrix:
    """Travel times between the communes' points (town halls), diagonal forced to 0.

    Each commune is snapped once to its nearest road node. A commune whose point is
    farther than ``settings.max_snap_distance_m`` from every road is not routed: a
    :class:`FarFromRoadWarning` names it, and it only reaches itself (0 minutes).

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    communes : pandas.DataFrame
        Columns ``code_commune``, ``lon``, ``lat`` (WGS84).
    max_minutes : float or None
        Routing bound (default the DREES catchment, 20 minutes); ``None`` for unbounded.
    client : distributed.Client, optional
        Route on this Dask cluster (see :func:`engine.routing.matrix.travel_times`); the
        result is identical. ``None`` (default) routes locally.
    chunk_size : int
        With ``client``: origins per task.

    Returns
    -------
    TravelTimeMatrix
        ``n_communes x n_communes`` in the order of ``communes``; ``origins`` and
        ``destinations`` hold the snapped node of each commune; ``stats`` holds
        ``snap_distance_m``, ``isolated`` (far communes) and the routing's stats
        (``relaxations``; ``tasks`` and ``workers`` with ``client``).

    Examples
    --------
    >>> m = commune_matrix(net, communes)  # doctest: +SKIP
    >>> m.to_dense()[0, 0]  # doctest: +SKIP
    0.0
    """
    if max_minutes is not None and not math.isfinite(max_minutes):
        max_minutes = None
    codes = communes["code_commune"].astype(str).to_numpy()
    node, dist, far = _snap_points(network, communes["lon"], communes["lat"], codes, "commune")
    if far.any():
        i = int(np.flatnonzero(far)[0])
        warnings.warn(f"{int(far.sum())} commune point(s) are more than "
                      f"{settings.max_snap_distance_m:,.0f} m from any road (first: {codes[i]}, "
                      f"{dist[i]:,.0f} m); they are not routed and only reach themselves",
                      FarFromRoadWarning, stacklevel=2)
    n = len(codes)
    ok = np.flatnonzero(~far)
    uniq, inv = np.unique(node[ok], return_inverse=True)
    rows_l, cols_l, vals_l = [], [], []
    routing: dict = {}
    if len(uniq):
        routed = travel_times(network, uniq, uniq, max_minutes=max_minutes, client=client,
                              chunk_size=chunk_size)
        routing = routed.stats
        m = routed.to_scipy().tocsr()
        # communes sharing a node share its row: expand unique nodes to communes
        sub = m[inv][:, inv].tocoo()
        r, c = ok[sub.row], ok[sub.col]
        keep = r != c
        rows_l.append(r[keep])
        cols_l.append(c[keep])
        vals_l.append(sub.data[keep])
    rows_l.append(np.arange(n))
    cols_l.append(np.arange(n))
    vals_l.append(np.zeros(n))
    rows = np.concatenate(rows_l)
    cols = np.concatenate(cols_l)
    vals = np.concatenate(vals_l)
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return TravelTimeMatrix(
        origins=node, destinations=node, indptr=indptr, indices=cols.astype(np.int32),
        minutes=vals.astype(np.float64), max_minutes=max_minutes,
        stats={**routing, "snap_distance_m": dist, "isolated": far, "code_commune": codes},
    )


def _bool_column(df: pd.DataFrame, col: str, default: bool) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), default)
    return df[col].fillna(default).astype(bool).to_numpy()


def commune_supply(communes: pd.DataFrame, practitioners: pd.DataFrame, *,
                   network: RoadNetwork | None = None, max_age: float | None = None,
                   default_activity: float = DEFAULT_ACTIVITY,
                   return_practitioners: bool = False):
    """Supply of each commune: the bounded activity of its GPs, summed.

    Parameters
    ----------
    communes : pandas.DataFrame
        ``code_commune`` (and ``lon``, ``lat`` to place practitioners given by coordinates).
    practitioners : pandas.DataFrame
        One row per GP: ``code_commune``, or ``lon``/``lat`` (placed in the commune whose
        point is nearest); optional ``activity`` (consultations + visits a year; missing
        means ``default_activity``), ``active_previous_year`` (bool), ``health_centre``
        (bool) and ``age`` (years).
    network : RoadNetwork, optional
        When given, GPs placed by coordinates farther than
        ``settings.max_snap_distance_m`` from any road are excluded with a
        :class:`FarFromRoadWarning` (never silently snapped).
    max_age : float, optional
        Count only GPs aged ``max_age`` or less (65 for the official "moins de 65 ans"
        variant). GPs with an unknown age are kept, with a warning.
    default_activity : float
        Activity of a GP whose ``activity`` is unknown, before the bounds
        (:data:`DEFAULT_ACTIVITY`).
    return_practitioners : bool
        Also return the practitioners table with the columns ``commune_index``,
        ``counted_activity`` and ``excluded``.

    Returns
    -------
    numpy.ndarray of shape (n_communes,)
        Counted consultations per commune, in ``communes`` order.

    Raises
    ------
    InputError
        On a practitioner in an unknown commune, without commune nor coordinates, a bad
        activity or age, or ``max_age`` without an ``age`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> communes = pd.DataFrame({"code_commune": ["2A004", "2B033"]})
    >>> gps = pd.DataFrame({"code_commune": ["2A004", "2A004", "2B033"],
    ...                     "activity": [5000, 100, 7000]})
    >>> commune_supply(communes, gps)
    array([5000., 6000.])
    """
    if not isinstance(practitioners, pd.DataFrame):
        raise InputError(f"practitioners must be a DataFrame, got {type(practitioners).__name__}")
    if not (math.isfinite(default_activity) and default_activity >= 0):
        raise InputError(f"default_activity must be finite and >= 0, got {default_activity!r}")
    codes = communes["code_commune"].astype(str)
    index = pd.Index(codes.to_numpy())
    n_gp = len(practitioners)
    where = np.full(n_gp, -1, dtype=np.int64)
    excluded = np.zeros(n_gp, dtype=bool)
    has_code = np.zeros(n_gp, dtype=bool)
    if "code_commune" in practitioners.columns:
        raw = practitioners["code_commune"]
        has_code = raw.notna().to_numpy()
        pc = raw.astype(str).to_numpy()
        pos = index.get_indexer(pc)
        unknown = has_code & (pos < 0)
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(f"practitioner in commune {pc[i]!r}, which is not among the "
                             f"{len(index)} communes ({int(unknown.sum())} such row(s))",
                             row=practitioners.index[i], column="code_commune")
        where[has_code] = pos[has_code]
    need_xy = ~has_code
    if need_xy.any():
        if not {"lon", "lat"} <= set(practitioners.columns):
            i = int(np.flatnonzero(need_xy)[0])
            raise InputError("practitioner has neither code_commune nor lon/lat",
                             row=practitioners.index[i], column="code_commune")
        sel = np.flatnonzero(need_xy)
        lon = practitioners["lon"].to_numpy(dtype=np.float64)[sel]
        lat = practitioners["lat"].to_numpy(dtype=np.float64)[sel]
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        if bad.any():
            i = sel[int(np.flatnonzero(bad)[0])]
            raise InputError("practitioner has neither code_commune nor valid lon/lat",
                             row=practitioners.index[i], column="lon")
        if network is not None:
            _, dist = network.snap(lon, lat)
            far = np.asarray(dist) > settings.max_snap_distance_m
            if far.any():
                k = int(np.flatnonzero(far)[0])
                warnings.warn(
                    f"{int(far.sum())} practitioner(s) are more than "
                    f"{settings.max_snap_distance_m:,.0f} m from any road (first: row "
                    f"{practitioners.index[sel[k]]!r} at ({lon[k]:.5f}, {lat[k]:.5f}), "
                    f"{dist[k]:,.0f} m): excluded from the supply",
                    FarFromRoadWarning, stacklevel=2)
                excluded[sel[far]] = True
        clon = communes["lon"].to_numpy(dtype=np.float64)
        clat = communes["lat"].to_numpy(dtype=np.float64)
        for k, i in enumerate(sel):
            if not excluded[i]:
                where[i] = int(np.argmin(haversine_m(lon[k], lat[k], clon, clat)))
    # activity
    if "activity" in practitioners.columns:
        act = practitioners["activity"].to_numpy(dtype=np.float64, na_value=np.nan)
        act = np.where(np.isnan(act), default_activity, act)
    else:
        act = np.full(n_gp, float(default_activity))
    active = _bool_column(practitioners, "active_previous_year", True)
    centre = _bool_column(practitioners, "health_centre", False)
    try:
        counted = bounded_activity(act, active, centre)
    except InputError as exc:
        raise InputError(str(exc).split(": ", 1)[-1], row=practitioners.index[exc.row],
                         column="activity") from None
    # age
    if max_age is not None:
        if "age" not in practitioners.columns:
            raise InputError(f"max_age={max_age} needs an 'age' column in practitioners",
                             column="age")
        age = practitioners["age"].to_numpy(dtype=np.float64, na_value=np.nan)
        badage = np.isfinite(age) & ((age < 0) | (age > 120))
        if badage.any():
            i = int(np.flatnonzero(badage)[0])
            raise InputError(f"age {age[i]!r} is not a plausible age", row=practitioners.index[i],
                             column="age")
        if np.isnan(age).any():
            warnings.warn(f"{int(np.isnan(age).sum())} practitioner(s) have no age; they are "
                          f"counted in the max_age={max_age} variant", UserWarning, stacklevel=2)
        excluded |= age > max_age
    use = ~excluded & (where >= 0)
    supply = np.bincount(where[use], weights=counted[use], minlength=len(codes)).astype(np.float64)
    if return_practitioners:
        detail = practitioners.assign(commune_index=where, counted_activity=counted,
                                      excluded=excluded)
        return supply, detail
    return supply


def apl_communes(
    network: RoadNetwork,
    communes: pd.DataFrame,
    practitioners: pd.DataFrame,
    *,
    decay=DREES_DECAY,
    max_age: float | None = None,
    year: int = 2022,
    default_activity: float = DEFAULT_ACTIVITY,
    matrix: TravelTimeMatrix | None = None,
    client=None,
    chunk_size: int = 2000,
) -> pd.DataFrame:
    """The APL of each commune (E2SFCA between commune points on the road network).

    Demand is the standardised population of each commune, supply the bounded activity of
    its GPs, times the road travel time between town halls (0 inside a commune), weighted
    by the DREES steps; ``R_j = S_j / sum_i w(t_ij) P_i`` and ``APL_i = sum_j w(t_ij) R_j``.

    Parameters
    ----------
    network : RoadNetwork
        The road network covering the communes.
    communes : pandas.DataFrame
        One row per commune: ``code_commune`` (str), ``lon``, ``lat`` (the town hall),
        ``pop_standardisee`` (or the 19 :data:`AGE_BANDS` columns), optionally
        ``pop_totale``.
    practitioners : pandas.DataFrame
        One row per GP (see :func:`commune_supply`).
    decay : Decay or callable
        Distance decay (default :data:`~engine.apl.decay.DREES_DECAY`).
    max_age : float, optional
        65 for the official variant counting only GPs aged 65 or less.
    year : {2022, 2023}
        Age weights used when ``pop_standardisee`` must be computed.
    default_activity : float
        Activity of GPs with unknown activity (:data:`DEFAULT_ACTIVITY`).
    matrix : TravelTimeMatrix, optional
        A precomputed :func:`commune_matrix` (same communes, same order) to skip routing.
    client : distributed.Client, optional
        Route on this Dask cluster (the only heavy step; the catchment runs here). The
        result is identical to the local one.
    chunk_size : int
        With ``client``: origins per task.

    Returns
    -------
    pandas.DataFrame
        One row per commune, in input order: ``code_commune``, ``apl``, ``supply``
        (counted consultations), ``demand_in_reach`` (``sum_i w_ij P_i``), ``ratio``
        (``R_j``), ``supply_unserved`` (supply no demand reaches), ``pop_standardisee``,
        ``pop_totale`` (when given), ``node``, ``snap_distance_m``, ``isolated``.
        To reuse the routing, compute :func:`commune_matrix` yourself and pass ``matrix``.

    Raises
    ------
    InputError
        On duplicate commune codes, negative or NaN populations, unknown communes in
        practitioners, missing coordinates.

    Warns
    -----
    FarFromRoadWarning
        For communes or practitioners too far from any road.
    UnservedSupplyWarning
        For a commune whose GPs have no demand in reach (its supply counts for nobody).

    Examples
    --------
    >>> from engine.data import corsica_inputs  # doctest: +SKIP
    >>> communes, gps = corsica_inputs()  # doctest: +SKIP
    >>> apl = apl_communes(net, communes, gps)  # doctest: +SKIP
    """
    dec = as_decay(decay)
    table, pop = _commune_table(communes, year)
    if matrix is not None and matrix.shape != (len(table), len(table)):
        raise InputError(f"matrix has shape {matrix.shape}, expected {(len(table), len(table))} "
                         "(one row and column per commune, in order)")
    # The practitioners are checked before routing, the one step that takes minutes.
    supply = commune_supply(table, practitioners, network=network, max_age=max_age,
                            default_activity=default_activity)
    if matrix is None:
        matrix = commune_matrix(network, table, max_minutes=dec.max_minutes, client=client,
                                chunk_size=chunk_size)
    cat = Catchment(catchment_weights(matrix, dec), pop)
    codes = table["code_commune"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservedSupplyWarning)
        ratio = cat.ratios(supply)
        apl = cat.accessibility(supply)
    unserved = np.where(cat.demand_in_reach > 0, 0.0, supply)
    if (unserved > 0).any():
        lost = codes[unserved > 0]
        warnings.warn(f"{len(lost)} commune(s) have GPs but no demand in reach (first: {lost[0]}); "
                      "their supply counts for nobody (see column supply_unserved)",
                      UnservedSupplyWarning, stacklevel=2)
    out = pd.DataFrame({
        "code_commune": codes,
        "apl": apl,
        "supply": supply,
        "demand_in_reach": cat.demand_in_reach,
        "ratio": ratio,
        "supply_unserved": unserved,
        "pop_standardisee": pop,
    }, index=table.index)
    if "pop_totale" in table.columns:
        out["pop_totale"] = table["pop_totale"].to_numpy(dtype=np.float64)
    out["node"] = np.asarray(matrix.origins, dtype=np.int64)
    stats = matrix.stats or {}
    out["snap_distance_m"] = stats.get("snap_distance_m", np.full(len(out), np.nan))
    out["isolated"] = stats.get("isolated", np.zeros(len(out), dtype=bool))
    return out
