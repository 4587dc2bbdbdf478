"""Synthetic inputs made in code, shared by the tests and the benchmarks (not part of the package)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


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
