"""Readers of the planner's files: communes, practitioners, official values (interim version).

Each reader returns a table with canonical column names whose index labels are the file's
line numbers (header on line 1), so that later checks can name the line at fault.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import InputError

__all__ = ["read_communes", "read_official", "read_practitioners"]

_BANDS = ("0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
          "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+")


def _csv(path: Path, text_columns) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        df = pd.read_csv(path, dtype={c: str for c in text_columns})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV file ({exc})", path=path) from None
    df.index = np.arange(len(df)) + 2
    return df


def read_practitioners(path: str | os.PathLike, *, year: int = 2022) -> pd.DataFrame:
    """One row per practitioner: ``code_commune`` or ``lon``/``lat`` and optional columns.

    Returns
    -------
    pandas.DataFrame
        Index = file lines.
    """
    path = Path(path)
    df = _csv(path, ["code_commune", "id", "profession"])
    if "code_commune" not in df and not {"lon", "lat"} <= set(df.columns):
        raise InputError("needs a 'code_commune' column or 'lon' and 'lat' columns", path=path,
                         column="code_commune")
    for col in ("activity", "age", "birth_year", "lon", "lat"):
        if col in df:
            vals = pd.to_numeric(df[col], errors="coerce")
            bad = df[col].notna() & vals.isna()
            if bad.any():
                i = df.index[bad.to_numpy()][0]
                raise InputError(f"{df.loc[i, col]!r} is not a number", path=path, line=int(i),
                                 column=col)
            df[col] = vals
    if "birth_year" in df and "age" not in df:
        df["age"] = year - df["birth_year"]
    for col in ("health_centre", "active_previous_year"):
        if col in df:
            text = df[col].astype(str).str.strip().str.lower()
            yes = text.isin(["true", "1", "yes", "oui", "vrai"])
            no = text.isin(["false", "0", "no", "non", "faux", "nan", ""])
            if not (yes | no).all():
                i = df.index[~(yes | no).to_numpy()][0]
                raise InputError(f"{df.loc[i, col]!r} is not a yes/no value", path=path,
                                 line=int(i), column=col)
            df[col] = yes.to_numpy()
    return df


def read_communes(path: str | os.PathLike, *, year: int = 2022):
    """Communes (CSV or GeoPackage layer ``communes``); returns ``(table, polygons_path)``."""
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
        df.index = np.arange(len(df)) + 2
    else:
        df = _csv(path, ["code_commune", "departement"])
    if "code_commune" not in df:
        raise InputError("missing column", path=path, column="code_commune")
    df["code_commune"] = df["code_commune"].astype(str)
    for col in ("pop_totale", "pop_standardisee", "lon", "lat", *_BANDS):
        if col in df:
            vals = pd.to_numeric(df[col], errors="coerce")
            bad = vals.isna()
            if bad.any():
                i = df.index[bad.to_numpy()][0]
                raise InputError(f"{df.loc[i, col]!r} is not a number", path=path, line=int(i),
                                 column=col)
            df[col] = vals.astype(float)
    for col in ("pop_totale", "lon", "lat"):
        if col not in df:
            raise InputError("missing column", path=path, column=col)
    if "nom" not in df:
        df["nom"] = df["code_commune"]
    if "departement" not in df:
        df["departement"] = df["code_commune"].str[:2]
    return df, polygons


def read_official(path: str | os.PathLike, *, year: int | None = None) -> pd.DataFrame:
    """Official values: ``code_commune``, ``apl``, ``apl_moins_65``."""
    path = Path(path)
    df = _csv(path, ["code_commune"])
    if "annee" in df and year is not None:
        df = df[pd.to_numeric(df["annee"], errors="coerce") == int(year)]
    for col in ("code_commune", "apl", "apl_moins_65"):
        if col not in df:
            raise InputError("missing column", path=path, column=col)
    return df[["code_commune", "apl", "apl_moins_65"]]
