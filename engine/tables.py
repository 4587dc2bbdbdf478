"""The tables every command writes, as library functions on a region.

The command line parses arguments, calls these (and the scenario functions), and writes
what they return; it computes nothing itself. Researchers can call the same functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.apl import classify, zoning_summary
from engine.region import Region

__all__ = [
    "access_surface",
    "commune_table",
    "forecast_table",
    "model_check",
    "headline",
    "installation_points",
    "practitioner_isochrones",
    "practitioner_points",
    "risk_table",
    "watch_list",
    "with_forecast",
    "zones_forecast_table",
    "zones_table",
    "zoning_table",
]


def commune_table(region: Region, *, baseline=None, polygons=None):
    """Every commune today: the baseline's APL and class, the engine's own recomputation, the
    official values, the younger-practitioners variant.

    Parameters
    ----------
    region : Region
        The region.
    baseline : scenarios.baseline.Baseline, optional
        Year 0 (default: official where the region has official values, else the model).
    polygons : path-like or geopandas.GeoDataFrame, optional
        Commune polygons: a GeoPackage (layer ``communes``, column ``code_commune``) or a
        GeoDataFrame with ``code_commune``; without it the table carries the communes' points.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per commune: ``code_commune``, ``nom``, ``departement``,
        ``pop_totale``, ``pop_standardisee``, ``practitioners`` (listed), ``unlisted``
        (added by the calibration), ``supply`` (counted activity, year 0), ``apl`` (the
        baseline: the official value on the official baseline), ``classe``, ``apl_modele``
        (the engine's APL with the roster as given) and ``classe_modele``, ``apl_u65``
        (practitioners aged the profession's variant age or less, 65 for GPs: official on
        the official baseline, the engine's on the model one) and ``classe_u65``, and
        where the region has them ``apl_officiel``, ``apl_u65_officiel``.

    Examples
    --------
    >>> from engine.mirror import load_region  # doctest: +SKIP
    >>> commune_table(load_region("corse")).head()  # doctest: +SKIP
    """
    import geopandas as gpd

    from scenarios.baseline import baseline as make_baseline

    base = make_baseline(region) if baseline is None else baseline
    prof = region.profession
    c = region.communes
    cols = [k for k in ("code_commune", "nom", "departement", "pop_totale", "pop_standardisee")
            if k in c]
    table = c[cols].copy()
    table["practitioners"] = np.bincount(region.practitioner_commune, minlength=region.n_communes)
    table["unlisted"] = np.bincount(base.slot_commune[base.slot_unlisted],
                                    minlength=region.n_communes)
    table["supply"] = base.supply(region.n_communes)
    table["apl"] = base.apl
    table["classe"] = np.asarray(classify(base.apl, profession=prof))
    table["apl_modele"] = base.model_apl
    table["classe_modele"] = np.asarray(classify(base.model_apl, profession=prof))
    official = region.official_values()
    if base.official_young is not None:
        table["apl_u65"] = base.official_young
    elif prof.variant_max_age is not None:
        table["apl_u65"] = base.correction.apply(region.apl(base.expected_supply(
            region.n_communes, years_ahead=0, retirement_age=prof.variant_max_age,
            profession=prof)))
    if "apl_u65" in table:
        table["classe_u65"] = np.asarray(classify(table["apl_u65"].to_numpy(), profession=prof))
    if official is not None:
        table["apl_officiel"] = official["apl"].to_numpy()
        if "apl_moins_65" in official:
            table["apl_u65_officiel"] = official["apl_moins_65"].to_numpy()
    geometry = gpd.points_from_xy(c["lon"], c["lat"], crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")
    if polygons is not None:
        if isinstance(polygons, gpd.GeoDataFrame):
            shapes = polygons[["code_commune", polygons.geometry.name]].rename_geometry("geometry")
        else:
            shapes = gpd.read_file(polygons, layer="communes")[["code_commune", "geometry"]]
        shapes = shapes.to_crs("EPSG:4326").set_index("code_commune")["geometry"]
        poly = gdf["code_commune"].map(shapes)
        gdf = gdf.set_geometry(gpd.GeoSeries(np.where(poly.isna(), gdf.geometry, poly),
                                             crs="EPSG:4326"))
    return gdf


def model_check(region: Region, baseline) -> dict | None:
    """How the engine's own recomputation compares with the official values of year 0.

    Returns
    -------
    dict or None
        :func:`engine.apl.agreement.compare` of ``apl_modele`` against the official APL
        (Spearman, MAE, class agreement, confusion table, shares in deficit), plus the
        calibration's figures when the baseline is official (``regularisation``,
        ``fitted_mae``, ``unlisted``, ``unlisted_supply_share``, ``offset_communes``);
        ``None`` without official values.
    """
    from engine.apl.agreement import compare

    official = region.official_values()
    if official is None or official["apl"].isna().any():
        return None
    out = compare(baseline.model_apl, official["apl"].to_numpy(), population=region.population,
                  profession=region.profession)
    if baseline.fit is not None:
        supply = baseline.slot_activity
        out.update({
            "regularisation": baseline.fit.regularisation,
            "fitted_mae": float(np.abs(baseline.fitted_apl - official["apl"].to_numpy()).mean()),
            "fitted_spearman": compare(baseline.fitted_apl, official["apl"].to_numpy(),
                                       profession=region.profession)["spearman"],
            "unlisted": baseline.n_unlisted,
            "unlisted_supply_share": float(supply[baseline.slot_unlisted].sum() / supply.sum())
            if supply.sum() > 0 else 0.0,
            "offset_communes": int((baseline.correction.offset != 0).sum()),
            "activity_scale": baseline.activity_scale,
        })
    return out


def zoning_table(table, region: Region) -> pd.DataFrame:
    """Zoning summary of a :func:`commune_table` of ``region``: one row per département and a
    total row.

    Returns
    -------
    pandas.DataFrame
        ``departement`` then communes, population and share per class, and the mean APL
        weighted by the region's demand, as the forecast weighs it (see
        :func:`engine.apl.zoning_summary`).
    """
    summary = zoning_summary(table["apl"].to_numpy(), table["pop_totale"].to_numpy(),
                             region.demand, code_commune=table["code_commune"].to_numpy(),
                             profession=region.profession)
    return summary.rename_axis("departement").reset_index()


def practitioner_points(region: Region) -> pd.DataFrame:
    """Where practitioners practise: their own point where the roster has one, else their
    commune's point.

    Returns
    -------
    pandas.DataFrame
        ``lon``, ``lat``, ``code_commune``, one row per practitioner.
    """
    p = region.practitioners.reset_index(drop=True)
    pts = region.communes[["lon", "lat", "code_commune"]].iloc[region.practitioner_commune]
    pts = pts.reset_index(drop=True)
    if {"lon", "lat"} <= set(p.columns):
        own = p[["lon", "lat"]].apply(pd.to_numeric, errors="coerce")
        has = own.notna().all(axis=1).to_numpy()
        pts.loc[has, ["lon", "lat"]] = own.loc[has].to_numpy()
    return pts


def _practitioner_nodes(region: Region) -> list[int]:
    pts = practitioner_points(region)
    nodes, _ = region.network.snap(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    return sorted(set(np.atleast_1d(nodes).tolist()))


def access_surface(region: Region, *, max_minutes: float = 60.0):
    """Driving time to the nearest practitioner on a Lambert-93 grid (for a GeoTIFF).

    One multi-source search on the reversed graph from every practitioner's node
    (:func:`engine.routing.matrix.nearest_travel_times`), spread off the roads by
    :func:`engine.routing.surface.rasterize_travel_time`.

    Returns
    -------
    array, transform, crs
        As :func:`engine.routing.surface.rasterize_travel_time`.
    """
    from engine.routing.matrix import nearest_travel_times
    from engine.routing.surface import rasterize_travel_time

    minutes = nearest_travel_times(region.network, _practitioner_nodes(region),
                                   max_minutes=max_minutes, reverse=True)
    return rasterize_travel_time(region.network, minutes)


def practitioner_isochrones(region: Region, minutes=(10, 15, 20)):
    """Road-following isochrones around the practitioners, dissolved per band.

    Returns
    -------
    geopandas.GeoDataFrame
        See :func:`engine.routing.isochrones.isochrones`.
    """
    from engine.routing.isochrones import isochrones

    return isochrones(region.network, _practitioner_nodes(region), minutes=minutes, dissolve=True)


def headline(summary: pd.DataFrame, region: Region) -> dict:
    """The few numbers a command prints when it is done (communes, population in deficit).

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`zoning_table`: its total row holds them.
    region : Region
        Whose profession names the deficit class.
    """
    code = region.profession.zoning.codes[0]
    total = summary.set_index("departement").loc["total"]
    return {"communes": int(total["communes"]), "communes_deficit": int(total[f"communes_{code}"]),
            "population_deficit": float(total[f"population_{code}"]),
            "share_deficit": float(total[f"share_{code}"])}


#: Columns of ``forecast.csv`` (year 0, observed, first; see :class:`scenarios.Forecast`).
FORECAST_COLUMNS = ("code_commune", "nom", "year", "apl_mean", "apl_median", "apl_p10",
                    "apl_p90", "p_deficit", "classe")


def forecast_table(fc) -> pd.DataFrame:
    """``forecast.csv``: one row per commune and year, year 0 (the observed state) first."""
    return fc.communes[list(FORECAST_COLUMNS)]


def with_forecast(table, fc):
    """The commune table with the forecast's last year (median, 80 % interval, probability of
    deficit, the median's class ``classe_forecast``) and the first year each commune's median
    is in deficit."""
    last = fc.communes[fc.communes["year"] == fc.years[-1]].set_index("code_commune")
    out = table.copy()
    out["apl_forecast"] = out["code_commune"].map(last["apl_median"])
    out["apl_forecast_p10"] = out["code_commune"].map(last["apl_p10"])
    out["apl_forecast_p90"] = out["code_commune"].map(last["apl_p90"])
    out["p_deficit_forecast"] = out["code_commune"].map(last["p_deficit"])
    out["classe_forecast"] = out["code_commune"].map(last["classe"])
    out["annee_deficit"] = out["code_commune"].map(fc.crossing_year())
    return out


def zones_table(region: Region, baseline) -> pd.DataFrame | None:
    """The region's zones today (see :func:`engine.apl.zone_table`), or ``None`` without zones."""
    from engine.apl import zone_table

    if region.zones is None:
        return None
    return zone_table(baseline.apl, region.population, region.demand,
                      region.zones["zone"].to_numpy(), names=region.zones["zone_nom"].to_numpy(),
                      profession=region.profession)


