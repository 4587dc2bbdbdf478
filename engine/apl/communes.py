"""The APL of communes on a road network: commune-to-commune times, then the E2SFCA.

:func:`apl_communes` is the one path from inputs to the indicator: demand from
:mod:`engine.apl.demand`, supply from :mod:`engine.apl.supply`, times from
:func:`commune_matrix`, weights from the profession's decay, and the floating catchment of
:class:`engine.apl.fca.Catchment`. :class:`engine.region.Region` (what the command line,
the forecast and the optimizer use) calls exactly these functions, so both give the same
APL to the last bit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from engine import settings
from engine._validate import minutes_bound
from engine.apl.demand import commune_demand
from engine.apl.fca import Catchment, UnservedSupplyWarning, catchment_weights
from engine.apl.profession import Profession
from engine.apl.profession import profession as as_profession
from engine.apl.supply import commune_supply
from engine.errors import FarFromRoadWarning, InputError
from engine.routing.matrix import TravelTimeMatrix, travel_times
from engine.routing.network import RoadNetwork

__all__ = ["apl_communes", "commune_matrix"]


def commune_matrix(network: RoadNetwork, communes: pd.DataFrame, *,
                   profession: str | Profession = "gp", max_minutes: float | None = None,
                   client=None, chunk_size: int = 2000, warn: bool = True) -> TravelTimeMatrix:
    """Travel times between the communes' points (town halls), diagonal set to the
    profession's within-commune time (0 minutes for GPs).

    Each commune is snapped once to its nearest road node. A commune whose point is
    farther than ``settings.max_snap_distance_m`` from every road is not routed: a
    :class:`~engine.errors.FarFromRoadWarning` names it, and it only reaches itself.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    communes : pandas.DataFrame
        Columns ``code_commune``, ``lon``, ``lat`` (WGS84).
    profession : str, path-like or Profession
        Whose decay sets the routing bound and the within-commune time.
    max_minutes : float, optional
        Routing bound; default the support of the profession's decay (20 minutes for GPs);
        ``inf`` for unbounded.
    client : distributed.Client, optional
        Route on this Dask cluster (see :func:`engine.routing.matrix.travel_times`); the
        result is identical. ``None`` (default) routes locally.
    chunk_size : int
        With ``client``: origins per task.
    warn : bool
        Warn about the communes far from every road (a caller that has checked them
        already passes False).

    Returns
    -------
    TravelTimeMatrix
        ``n_communes x n_communes`` in the order of ``communes``; ``origins`` and
        ``destinations`` hold the snapped node of each commune; ``stats`` holds
        ``snap_distance_m``, ``isolated`` (far communes) and the routing's stats.

    Examples
    --------
    >>> m = commune_matrix(net, communes)  # doctest: +SKIP
    >>> m.to_dense()[0, 0]  # doctest: +SKIP
    0.0
    """
    prof = as_profession(profession)
    bound = prof.decay.max_minutes if max_minutes is None else max_minutes
    bound = minutes_bound(bound)
    for col in ("code_commune", "lon", "lat"):
        if col not in communes.columns:
            raise InputError(f"communes lack the column {col!r}", column=col)
    codes = communes["code_commune"].astype(str).to_numpy()
    lon = pd.to_numeric(communes["lon"], errors="coerce").to_numpy(np.float64)
    lat = pd.to_numeric(communes["lat"], errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"commune {codes[i]} has no coordinates", row=i, column="lon")
    node, dist = network.snap(lon, lat)
    node = np.asarray(node, dtype=np.int64)
    dist = np.asarray(dist, dtype=np.float64)
    far = dist > settings.max_snap_distance_m
    if far.any() and warn:
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
        routed = travel_times(network, uniq, uniq, max_minutes=bound, client=client,
                              chunk_size=chunk_size)
        routing = routed.stats
        m = routed.to_scipy().tocsr()
        # Communes sharing a node share its row: expand unique nodes to communes.
        sub = m[inv][:, inv].tocoo()
        r, c = ok[sub.row], ok[sub.col]
        keep = r != c
        rows_l.append(r[keep])
        cols_l.append(c[keep])
        vals_l.append(sub.data[keep])
    rows_l.append(np.arange(n))
    cols_l.append(np.arange(n))
    vals_l.append(np.full(n, float(prof.within_commune_minutes)))
    rows = np.concatenate(rows_l)
    cols = np.concatenate(cols_l)
    vals = np.concatenate(vals_l)
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return TravelTimeMatrix(
        origins=node, destinations=node, indptr=indptr, indices=cols.astype(np.int32),
        minutes=vals.astype(np.float64), max_minutes=bound,
        stats={**routing, "snap_distance_m": dist, "isolated": far, "code_commune": codes},
    )


def apl_communes(
    network: RoadNetwork,
    communes: pd.DataFrame,
    practitioners: pd.DataFrame,
    *,
    profession: str | Profession = "gp",
    max_age: float | None = None,
    year: int = 2022,
    default_activity: float | None = None,
    matrix: TravelTimeMatrix | None = None,
    client=None,
    chunk_size: int = 2000,
) -> pd.DataFrame:
    """The APL of each commune (E2SFCA between commune points on the road network).

    Demand is the standardised population of each commune, supply the counted activity of
    its practitioners, times the road travel time between town halls (0 inside a commune),
    weighted by the profession's decay; ``R_j = S_j / sum_i w(t_ij) P_i`` and
    ``APL_i = sum_j w(t_ij) R_j``.

    Parameters
    ----------
    network : RoadNetwork
        The road network covering the communes.
    communes : pandas.DataFrame
        One row per commune: ``code_commune`` (str), ``lon``, ``lat`` (the town hall),
        ``pop_standardisee`` (or the profession's age-band columns), optionally
        ``pop_totale``.
    practitioners : pandas.DataFrame
        One row per practitioner (see :func:`engine.apl.supply.commune_supply`).
    profession : str, path-like or Profession
        Whose rules (default ``"gp"``: the DREES APL to general practitioners).
    max_age : float, optional
        65 for the official variant counting only GPs aged 65 or less.
    year : int
        Data year of the age weights, used when ``pop_standardisee`` must be computed.
    default_activity : float, optional
        Activity of practitioners with unknown activity (default: the profession's).
    matrix : TravelTimeMatrix, optional
        A precomputed :func:`commune_matrix` (same communes, same order) to skip routing.
    client : distributed.Client, optional
        Route on this Dask cluster (the only heavy step); the result is identical.
    chunk_size : int
        With ``client``: origins per task.

    Returns
    -------
    pandas.DataFrame
        One row per commune, in input order: ``code_commune``, ``apl``, ``supply``
        (counted activity), ``demand_in_reach`` (``sum_i w_ij P_i``), ``ratio``
        (``R_j``), ``supply_unserved`` (supply no demand reaches), ``pop_standardisee``,
        ``pop_totale`` (when given), ``node``, ``snap_distance_m``, ``isolated``.

    Raises
    ------
    InputError
        On duplicate commune codes, bad populations, unknown communes in practitioners,
        missing coordinates.

    Warns
    -----
    FarFromRoadWarning
        For communes too far from any road.
    UnservedSupplyWarning
        For a commune whose practitioners have no demand in reach.

    Examples
    --------
    >>> from engine.mirror import corsica_inputs  # doctest: +SKIP
    >>> communes, gps = corsica_inputs()  # doctest: +SKIP
    >>> apl = apl_communes(net, communes, gps)  # doctest: +SKIP
    """
    prof = as_profession(profession)
    table, demand = commune_demand(communes, year=year, profession=prof)
    if matrix is not None and matrix.shape != (len(table), len(table)):
        raise InputError(f"matrix has shape {matrix.shape}, expected {(len(table), len(table))} "
                         "(one row and column per commune, in order)")
    # Practitioners are checked before routing, the one step that may take minutes.
    supply = commune_supply(table, practitioners, profession=prof, max_age=max_age,
                            default_activity=default_activity)
    if matrix is None:
        matrix = commune_matrix(network, table, profession=prof, client=client,
                                chunk_size=chunk_size)
    cat = Catchment(catchment_weights(matrix, prof.decay), demand)
    codes = table["code_commune"].to_numpy()
    # Ratios once, without the generic warning: the one below names the communes.
    ratio = cat.ratios(supply, warn=False)
    apl = cat.spread(ratio)
    unserved = np.zeros_like(ratio)
    unserved[cat.unreached] = supply[cat.unreached]
    if (unserved > 0).any():
        lost = codes[unserved > 0]
        warnings.warn(f"{len(lost)} commune(s) have {prof.label} but no demand in reach (first: "
                      f"{lost[0]}); their supply counts for nobody (see column supply_unserved)",
                      UnservedSupplyWarning, stacklevel=2)
    out = pd.DataFrame({
        "code_commune": codes, "apl": apl, "supply": supply,
        "demand_in_reach": cat.demand_in_reach, "ratio": ratio, "supply_unserved": unserved,
        "pop_standardisee": demand,
    }, index=table.index)
    if "pop_totale" in table.columns:
        out["pop_totale"] = pd.to_numeric(table["pop_totale"]).to_numpy(dtype=np.float64)
    out["node"] = np.asarray(matrix.origins, dtype=np.int64)
    stats = matrix.stats or {}
    out["snap_distance_m"] = stats.get("snap_distance_m", np.full(len(out), np.nan))
    out["isolated"] = stats.get("isolated", np.zeros(len(out), dtype=bool))
    return out
