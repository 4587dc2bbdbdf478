"""Travel-time rasters: minutes to the nearest source (e.g. GP) on a regular metric grid.

The method, in two steps:

1. **On the network.** :func:`engine.routing.matrix.nearest_travel_times` with
   ``reverse=True`` gives every road node the driving time to its nearest source, i.e. the
   trip a patient makes from there to the closest practitioner (one multi-source search on
   the reversed graph, so one-way streets are taken the right way).
2. **Off the network.** :func:`rasterize_travel_time` lays a grid over the area in
   Lambert-93 (EPSG:2154, the official French projection, in metres). Each cell's value is
   ``min over nearby nodes k of node_minutes[k] + d(cell centre, k) / access_speed``: the
   time to walk or drive off-road, in a straight line at ``access_speed_kmh``, to a road
   node, then to drive from it. Cells farther than ``max_access_m`` from every node (sea,
   high mountains) are nodata. This is the usual "friction surface" shortcut (as in
   AccessMod's off-road speed) without a land-cover model.

:func:`engine.outputs.write_geotiff` saves the result as a compressed float32 GeoTIFF.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._validate import positive_number
from engine.errors import InputError
from engine.routing.network import RoadNetwork

#: Value of raster cells with no data (off the network, or beyond the time bound).
NODATA = -9999.0

#: Lambert-93, the French official projected CRS (metres).
LAMBERT93 = "EPSG:2154"

#: How many nearest nodes each cell considers: the nearest node may be a slow dead end
#: while a slightly farther one sits on the main road.
_K_NEAREST = 8


def _default_bounds(x: np.ndarray, y: np.ndarray, pad: float, res: float):
    """Node extent padded by ``pad`` metres and snapped outwards to multiples of ``res``."""
    xmin = np.floor((x.min() - pad) / res) * res
    ymin = np.floor((y.min() - pad) / res) * res
    xmax = np.ceil((x.max() + pad) / res) * res
    ymax = np.ceil((y.max() + pad) / res) * res
    return float(xmin), float(ymin), float(xmax), float(ymax)


def rasterize_travel_time(
    network: RoadNetwork,
    node_minutes: np.ndarray,
    *,
    resolution_m: float = 500,
    bounds: tuple[float, float, float, float] | None = None,
    access_speed_kmh: float = 20,
    max_access_m: float = 3000,
    mask=None,
) -> tuple[np.ndarray, Any, Any]:
    """Spread per-node travel times onto a regular Lambert-93 grid.

    Each cell centre ``c`` gets ``min_k (node_minutes[k] + d(c, k) / v)`` over its
    ``8`` nearest road nodes ``k`` within ``max_access_m``, where ``d`` is the straight-line
    distance in metres and ``v = access_speed_kmh``: the time to reach the road off-road,
    then drive. Taking several nodes (not only the nearest) avoids a cell beside a main road
    inheriting the time of a nearer dead end.

    Parameters
    ----------
    network : RoadNetwork
        The network whose nodes carry ``node_minutes``.
    node_minutes : numpy.ndarray
        Minutes per node (``inf`` where unreached), e.g. from
        :func:`engine.routing.matrix.nearest_travel_times` (``reverse=True``).
    resolution_m : float
        Cell size in metres.
    bounds : tuple of float, optional
        ``(xmin, ymin, xmax, ymax)`` in EPSG:2154 metres. Default: the nodes' extent padded
        by ``max_access_m``, snapped to the resolution.
    access_speed_kmh : float
        Off-road speed from the cell centre to the road node, km/h.
    max_access_m : float
        Cells farther than this from every node are nodata.
    mask : shapely geometry or geopandas.GeoSeries, optional
        Area of interest in EPSG:4326 (e.g. the commune polygons); cells whose centre lies
        outside are nodata, which keeps the sea blank along the coast.

    Returns
    -------
    array : numpy.ndarray
        float32 ``(rows, cols)``, north up, :data:`NODATA` (-9999) off the network, outside
        ``mask`` or where no source was reached.
    transform : affine.Affine
        Pixel-to-EPSG:2154 transform (rasterio convention, origin at the top-left corner).
    crs : rasterio.crs.CRS
        EPSG:2154.

    Raises
    ------
    InputError
        On a non-positive resolution or speed, or ``node_minutes`` of the wrong length.

    Examples
    --------
    >>> minutes = nearest_travel_times(net, sources, max_minutes=60, reverse=True)  # doctest: +SKIP
    >>> array, transform, crs = rasterize_travel_time(net, minutes, resolution_m=250)  # doctest: +SKIP
    >>> write_geotiff("travel_time.tif", array, transform, crs)  # doctest: +SKIP
    """
    from pyproj import Transformer
    from rasterio.crs import CRS
    from rasterio.transform import Affine
    from scipy.spatial import cKDTree

    node_minutes = np.asarray(node_minutes, dtype=np.float64)
    if node_minutes.shape != (network.n_nodes,):
        raise InputError(f"node_minutes has shape {node_minutes.shape}, expected "
                         f"({network.n_nodes},) (one value per network node)",
                         column="node_minutes")
    resolution_m = positive_number(resolution_m, "resolution_m")
    access_speed_kmh = positive_number(access_speed_kmh, "access_speed_kmh")

    to_l93 = Transformer.from_crs("EPSG:4326", LAMBERT93, always_xy=True)
    x, y = to_l93.transform(network.lon, network.lat)
    x, y = np.asarray(x), np.asarray(y)
    if bounds is None:
        bounds = _default_bounds(x, y, max_access_m, resolution_m)
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    ncols = max(1, int(np.ceil((xmax - xmin) / resolution_m)))
    nrows = max(1, int(np.ceil((ymax - ymin) / resolution_m)))
    transform = Affine(resolution_m, 0.0, xmin, 0.0, -resolution_m, ymax)

    cx = xmin + (np.arange(ncols) + 0.5) * resolution_m
    cy = ymax - (np.arange(nrows) + 0.5) * resolution_m
    gx, gy = np.meshgrid(cx, cy)
    cells = np.column_stack([gx.ravel(), gy.ravel()])

    tree = cKDTree(np.column_stack([x, y]))
    k = min(_K_NEAREST, network.n_nodes)
    dist, idx = tree.query(cells, k=k, distance_upper_bound=max_access_m)
    dist = dist.reshape(len(cells), k)
    idx = idx.reshape(len(cells), k)
    found = np.isfinite(dist)
    # cKDTree marks missing neighbours with index n; point them at node 0, masked below.
    idx = np.where(found, idx, 0)
    metres_per_minute = access_speed_kmh * 1000.0 / 60.0
    total = np.where(found, node_minutes[idx] + dist / metres_per_minute, np.inf)
    best = total.min(axis=1)
    best[~np.isfinite(best)] = NODATA
    array = best.reshape(nrows, ncols).astype(np.float32)

    if mask is not None:
        array[~_inside(mask, transform, (nrows, ncols))] = NODATA
    return array, transform, CRS.from_string(LAMBERT93)


def _inside(mask, transform, shape: tuple[int, int]) -> np.ndarray:
    """Boolean grid: cell centre inside ``mask`` (EPSG:4326 geometry or GeoSeries)."""
    import geopandas as gpd
    from rasterio.features import geometry_mask

    if isinstance(mask, gpd.GeoDataFrame):
        mask = mask.geometry
    series = mask if isinstance(mask, gpd.GeoSeries) else gpd.GeoSeries([mask], crs="EPSG:4326")
    if series.crs is None:
        series = series.set_crs("EPSG:4326")
    geoms = [g for g in series.to_crs(LAMBERT93) if g is not None and not g.is_empty]
    return geometry_mask(geoms, out_shape=shape, transform=transform, invert=True)