def zones_forecast_table(fc) -> pd.DataFrame | None:
    """``zones_forecast.csv``: per zone and year, with the first year its median APL is in
    deficit (``annee_deficit``)."""
    if fc.zones is None:
        return None
    out = fc.zones.copy()
    out["annee_deficit"] = out["zone"].map(fc.zone_crossing_year())
    return out


def risk_table(fc, table) -> pd.DataFrame:
    """Every commune ranked by its risk of being in deficit in the forecast's last year.

    Parameters
    ----------
    fc : scenarios.Forecast
    table : pandas.DataFrame
        :func:`commune_table` (today's class and APL, population, département).

    Returns
    -------
    pandas.DataFrame
        One row per commune, riskiest first (probability of deficit in the last year, then
        the first year the median is under the threshold, then the most populous, then the
        lowest median): ``rang``,
        ``code_commune``, ``nom``, ``departement``, ``pop_totale``, ``classe`` and ``apl``
        (today), ``p_deficit`` (last year), ``annee_deficit``, then per simulated year
        ``apl_median_<year>``, ``apl_p10_<year>``, ``apl_p90_<year>``.
    """
    last = fc.years[-1]
    wide = fc.communes[fc.communes["year"] > fc.years[0]].pivot(
        index="code_commune", columns="year", values=["apl_median", "apl_p10", "apl_p90"])
    wide.columns = [f"{stat}_{year}" for stat, year in wide.columns]
    order = [f"{stat}_{year}" for year in fc.years[1:] for stat in ("apl_median", "apl_p10",
                                                                     "apl_p90")]
    final = fc.communes[fc.communes["year"] == last].set_index("code_commune")
    cols = [c for c in ("code_commune", "nom", "departement", "pop_totale", "classe", "apl")
            if c in table]
    out = pd.DataFrame(table[cols]).copy()
    out["p_deficit"] = out["code_commune"].map(final["p_deficit"]).to_numpy()
    out["annee_deficit"] = out["code_commune"].map(fc.crossing_year()).to_numpy()
    out = out.join(wide[order], on="code_commune")
    key_year = out["annee_deficit"].astype("Float64").fillna(np.inf).astype(float)
    out = out.assign(_y=key_year.to_numpy()).sort_values(
        ["p_deficit", "_y", "pop_totale", f"apl_median_{last}"],
        ascending=[False, True, False, True], kind="stable").drop(columns="_y").reset_index(
        drop=True)
    out.insert(0, "rang", np.arange(1, len(out) + 1))
    return out


