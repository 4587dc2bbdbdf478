"""Regions: a road network, its communes and their practitioners, assembled once and cached.

A :class:`Region` is what the scenario module and the command line work on. The embedded
default, ``corse``, is assembled from the data mirror (see ``data/osm/manifest.toml``): the
Corsica drive network, the 360 communes with their town-hall points, DREES standardised
populations, BPE 2019 GP counts, and the official DREES APL (used only to impute GP ages and to
validate, never as an input of the APL). The assembled bundle is cached under
``data/regions/<name>/`` (ignored by git) so later runs start fast.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine import settings
from engine.errors import InputError
from engine.routing.loaders import load_network
from engine.routing.matrix import TravelTimeMatrix, travel_times
from engine.routing.network import RoadNetwork

_MANIFEST = settings.PROJECT_ROOT / "data" / "osm" / "manifest.toml"
_BUNDLE_VERSION = 2


def manifest() -> dict:
    """The tracked manifest of regions and their source files (``data/osm/manifest.toml``)."""
    with open(_MANIFEST, "rb") as fh:
        return tomllib.load(fh)


@dataclass(eq=False)
class Region:
    """A study area: network, communes, practitioners.

    Parameters
    ----------
    name : str
        Region name (used for caching and messages).
    network : RoadNetwork
        The road network.
    communes : pandas.DataFrame
        One row per commune: ``code_commune``, ``nom``, ``departement``, ``pop_totale``,
        ``pop_standardisee``, ``lon``, ``lat``.
    practitioners : pandas.DataFrame
        One row per GP: ``code_commune``, optional ``activity``, ``age`` or
        ``birth_year``, ``health_centre``.
    official : pandas.DataFrame, optional
        DREES ``apl`` and ``apl_moins_65`` per ``code_commune``: used to impute ages when the
        roster has none.
    year : int
        Year of the supply data (ages are given for this year).
    max_minutes : float
        Routing bound (20 minutes: the DREES decay is 0 beyond).
    polygons : pathlib.Path, optional
        GeoPackage of the communes' polygons (layer ``communes``), for maps.
    client : distributed.Client, optional
        Route the commune matrix on this Dask cluster (see :mod:`engine.distributed`)
        when it is not cached; single-site searches stay local.
    """

    name: str
    network: RoadNetwork
    communes: pd.DataFrame
    practitioners: pd.DataFrame
    official: pd.DataFrame | None = None
    year: int = 2022
    max_minutes: float = 20.0
    polygons: Path | None = None
    client: Any = field(default=None, repr=False)
    _times: TravelTimeMatrix | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from engine.apl import DREES_DECAY

        self.decay = DREES_DECAY
        self.communes = self.communes.reset_index(drop=True)
        codes = self.communes["code_commune"]
        if codes.duplicated().any():
            raise InputError(f"duplicate commune code {codes[codes.duplicated()].iloc[0]!r}",
                             column="code_commune")
        known = set(codes)
        unknown = ~self.practitioners["code_commune"].isin(known)
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise InputError(f"practitioner in commune {self.practitioners['code_commune'].iloc[i]!r}, "
                             f"which is not a commune of region {self.name!r}", row=i + 1,
                             column="code_commune")

    # ------------------------------------------------------------------ basics
    @property
    def n_communes(self) -> int:
        """Number of communes."""
        return len(self.communes)

    @property
    def demand(self) -> np.ndarray:
        """Standardised population of each commune."""
        return self.communes["pop_standardisee"].to_numpy(np.float64)

    @property
    def default_activity(self) -> float:
        """Activity counted for a GP of unknown activity (bounded, consultations a year)."""
        from engine.apl import DEFAULT_ACTIVITY

        return float(DEFAULT_ACTIVITY)

    def bounded(self, activity) -> np.ndarray | float:
        """DREES bounds applied to activity (see :func:`engine.apl.bounded_activity`)."""
        from engine.apl import bounded_activity

        out = bounded_activity(activity)
        return float(out) if np.ndim(out) == 0 else out

    # ------------------------------------------------------------------ routing
    @property
    def times(self) -> TravelTimeMatrix:
        """Commune-to-commune travel times (minutes, rows = residence, columns = supply)."""
        if self._times is None:
            from engine.apl import commune_matrix

            self._times = commune_matrix(self.network, self.communes, max_minutes=self.max_minutes,
                                         client=self.client)
        return self._times

    def weights(self) -> sp.csr_matrix:
        """DREES decay weights between communes (rows = residence, columns = supply)."""
        return self._weights

    @cached_property
    def _weights(self) -> sp.csr_matrix:
        from engine.apl import catchment_weights

        return catchment_weights(self.times, self.decay)

    @cached_property
    def commune_nodes(self) -> np.ndarray:
        """Network node of each commune's point."""
        nodes, _ = self.network.snap(self.communes["lon"].to_numpy(), self.communes["lat"].to_numpy())
        return nodes

    def site_column(self, lon: float, lat: float, *, decay=None, context: str = "site"):
        """Decay weights from every commune to a new site at ``(lon, lat)``.

        Returns
        -------
        column : scipy.sparse.csr_matrix
            ``(n_communes, 1)`` weights.
        home_row : int
            The commune nearest the site (whose APL class drives its replacements).

        Raises
        ------
        InputError
            When the site is farther than ``settings.max_snap_distance_m`` from any road.
        """
        decay = self.decay if decay is None else decay
        node, dist = self.network.snap(lon, lat)
        if dist > settings.max_snap_distance_m:
            raise InputError(f"({lon}, {lat}) is {dist:,.0f} m from the nearest road of region "
                             f"{self.name!r} (limit {settings.max_snap_distance_m:,.0f} m): off the map?",
                             path=context)
        # Several communes may share a node: route to each node once, then map back.
        unique, inverse = np.unique(self.commune_nodes, return_inverse=True)
        m = travel_times(self.network, [node], unique, max_minutes=self.max_minutes, reverse=True)
        minutes = np.full(len(unique), np.inf)
        minutes[m.indices] = m.minutes
        per_commune = minutes[inverse]
        reached = np.flatnonzero(np.isfinite(per_commune))
        w = np.asarray(decay(per_commune[reached]), dtype=np.float64)
        col = sp.csr_matrix((w, (reached, np.zeros(len(w), dtype=np.int64))), shape=(self.n_communes, 1))
        home = int(np.argmin((self.communes["lon"] - lon) ** 2 + (self.communes["lat"] - lat) ** 2))
        return col, home

    # ------------------------------------------------------------------ practitioners
    def gp_columns(self) -> np.ndarray:
        """Commune (column) index of each GP."""
        index = pd.Index(self.communes["code_commune"])
        return index.get_indexer(self.practitioners["code_commune"]).astype(np.int64)

    def gp_activity(self) -> np.ndarray:
        """Bounded activity of each GP (default activity where unknown)."""
        from engine.apl import bounded_activity

        p = self.practitioners
        n = len(p)
        raw = pd.to_numeric(p["activity"], errors="coerce").to_numpy(float) if "activity" in p else np.full(n, np.nan)
        centre = p["health_centre"].fillna(False).astype(bool).to_numpy() if "health_centre" in p else np.zeros(n, bool)
        out = np.full(n, self.default_activity)
        known = np.isfinite(raw)
        if known.any():
            out[known] = bounded_activity(raw[known], health_centre=centre[known])
        return out

    def supply(self) -> np.ndarray:
        """Supply (bounded consultations) located in each commune, all GPs."""
        return np.bincount(self.gp_columns(), weights=self.gp_activity(), minlength=self.n_communes)

    @cached_property
    def senior_share(self) -> np.ndarray:
        """Share of each commune's supply from GPs over 65, fitted on DREES (see scenarios.ages)."""
        from scenarios.ages import estimate_senior_share

        if self.official is None:
            raise InputError(f"region {self.name!r} has no GP ages and no official DREES APL to "
                             "impute them from; give practitioners an 'age' or 'birth_year' column")
        off = self.communes[["code_commune"]].merge(self.official, on="code_commune", how="left")
        return estimate_senior_share(self.weights(), self.demand, self.supply(),
                                     off["apl"].fillna(0).to_numpy(), off["apl_moins_65"].fillna(0).to_numpy())

    def has_ages(self) -> bool:
        """Whether the roster gives ages (``age`` or ``birth_year``)."""
        return "age" in self.practitioners or "birth_year" in self.practitioners

    def gp_ages(self, *, draws: int = 1, seed: int = 0) -> np.ndarray:
        """Ages in :attr:`year`, shape ``(draws, n_gps)``: the roster's, or imputed draws."""
        if self.has_ages():
            from scenarios.ages import ages_from_roster

            ages = ages_from_roster(self.practitioners, self.year)
            return np.broadcast_to(ages, (draws, len(ages))).astype(float)
        from scenarios.ages import draw_ages

        return draw_ages(self.gp_columns(), self.senior_share, draws=draws, seed=seed).astype(float)

    def expected_supply(self, *, year: int | None = None, retirement_age: float | None = 65.0,
                        draws: int = 200, seed: int = 0) -> np.ndarray:
        """Expected supply per commune in ``year`` if GPs stop once over ``retirement_age``."""
        if year is not None and int(year) < self.year:
            raise InputError(f"planning year {year} is before the data year {self.year} of region "
                             f"{self.name!r}; plan for {self.year} or later")
        act = self.gp_activity()
        if year is None or retirement_age is None:
            keep = np.ones(len(act))
        else:
            ages = self.gp_ages(draws=draws, seed=seed) + (year - self.year)
            keep = (ages <= retirement_age).mean(axis=0)
        return np.bincount(self.gp_columns(), weights=act * keep, minlength=self.n_communes)

    def baseline_apl(self) -> np.ndarray:
        """APL of each commune today, all GPs."""
        from engine.apl import fca_from_weights

        return fca_from_weights(self.weights(), self.demand, self.supply())

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | os.PathLike, *, extra: dict | None = None) -> Path:
        """Write the bundle (network, communes, practitioners, matrix) atomically to ``folder``.

        Parameters
        ----------
        folder : path-like
            Target folder; replaced as a whole only once everything is written.
        extra : dict, optional
            More metadata for ``region.json`` (e.g. source-file stamps).

        Returns
        -------
        pathlib.Path
            The folder written.
        """
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".tmp"))
        try:
            self.network.save(tmp / "network.npz")
            self.communes.to_csv(tmp / "communes.csv", index=False)
            self.practitioners.to_csv(tmp / "practitioners.csv", index=False)
            if self.official is not None:
                self.official.to_csv(tmp / "official.csv", index=False)
            t = self.times
            np.savez(tmp / "times.npz", origins=t.origins, destinations=t.destinations,
                     indptr=t.indptr, indices=t.indices, minutes=t.minutes)
            (tmp / "region.json").write_text(json.dumps({
                "bundle_version": _BUNDLE_VERSION, "name": self.name, "year": self.year,
                "max_minutes": self.max_minutes, **(extra or {})}))
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Region:
        """Read a bundle written by :meth:`save`."""
        folder = Path(folder)
        meta_path = folder / "region.json"
        if not meta_path.is_file():
            raise InputError("not a region bundle (no region.json)", path=folder)
        meta = json.loads(meta_path.read_text())
        if meta.get("bundle_version") != _BUNDLE_VERSION:
            raise InputError("region bundle of another version; delete it to rebuild", path=folder)
        dtype = {"code_commune": str, "departement": str}
        communes = pd.read_csv(folder / "communes.csv", dtype=dtype)
        practitioners = pd.read_csv(folder / "practitioners.csv", dtype=dtype)
        official = (pd.read_csv(folder / "official.csv", dtype=dtype)
                    if (folder / "official.csv").is_file() else None)
        with np.load(folder / "times.npz") as z:
            times = TravelTimeMatrix(z["origins"], z["destinations"], z["indptr"], z["indices"],
                                     z["minutes"], max_minutes=meta["max_minutes"])
        return cls(name=meta["name"], network=RoadNetwork.load(folder / "network.npz"),
                   communes=communes, practitioners=practitioners, official=official,
                   year=int(meta["year"]), max_minutes=float(meta["max_minutes"]), _times=times)


