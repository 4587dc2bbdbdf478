"""Project-wide defaults, in the spirit of ``osmnx.settings``.

Change them at run time (``engine.settings.max_snap_distance_m = 2_000``) or, for the
data mirror, through the ``APL_DATA_MIRROR`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the data mirror (the folder holding ``osm/``, ``insee/``, ``drees/``).
DATA_MIRROR_ENV = "APL_DATA_MIRROR"

#: Root of the project checkout (the folder holding ``pyproject.toml``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Where the project writes what it assembles itself (caches, bundles); ignored by git.
data_dir = PROJECT_ROOT / "data"

#: A point farther than this from the nearest road node is flagged, not silently snapped.
max_snap_distance_m: float = 5_000.0

#: Mean Earth radius used for haversine distances, the one osmnx uses (metres).
earth_radius_m: float = 6_371_009.0

#: Number of origins handled by one parallel task of the shortest-path kernel.
routing_chunk_size: int = 16

#: Numba threads per Dask task; ``None`` gives each task its host's cores divided by the
#: task slots (Dask threads) of the workers on that host.
dask_numba_threads: int | None = None


def data_mirror(required: bool = False) -> Path | None:
    """Locate the data mirror.

    The mirror is ``$APL_DATA_MIRROR`` when that variable is set, else ``../shared/data``
    beside the project root when that folder exists.

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
    path = PROJECT_ROOT.parent / "shared" / "data"
    if path.is_dir():
        return path
    if required:
        raise FileNotFoundError(
            f"no data mirror: set ${DATA_MIRROR_ENV} or place the mirror at {path} "
            "(see data/osm/README.md for what it holds and where each file comes from)"
        )
    return None
