"""A study region from the planner's own files, alone or mixed with an embedded region.

:func:`build_region` is what the command line calls: with a region name (``"corse"``), each
of the network, communes and practitioners files given replaces that part of the embedded
region alone; without one, all three files are needed. The readers of the files themselves
are in :mod:`engine.readers`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from engine.apl import Profession
from engine.apl import profession as as_profession
from engine.errors import InputError
from engine.mirror import load_region
from engine.readers import (
    read_communes,
    read_official,
    read_practitioners,
    read_zones,
)
from engine.region import Region
from engine.routing.loaders import load_network
from engine.routing.network import RoadNetwork

__all__ = ["build_region", "load_planner_network", "region_from_files"]


def load_planner_network(path: str | os.PathLike) -> RoadNetwork:
    """A planner's network file: a PBF (maybe a whole country) is streamed and contracted.

    Parameters
    ----------
    path : path-like
        Any file :func:`engine.load_network` reads.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    InputError
        When the file does not exist (a name that is not a file is never sent to a
        geocoding service).

    Examples
    --------
    >>> net = load_planner_network("france-latest.osm.pbf")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such network file (give a .graphml[.gz], .osm[.gz|.bz2], .osm.pbf "
                         "or .npz file)", path=p)
    return load_network(p, contract=str(p).lower().endswith(".pbf"))


def build_region(*, region: str | None = "corse", network: str | os.PathLike | None = None,
                 communes: str | os.PathLike | None = None,
                 practitioners: str | os.PathLike | None = None,
                 official: str | os.PathLike | None = None,
                 zones: str | os.PathLike | None = None, year: int = 2022,
                 profession: str | Profession = "gp", client=None, progress=None,
                 mirror: str | os.PathLike | None = None) -> Region:
    """The region to work on: an embedded region, with any part replaced by the user's file.

    Parameters
    ----------
    region : str or None
        Embedded region name (``"corse"``), or ``None`` to use the files only (then
        ``network``, ``communes`` and ``practitioners`` are all required).
    network, communes, practitioners : path-like, optional
        Files replacing that part of the region (formats: ``scenarios/examples/README.md``).
        The roster's communes must exist among the communes used.
    official : path-like, optional
        Official values (``code_commune``, ``apl``, ``apl_moins_65``) of the communes, for
        the official baseline.
    zones : path-like, optional
        A territory grouping (``code_commune`` → ``zone``, optional ``zone_nom``): EPCI,
        territoires de vie-santé, bassins de vie, CPTS.
    year : int
        Data year.
    profession : str, path-like or Profession
        Whose practitioners and rules.
    client : distributed.Client, optional
        Route the commune matrix on this Dask cluster.
    progress : callable, optional
        ``progress(done, total)`` during the assembly of an embedded region.
    mirror : path-like, optional
        The data mirror (default :func:`engine.settings.data_mirror`).

    Returns
    -------
    Region

    Raises
    ------
    InputError
        On a missing file or a bad value (file, line, column), or when a part is missing
        without an embedded region.
    """
    prof = as_profession(profession)
    if region is None:
        missing = [n for n, v in (("network", network), ("communes", communes),
                                  ("practitioners", practitioners)) if v is None]
        if missing:
            raise InputError(f"without an embedded region, --network, --communes and "
                             f"--practitioners are all needed; missing --{missing[0]}",
                             column=missing[0])
        return region_from_files(network, communes, practitioners, official=official, year=year,
                                 profession=prof, client=client, zones=zones)
    base = load_region(region, year=year, profession=prof, progress=progress, client=client,
                       mirror=mirror)
    if (network is None and communes is None and practitioners is None and official is None
            and zones is None):
        return base
    net = base.network if network is None else load_planner_network(network)
    polygons = base.polygons
    table = base.communes if communes is None else None
    if communes is not None:
        table, polygons = _communes(communes)
    gps = base.practitioners if practitioners is None else read_practitioners(practitioners,
                                                                              year=year)
    off = base.official if official is None else read_official(official, year=year)
    # The cached commune matrix stays valid only for the same network and communes.
    times = base.commune_times() if network is None and communes is None else None
    name = base.name if communes is None else Path(communes).stem
    sources = dict(base.sources)
    for key, given in (("network", network), ("communes", communes),
                       ("practitioners", practitioners), ("official", official),
                       ("zones", zones)):
        if given is not None:
            sources[key] = f"fichier {Path(str(given)).name}"
    # The zones are matched to the communes used (the user's, when given), once, by Region.
    region = _region(name, net, table, gps, off, year, prof, client, polygons, times,
                     base.zones if zones is None else read_zones(zones))
    region.sources = sources
    return region


def region_from_files(network: str | os.PathLike, communes: str | os.PathLike,
                      practitioners: str | os.PathLike, *,
                      official: str | os.PathLike | None = None, year: int = 2022,
                      profession: str | Profession = "gp", name: str | None = None,
                      client=None, zones: str | os.PathLike | None = None) -> Region:
    """A region from a planner's own files only.

    Parameters
    ----------
    network : path-like
        Road network (any format :func:`engine.load_network` reads; an ``.osm.pbf`` is
        streamed with pass-through nodes contracted, so that a country fits in memory).
    communes : path-like
        Communes: CSV, Excel or GeoPackage (see :func:`engine.readers.read_communes`).
    practitioners : path-like
        Roster (see :func:`engine.readers.read_practitioners`).
    official : path-like, optional
        Official values per commune.
    year : int
        Data year (age weights, ages).
    profession : str, path-like or Profession
        Whose practitioners and rules.
    name : str, optional
        Region name (default: the communes file's stem).
    client : distributed.Client, optional
        Route the commune matrix on this Dask cluster.
    zones : path-like, optional
        A territory grouping.

    Returns
    -------
    Region
    """
    prof = as_profession(profession)
    table, polygons = _communes(communes)
    gps = read_practitioners(practitioners, year=year)
    off = None if official is None else read_official(official, year=year)
    zone_table = None if zones is None else read_zones(zones)
    region = _region(name or Path(communes).stem, load_planner_network(network), table, gps, off,
                     year, prof, client, polygons, None, zone_table)
    region.sources = {key: f"fichier {Path(str(given)).name}" for key, given in
                      (("network", network), ("communes", communes),
                       ("practitioners", practitioners), ("official", official),
                       ("zones", zones)) if given is not None}
    return region


def _communes(path):
    """The communes table (age bands kept for the profession's standardisation) and, for a
    GeoPackage of polygons, their shapes (``code_commune``, geometry) for the maps."""
    table = read_communes(path)
    polygons = None
    if hasattr(table, "geometry"):
        if table.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any():
            polygons = table[["code_commune", table.geometry.name]]
        table = pd.DataFrame(table.drop(columns=table.geometry.name))
    if "pop_standardisee" in table and table["pop_standardisee"].isna().all():
        table = table.drop(columns="pop_standardisee")
    return table, polygons


def _region(name, network, communes, practitioners, official, year, prof, client, polygons,
            times, zones=None) -> Region:
    # Region places its errors about a row at the reader's file and line itself.
    return Region(name=name, network=network, communes=communes, practitioners=practitioners,
                  official=official, year=year, profession=prof, client=client,
                  polygons=polygons, times=times, zones=zones)