def load_region(name: str = "corse", *, mirror: str | os.PathLike | None = None,
                cache: bool = True, year: int = 2022, rebuild: bool = False,
                progress=None, client=None) -> Region:
    """Load an embedded region, assembling it from the data mirror the first time.

    Parameters
    ----------
    name : str
        Region name from ``data/osm/manifest.toml`` (``"corse"``).
    mirror : path-like, optional
        The data mirror (default: :func:`engine.settings.data_mirror`).
    cache : bool
        Read and write the assembled bundle under ``data/regions/<name>-<year>/``.
    year : int
        DREES year of the standardised populations (2022 or 2023).
    rebuild : bool
        Assemble again even when a cached bundle exists.
    progress : callable, optional
        Called as ``progress(done, total)`` over the assembly steps (network, inputs,
        routing, saving).
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
    regions = manifest().get("regions", {})
    if name not in regions:
        raise InputError(f"unknown region {name!r}; known regions: {sorted(regions)}", column="region")
    spec = regions[name]
    bundle = settings.data_dir / "regions" / f"{name}-{year}"
    root = Path(mirror) if mirror is not None else settings.data_mirror(required=False)
    if cache and not rebuild and (bundle / "region.json").is_file():
        # Reuse the bundle unless a source file changed (or the mirror is gone: keep working).
        stamp = json.loads((bundle / "region.json").read_text()).get("sources")
        if root is None or stamp == _source_stamp(root, spec):
            try:
                region = Region.load(bundle)
            except InputError:
                region = None
            if region is not None:
                region.polygons = _mirror_file(spec.get("polygons"), root)
                region.client = client
                return region
    if root is None:
        root = settings.data_mirror(required=True)
    for key in ("network", "communes", "practitioners", "apl"):
        f = root / spec[key]
        if not f.is_file():
            raise FileNotFoundError(
                f"region {name!r} needs {spec[key]} in the data mirror ({root}), and it is missing; "
                f"see data/osm/README.md for where to download it and where to put it")
    from engine.data import corsica_inputs, read_drees_apl

    def step(done: int) -> None:
        if progress is not None:
            progress(done, 4)

    step(0)
    if spec.get("departements") != ["2A", "2B"]:
        raise InputError(f"region {name!r}: only the Corsican assembly is implemented", column="region")
    communes, practitioners = corsica_inputs(root, year=year)
    drees = read_drees_apl(root / spec["apl"], year=year)
    official = drees[["code_commune", "apl", "apl_moins_65"]]
    step(1)
    network = load_network(root / spec["network"])
    step(2)
    region = Region(name=name, network=network, communes=communes,
                    practitioners=practitioners, official=official, year=year, client=client)
    region.polygons = _mirror_file(spec.get("polygons"), root)
    region.weights()
    step(3)
    if cache:
        region.save(bundle, extra={"sources": _source_stamp(root, spec)})
    step(4)
    return region


def _source_stamp(root: Path, spec: dict) -> dict:
    """Size and modification time of each source file, to know when a bundle is stale."""
    out = {}
    for key in ("network", "communes", "polygons", "practitioners", "apl"):
        rel = spec.get(key)
        if rel and (root / rel).is_file():
            st = (root / rel).stat()
            out[rel] = [st.st_size, int(st.st_mtime)]
    return out


def _mirror_file(relative: str | None, mirror=None) -> Path | None:
    if not relative:
        return None
    root = Path(mirror) if mirror is not None else settings.data_mirror()
    if root is None:
        return None
    path = root / relative
    return path if path.is_file() else None


def polygons_path(region: Region) -> Path | None:
    """The GeoPackage of commune polygons for ``region``, when one is known and present."""
    return region.polygons


def check_region(name: str = "corse", *, mirror: str | os.PathLike | None = None) -> list[str]:
    """Say, file by file, whether a region's sources are present in the data mirror.

    Returns
    -------
    list of str
        One line per file: ``ok`` or ``MISSING`` with the path expected.
    """
    regions = manifest().get("regions", {})
    if name not in regions:
        raise InputError(f"unknown region {name!r}; known regions: {sorted(regions)}", column="region")
    try:
        root = Path(mirror) if mirror is not None else settings.data_mirror(required=True)
    except FileNotFoundError as exc:
        return [f"MISSING data mirror: {exc}"]
    lines = []
    for key in ("network", "communes", "polygons", "practitioners", "apl"):
        rel = regions[name].get(key)
        if rel:
            f = root / rel
            lines.append(f"{'ok     ' if f.is_file() else 'MISSING'} {key:14s} {f}")
    return lines


def load_planner_network(path: str | os.PathLike) -> RoadNetwork:
    """A planner's network file: a PBF (maybe a whole country) is streamed and contracted.

    Parameters
    ----------
    path : path-like
        Any file :func:`engine.load_network` reads.

    Returns
    -------
    RoadNetwork

    Examples
    --------
    >>> net = load_planner_network("france-latest.osm.pbf")  # doctest: +SKIP
    """
    return load_network(path, contract=str(path).lower().endswith(".pbf"))


def region_from_files(network: str | os.PathLike, communes: str | os.PathLike,
                      practitioners: str | os.PathLike, *, year: int = 2022,
                      name: str | None = None, client=None) -> Region:
    """A region from a planner's own files.

    Parameters
    ----------
    network : path-like
        Road network (any format :func:`engine.load_network` reads; an ``.osm.pbf`` is
        streamed with pass-through nodes contracted, so that a country fits in memory).
    communes : path-like
        GeoPackage (layer ``communes``, polygons or points) or CSV with ``code_commune``,
        ``nom``, ``pop_totale``, ``pop_standardisee`` (or the 19 DREES age bands ``pop_0_4``
        ... ``pop_90_plus``, standardised with the ``year`` weights) and ``lon``/``lat``
        (optional in a GeoPackage: a point inside each polygon is used).
    practitioners : path-like
        CSV, see :func:`engine.pipeline.read_practitioners`.
    year : int
        Year of the data (ages, DREES weights).
    name : str, optional
        Region name (default: the communes file's stem).
    client : distributed.Client, optional
        Route the commune matrix on this Dask cluster.

    Returns
    -------
    Region
    """
    from engine.pipeline import read_communes_file, read_practitioners

    table, polygons = read_communes_file(communes, year=year)
    gps = read_practitioners(practitioners, table)
    region = Region(name=name or Path(communes).stem, network=load_planner_network(network),
                    communes=table,
                    practitioners=gps, official=None, year=year, client=client)
    region.polygons = polygons
    return region
