"""File writers for a run's outputs: tables, GeoPackages, and the atomic output folder.

Every writer here is atomic at the file level: it writes to a temporary file beside the
target and renames it into place with :func:`os.replace`, so a reader never sees a half
written file. :func:`write_atomic` lifts this to a whole run: all the writers write into a
staging folder beside the output folder, and the staging folder then takes the output
folder's place in one step, so that a failed or killed run leaves the previous complete
set, and a finished one the new complete set, never a mix.

These functions only serialise what they are given; they compute nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import InputError

#: A writer receives the staging folder and writes its files there.
Writer = Callable[[Path], Any]

#: Length of an INSEE commune code ("2A004", "01001"); numeric codes are zero-padded to it
#: (département codes to 2).
_CODE_WIDTH = 5


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``, renamed onto ``path`` if the block succeeds.

    The temporary file keeps ``path``'s suffix, because some drivers (GDAL's GeoPackage,
    matplotlib) pick the format from it. On an exception the temporary file is removed and
    ``path`` is left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The final file. Its folder must exist.

    Yields
    ------
    pathlib.Path
        Where to write; it does not exist yet.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    # Writers such as GDAL refuse to open an existing (empty) file for creation.
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


#: The record an output folder keeps of the files its run wrote (JSON: version, files).
MARKER = ".apl-output.json"

#: Names of files the commands write (recognised in folders written before :data:`MARKER`).
_OUTPUT_SUFFIXES = (".csv", ".png", ".gpkg", ".tif", ".xlsx", ".pdf", ".html", ".json", ".npz")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _leftovers(parent: Path, name: str) -> list[tuple[Path, str, int]]:
    """Staging (``.NAME.staging-PID-*``) and set-aside (``.NAME.old-PID-*``) folders."""
    out = []
    for kind in ("staging", "old"):
        for p in parent.glob(f".{name}.{kind}-*"):
            try:
                pid = int(p.name.rsplit(f".{kind}-", 1)[1].split("-", 1)[0])
            except (IndexError, ValueError):
                continue
            out.append((p, kind, pid))
    return out


def _clean_leftovers(target: Path) -> None:
    """Remove what killed runs left beside ``target``; put back a set-aside previous output
    set when the run was killed between setting it aside and publishing the new one."""
    for path, kind, pid in _leftovers(target.parent, target.name):
        if pid == os.getpid() or _pid_alive(pid):
            continue
        if kind == "old" and not target.exists():
            with contextlib.suppress(OSError):
                os.rename(path, target)
                continue
        shutil.rmtree(path, ignore_errors=True)


def _recorded(folder: Path) -> set[str] | None:
    """The files an earlier run recorded in ``folder`` (None when it has no record)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        return set(data["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prepare_output(out_dir: str | os.PathLike[str]) -> Path:
    """Check an output folder before any work, and clean what killed runs left beside it.

    Parameters
    ----------
    out_dir : path-like
        The ``--out`` folder. Symbolic links are followed (the run replaces the folder they
        point to, on its own file system).

    Returns
    -------
    pathlib.Path
        The real output folder (it may not exist yet).

    Raises
    ------
    InputError
        An empty path; the current folder or one holding it; a file; a mount point (it
        cannot be replaced in one rename: give a folder inside it); a folder that cannot be
        written beside; an existing folder holding files no run of the engine wrote.
    """
    if not str(out_dir).strip():
        raise InputError("the output folder is empty: give a folder such as out/forecast")
    given = Path(out_dir).expanduser()
    target = Path(os.path.realpath(given))
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise InputError("is the current folder or holds it: give a folder of its own, such "
                         "as out/forecast", path=given)
    if target.exists() and not target.is_dir():
        raise InputError("exists and is not a folder", path=given)
    if target.exists() and os.path.ismount(target):
        raise InputError("is a mount point, which cannot be replaced in one step: give a "
                         "folder inside it", path=given)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder holding it ({exc.strerror})",
                         path=given) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in {parent}", path=given)
    _clean_leftovers(target)
    if target.is_dir() and _recorded(target) is None:
        foreign = [p for p in target.rglob("*") if p.is_file()
                   and not (p.suffix.lower() in _OUTPUT_SUFFIXES and p.parent == target)]
        if foreign:
            raise InputError(f"holds files the engine did not write (e.g. "
                             f"{foreign[0].relative_to(target)}); give a new or empty folder, "
                             "or one written by an earlier run", path=given)
    return target


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the output set is switched, then act on them."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:  # delivered again, now to the handler that was in place
            os.kill(os.getpid(), caught[0])


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False when
    the system or file system cannot."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0


def _publish(staging: Path, target: Path) -> None:
    """Make ``staging`` the output folder in one step: a kill at any moment leaves the old
    complete set or the new one."""
    if not target.exists():
        try:
            os.rename(staging, target)
            return
        except OSError:
            if not target.exists():
                raise
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now the previous set
        return
    # No atomic exchange: set the old set aside, publish, then delete it. A kill between
    # the two renames leaves the old set aside; the next run puts it back.
    aside = staging.with_name(staging.name.replace(".staging-", ".old-", 1))
    os.rename(target, aside)
    os.rename(staging, target)
    shutil.rmtree(aside, ignore_errors=True)


def write_atomic(
    out_dir: str | os.PathLike[str],
    writers: Mapping[str, Writer] | Iterable[Writer],
) -> list[Path]:
    """Run writers into a staging folder, then publish it as the output folder in one step.

    The staging folder is created beside the output folder (same file system), and every
    writer writes its files there. Only when all have returned is the folder published: it
    takes the place of the previous output folder in one atomic exchange (Linux
    ``renameat2``; elsewhere two renames, recovered by the next run if killed between them),
    so that at any moment the output folder holds the previous complete set or the new one,
    never a mix. The previous set's files go; files a user added to it (not recorded by the
    run that wrote it) are carried into the new set. Staging folders of killed runs are
    removed. SIGINT and SIGTERM wait for the switch to finish.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The output folder; created (with its parents) if missing; checked by
        :func:`prepare_output`.
    writers : mapping of name to callable, or iterable of callables
        Each writer is called as ``writer(staging_dir)`` and writes its files into
        ``staging_dir`` (sub-folders are allowed). Names only label errors.

    Returns
    -------
    list of pathlib.Path
        The files the run wrote, in the published folder (sorted by path).

    Raises
    ------
    InputError
        From :func:`prepare_output`.
    Exception
        Whatever a writer raised, with a note naming the writer; the output folder is then
        untouched and the staging folder removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> files = write_atomic(out, {"hello": lambda d: (d / "hello.txt").write_text("hi")})
    >>> [f.name for f in files]
    ['hello.txt']
    """
    from engine import __version__

    target = prepare_output(out_dir)
    items = list(writers.items()) if isinstance(writers, Mapping) else [
        (getattr(w, "__name__", repr(w)), w) for w in writers
    ]
    staging = target.parent / f".{target.name}.staging-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    _STAGING.add(staging)
    try:
        for name, writer in items:
            try:
                writer(staging)
            except Exception as exc:
                exc.add_note(f"while writing output {name!r}; {out_dir} was left unchanged")
                raise
        produced = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*")
                          if p.is_file())
        if target.is_dir():
            recorded = _recorded(target)
            keep = set() if recorded is None else {
                p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()
            } - recorded - {MARKER} - set(produced)
            for rel in sorted(keep):  # the user's own files travel with the new set
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(target / rel, staging / rel)
                except OSError:
                    shutil.copy2(target / rel, staging / rel)
        (staging / MARKER).write_text(json.dumps(
            {"engine": __version__, "files": produced}, indent=1) + "\n", encoding="utf-8")
        with _interrupts_deferred():
            _publish(staging, target)
        return [target / rel for rel in produced]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _STAGING.discard(staging)


