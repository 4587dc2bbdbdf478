"""The tables every command writes, as library functions on a region.

The command line parses arguments, calls these (and the scenario functions), and writes
what they return; it computes nothing itself. Researchers can call the same functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.apl import classify, zoning_summary
from engine.region import Region
from scenarios.ages import expected_supply

__all__ = [
    "access_surface",
    "commune_table",
    "headline",
    "practitioner_isochrones",
    "practitioner_points",
    "zoning_table",
]


def commune_table(region: Region, *, polygons=None):
    """APL of every commune, with every practitioner and with the younger ones only, and classes.

    Parameters
    ----------
    region : Region
        The region.
    polygons : path-like or geopandas.GeoDataFrame, optional
        Commune polygons: a GeoPackage (layer ``communes``, column ``code_commune``) or a
        GeoDataFrame with ``code_commune``; without it the table carries the communes' points.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per commune: ``code_commune``, ``nom``, ``departement``,
        ``pop_totale``, ``pop_standardisee``, ``practitioners``, ``supply``, ``apl``,
        ``apl_u65`` (practitioners aged the profession's variant age or less, 65 for GPs),
        ``classe``, ``classe_u65`` and, where the region carries them, the official
        ``apl_officiel`` and ``apl_u65_officiel``.

    Examples
    --------
    >>> from engine.mirror import load_region  # doctest: +SKIP
    >>> commune_table(load_region("corse")).head()  # doctest: +SKIP
    """
    import geopandas as gpd

    prof = region.profession
    supply = region.supply()
    apl = region.apl(supply)
    c = region.communes
    cols = [k for k in ("code_commune", "nom", "departement", "pop_totale", "pop_standardisee")
            if k in c]
    table = c[cols].copy()
    table["practitioners"] = np.bincount(region.practitioner_commune, minlength=region.n_communes)
    table["supply"] = supply
    table["apl"] = apl
    table["classe"] = np.asarray(classify(apl, profession=prof))
    if prof.variant_max_age is not None:
        apl_u65 = region.apl(expected_supply(region, year=region.year))
        table["apl_u65"] = apl_u65
        table["classe_u65"] = np.asarray(classify(apl_u65, profession=prof))
    official = region.official_values()
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


def zoning_table(table, *, profession="gp") -> pd.DataFrame:
    """Zoning summary of a :func:`commune_table`: one row per département and a total row.

    Returns
    -------
    pandas.DataFrame
        ``departement`` then communes, population and share per class, and the mean APL
        weighted by standardised population (see :func:`engine.apl.zoning_summary`).
    """
    weights = table["pop_standardisee"] if "pop_standardisee" in table else table["pop_totale"]
    summary = zoning_summary(table["apl"].to_numpy(), table["pop_totale"].to_numpy(),
                             weights.to_numpy(), code_commune=table["code_commune"].to_numpy(),
                             profession=profession)
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


def headline(table, *, profession="gp") -> dict:
    """The few numbers a command prints when it is done (communes, population in deficit).

    Parameters
    ----------
    table : pandas.DataFrame
        ``apl`` (or ``classe``) and ``pop_totale`` per commune.
    """
    from engine.apl import class_index

    deficit = class_index(table["apl"].to_numpy(), profession=profession) == 0
    pop = table["pop_totale"].to_numpy(np.float64)
    total = float(pop.sum())
    return {"communes": len(table), "communes_deficit": int(deficit.sum()),
            "population_deficit": float(pop[deficit].sum()),
            "share_deficit": float(pop[deficit].sum() / total) if total > 0 else 0.0}
