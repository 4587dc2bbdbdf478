"""Streaming OSM PBF reader: pyosmium straight into CSR arrays, degree-2 chains contracted.

:func:`stream_pbf_network` builds a :class:`~engine.routing.network.RoadNetwork` from an
``.osm.pbf`` file without a networkx graph, a pandas table or a Python object per node:

1. **Ways.** One pass over the ways (pyosmium keeps only ``highway`` ways, in C++). Ways
   passing osmnx's drive filter (:func:`engine.routing.osm.is_drivable`) append their node
   ids to a flat int64 array grown in chunks; per way only a start offset, a direction
   (:func:`engine.routing.osm.way_direction`) and a code for its ``(highway, maxspeed)``
   pair are stored.
2. **Nodes.** The referenced ids, sorted and unique, go to pyosmium's C++ ``IdFilter``;
   libosmium stores the locations of those nodes only in a sparse index (16 bytes a
   node, no Python call per node), read back in batches into coordinate arrays aligned
   with the sorted ids (no dict of millions of ids).
3. **Segments.** One directed edge per consecutive node pair (two for a two-way road) with
   the great-circle length (:func:`engine.routing.network.haversine_m`) and the travel
   time ``length / speed`` of its own way, as osmnx's unsimplified graph and
   :func:`engine.routing.loaders.network_from_frames` compute it.
4. **Contraction.** A node used exactly once by the drivable ways and lying inside a way
   (not its first or last node, with a road segment on both sides) is a pure
   pass-through: both its segments belong to the same way, so have the same direction. It
   is removed, and each chain between two kept nodes becomes one edge whose length and
   travel time are the float64 sums of its segments' values, added one after the other in
   the direction of travel.

Shortest travel times between kept nodes are therefore those of the uncontracted graph
up to the order of the float64 additions (a path time ``((d + t1) + t2)`` becomes
``d + (t1 + t2)``): equal to a relative ``1e-12``, not bit for bit. Removed nodes are not
in the result (their ids and coordinates are dropped: snapping goes to the nearest kept
node, at most one chain away); kept nodes keep their OSM ids in ``network.osmid``.

Memory is a few dozen bytes per way node reference, not per node of the file: see
``docs/scaling.md`` for the figures measured on synthetic inputs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine._validate import existing_file
from engine.errors import NetworkError
from engine.jit import kernel
from engine.routing.network import RoadNetwork, haversine_m
from engine.routing.osm import frames_from_ways, is_drivable, no_drivable_road, way_direction
from engine.routing.speeds import SpeedModel, edge_speeds_kmh, resolve_speed_model

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["chain_sums", "read_osm_pbf", "stream_pbf_network"]

# PBF (and libosmium) coordinates are integers in units of 1e-7 degree.
_COORD_PRECISION = 10_000_000.0
_UNDEFINED_COORD = 2_147_483_647
# Node locations are read from libosmium's index in batches of this many.
_NODE_BATCH = 1 << 18


class _Growable:
    """A 1-D numpy array grown by doubling: amortised O(1) appends without Python lists."""

    def __init__(self, dtype: Any, capacity: int = 1 << 16) -> None:
        self._buf = np.empty(capacity, dtype=dtype)
        self.size = 0

    def _reserve(self, extra: int) -> None:
        need = self.size + extra
        if need > len(self._buf):
            new = np.empty(max(need, 2 * len(self._buf)), dtype=self._buf.dtype)
            new[: self.size] = self._buf[: self.size]
            self._buf = new

    def append(self, value: Any) -> None:
        if self.size == len(self._buf):
            self._reserve(1)
        self._buf[self.size] = value
        self.size += 1

    def extend(self, values: Any) -> None:
        k = len(values)
        self._reserve(k)
        self._buf[self.size:self.size + k] = values
        self.size += k

    def array(self) -> np.ndarray:
        # A trimmed copy, so the slack of the last doubling is freed with the buffer.
        out = self._buf[: self.size].copy()
        self._buf = np.empty(0, dtype=self._buf.dtype)
        return out


@kernel
def _chain_sums(values, group_start, reverse, out):
    """Sum ``values`` over each group of consecutive entries, one addition after another.

    Groups are ``values[group_start[g]:group_start[g + 1]]``; sums go to ``out[g]``.
    ``reverse`` adds from the last entry to the first (the travel order on the backward
    direction of a way). Written out instead of ``np.add.reduceat``, whose pairwise
    summation would not follow the path order.
    """
    for g in range(group_start.shape[0] - 1):
        lo = group_start[g]
        hi = group_start[g + 1]
        s = 0.0
        if reverse:
            for k in range(hi - 1, lo - 1, -1):
                s += values[k]
        else:
            for k in range(lo, hi):
                s += values[k]
        out[g] = s
    return 0


def chain_sums(values, group_start, reverse: bool = False) -> np.ndarray:
    """Sum of each group ``values[group_start[g]:group_start[g + 1]]``, added in order.

    Parameters
    ----------
    values : array-like of float
        The values (segment lengths or times).
    group_start : array-like of int
        Non-decreasing group bounds, ``len(groups) + 1`` of them.
    reverse : bool
        Add each group from its last value to its first.

    Returns
    -------
    numpy.ndarray
        float64, one sum per group, each the float sum in that order (not pairwise).
    """
    bounds = np.ascontiguousarray(group_start, dtype=np.int64)
    out = np.empty(max(len(bounds) - 1, 0), np.float64)
    _chain_sums(np.ascontiguousarray(values, dtype=np.float64), bounds, bool(reverse), out)
    return out


def _node_refs(way: Any) -> list[int]:
    """The node ids of a pyosmium way, as a list."""
    wl = way.nodes
    try:
        # pyosmium 4's public iterator wraps every NodeRef in two Python calls; going to
        # its C++ list directly halves the cost of the way pass.
        data, cl = wl._pyosmium_data, wl._list
        get = cl.get
        return [get(data, i).ref for i in range(cl.size(data))]
    except AttributeError:  # another pyosmium layout: the public API
        return [nd.ref for nd in wl]


def _read_ways(path: Path) -> dict[str, Any]:
    """Pass 1: the node ids, direction and speed profile of every drivable way."""
    import osmium

    refs = _Growable(np.int64, 1 << 20)
    way_start = _Growable(np.int64)
    way_id = _Growable(np.int64)
    way_dir = _Growable(np.int8)
    way_profile = _Growable(np.int32)
    profiles: dict[tuple[str, str | None], int] = {}
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.WAY)
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for way in processor:
            tags = way.tags
            if not is_drivable(tags):
                continue
            nodes = _node_refs(way)
            if len(nodes) < 2:
                continue
            key = (tags.get("highway"), tags.get("maxspeed"))
            code = profiles.get(key)
            if code is None:
                code = profiles[key] = len(profiles)
            way_start.append(refs.size)
            way_id.append(way.id)
            way_dir.append(way_direction(tags))
            way_profile.append(code)
            refs.extend(nodes)
    except RuntimeError as exc:
        raise NetworkError(f"cannot read the PBF file: corrupt or truncated ({exc})",
                           path=path) from None
    return {
        "refs": refs.array(), "way_start": way_start.array(), "way_id": way_id.array(),
        "way_dir": way_dir.array(), "way_profile": way_profile.array(),
        "profiles": list(profiles),
    }


def _read_locations(path: Path, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2: lon/lat of the nodes ``ids`` (sorted, unique); NaN for ids not in the file.

    The pass runs in C++: the ``IdFilter`` drops the (many) nodes no drivable way uses,
    and libosmium's ``NodeLocationsForWays`` stores the others in a sparse index (16 bytes
    a node) without a Python call per node. Python then reads the index in batches,
    which is ~7x faster than a node callback.
    """
    import osmium

    index = osmium.index.create_map("sparse_mem_array")
    store = osmium.NodeLocationsForWays(index)
    store.ignore_errors()
    try:
        osmium.apply(str(path), osmium.filter.EntityFilter(osmium.osm.NODE),
                     osmium.filter.IdFilter(ids), store)
    except RuntimeError as exc:
        raise NetworkError(f"cannot read the PBF file: corrupt or truncated ({exc})",
                           path=path) from None
    lon = np.full(len(ids), np.nan)
    lat = np.full(len(ids), np.nan)
    get = index.get
    for lo in range(0, len(ids), _NODE_BATCH):
        chunk = ids[lo:lo + _NODE_BATCH].tolist()
        try:
            locs = [get(i) for i in chunk]
        except KeyError:  # a clipped extract: some ways use nodes the file lacks
            locs = [_get_or_none(get, i) for i in chunk]
        x = np.fromiter((_UNDEFINED_COORD if loc is None else loc.x for loc in locs),
                        np.int64, len(locs))
        y = np.fromiter((_UNDEFINED_COORD if loc is None else loc.y for loc in locs),
                        np.int64, len(locs))
        ok = (x != _UNDEFINED_COORD) & (y != _UNDEFINED_COORD)
        # Same division as libosmium's Location::lon(), so coordinates are bit-identical
        # to what osmium (and osmnx on the same data as XML) reads.
        lon[lo:lo + len(chunk)][ok] = x[ok] / _COORD_PRECISION
        lat[lo:lo + len(chunk)][ok] = y[ok] / _COORD_PRECISION
    index.clear()
    return lon, lat