#: Staging folders of the runs in progress in this process (see :func:`abandon_staging`).
_STAGING: set[Path] = set()


def abandon_staging() -> None:
    """Remove the staging folders of this process's unfinished :func:`write_atomic` calls.

    For a program that ends at once on an interrupt (without unwinding): the output folders
    keep their previous set, and nothing is left beside them.
    """
    for staging in list(_STAGING):
        shutil.rmtree(staging, ignore_errors=True)
        _STAGING.discard(staging)


def _code_as_text(values: pd.Series, width: int) -> pd.Series:
    """Codes as text, zero-padded when they arrived as numbers (``1001`` → ``01001``)."""
    if pd.api.types.is_numeric_dtype(values):
        return values.map(lambda v: "" if pd.isna(v) else str(int(v)).zfill(width))
    return values.astype("string").astype(object)


def _prepare_table(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(df).copy()
    for col in out.columns:
        if col.startswith("code_"):
            out[col] = _code_as_text(out[col], _CODE_WIDTH)
        elif col == "departement":
            out[col] = _code_as_text(out[col], 2)
        elif isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object)
    return out


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as UTF-8 CSV, atomically, keeping commune codes as text.

    Columns named ``code_*`` and ``departement`` are written as text (numeric codes are
    zero-padded to 5 characters), so ``01001`` or ``2A004`` survive a round trip through
    ``pandas.read_csv(..., dtype={"code_commune": str})``. The index is not written.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (``forecast.csv``, ``forecast_summary.csv``, ``installations.csv``, ...).
        A geometry column, if any, is dropped.
    path : str or os.PathLike
        The CSV file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_table(pd.DataFrame({"code_commune": ["01001"], "apl": [2.5]}), p)
    >>> p.read_text().splitlines()
    ['code_commune,apl', '01001,2.5']
    """
    path = Path(path)
    table = _prepare_table(df)
    geom = getattr(df, "_geometry_column_name", None)
    if geom is not None and geom in table.columns:
        table = pd.DataFrame(table.drop(columns=geom))
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return path


def _write_gpkg(gdf, path: Path, layer: str) -> Path:
    import geopandas as gpd

    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{layer} must be a GeoDataFrame with a geometry column, got "
                         f"{type(gdf).__name__}", path=path)
    data = _prepare_table(gdf)
    data = gpd.GeoDataFrame(data, geometry=gdf.geometry.name, crs=gdf.crs)
    with atomic_path(path) as tmp:
        data.to_file(tmp, layer=layer, driver="GPKG")
    return path


def write_communes(communes, directory: str | os.PathLike[str]) -> list[Path]:
    """Write the per-commune results as ``communes.gpkg`` and ``communes.csv``.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        One row per commune with its polygon (or point) and every computed column
        (``code_commune``, ``nom``, ``apl``, ``classe``, ...).
    directory : str or os.PathLike
        Folder to write into (typically the staging folder of :func:`write_atomic`).

    Returns
    -------
    list of pathlib.Path
        ``[communes.gpkg, communes.csv]``. The GeoPackage has one layer, ``communes``,
        with all columns; the CSV has the same columns without the geometry and keeps
        ``code_commune`` as text with its leading zeros.

    Raises
    ------
    InputError
        When ``communes`` has no geometry.

    Examples
    --------
    >>> write_communes(communes, "out/")  # doctest: +SKIP
    [PosixPath('out/communes.gpkg'), PosixPath('out/communes.csv')]
    """
    directory = Path(directory)
    gpkg = _write_gpkg(communes, directory / "communes.gpkg", "communes")
    csv = write_table(communes, directory / "communes.csv")
    return [gpkg, csv]


def write_isochrones(isochrones, path: str | os.PathLike[str]) -> Path | None:
    """Write isochrone polygons to a GeoPackage (layer ``isochrones``).

    Parameters
    ----------
    isochrones : geopandas.GeoDataFrame or None
        Columns ``source``, ``minutes`` and the polygons. ``None`` writes nothing.
    path : str or os.PathLike
        The ``.gpkg`` file.

    Returns
    -------
    pathlib.Path or None
        ``path``, or ``None`` when there was nothing to write.

    Examples
    --------
    >>> write_isochrones(iso, "out/isochrones.gpkg")  # doctest: +SKIP
    PosixPath('out/isochrones.gpkg')
    """
    if isochrones is None:
        return None
    return _write_gpkg(isochrones, Path(path), "isochrones")


def write_geotiff(
    path: str | os.PathLike[str],
    array: np.ndarray,
    transform,
    crs,
    *,
    nodata: float = -9999.0,
) -> Path:
    """Write a single-band float32 GeoTIFF, deflate-compressed and tiled, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.tif`` file.
    array : numpy.ndarray
        ``(rows, cols)`` values, north up.
    transform : affine.Affine
        Pixel-to-CRS transform.
    crs : rasterio.crs.CRS or str
        The raster's CRS (e.g. EPSG:2154).
    nodata : float
        The nodata value recorded in the file; NaN in ``array`` is written as it.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> write_geotiff("travel_time.tif", array, transform, crs)  # doctest: +SKIP
    PosixPath('travel_time.tif')
    """
    import rasterio

    path = Path(path)
    data = np.asarray(array, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"array must be 2-D (rows, cols), got shape {data.shape}")
    data = np.where(np.isnan(data), np.float32(nodata), data)
    rows, cols = data.shape
    profile = {
        "driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "float32",
        "crs": crs, "transform": transform, "nodata": nodata, "compress": "deflate",
        "predictor": 3,
    }
    # GeoTIFF tiles must be multiples of 16 pixels; small rasters stay striped.
    if rows >= 256 and cols >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
        dst.set_band_description(1, "minutes to the nearest source")
    return path


def export_region(region, directory: str | os.PathLike[str], *, ages=None,
                  year: int | None = None) -> list[Path]:
    """Write a region's inputs in the documented input formats, to edit and pass back.

    Files (``scenarios/examples/README.md`` documents each format): ``communes.csv``
    (``code_commune``, ``nom``, ``departement``, ``pop_totale``, ``pop_standardisee``, ``lon``,
    ``lat``: the routing point), ``practitioners.csv`` (``id``, ``profession``,
    ``code_commune``, ``activity``, ``active_previous_year``, ``health_centre``, ``age``,
    ``age_imputed``), ``official.csv`` (``code_commune``, ``apl``, ``apl_moins_65``,
    ``annee``) when the region has official values, ``zones.csv`` when it has zones, and
    ``network.npz`` (the road network, read back by ``--network``).

    Parameters
    ----------
    region : engine.region.Region
    directory : path-like
        Folder to write into (typically the staging folder of :func:`write_atomic`).
    ages : array-like, optional
        An age per practitioner to write where the roster has none; written with
        ``age_imputed`` true, so that reading the file back treats them as unknown.
    year : int, optional
        The ``annee`` of the official values (default: the region's data year).

    Returns
    -------
    list of pathlib.Path
    """
    directory = Path(directory)
    written = []
    cols = [c for c in ("code_commune", "nom", "departement", "pop_totale", "pop_standardisee",
                        "lon", "lat") if c in region.communes]
    written.append(write_table(region.communes[cols], directory / "communes.csv"))
    p = region.practitioners.reset_index(drop=True)
    gps = pd.DataFrame({
        "id": p["id"] if "id" in p else np.arange(1, len(p) + 1),
        "profession": region.profession.name,
        "code_commune": region.codes[np.asarray(region.practitioner_commune)],
        "activity": p["activity"] if "activity" in p else np.nan,
        "active_previous_year": (p["active_previous_year"] if "active_previous_year" in p
                                 else True),
        "health_centre": p["health_centre"] if "health_centre" in p else False,
    })
    known = (pd.to_numeric(p["age"], errors="coerce") if "age" in p
             else pd.Series(np.nan, index=p.index))
    if "age_imputed" in p:
        known = known.where(~p["age_imputed"].fillna(False).astype(bool))
    imputed = known.isna().to_numpy()
    if ages is not None:
        given = np.asarray(ages, dtype=np.float64)
        gps["age"] = np.where(imputed, given, known.to_numpy())
        gps["age_imputed"] = imputed & np.isfinite(given)
    else:
        gps["age"] = known.to_numpy()
        gps["age_imputed"] = False
    gps["active_previous_year"] = np.where(gps["active_previous_year"].astype(bool), "oui", "non")
    gps["health_centre"] = np.where(gps["health_centre"].astype(bool), "oui", "non")
    gps["age_imputed"] = np.where(gps["age_imputed"], "oui", "non")
    written.append(write_table(gps, directory / "practitioners.csv"))
    official = region.official_values()
    if official is not None:
        off = official[[c for c in ("code_commune", "apl", "apl_moins_65") if c in official]].copy()
        off["annee"] = int(region.year if year is None else year)
        written.append(write_table(off, directory / "official.csv"))
    if region.zones is not None:
        written.append(write_table(region.zones, directory / "zones.csv"))
    written.append(region.network.save(directory / "network.npz"))
    return written


def write_json(data: Any, path: str | os.PathLike[str]) -> Path:
    """Write JSON (UTF-8, indented, keys in the order given), atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_json({"a": 1}, pathlib.Path(tempfile.mkdtemp()) / "run.json")
    >>> p.read_text()
    '{\\n  "a": 1\\n}\\n'
    """
    import json

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False,
                                  default=_json_default) + "\n", encoding="utf-8")
    return path


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


#: How spreadsheet cells are rounded and shown, by column kind (see :func:`_kind`).
_XLSX_FORMATS = {"apl": (2, "0.00"), "probability": (3, "0.000"), "share": (4, "0.0%"),
                 "count": (0, "#,##0"), "decimal": (2, "#,##0.00"), "year": (0, "0"),
                 "text": (None, "@")}


def _kind(name: str, values: pd.Series) -> str:
    """What a column holds, from its name (the engine's column names) and dtype."""
    n = name.lower()
    if n.startswith(("code_", "zone")) or n in ("departement", "nom", "id"):
        return "text"
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "text"
    if n in ("year", "annee", "rank", "rang") or n.startswith("annee"):
        return "year"
    if n.startswith("p_deficit") or n.startswith("probabilit"):
        return "probability"
    if n.startswith(("share", "part")):
        return "share"
    if n.startswith("apl"):
        return "apl"
    if (n.startswith(("pop", "communes", "n_", "practitioners", "unlisted", "gps"))
            or "population" in n or n.startswith("active_")):
        return "count"
    return "decimal"


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    profession=None,
    notes: Mapping[str, str] | None = None,
) -> Path:
    """Write tables as an Excel workbook for reading: French headers, accented class labels,
    values rounded for reading, atomically.

    The CSV files beside it keep every value at full precision for programs; this workbook
    is for people: APL to 2 decimals, probabilities to 3, shares as percentages, populations
    as whole numbers with thousands separators, INSEE codes as text (leading zeros kept),
    zoning classes by their French label (« Sous-dense »). The header row is frozen and
    filterable.

    Parameters
    ----------
    sheets : mapping of str to pandas.DataFrame
        Sheet name (at most 31 characters) to table, in order. Geometry columns are dropped.
    path : path-like
        The ``.xlsx`` file.
    profession : str, path-like or Profession, optional
        Whose class codes to write as labels (default: general practitioners).
    notes : mapping of str to str, optional
        A sentence written above a sheet's table (e.g. what a year 0 is).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> write_xlsx({"Communes": communes}, "out/communes.xlsx")  # doctest: +SKIP
    PosixPath('out/communes.xlsx')
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from engine.apl import profession as as_profession
    from engine.french import column_label

    prof = as_profession(profession or "gp")
    class_labels = {c.code: c.label for c in prof.zoning.classes}
    path = Path(path)
    book = Workbook()
    book.remove(book.active)
    header_fill = PatternFill("solid", fgColor="DCE6F1")
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=str(name)[:31])
        table = _prepare_table(frame)
        geom = getattr(frame, "_geometry_column_name", None)
        if geom is not None and geom in table.columns:
            table = pd.DataFrame(table.drop(columns=geom))
        first = 1
        note = (notes or {}).get(name)
        if note:
            sheet.cell(row=1, column=1, value=note).font = Font(italic=True, color="555555")
            first = 3
        kinds = {c: _kind(str(c), table[c]) for c in table.columns}
        for j, col in enumerate(table.columns, start=1):
            cell = sheet.cell(row=first, column=j, value=column_label(str(col)))
            cell.font = Font(bold=True)
            cell.fill = header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for i, record in enumerate(table.itertuples(index=False), start=first + 1):
            for j, (col, value) in enumerate(zip(table.columns, record, strict=True), start=1):
                kind = kinds[col]
                digits, fmt = _XLSX_FORMATS[kind]
                if value is None or (not isinstance(value, str) and pd.isna(value)):
                    continue
                if str(col).startswith("classe") and isinstance(value, str):
                    value = class_labels.get(value, value)
                elif kind == "text":
                    value = str(value) if not isinstance(value, (bool, np.bool_)) else (
                        "oui" if value else "non")
                elif isinstance(value, (bool, np.bool_)):
                    value = "oui" if value else "non"
                else:
                    value = float(value)
                    value = int(round(value)) if digits == 0 else round(value, digits)
                cell = sheet.cell(row=i, column=j, value=value)
                cell.number_format = fmt
        for j, col in enumerate(table.columns, start=1):
            sample = [len(column_label(str(col))) / 1.6] + [
                len(str(v)) for v in table[col].head(200) if v is not None]
            width = min(max(8.0, max(sample) + 2), 60.0)
            sheet.column_dimensions[get_column_letter(j)].width = width
        sheet.freeze_panes = sheet.cell(row=first + 1, column=1)
        if len(table.columns):
            sheet.auto_filter.ref = (f"A{first}:{get_column_letter(len(table.columns))}"
                                     f"{first + max(len(table), 1)}")
    with atomic_path(path) as tmp:
        book.save(tmp)
    return path
