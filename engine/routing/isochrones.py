"""Isochrones: the area reached within a travel time, drawn from the roads reached."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from engine._validate import increasing_minutes, node_indices, positive_number
from engine.routing.matrix import nearest_travel_times, travel_times
from engine.routing.network import RoadNetwork

if TYPE_CHECKING:
    import geopandas as gpd

#: Default distance (metres) the reached roads are widened by.
DEFAULT_BUFFER_M = 150.0

# Segments per quarter circle of the buffer: 4 keeps polygons light (the outline is then
# within 150 m * (1 - cos(11.25°)) ≈ 3 m of the exact 150 m offset).
_QUAD_SEGS = 4


def _reached_geometry(bands, times_min, node_ids, edge_tail, edge_head, edge_min, head_time,
                      x, y, buffer_m):
    """One polygon (projected CRS) per band from the reached nodes and their out-edges.

    ``times_min`` is the time of each reached node (global ids ``node_ids``); ``edge_*``
    describe the out-edges of those nodes (``edge_tail`` indexes into ``node_ids``,
    ``edge_head`` is a global id), ``head_time`` the time of each edge's head (``inf`` when
    not reached); ``x``, ``y`` the projected coordinates of the tails (indexed like
    ``node_ids``) followed by those of the heads (one per edge).
    """
    import shapely

    n = len(node_ids)
    hx, hy = x[n:], y[n:]
    tx, ty = x[:n][edge_tail], y[:n][edge_tail]
    tail_time = times_min[edge_tail]
    # Undirected key of each edge, to draw a two-way road once.
    lo = np.minimum(node_ids[edge_tail], edge_head)
    hi = np.maximum(node_ids[edge_tail], edge_head)
    key = lo * (int(max(node_ids.max(), edge_head.max(initial=0))) + 1) + hi
    drawn = np.zeros(len(edge_tail), dtype=bool)
    out = []
    previous = None
    for band in bands:
        edge_in = tail_time <= band
        full = edge_in & (head_time <= band)
        # A road left before its end: keep the stretch driven in the time remaining.
        partial = edge_in & ~full & (edge_min > 0)
        frac = np.ones(len(edge_tail))
        frac[partial] = np.clip((band - tail_time[partial]) / edge_min[partial], 0.0, 1.0)
        partial &= frac > 0
        # Each band adds to the one below: only full roads not drawn yet, and this band's
        # partial stretches (which extend the previous band's ones).
        new_full = full & ~drawn
        idx = np.flatnonzero(new_full)
        idx = idx[np.unique(key[idx], return_index=True)[1]]
        drawn[new_full] = True
        drawn[np.isin(key, key[idx])] = True
        idx = np.concatenate([idx, np.flatnonzero(partial)])
        f = frac[idx]
        starts = np.column_stack([tx[idx], ty[idx]])
        ends = np.column_stack([tx[idx] + f * (hx[idx] - tx[idx]), ty[idx] + f * (hy[idx] - ty[idx])])
        parts = list(shapely.buffer(shapely.linestrings(np.stack([starts, ends], axis=1)),
                                    buffer_m, quad_segs=_QUAD_SEGS)) if len(idx) else []
        # Reached nodes no drawn road starts from (a source with no road driven, say).
        has_road = np.zeros(n, dtype=bool)
        has_road[edge_tail[full | partial]] = True
        lonely = (times_min <= band) & ~has_road
        if lonely.any():
            parts.extend(shapely.buffer(shapely.points(x[:n][lonely], y[:n][lonely]), buffer_m,
                                        quad_segs=_QUAD_SEGS))
        if previous is not None:
            parts.append(previous)
        previous = shapely.union_all(parts) if len(parts) > 1 else parts[0]
        out.append(previous)
    return out


def isochrones(
    network: RoadNetwork,
    sources,
    minutes: float | Iterable[float] = (10, 15, 20),
    *,
    dissolve: bool = False,
    buffer_m: float | None = None,
    reverse: bool = False,
) -> gpd.GeoDataFrame:
    """Polygons of the area reached from each source within each travel time.

    The shape follows the roads: a bounded Dijkstra (:func:`engine.travel_times` with
    ``max_minutes=max(minutes)``) gives the time of every reached node; for each band, the
    edges whose two ends are reached within the band are kept whole, an edge whose tail is
    reached but whose head is not is cut at the share of its travel time left (interpolated
    along the straight line between its ends), and these segments plus the reached nodes
    are buffered by ``buffer_m`` and merged. Buffering is done in the UTM zone of the
    sources (``geopandas.GeoSeries.estimate_utm_crs``), the buffer outline drawn with 4
    segments per quarter circle (within ~3 m of the exact offset for 150 m); polygons
    are returned in EPSG:4326. Each band is merged with the one below it, so bands are
    nested exactly (10 ⊆ 15 ⊆ 20).

    The tolerance ``buffer_m`` is the reach of the polygon off the road: land farther
    than that from any road reached stays outside, hence holes between distant roads.
    It also covers the geometry lost by drawing edges as straight lines (edges of an
    unsimplified OSM graph are short; those of a simplified osmnx graph may cut bends).

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    sources : int or array-like of int
        Node indices of the sources (e.g. from ``network.snap(lon, lat)``).
    minutes : float or sequence of float
        Upper bounds of the bands, positive and strictly increasing.
    dissolve : bool
        Return one polygon per band covering all sources, drawn from the time to the
        nearest source. It covers the union of the per-source polygons, and can be
        slightly larger: a road whose two ends are reached from two different sources
        counts as reached whole.
    buffer_m : float, optional
        Tolerance in metres the reached roads are widened by (default 150).
    reverse : bool
        Draw the area from which each source is *reached* within the band (travel towards
        the source, one-way streets taken the other way round).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per source and band, source-major and bands ascending, with
        columns ``source`` (node index), ``minutes`` (band upper bound) and ``geometry``
        (Polygon or MultiPolygon). With ``dissolve=True``, one row per band with columns
        ``minutes``, ``n_sources`` and ``geometry``.

    Raises
    ------
    InputError
        On unknown node indices, or ``minutes`` empty, non-positive or not increasing, or
        a non-positive ``buffer_m``.

    Examples
    --------
    >>> import engine
    >>> net = engine.load_network("../shared/data/osm/corse-drive.graphml.gz")  # doctest: +SKIP
    >>> node, _ = net.snap(8.7369, 41.9192)  # Ajaccio  # doctest: +SKIP
    >>> iso = engine.isochrones(net, [node], minutes=(10, 20))  # doctest: +SKIP
    >>> iso[["source", "minutes"]]  # doctest: +SKIP
       source  minutes
    0   12345     10.0
    1   12345     20.0
    """
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    bands = increasing_minutes(minutes)
    buffer_m = DEFAULT_BUFFER_M if buffer_m is None else positive_number(buffer_m, "buffer_m")
    src = node_indices(sources, network.n_nodes, "sources")
    if len(src) == 0:
        columns = ["minutes", "n_sources"] if dissolve else ["source", "minutes"]
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")

    points = gpd.GeoSeries(gpd.points_from_xy(network.lon[src], network.lat[src]), crs=4326)
    utm = points.estimate_utm_crs()
    to_utm = Transformer.from_crs(4326, utm, always_xy=True)

    if reverse:
        indptr, heads, weights = network.reverse_csr()
    else:
        indptr, heads, weights = network.indptr, network.indices, network.travel_time_s
    if dissolve:
        # The time to the nearest source, in one multi-source search: the union of
        # thousands of sources costs one pass over the area reached.
        nearest = nearest_travel_times(network, src, max_minutes=float(bands[-1]),
                                       reverse=reverse)
        reached = np.flatnonzero(np.isfinite(nearest))
        rows = [(reached, nearest[reached])]
    else:
        # destinations=None: the matrix's columns are the node indices themselves.
        m = travel_times(network, src, max_minutes=float(bands[-1]), reverse=reverse)
        rows = [m.row(i) for i in range(len(src))]

    time_of = np.full(network.n_nodes, np.inf)
    geoms = []
    for nodes, times in rows:
        nodes = np.asarray(nodes, dtype=np.int64)
        starts, ends = indptr[nodes], indptr[nodes + 1]
        counts = ends - starts
        edge_tail = np.repeat(np.arange(len(nodes)), counts)
        # Positions of every out-edge of the reached nodes in the CSR arrays.
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        edge = np.repeat(starts, counts) + offsets
        edge_head = heads[edge].astype(np.int64)
        time_of[nodes] = times
        head_time = time_of[edge_head]
        time_of[nodes] = np.inf
        x, y = to_utm.transform(np.concatenate([network.lon[nodes], network.lon[edge_head]]),
                                np.concatenate([network.lat[nodes], network.lat[edge_head]]))
        polys = _reached_geometry(bands, times, nodes, edge_tail, edge_head,
                                  weights[edge] / 60.0,
                                  head_time, np.asarray(x), np.asarray(y), buffer_m)
        geoms.append(polys)

    flat = gpd.GeoSeries([g for polys in geoms for g in polys], crs=utm).to_crs(4326).to_numpy()
    # Reprojection can, rarely, pinch a ring that nearly touches itself.
    bad = ~shapely.is_valid(flat)
    if bad.any():
        flat[bad] = shapely.make_valid(flat[bad])
    k = len(bands)
    # Bands are nested by construction in the projected CRS; merging each band into the
    # next again after reprojection keeps them nested to within ~1e-9° in the returned
    # coordinates too (reprojecting alone leaves slivers of ~1e-4 m off).
    for start in range(0, len(flat), k):
        for j in range(1, k):
            flat[start + j] = shapely.union(flat[start + j], flat[start + j - 1])
    if dissolve:
        return gpd.GeoDataFrame({"minutes": bands, "n_sources": len(src)}, geometry=list(flat),
                                crs="EPSG:4326")
    return gpd.GeoDataFrame(
        {"source": np.repeat(src, k), "minutes": np.tile(bands, len(src))},
        geometry=list(flat), crs="EPSG:4326",
    )
