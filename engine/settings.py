"""Project-wide defaults, in the spirit of ``osmnx.settings``.

Change them at run time (``engine.settings.max_snap_distance_m = 2_000``) or, for the
folders, through environment variables: ``APL_DATA_MIRROR`` (where the source data are) and
``APL_CACHE_DIR`` (where assembled regions and network caches are kept).
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the data mirror (the folder holding ``osm/``, ``insee/``, ``drees/``).
DATA_MIRROR_ENV = "APL_DATA_MIRROR"

#: Environment variable naming the cache folder.
CACHE_DIR_ENV = "APL_CACHE_DIR"

#: The folder holding this package (``engine/``); its parent is the checkout in development.
PACKAGE_DIR = Path(__file__).resolve().parent

#: Where the engine keeps what it assembles itself (region bundles, network caches). ``None``
#: means ``$APL_CACHE_DIR`` when set, else the user's cache folder (``platformdirs``:
#: ``~/.cache/apl-engine`` on Linux). Set it to a path to override both.
cache_dir: str | os.PathLike | None = None

#: A point farther than this from the nearest road node is flagged, not silently snapped.
max_snap_distance_m: float = 5_000.0

#: A practitioner given by a point farther than this from every commune point is an error.
max_attach_distance_m: float = 50_000.0

#: Mean Earth radius used for haversine distances, the one osmnx uses (metres).
earth_radius_m: float = 6_371_009.0

#: Number of origins handled by one parallel task of the shortest-path kernel.
routing_chunk_size: int = 16

#: Environment variable overriding :data:`max_forecast_memory_gib`.
FORECAST_MEMORY_ENV = "APL_MAX_MEMORY_GIB"

#: Memory a forecast may use for its per-draw statistics. ``None``: half the machine's
#: physical memory; ``$APL_MAX_MEMORY_GIB`` overrides it. A forecast that would need more is
#: refused before any work, with the estimate.
max_forecast_memory_gib: float | None = None

#: Up to this memory (GiB), a forecast keeps every draw's APL and its medians and 80 %
#: intervals are exact order statistics; beyond it (and beyond what fixed bins cost), each
#: commune and year keeps counts in fixed bins instead, whatever the number of draws (within
#: 0.005 APL: see :mod:`scenarios.draws`). 1 GiB is about 37,000 draws of Corsica.
exact_forecast_memory_gib: float = 1.0

#: The limit's default where the physical memory cannot be read (GiB).
FALLBACK_MEMORY_GIB = 4

#: Numba threads per Dask task; ``None`` gives each task its host's cores divided by the
#: task slots (Dask threads) of the workers on that host.
dask_numba_threads: int | None = None


def cache_folder() -> Path:
    """The cache folder (created if needed): ``settings.cache_dir``, ``$APL_CACHE_DIR``, or the
    user's cache folder.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from engine import settings
    >>> settings.cache_folder().is_dir()
    True
    """
    if cache_dir is not None:
        path = Path(cache_dir).expanduser()
    elif os.environ.get(CACHE_DIR_ENV):
        path = Path(os.environ[CACHE_DIR_ENV]).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir("apl-engine", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_mirror(required: bool = False) -> Path | None:
    """Locate the data mirror.

    The mirror is ``$APL_DATA_MIRROR`` when that variable is set, else ``../shared/data``
    beside the project checkout (when the package runs from a checkout and that folder
    exists), else ``shared/data`` or ``../shared/data`` from the current folder.

    Parameters
    ----------
    required : bool
        Raise instead of returning ``None`` when no mirror is found.

    Returns
    -------
    pathlib.Path or None
        The mirror folder, or ``None`` when there is none and ``required`` is false.

    Raises
    ------
    FileNotFoundError
        When ``required`` is true and no mirror is found, or when ``$APL_DATA_MIRROR``
        names a folder that does not exist.

    Examples
    --------
    >>> from engine import settings
    >>> mirror = settings.data_mirror()
    >>> mirror is None or (mirror / "osm").is_dir()
    True
    """
    env = os.environ.get(DATA_MIRROR_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"${DATA_MIRROR_ENV} is set to {env!r}, which is not a folder; point it at the "
                "data mirror (the folder holding osm/, insee/ and drees/) or unset it"
            )
        return path
    candidates = [PACKAGE_DIR.parent.parent / "shared" / "data",
                  Path.cwd() / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for path in candidates:
        if (path / "osm").is_dir():
            return path
    if required:
        raise FileNotFoundError(
            f"no data mirror: set ${DATA_MIRROR_ENV} to the folder holding osm/, insee/ and "
            f"drees/ (in a checkout: {candidates[0]}); data/osm/README.md says what it holds "
            "and where each file comes from"
        )
    return None


def forecast_memory_limit() -> float:
    """Bytes a forecast may keep (see :data:`max_forecast_memory_gib`).

    Examples
    --------
    >>> forecast_memory_limit() > 0
    True
    """
    if max_forecast_memory_gib is not None:
        return float(max_forecast_memory_gib) * 2**30
    given = os.environ.get(FORECAST_MEMORY_ENV)
    if given:
        try:
            value = float(given)
        except ValueError:
            raise ValueError(f"${FORECAST_MEMORY_ENV} must be a number of GiB, got "
                             f"{given!r}") from None
        if not value > 0:
            raise ValueError(f"${FORECAST_MEMORY_ENV} must be positive, got {given!r}")
        return value * 2**30
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a modest machine
        return FALLBACK_MEMORY_GIB * 2**30


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def user_permissions(path: str | os.PathLike, *, folder: bool = False) -> None:
    """Give a file (or folder) made by ``tempfile`` the permissions the user's umask gives new
    files (``tempfile`` makes them 0600 / 0700, private to the user)."""
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())
