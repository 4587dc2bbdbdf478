"""The jobs behind the command line, as library functions that return tables.

The command line parses arguments, calls these, and writes what they return; it computes
nothing itself. Researchers can call the same functions from Python.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from engine import settings
from engine.errors import InputError
from engine.region import Region

_GP_PROFESSIONS = {"medecin_generaliste", "médecin généraliste", "medecin generaliste", "generaliste",
                   "généraliste", "gp", "general_practitioner", "d201", "omnipraticien"}


def commune_table(region: Region, *, polygons: str | os.PathLike | None = None):
    """APL of every commune, with all GPs and with GPs aged 65 or less, and classes.

    Parameters
    ----------
    region : Region
        The region.
    polygons : path-like, optional
        A GeoPackage of commune polygons (layer ``communes``, column ``code_commune``);
        without it the table carries the communes' points.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per commune: ``code_commune``, ``nom``, ``departement``,
        ``pop_totale``, ``pop_standardisee``, ``supply``, ``apl``, ``apl_u65``, ``classe``,
        ``classe_u65`` and, where the region carries them, the official ``apl_drees`` and
        ``apl_u65_drees``.

    Examples
    --------
    >>> from engine.region import load_region  # doctest: +SKIP
    >>> commune_table(load_region("corse")).head()  # doctest: +SKIP
    """
    import geopandas as gpd

    from engine.apl import classify, fca_from_weights

    w = region.weights()
    demand = region.demand
    supply = region.supply()
    apl = fca_from_weights(w, demand, supply)
    supply_u65 = region.expected_supply(year=region.year, retirement_age=65.0)
    apl_u65 = fca_from_weights(w, demand, supply_u65)
    c = region.communes
    cols = [k for k in ("code_commune", "nom", "departement", "pop_totale", "pop_standardisee")
            if k in c]
    table = c[cols].copy()
    table["gps"] = np.bincount(region.gp_columns(), minlength=region.n_communes)
    table["supply"] = supply
    table["apl"] = apl
    table["apl_u65"] = apl_u65
    table["classe"] = classify(apl)
    table["classe_u65"] = classify(apl_u65)
    if region.official is not None:
        off = c[["code_commune"]].merge(region.official, on="code_commune", how="left")
        table["apl_drees"] = off["apl"].to_numpy()
        table["apl_u65_drees"] = off["apl_moins_65"].to_numpy()
    geometry = gpd.points_from_xy(c["lon"], c["lat"], crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")
    if polygons is not None:
        shapes = gpd.read_file(polygons, layer="communes")[["code_commune", "geometry"]]
        shapes = shapes.to_crs("EPSG:4326").set_index("code_commune")["geometry"]
        poly = gdf["code_commune"].map(shapes)
        gdf = gdf.set_geometry(gpd.GeoSeries(np.where(poly.isna(), gdf.geometry, poly), crs="EPSG:4326"))
    return gdf


def zoning_table(table) -> pd.DataFrame:
    """Zoning summary of a :func:`commune_table`: one row per département and a total row.

    Returns
    -------
    pandas.DataFrame
        ``departement`` then communes, population and share per class, and the mean APL
        weighted by standardised population (see :func:`engine.apl.zoning_summary`).
    """
    from engine.apl import zoning_summary

    summary = zoning_summary(table["apl"].to_numpy(), table["pop_totale"].to_numpy(),
                             table["pop_standardisee"].to_numpy(),
                             code_commune=table["code_commune"].to_numpy())
    return summary.rename_axis("departement").reset_index()


def gp_points(region: Region) -> pd.DataFrame:
    """Where GPs practise: their own point where the roster has one, else their commune's point."""
    p = region.practitioners.reset_index(drop=True)
    pts = region.communes.set_index("code_commune")[["lon", "lat"]].loc[p["code_commune"]].reset_index()
    if {"lon", "lat"} <= set(p.columns):
        own = p[["lon", "lat"]].apply(pd.to_numeric, errors="coerce")
        has = own.notna().all(axis=1).to_numpy()
        pts.loc[has, ["lon", "lat"]] = own.loc[has].to_numpy()
    return pts[["lon", "lat", "code_commune"]]


