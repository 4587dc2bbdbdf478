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

import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from engine.errors import NetworkError
from engine.routing.network import RoadNetwork, haversine_m
from engine.routing.osm import _check_file, _no_road, is_drivable, way_direction
from engine.routing.speeds import SpeedModel, edge_speeds_kmh, resolve_speed_model

__all__ = ["stream_pbf_network", "write_synthetic_osm"]

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


@njit(cache=True)
def _chain_sums(values, group_start, reverse):
    """Sum ``values`` over each group of consecutive entries, one addition after another.

    Groups are ``values[group_start[g]:group_start[g + 1]]``. ``reverse`` adds from the
    last entry to the first (the travel order on the backward direction of a way). Written
    out instead of ``np.add.reduceat``, whose pairwise summation would not follow the
    path order.
    """
    n_groups = group_start.shape[0] - 1
    out = np.empty(n_groups, np.float64)
    for g in range(n_groups):
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
    """
    ways = _read_ways(path)
    refs = ways.pop("refs")  # popped so that `del refs` below frees it
    n_ways = len(ways["way_start"])
    if n_ways == 0:
        _no_road(path)
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
    return ways, node, way_of, ids, lon, lat


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
    path = _check_file(path)
    model = resolve_speed_model(speeds)
    ways, node, way_of, ids, lon, lat = _way_nodes(path)
    present = np.isfinite(lon)
    missing = int((~present[node]).sum())

    # Segment k joins positions k and k + 1 of the flat node sequence.
    seg_ok = (way_of[1:] == way_of[:-1]) & present[node[:-1]] & present[node[1:]]
    if not seg_ok.any():
        _no_road(path)
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
    t_fwd = _chain_sums(time, bounds, False)[fwd]
    l_fwd = _chain_sums(length, bounds, False)[fwd]
    t_bwd = _chain_sums(time, bounds, True)[bwd]
    l_bwd = _chain_sums(length, bounds, True)[bwd]
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


# --------------------------------------------------------------------------- synthetic data


def write_synthetic_osm(
    path: str | os.PathLike,
    rows: int,
    cols: int,
    *,
    seed: int = 0,
    spacing_m: float = 150.0,
    overwrite: bool = True,
) -> dict[str, int]:
    """Write a road-like synthetic OSM file (PBF or XML, by extension) for tests and benchmarks.

    A ``rows x cols`` grid of nodes, jittered by up to a third of ``spacing_m``, around
    46.5N 2.5E. Every row is a street split into ways of 3 to 24 nodes (so that ways share
    end nodes and most nodes are pass-throughs); every fourth column is a cross street.
    Rows and columns carry ``highway`` classes from motorway to residential, some with
    ``maxspeed``; about one row in seven is one-way (``oneway=yes``, ``-1`` or ``reverse``),
    a few column ways are ``footway``, ``service`` or ``access=private`` (filtered out), and
    a few nodes are not used by any way. Node and way ids are spread out (not ``0..n``).

    Parameters
    ----------
    path : str or path-like
        Target file; ``.osm.pbf`` writes PBF, ``.osm`` writes XML (pyosmium's writer).
    rows, cols : int
        Grid size (``rows * cols`` nodes).
    seed : int
        Random seed.
    spacing_m : float
        Distance between grid nodes in metres.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    dict
        ``nodes`` and ``ways`` written.

    Examples
    --------
    >>> write_synthetic_osm("/tmp/grid.osm.pbf", 40, 50)  # doctest: +SKIP
    {'nodes': 2000, 'ways': ...}
    """
    import osmium
    from osmium.osm.mutable import Node, Way

    rng = np.random.default_rng(seed)
    deg_lat = spacing_m / 111_195.0
    deg_lon = deg_lat / math.cos(math.radians(46.5))
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    jitter = rng.uniform(-1 / 3, 1 / 3, (2, rows, cols))
    # Round to the 1e-7 degree grid of OSM files, so the file holds exactly these values.
    lon = np.round(2.5 + (jj + jitter[0]) * deg_lon, 7)
    lat = np.round(46.5 + (ii + jitter[1]) * deg_lat, 7)
    node_id = (1_000 + 3 * np.arange(rows * cols, dtype=np.int64)).reshape(rows, cols)

    def row_class(i: int) -> dict[str, str]:
        if i % 64 == 0:
            return {"highway": "motorway", "oneway": "yes"} if i % 128 == 0 else {"highway": "trunk"}
        if i % 16 == 0:
            return {"highway": "primary", "maxspeed": "80"}
        if i % 8 == 0:
            return {"highway": "secondary"}
        if i % 7 == 3:
            return {"highway": "residential", "oneway": ["yes", "-1", "reverse"][(i // 7) % 3]}
        if i % 5 == 1:
            return {"highway": "tertiary", "maxspeed": "FR:rural"}
        return {"highway": "residential"}

    def col_class(j: int, r: float) -> dict[str, str]:
        if r < 0.03:
            return {"highway": "footway"}
        if r < 0.05:
            return {"highway": "service"}
        if r < 0.06:
            return {"highway": "unclassified", "access": "private"}
        if j % 32 == 0:
            return {"highway": "primary"}
        if r < 0.12:
            return {"highway": "unclassified", "oneway": "yes"}
        return {"highway": "unclassified" if j % 8 == 0 else "residential"}

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = osmium.SimpleWriter(str(path), overwrite=overwrite)
    n_ways = 0
    try:
        lon_f, lat_f, id_f = lon.ravel().tolist(), lat.ravel().tolist(), node_id.ravel().tolist()
        for k in range(rows * cols):
            writer.add_node(Node(id=id_f[k], location=(lon_f[k], lat_f[k]), version=1))
        # A few nodes no way uses: they must not reach the network.
        for k in range(5):
            writer.add_node(Node(id=10 * rows * cols + 7 * k, location=(2.4, 46.4), version=1))
        wid = 50_000_001
        for i in range(rows):
            tags = row_class(i)
            j = 0
            while j < cols - 1:
                step = int(rng.integers(2, 24))
                stop = min(cols - 1, j + step)
                writer.add_way(Way(id=wid, nodes=node_id[i, j:stop + 1].tolist(), tags=tags,
                                   version=1))
                wid += 2
                n_ways += 1
                j = stop
        for j in range(0, cols, 4):
            i = 0
            while i < rows - 1:
                step = int(rng.integers(2, 24))
                stop = min(rows - 1, i + step)
                tags = col_class(j, float(rng.random()))
                writer.add_way(Way(id=wid, nodes=node_id[i:stop + 1, j].tolist(), tags=tags,
                                   version=1))
                wid += 2
                n_ways += 1
                i = stop
    finally:
        writer.close()
    return {"nodes": rows * cols + 5, "ways": n_ways}
