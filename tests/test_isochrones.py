"""Isochrones on a synthetic grid made in code and on the Corsica network."""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely

import engine
from engine.errors import InputError
from engine.routing.isochrones import isochrones
from engine.routing.network import RoadNetwork, haversine_m

# A 41 x 41 grid of two-way roads, one minute per block: the time from the centre to a node
# is its Manhattan distance in blocks. Blocks are ~370 m (east-west) by ~555 m, far wider
# than the 150 m buffer, so a node one block beyond a band is well outside it. Grid cell
# (col, row) has OSM id row * _SIDE + col + 1; the network may renumber its nodes.
_SIDE = 41
_STEP = 0.005
_MID = _SIDE // 2


def _grid() -> RoadNetwork:
    ix, iy = np.meshgrid(np.arange(_SIDE), np.arange(_SIDE))
    ix, iy = ix.ravel(), iy.ravel()
    node = iy * _SIDE + ix
    lon = 2.0 + ix * _STEP
    lat = 48.0 + iy * _STEP
    right = node[ix < _SIDE - 1]
    up = node[iy < _SIDE - 1]
    u = np.concatenate([right, right + 1, up, up + _SIDE])
    v = np.concatenate([right + 1, right, up + _SIDE, up])
    length = haversine_m(lon[u], lat[u], lon[v], lat[v])
    return RoadNetwork.from_edges(u, v, np.full(len(u), 60.0), length, lon, lat,
                                  np.arange(len(lon)) + 1)


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return _grid()


def _node(net: RoadNetwork, col: int, row: int) -> int:
    return int(net.node_of_osmid(row * _SIDE + col + 1)[0])