def read_practitioners(path: str | os.PathLike, communes: pd.DataFrame) -> pd.DataFrame:
    """Read a planner's practitioners CSV (one row per practitioner).

    Columns: ``id``, ``profession``, ``code_commune`` or ``lon``/``lat``, ``birth_year`` or
    ``age``, optional ``activity`` (consultations and visits last year) and
    ``health_centre`` (true/false). Only general practitioners are kept. A practitioner
    given by a point is attached to the nearest commune point.

    Parameters
    ----------
    path : path-like
        The CSV file.
    communes : pandas.DataFrame
        The communes (``code_commune``, ``lon``, ``lat``).

    Returns
    -------
    pandas.DataFrame
        One row per GP with ``code_commune`` and the optional columns.

    Raises
    ------
    InputError
        Naming the file, row and column of the first bad value.
    """
    from engine.data import read_table

    path = Path(path)
    if not path.is_file():
        raise InputError("no such practitioners file", path=path)
    df = read_table(path, [], ["code_commune", "id"])
    if "profession" in df:
        prof = df["profession"].astype(str).str.strip().str.lower()
        df = df[prof.isin(_GP_PROFESSIONS)].copy()
    has_code = "code_commune" in df
    has_point = {"lon", "lat"} <= set(df.columns)
    if not has_code and not has_point:
        raise InputError("needs a 'code_commune' column or 'lon' and 'lat' columns", path=path,
                         column="code_commune")
    if has_point:
        lon = pd.to_numeric(df["lon"], errors="coerce")
        lat = pd.to_numeric(df["lat"], errors="coerce")
        need_point = ~df["code_commune"].notna() if has_code else pd.Series(True, index=df.index)
        bad = need_point & (lon.isna() | lat.isna())
        if bad.any():
            i = df.index[bad.to_numpy()][0]
            raise InputError("missing or non-numeric lon/lat", path=path, row=int(i) + 2, column="lon")
        if need_point.any():
            from sklearn.neighbors import BallTree

            tree = BallTree(np.deg2rad(communes[["lat", "lon"]].to_numpy(float)), metric="haversine")
            pts = np.deg2rad(np.column_stack([lat[need_point], lon[need_point]]))
            dist, idx = tree.query(pts, k=1)
            far = dist[:, 0] * settings.earth_radius_m > 50_000
            if far.any():
                i = df.index[need_point.to_numpy()][int(np.flatnonzero(far)[0])]
                raise InputError("point is more than 50 km from every commune of the region",
                                 path=path, row=int(i) + 2, column="lon")
            codes = communes["code_commune"].to_numpy()[idx[:, 0]]
            if not has_code:
                df["code_commune"] = None
            df.loc[need_point, "code_commune"] = codes
    known = set(communes["code_commune"])
    unknown = ~df["code_commune"].isin(known)
    if unknown.any():
        i = df.index[unknown.to_numpy()][0]
        raise InputError(f"unknown commune {df.loc[i, 'code_commune']!r}", path=path, row=int(i) + 2,
                         column="code_commune")
    for col in ("activity", "age", "birth_year"):
        if col in df:
            vals = pd.to_numeric(df[col], errors="coerce")
            bad = df[col].notna() & vals.isna()
            if bad.any():
                i = df.index[bad.to_numpy()][0]
                raise InputError(f"{df.loc[i, col]!r} is not a number", path=path, row=int(i) + 2, column=col)
            df[col] = vals
    if "activity" in df and (df["activity"] < 0).any():
        i = df.index[(df["activity"] < 0).to_numpy()][0]
        raise InputError("activity must be >= 0", path=path, row=int(i) + 2, column="activity")
    if "health_centre" in df:
        df["health_centre"] = df["health_centre"].astype(str).str.lower().isin(["true", "1", "yes", "oui"])
    return df.reset_index(drop=True)


def read_communes_file(path: str | os.PathLike, *, year: int = 2022):
    """Read a planner's communes file (GeoPackage or CSV).

    Parameters
    ----------
    path : path-like
        GeoPackage (layer ``communes``) or CSV; see :func:`engine.region.region_from_files`.
    year : int
        Year of the DREES age weights used when the file gives age bands.

    Returns
    -------
    table : pandas.DataFrame
        ``code_commune``, ``nom``, ``departement``, ``pop_totale``, ``pop_standardisee``,
        ``lon``, ``lat``.
    polygons : pathlib.Path or None
        ``path`` when it holds polygons (for maps), else None.

    Raises
    ------
    InputError
        Naming the file, row and column of the first bad value.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such communes file", path=path)
    polygons = None
    if path.suffix.lower() == ".gpkg":
        import geopandas as gpd

        try:
            gdf = gpd.read_file(path, layer="communes")
        except Exception as exc:
            raise InputError(f"cannot read layer 'communes' ({exc})", path=path) from None
        gdf = gdf.to_crs("EPSG:4326")
        if "lon" not in gdf or "lat" not in gdf:
            pts = gdf.geometry.representative_point()
            gdf["lon"], gdf["lat"] = pts.x, pts.y
        if (gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])).any():
            polygons = path
        df = pd.DataFrame(gdf.drop(columns="geometry"))
    else:
        from engine.data import read_table

        df = read_table(path, ["code_commune"], ["code_commune", "departement"])
    if "code_commune" not in df:
        raise InputError("missing column", path=path, column="code_commune")
    df["code_commune"] = df["code_commune"].astype(str)
    dup = df["code_commune"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"duplicate commune code {df['code_commune'].iloc[i]!r}", path=path,
                         row=i + 2, column="code_commune")
    if "pop_standardisee" not in df:
        from engine.apl import AGE_BANDS, standardised_population

        missing = [b for b in AGE_BANDS if b not in df]
        if missing:
            raise InputError("needs 'pop_standardisee' or the 19 age-band columns "
                             f"({', '.join(AGE_BANDS[:2])}, ..., {AGE_BANDS[-1]}); missing {missing[0]!r}",
                             path=path, column="pop_standardisee")
        df["pop_standardisee"] = standardised_population(df[list(AGE_BANDS)], year)
    for col in ("pop_totale", "pop_standardisee", "lon", "lat"):
        if col not in df:
            raise InputError("missing column", path=path, column=col)
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna() | (vals < 0) if col.startswith("pop") else vals.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{df[col].iloc[i]!r} is not a valid "
                             f"{'non-negative number' if col.startswith('pop') else 'coordinate'}",
                             path=path, row=i + 2, column=col)
        df[col] = vals.astype(float)
    if "nom" not in df:
        df["nom"] = df["code_commune"]
    if "departement" not in df:
        df["departement"] = df["code_commune"].str[:2]
    keep = ["code_commune", "nom", "departement", "pop_totale", "pop_standardisee", "lon", "lat"]
    return df[keep].reset_index(drop=True), polygons
