"""A study area: road network, communes, practitioners, and the catchment between them.

A :class:`Region` is what the scenarios, the optimizer, the tables and the command line work
on. It computes nothing of its own: demand, supply, times, weights and the APL come from the
functions of :mod:`engine.apl` (the same ones :func:`engine.apl.apl_communes` chains), so a
region and a researcher's direct call give the same numbers to the last bit. It only keeps
what is expensive (the commune-to-commune times and the prepared catchment) so that many
supply scenarios cost two sparse products each.

Regions are built by :func:`engine.mirror.load_region` (the embedded regions, from the data
mirror) or :func:`engine.inputs.region_from_files` (a planner's own files).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine import settings
from engine.apl import (
    Catchment,
    attach_practitioners,
    catchment_weights,
    commune_demand,
    commune_matrix,
    commune_supply,
    practitioner_activity,
    select_profession,
)
from engine.apl import profession as as_profession
from engine.errors import FarFromRoadWarning, InputError
from engine.routing.matrix import TravelTimeMatrix, travel_times
from engine.routing.network import RoadNetwork

__all__ = ["Region"]


@dataclass(eq=False)
class Region:
    """A study area: network, communes, practitioners of one profession.

    Parameters
    ----------
    name : str
        Region name (used for caching and messages).
    network : RoadNetwork
        The road network.
    communes : pandas.DataFrame
        One row per commune: ``code_commune``, ``nom``, ``departement``, ``pop_totale``,
        ``pop_standardisee`` (or the profession's age bands), ``lon``, ``lat``.
    practitioners : pandas.DataFrame
        One row per practitioner: ``code_commune`` or ``lon``/``lat``; optional
        ``profession`` (other professions are left out), ``activity``,
        ``active_previous_year``, ``health_centre``, ``age`` (in ``year``).
    official : pandas.DataFrame, optional
        Official values per ``code_commune``: ``apl`` and ``apl_moins_65``.
    year : int
        Data year (age weights of the demand, practitioners' ages).
    profession : str, path-like or Profession
        Whose rules (default ``"gp"``).
    max_minutes : float, optional
        Routing bound (default: the support of the profession's decay, 20 minutes).
    polygons : pathlib.Path or geopandas.GeoDataFrame, optional
        The communes' polygons, for maps: a GeoPackage (layer ``communes``) or a frame with
        ``code_commune`` and the geometry.
    client : distributed.Client, optional
        Route the commune matrix on this Dask cluster when it is computed.
    zones : pandas.DataFrame, optional
        A territory grouping: ``code_commune``, ``zone`` (and ``zone_nom``); communes absent
        from it belong to no zone.
    sources : dict, optional
        Where each part comes from, in words for the report (``network``, ``communes``,
        ``practitioners``, ``official``, ``zones``): a dataset's origin, or a file's name —
        never a local path.
    times : TravelTimeMatrix, optional
        A commune matrix computed before (same communes, same order), e.g. from a cache.

    Attributes
    ----------
    demand : numpy.ndarray
        Standardised population per commune.
    practitioner_commune : numpy.ndarray
        Commune row of each practitioner.
    """

    name: str
    network: RoadNetwork
    communes: pd.DataFrame
    practitioners: pd.DataFrame
    official: pd.DataFrame | None = None
    year: int = 2022
    profession: Any = "gp"
    max_minutes: float | None = None
    polygons: Any = None
    client: Any = field(default=None, repr=False)
    zones: pd.DataFrame | None = field(default=None, repr=False)
    sources: dict = field(default_factory=dict, repr=False)
    times: TravelTimeMatrix | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.profession = as_profession(self.profession)
        self.year = int(self.year)
        if self.max_minutes is None:
            self.max_minutes = self.profession.decay.max_minutes
        try:
            table, demand = commune_demand(self.communes.reset_index(drop=True), year=self.year,
                                           profession=self.profession)
        except InputError as exc:
            raise _at_line(self.communes, exc, positional=True) from None
        # The commune table shows the standardised population the APL used (zoning means
        # weigh by self.demand, whatever the profession's basis).
        self.communes = (table.assign(pop_standardisee=demand)
                         if self.profession.demand_basis == "standardised" else table)
        self.demand = demand
        roster = select_profession(self.practitioners, profession=self.profession)
        if len(roster) == 0:
            raise _at_line(self.practitioners,
                           InputError(self._no_practitioner(), column="profession"))
        try:
            # Row labels in errors are those of the roster as given (a reader's rows).
            self.practitioner_commune = attach_practitioners(roster, self.communes)
            practitioner_activity(roster, profession=self.profession)
        except InputError as exc:
            raise _at_line(self.practitioners, exc) from None
        self.practitioners = roster.reset_index(drop=True)
        if "profession" in self.practitioners:
            # Selected once: later supply() calls must not select (and warn) again.
            self.practitioners = self.practitioners.assign(profession=self.profession.name)
        codes = self.communes["code_commune"].to_numpy()
        if "code_commune" not in self.practitioners or self.practitioners["code_commune"].isna().any():
            self.practitioners = self.practitioners.assign(
                code_commune=codes[self.practitioner_commune])
        if self.zones is not None:
            self.zones = self._aligned_zones(self.zones)
        if self.times is not None and self.times.shape != (self.n_communes, self.n_communes):
            raise InputError(f"region {self.name!r}: the cached commune matrix has shape "
                             f"{self.times.shape}, expected {(self.n_communes, self.n_communes)}")

    def _no_practitioner(self) -> str:
        given = self.practitioners.get("profession")
        seen = [] if given is None else sorted({str(v) for v in given.dropna()})[:3]
        found = (f"; its profession column holds {', '.join(repr(v) for v in seen)}"
                 if seen else "")
        return (f"no {self.profession.label_singular} among the {len(self.practitioners)} "
                f"row(s) of the practitioners{found}: expected a roster of {self.profession.label} "
                "(or another --profession)")

    def _aligned_zones(self, zones: pd.DataFrame) -> pd.DataFrame:
        for col in ("code_commune", "zone"):
            if col not in zones.columns:
                raise InputError(f"the zones lack the column {col!r}", column=col)
        z = zones.drop_duplicates("code_commune").set_index(
            zones["code_commune"].drop_duplicates().astype(str).to_numpy())
        out = pd.DataFrame({"code_commune": self.codes,
                            "zone": z["zone"].reindex(self.codes).to_numpy(dtype=object)})
        out["zone_nom"] = (z["zone_nom"].reindex(self.codes).to_numpy(dtype=object)
                           if "zone_nom" in z else out["zone"])
        out["zone_nom"] = out["zone_nom"].where(pd.notna(out["zone_nom"]), out["zone"])
        if out["zone"].isna().all():
            raise InputError(f"no commune of region {self.name!r} is in the zones given "
                             f"(first code there: {zones['code_commune'].iloc[0]!r})",
                             column="code_commune")
        return out

    # ------------------------------------------------------------------ basics
    @property
    def n_communes(self) -> int:
        """Number of communes."""
        return len(self.communes)

    @property
    def codes(self) -> np.ndarray:
        """INSEE codes of the communes, in order."""
        return self.communes["code_commune"].to_numpy()

    @property
    def population(self) -> np.ndarray:
        """Total population of each commune (what population counts and shares use)."""
        return self.communes["pop_totale"].to_numpy(np.float64)

    def practitioner_activity(self, default_activity: float | None = None) -> np.ndarray:
        """Counted activity of each practitioner (see :func:`engine.apl.practitioner_activity`)."""
        return practitioner_activity(self.practitioners, profession=self.profession,
                                     default_activity=default_activity)

    def supply(self, *, max_age: float | None = None) -> np.ndarray:
        """Supply per commune from the roster (see :func:`engine.apl.commune_supply`).

        Parameters
        ----------
        max_age : float, optional
            Count only practitioners aged ``max_age`` or less (needs an ``age`` column).
        """
        return commune_supply(self.communes, self.practitioners, profession=self.profession,
                              max_age=max_age)

    # ------------------------------------------------------------------ routing
    def commune_times(self) -> TravelTimeMatrix:
        """Commune-to-commune travel times (minutes, rows = residence, columns = supply).

        Raises
        ------
        InputError
            When commune points far from every road would be on the network with lon and
            lat swapped (naming the file and line of the first when the communes were read
            from a file).

        Warns
        -----
        FarFromRoadWarning
            For commune points farther than ``settings.max_snap_distance_m`` from every
            road, naming the file and line of the first.
        """
        if self.times is None:
            # Points far from every road are judged before routing (the snap is milliseconds,
            # the routing of a large region minutes): swapped lon/lat fails at once.
            lon = pd.to_numeric(self.communes["lon"], errors="coerce").to_numpy(np.float64)
            lat = pd.to_numeric(self.communes["lat"], errors="coerce").to_numpy(np.float64)
            if np.isfinite(lon).all() and np.isfinite(lat).all():  # else commune_matrix says
                _, dist = self.network.snap(lon, lat)
                dist = np.atleast_1d(np.asarray(dist, dtype=np.float64))
                far = dist > settings.max_snap_distance_m
                if far.any():
                    self._far_points(far, dist)
            self.times = commune_matrix(self.network, self.communes, profession=self.profession,
                                        max_minutes=self.max_minutes, client=self.client,
                                        warn=False)
        return self.times

    def _error_at(self, i: int, column: str, message: str) -> InputError:
        """An error about commune row ``i``: at its file's line when a reader read it (its
        ``attrs["source"]``), else naming the commune."""
        exc = _at_line(self.communes, InputError(message, row=i, column=column), positional=True)
        if exc.path is None:
            return InputError(f"commune {self.codes[i]}: {message}", column=column)
        return exc

    def _far_points(self, far: np.ndarray, dist: np.ndarray) -> None:
        """Swapped coordinates are an error; other points far from every road a warning."""
        lon = self.communes["lon"].to_numpy(np.float64)
        lat = self.communes["lat"].to_numpy(np.float64)
        limit = settings.max_snap_distance_m
        rows = np.flatnonzero(far)
        can = rows[np.abs(lon[rows]) <= 90.0]
        if len(can):
            _, back = self.network.snap(lat[can], lon[can])
            near = can[np.atleast_1d(back) <= limit]
            if len(near):
                i = int(near[0])
                message = (f"lon and lat are swapped: (lon {lon[i]:g}, lat {lat[i]:g}) is "
                           f"{dist[i] / 1000:,.0f} km from every road of the network, (lon "
                           f"{lat[i]:g}, lat {lon[i]:g}) is on it; expected the longitude under "
                           f"lon and the latitude under lat ({len(near)} such row(s))")
                raise self._error_at(i, "lat", message)
        i = int(rows[0])
        net = self.network
        warnings.warn(str(self._error_at(
            i, "lon", f"{len(rows)} commune point(s) are more than {limit:,.0f} m from any road "
            f"of the network (first: {self.codes[i]} at lon {lon[i]:g}, lat {lat[i]:g}, "
            f"{dist[i] / 1000:,.1f} km; the network spans lon {net.lon.min():.3f} to "
            f"{net.lon.max():.3f}, lat {net.lat.min():.3f} to {net.lat.max():.3f}); they are "
            "not routed and only reach themselves")), FarFromRoadWarning, stacklevel=3)

    @cached_property
    def weights(self) -> sp.csr_matrix:
        """Decay weights between communes (rows = residence, columns = supply)."""
        return catchment_weights(self.commune_times(), self.profession.decay)

    @cached_property
    def catchment(self) -> Catchment:
        """The prepared floating catchment (weights and demand) of the region."""
        return Catchment(self.weights, self.demand)

    def apl(self, supply: np.ndarray | None = None) -> np.ndarray:
        """The APL of every commune for a supply (default: the roster's, every practitioner).

        Parameters
        ----------
        supply : numpy.ndarray, optional
            ``(n_communes,)`` or ``(n_communes, n_draws)`` supply per commune.

        Returns
        -------
        numpy.ndarray
            Same shape as the supply.
        """
        return self.catchment.accessibility(self.supply() if supply is None else supply)

    @cached_property
    def commune_nodes(self) -> np.ndarray:
        """Network node of each commune's point."""
        return np.asarray(self.commune_times().origins, dtype=np.int64)

    def site_column(self, lon: float, lat: float, *, context: str = "site"):
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
        node, dist = self.network.snap(lon, lat)
        if dist > settings.max_snap_distance_m:
            raise InputError(f"({lon}, {lat}) is {dist:,.0f} m from the nearest road of region "
                             f"{self.name!r} (limit {settings.max_snap_distance_m:,.0f} m): off "
                             "the map?", path=context)
        # Several communes may share a node: route to each node once, then map back.
        unique, inverse = np.unique(self.commune_nodes, return_inverse=True)
        m = travel_times(self.network, [node], unique, max_minutes=self.max_minutes, reverse=True)
        minutes = np.full(len(unique), np.inf)
        minutes[m.indices] = m.minutes
        per_commune = minutes[inverse]
        reached = np.flatnonzero(np.isfinite(per_commune))
        w = np.asarray(self.profession.decay(per_commune[reached]), dtype=np.float64)
        col = sp.csr_matrix((w, (reached, np.zeros(len(w), dtype=np.int64))),
                            shape=(self.n_communes, 1))
        home = int(attach_practitioners(pd.DataFrame({"lon": [lon], "lat": [lat]}),
                                        self.communes, max_distance_m=np.inf)[0])
        return col, home

    # ------------------------------------------------------------------ official values
    def official_values(self) -> pd.DataFrame | None:
        """The official values aligned on the communes (NaN where a commune has none)."""
        if self.official is None:
            return None
        off = self.official.drop_duplicates("code_commune").set_index("code_commune")
        return off.reindex(self.codes).reset_index()

    def summary(self) -> dict:
        """A few facts about the region, for messages."""
        return {"region": self.name, "profession": self.profession.name,
                "communes": self.n_communes, "practitioners": len(self.practitioners),
                "year": self.year}


def _at_line(frame: pd.DataFrame, exc: InputError, *, positional: bool = False) -> InputError:
    """``exc``, about a row (or the whole) of ``frame``, placed in the file a reader read
    ``frame`` from: its ``attrs["source"]`` and ``line`` column give the file, the line as
    the editor shows it and the column as written. ``exc.row`` is a label of ``frame`` (a
    position when ``positional``). Unchanged when ``frame`` was not read from a file or
    ``exc`` already names one."""
    source = frame.attrs.get("source")
    if exc.path is not None or not hasattr(source, "error") or "line" not in frame:
        return exc
    if exc.row is None:
        return source.error(exc.message, None, exc.column)
    try:
        lines = frame["line"]
        line = int(lines.iloc[exc.row] if positional else lines.loc[exc.row])
    except (KeyError, IndexError, TypeError, ValueError):
        return exc
    return source.error(exc.message, line, exc.column)