#: The watch-list's probabilities of deficit in the last year, from the first (included) to
#: the second (excluded): no longer unlikely, not yet likely. The engine's choice, not an
#: official threshold; the report quotes it from here.
WATCH_RANGE = (0.2, 0.5)


def watch_list(risk: pd.DataFrame, *, low: float = WATCH_RANGE[0],
               high: float = WATCH_RANGE[1]) -> pd.DataFrame:
    """The communes to watch: a probability of deficit in the last year from ``low`` to
    ``high`` (not yet likely, no longer unlikely), riskiest first."""
    p = risk["p_deficit"]
    return risk[(p >= low) & (p < high)].reset_index(drop=True)


def installation_points(region: Region, *, scenario=None, proposals=None) -> pd.DataFrame | None:
    """Where installations are, for the maps: the scenario's planned ones and the optimizer's
    proposed ones.

    Parameters
    ----------
    region : Region
    scenario : scenarios.Scenario, optional
        Its ``installations`` (a commune's routing point, or the point given).
    proposals : pandas.DataFrame, optional
        :func:`scenarios.optimize_installations` (drawn at the commune's point).

    Returns
    -------
    pandas.DataFrame or None
        ``lon``, ``lat``, ``kind`` (``"prévue"`` or ``"proposée"``), ``label``, ``gps``,
        ``year``, ``nom``, ``code_commune``, ``rank``, ``population_lifted``; None when
        there are none.
    """
    c = region.communes.set_index("code_commune")
    rows = []
    for inst in (scenario.installations if scenario is not None else ()):
        if inst.commune is not None:
            lon, lat = float(c.at[inst.commune, "lon"]), float(c.at[inst.commune, "lat"])
            nom = c.at[inst.commune, "nom"] if "nom" in c else inst.commune
        else:
            lon, lat, nom = float(inst.lon), float(inst.lat), None
        rows.append({"lon": lon, "lat": lat, "kind": "prévue", "label": inst.label,
                     "gps": inst.gps, "year": inst.year, "nom": nom,
                     "code_commune": inst.commune})
    if proposals is not None:
        for r in pd.DataFrame(proposals).itertuples(index=False):
            rows.append({"lon": float(c.at[r.code_commune, "lon"]),
                         "lat": float(c.at[r.code_commune, "lat"]), "kind": "proposée",
                         "label": f"Proposition {int(r.rank)}", "gps": int(r.gps),
                         "year": int(r.year), "nom": r.nom, "code_commune": r.code_commune,
                         "rank": int(r.rank),
                         "population_lifted": getattr(r, "population_lifted", np.nan)})
    return pd.DataFrame(rows) if rows else None