def _get_or_none(get, node_id: int):
    try:
        return get(node_id)
    except KeyError:
        return None


def _way_nodes(path: Path):
    """Both passes: the drivable ways, their node sequences and the nodes' coordinates.

    Returns
    -------
    ways : dict
        ``way_start``, ``way_id``, ``way_dir``, ``way_profile``, ``profiles`` (see
        :func:`_read_ways`), without ``refs``.
    node : numpy.ndarray
        Position in ``ids`` of each node of the flat sequence of way nodes, consecutive
        duplicates dropped as osmnx does.
    way_of : numpy.ndarray
        Index of the way each position belongs to.
    ids, lon, lat : numpy.ndarray
        The sorted unique OSM node ids and their coordinates (NaN when missing).
    missing : int
        Positions of ``node`` whose node is missing from the file (warned about here).
    """
    ways = _read_ways(path)
    refs = ways.pop("refs")  # popped so that `del refs` below frees it
    n_ways = len(ways["way_start"])
    if n_ways == 0:
        no_drivable_road(path)
    way_len = np.diff(np.append(ways["way_start"], len(refs)))
    way_of = np.repeat(np.arange(n_ways, dtype=np.int32), way_len)
    # osmnx drops consecutive duplicates of a node in a way (zero-length segments).
    keep = np.ones(len(refs), dtype=bool)
    keep[1:] = (refs[1:] != refs[:-1]) | (way_of[1:] != way_of[:-1])
    if not keep.all():
        refs, way_of = refs[keep], way_of[keep]
    del keep
    ids = np.unique(refs)
    node = np.searchsorted(ids, refs).astype(np.int32 if len(ids) < 2**31 else np.int64)
    del refs
    lon, lat = _read_locations(path, ids)
    missing = int((~np.isfinite(lon[node])).sum())
    if missing:
        warnings.warn(f"{path}: {missing} way node(s) are missing from the file (clipped "
                      "extract?); the road segments touching them were dropped", stacklevel=3)
    return ways, node, way_of, ids, lon, lat, missing