def _blocks_from(net: RoadNetwork, source: int) -> np.ndarray:
    """Blocks (minutes) from ``source`` to every node, in the network's node order."""
    cell = net.osmid - 1
    sx, sy = cell[source] % _SIDE, cell[source] // _SIDE
    return np.abs(cell % _SIDE - sx) + np.abs(cell // _SIDE - sy)


def _assert_nested(geoms) -> None:
    # Exact set operations in floating point leave noise: allow 1e-9° (~0.1 mm).
    for small, big in zip(geoms[:-1], geoms[1:], strict=True):
        assert big.buffer(1e-9).covers(small)
        assert small.difference(big).area <= 1e-12 * small.area


def test_grid_bands(grid):
    centre = _node(grid, _MID, _MID)
    iso = isochrones(grid, [centre], minutes=(5, 10, 15))
    assert iso.crs.to_epsg() == 4326
    assert list(iso.columns) == ["source", "minutes", "geometry"]
    assert iso["source"].tolist() == [centre] * 3
    assert iso["minutes"].tolist() == [5.0, 10.0, 15.0]
    assert iso.is_valid.all()
    assert set(iso.geom_type) <= {"Polygon", "MultiPolygon"}
    _assert_nested(list(iso.geometry))
    blocks = _blocks_from(grid, centre)
    for band, geom in zip(iso["minutes"], iso.geometry, strict=True):
        inside = shapely.contains_xy(geom, grid.lon, grid.lat)
        # Every node reached within the band is in its polygon, every other one is out.
        np.testing.assert_array_equal(inside, blocks <= band)
    areas = iso.to_crs(iso.estimate_utm_crs()).area.to_numpy()
    assert np.all(np.diff(areas) > 0)


def test_grid_partial_edges(grid):
    """A band ending mid-block keeps the stretch of road driven in the time left."""
    iso = isochrones(grid, [_node(grid, _MID, _MID)], minutes=(10, 10.5))
    ten, ten_half = iso.geometry
    # 10 blocks east of the centre, then 45% of the next block (~166 m): beyond the 150 m
    # buffer of the 10-minute node, within the half block driven in the last 30 s.
    x = 2.0 + (_MID + 10 + 0.45) * _STEP
    y = 48.0 + _MID * _STEP
    assert not ten.contains(shapely.Point(x, y))
    assert ten_half.contains(shapely.Point(x, y))
    # The next node (a full block out) is not reached, nor covered.
    assert not ten_half.contains(shapely.Point(x + 0.55 * _STEP, y))


def test_grid_buffer(grid):
    centre = _node(grid, _MID, _MID)
    narrow = isochrones(grid, centre, minutes=5, buffer_m=50).geometry.iloc[0]
    wide = isochrones(grid, centre, minutes=5, buffer_m=300).geometry.iloc[0]
    assert wide.covers(narrow) and wide.area > 2 * narrow.area
    # The default tolerance is 150 m: a point 140 m off a reached road is in, 170 m out.
    default = isochrones(grid, centre, minutes=5).geometry.iloc[0]
    lon0 = 2.0 + _MID * _STEP
    lat0 = 48.0 + (_MID + 2.5) * _STEP  # halfway along a north-south road
    metre = 1 / (111_195 * np.cos(np.deg2rad(lat0)))
    assert default.contains(shapely.Point(lon0 + 140 * metre, lat0))
    assert not default.contains(shapely.Point(lon0 + 170 * metre, lat0))


def test_grid_several_sources_and_dissolve(grid):
    centre, corner = _node(grid, _MID, _MID), _node(grid, 5, 5)
    sources = [centre, corner]
    iso = isochrones(grid, sources, minutes=(4, 8))
    assert iso["source"].tolist() == [centre, centre, corner, corner]
    for src in sources:
        one = isochrones(grid, [src], minutes=(4, 8))
        rows = iso[iso["source"] == src]
        for a, b in zip(rows.geometry, one.geometry, strict=True):
            assert a.equals(b)
    merged = isochrones(grid, sources, minutes=(4, 8), dissolve=True)
    assert list(merged.columns) == ["minutes", "n_sources", "geometry"]
    assert merged["minutes"].tolist() == [4.0, 8.0]
    assert merged["n_sources"].tolist() == [2, 2]
    assert merged.crs.to_epsg() == 4326 and merged.is_valid.all()
    _assert_nested(list(merged.geometry))
    nearest = np.minimum(_blocks_from(grid, centre), _blocks_from(grid, corner))
    for band, geom in zip(merged["minutes"], merged.geometry, strict=True):
        per_source = shapely.union_all(iso.loc[iso["minutes"] == band, "geometry"].to_numpy())
        assert geom.buffer(1e-9).covers(per_source)
        inside = shapely.contains_xy(geom, grid.lon, grid.lat)
        np.testing.assert_array_equal(inside, nearest <= band)


def test_lonely_source_and_reverse():
    """One-way line 0 -> 1 -> 2: nothing leaves node 2, which still gets a disc."""
    lon = np.array([2.0, 2.01, 2.02])
    lat = np.full(3, 48.0)
    u, v = np.array([0, 1]), np.array([1, 2])
    net = RoadNetwork.from_edges(u, v, np.array([60.0, 60.0]), haversine_m(lon[u], lat[u], lon[v], lat[v]),
                                 lon, lat, np.array([10, 11, 12]), largest_component=False)
    end = int(net.node_of_osmid(12)[0])
    order = np.argsort(net.osmid)  # nodes by OSM id: 10, 11, 12
    lon, lat = net.lon[order], net.lat[order]
    fwd = isochrones(net, [end], minutes=5).geometry.iloc[0]
    assert fwd.contains(shapely.Point(2.02, 48.0))
    assert not fwd.contains(shapely.Point(2.01, 48.0))
    assert fwd.area < 1.1 * np.pi * (150 / 111_195) ** 2 / np.cos(np.deg2rad(48.0))
    back = isochrones(net, [end], minutes=(1, 5), reverse=True)
    one, five = back.geometry
    assert shapely.contains_xy(one, lon, lat).tolist() == [False, True, True]
    assert shapely.contains_xy(five, lon, lat).tolist() == [True, True, True]


def test_empty_sources(grid):
    iso = isochrones(grid, [], minutes=(10, 20))
    assert len(iso) == 0 and iso.crs.to_epsg() == 4326


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sources": [_SIDE * _SIDE]}, "not a node index"),
    ({"sources": [-1]}, "not a node index"),
    ({"sources": [1.5]}, "integer node indices"),
    ({"minutes": ()}, "non-empty"),
    ({"minutes": (0, 10)}, "positive"),
    ({"minutes": (-5,)}, "positive"),
    ({"minutes": (10, float("nan"))}, "finite"),
    ({"minutes": (10, 5)}, "increasing"),
    ({"minutes": (10, 10)}, "increasing"),
    ({"minutes": ("ten",)}, "numbers"),
    ({"buffer_m": 0}, "buffer_m"),
    ({"buffer_m": float("inf")}, "buffer_m"),
])
def test_bad_input(grid, kwargs, match):
    args = {"sources": [0], "minutes": (10, 15)} | kwargs
    with pytest.raises(InputError, match=match):
        isochrones(grid, args.pop("sources"), **args)


def test_public_export(grid):
    assert engine.isochrones is isochrones


# ---------------------------------------------------------------------- Corsica


def test_corsica(corse):
    ajaccio, _ = corse.snap(8.7369, 41.9192)
    bastia, _ = corse.snap(9.4500, 42.7000)
    sources = [ajaccio, bastia]
    t0 = time.perf_counter()
    iso = isochrones(corse, sources, minutes=(10, 15, 20))
    elapsed = time.perf_counter() - t0
    assert elapsed < 60  # measured ~2.5 s on 2 shared cores
    assert len(iso) == 6 and iso.crs.to_epsg() == 4326
    assert iso.is_valid.all()
    metric = iso.to_crs(iso.estimate_utm_crs())
    m = engine.travel_times(corse, sources, max_minutes=20)
    for i, src in enumerate(sources):
        rows = iso["source"] == src
        geoms = list(iso.loc[rows, "geometry"])
        _assert_nested(geoms)
        areas = metric.loc[rows].area.to_numpy() / 1e6
        assert np.all(np.diff(areas) > 0)
        # From a town centre, 20 minutes of driving cover tens of km², not thousands.
        assert 10 < areas[-1] < 1_000
        reached, minutes = m.row(i)
        for band, geom in zip((10, 15, 20), geoms, strict=True):
            near = reached[minutes <= band]
            assert shapely.contains_xy(geom, corse.lon[near], corse.lat[near]).all()
    merged = isochrones(corse, sources, minutes=(10, 20), dissolve=True)
    assert len(merged) == 2 and merged.is_valid.all()
    _assert_nested(list(merged.geometry))