def _profile_speeds(model: SpeedModel, profiles: list[tuple[str, str | None]]) -> np.ndarray:
    """km/h of each ``(highway, maxspeed)`` profile under ``model``.

    Computed once per distinct tag pair with the same function as the table loaders, on a
    straight segment: the winding penalty never applies to a single OSM segment.
    """
    if not profiles:
        return np.empty(0)
    highway = [h for h, _ in profiles]
    maxspeed = [m for _, m in profiles]
    ones = np.ones(len(profiles))
    return edge_speeds_kmh(model, highway, maxspeed, ones, ones)


def stream_pbf_network(
    path: str | os.PathLike,
    *,
    speeds: SpeedModel | Mapping[str, float] | None = None,
    contract: bool = True,
    largest_component: bool = True,
) -> RoadNetwork:
    """Build the drive network of an OSM PBF file, streaming, with degree-2 chains contracted.

    Two pyosmium passes (ways, then the nodes they use) fill numpy arrays directly; see
    the module documentation for the algorithm. The ways kept, their direction (``oneway``
    including ``-1``/``reverse``, roundabouts) and the segment lengths follow osmnx 2.1's
    ``network_type="drive"`` exactly, as :func:`engine.routing.osm.read_osm_pbf` does: with
    ``contract=False`` the result equals ``load_network`` on the same file. Segments
    touching a node missing from the file (a clipped extract) are dropped with a warning.

    Parameters
    ----------
    path : str or path-like
        An ``.osm.pbf`` file (any format libosmium reads works, e.g. ``.osm``).
    speeds : SpeedModel or mapping, optional
        Speed model, or ``{highway class: km/h}`` overrides of the French defaults. Speeds
        apply per OSM segment, so ``winding_penalty`` has no effect (a segment is straight).
    contract : bool
        Remove pass-through nodes (default). Travel times between kept nodes equal those
        of the uncontracted graph up to the float64 summation order (relative ``1e-12``);
        lengths likewise.
    largest_component : bool
        Keep only the largest strongly connected component (default).

    Returns
    -------
    RoadNetwork
        Edge weights in seconds. ``meta`` records ``way_nodes`` (references read),
        ``segments`` (directed edges before contraction), ``contracted_nodes`` (removed)
        and what :meth:`RoadNetwork.from_edges` dropped.

    Raises
    ------
    NetworkError
        On a missing, truncated or corrupt file, or when no drivable road is left.

    Examples
    --------
    >>> from engine.routing.pbf import stream_pbf_network
    >>> net = stream_pbf_network("../shared/data/osm/saint-barthelemy.osm.pbf")  # doctest: +SKIP
    >>> net.meta["contracted_nodes"] > 0  # doctest: +SKIP
    True
    """
    path = existing_file(path, error=NetworkError)
    model = resolve_speed_model(speeds)
    ways, node, way_of, ids, lon, lat, missing = _way_nodes(path)
    present = np.isfinite(lon)

    # Segment k joins positions k and k + 1 of the flat node sequence.
    seg_ok = (way_of[1:] == way_of[:-1]) & present[node[:-1]] & present[node[1:]]
    if not seg_ok.any():
        no_drivable_road(path)
    n_pos = len(node)
    if contract:
        uses = np.bincount(node, minlength=len(ids))
        removable = np.zeros(n_pos, dtype=bool)
        # Inside a way, used by no other way nor twice by this one, with a segment on each
        # side (a missing neighbour makes the node a dead end, which must stay).
        removable[1:-1] = (uses[node[1:-1]] == 1) & seg_ok[:-1] & seg_ok[1:]
        del uses
    else:
        removable = np.zeros(n_pos, dtype=bool)
    a = np.flatnonzero(seg_ok)
    del seg_ok
    b = a + 1
    length = haversine_m(lon[node[a]], lat[node[a]], lon[node[b]], lat[node[b]])
    kmh = _profile_speeds(model, ways["profiles"])
    seg_way = way_of[a]
    time = length / (kmh[ways["way_profile"][seg_way]] / 3.6)
    # Chains: maximal runs of segments whose inner positions are removable. Every run of
    # valid segments starts at a kept position, so numbering segments by the last kept
    # position at or before their start gives one id per chain.
    kept_before = np.cumsum(~removable)
    chain_of = kept_before[a]
    del kept_before
    new_chain = np.ones(len(a), dtype=bool)
    new_chain[1:] = chain_of[1:] != chain_of[:-1]
    starts = np.flatnonzero(new_chain)
    bounds = np.append(starts, len(a)).astype(np.int64)
    ends = bounds[1:] - 1
    tail = node[a[starts]].astype(np.int64)
    head = node[b[ends]].astype(np.int64)
    direction = ways["way_dir"][seg_way[starts]]
    fwd = direction >= 0
    bwd = direction <= 0
    t_fwd = chain_sums(time, bounds, False)[fwd]
    l_fwd = chain_sums(length, bounds, False)[fwd]
    t_bwd = chain_sums(time, bounds, True)[bwd]
    l_bwd = chain_sums(length, bounds, True)[bwd]
    u = np.concatenate([tail[fwd], head[bwd]])
    v = np.concatenate([head[fwd], tail[bwd]])
    seg_dir = ways["way_dir"][seg_way]
    n_segments = int((seg_dir >= 0).sum() + (seg_dir <= 0).sum())
    del a, b, length, time, seg_way, seg_dir, chain_of, new_chain
    # Keep only nodes that end a chain, renumbered 0..n-1 in OSM id order.
    used = np.unique(np.concatenate([u, v]))
    remap = np.full(len(ids), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    meta = {
        "source": str(path),
        "format": "osm.pbf",
        "reader": "engine.routing.pbf.stream_pbf_network",
        "contracted": bool(contract),
        "way_nodes": int(n_pos),
        "input_nodes": int(present.sum()),
        "segments": n_segments,
        "contracted_nodes": int(present.sum() - len(used)),
        "input_edges": int(len(u)),
        "missing_nodes": missing,
        "speed_model": {
            "fallback_kmh": model.fallback_kmh, "maxspeed_factor": model.maxspeed_factor,
            "use_maxspeed": model.use_maxspeed, "winding_penalty": model.winding_penalty,
            "winding_floor": model.winding_floor, "highway_kmh": dict(model.highway_kmh),
        },
    }
    return RoadNetwork.from_edges(
        remap[u], remap[v], np.concatenate([t_fwd, t_bwd]), np.concatenate([l_fwd, l_bwd]),
        lon[used], lat[used], ids[used], meta=meta, largest_component=largest_component,
    )


def read_osm_pbf(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the drive network of an OSM PBF file with pyosmium.

    Ways are kept by osmnx's drive filter (:data:`DRIVE_FILTER`), consecutive duplicate
    nodes are dropped, and each pair of consecutive nodes gives one directed edge (two
    for a two-way road) whose length is the great-circle distance between them, as in
    osmnx's unsimplified graph. Segments touching a node missing from the file (a clipped
    extract) are dropped with a warning, where osmnx would fail.

    Parameters
    ----------
    path : str or path-like
        An ``.osm.pbf`` file.

    Returns
    -------
    nodes : pandas.DataFrame
        ``osmid``, ``lon``, ``lat`` of every node used by a kept edge.
    edges : pandas.DataFrame
        One row per directed edge: ``u``, ``v`` (OSM node ids), ``length`` (metres),
        ``highway``, ``maxspeed`` (``None`` when untagged) and ``osmid`` (the way id).

    Raises
    ------
    NetworkError
        On a missing, truncated or corrupt file, or when no drivable way is left.

    Examples
    --------
    >>> nodes, edges = read_osm_pbf("../shared/data/osm/saint-barthelemy.osm.pbf")  # doctest: +SKIP
    """
    # The same two passes as the streaming builder (bounded memory: only the nodes of
    # drivable ways are stored), then the osmnx-style tables.
    path = existing_file(path, error=NetworkError)
    ways, node, way_of, ids, lon, lat, _ = _way_nodes(path)
    profile = ways["way_profile"]
    highway = np.array([h for h, _ in ways["profiles"]], dtype=object)[profile]
    maxspeed = np.array([m for _, m in ways["profiles"]], dtype=object)[profile]
    return frames_from_ways(ids[node], lon[node], lat[node], way_of.astype(np.int64), ways["way_id"],
                   highway, maxspeed, ways["way_dir"], path)
