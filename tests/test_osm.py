"""Raw OSM loaders: PBF through pyosmium against OSM XML through osmnx."""

from __future__ import annotations

import bz2
import gzip
import re
import time

import numpy as np
import osmium
import pytest
from scipy.sparse.csgraph import dijkstra

import engine
from engine.errors import NetworkError
from engine.routing.osm import (
    DRIVE_FILTER,
    is_drivable,
    read_osm_xml,
    way_direction,
)
from engine.routing.pbf import read_osm_pbf

# A tiny hand-written network along a parallel of latitude, ~111 m * cos(lat) per 0.001°.
_NODES = {i: (2.0 + 0.001 * i, 48.0 + (0.0005 if i % 2 else 0.0)) for i in range(1, 13)}
_NODES[99] = (2.5, 48.5)  # in no way: must not show up
_WAYS = [
    # (way id, node refs, tags)
    (101, [1, 2, 3], {"highway": "residential", "maxspeed": "30"}),
    (102, [3, 4], {"highway": "footway"}),
    (103, [4, 5], {"highway": "primary", "access": "private"}),
    (104, [3, 5], {"highway": "residential", "oneway": "-1"}),
    (105, [5, 6, 7, 5], {"highway": "tertiary", "junction": "roundabout"}),
    (106, [1, 8], {"highway": "secondary", "oneway": "yes"}),
    (107, [8, 9], {"highway": "service"}),
    (108, [9, 10], {"highway": "unclassified", "motor_vehicle": "no"}),
    (109, [2, 2, 10], {"highway": "residential"}),  # consecutive duplicate node
    (110, [10, 11], {"highway": "residential", "area": "yes"}),
    (111, [6, 11], {"highway": "living_street", "oneway": "no"}),
    (112, [11, 12], {"highway": "residential", "motorcar": "no"}),
    (113, [7, 12], {"highway": "tertiary", "oneway": "reverse"}),
    (114, [4, 12], {"building": "yes"}),
]
_EXPECTED_EDGES = {
    (1, 2), (2, 1), (2, 3), (3, 2),   # 101 two-way
    (5, 3),                           # 104 oneway=-1: against the node order only
    (5, 6), (6, 7), (7, 5),           # 105 roundabout: one-way
    (1, 8),                           # 106 oneway=yes
    (2, 10), (10, 2),                 # 109 duplicate node dropped
    (6, 11), (11, 6),                 # 111 oneway=no
    (12, 7),                          # 113 oneway=reverse
}


def _osm_xml(nodes: dict, ways: list) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lon, lat) in nodes.items():
        out.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for wid, refs, tags in ways:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        out.append(f'<way id="{wid}" version="1">{body}</way>')
    out.append("</osm>")
    return "\n".join(out) + "\n"


def _convert(src, dst) -> None:
    """Rewrite an OSM file in the format given by ``dst``'s extension, with pyosmium."""
    writer = osmium.SimpleWriter(str(dst))
    try:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    finally:
        writer.close()


def _edge_table(edges):
    return edges.sort_values(["u", "v", "osmid"]).reset_index(drop=True)


def _assert_same_frames(a, b) -> None:
    nodes_a, edges_a = a
    nodes_b, edges_b = b
    assert set(nodes_a["osmid"]) == set(nodes_b["osmid"])
    na = nodes_a.set_index("osmid").sort_index()
    nb = nodes_b.set_index("osmid").sort_index()
    np.testing.assert_array_equal(na[["lon", "lat"]].to_numpy(), nb[["lon", "lat"]].to_numpy())
    ea, eb = _edge_table(edges_a), _edge_table(edges_b)
    assert len(ea) == len(eb)
    np.testing.assert_array_equal(ea[["u", "v", "osmid"]].to_numpy(),
                                  eb[["u", "v", "osmid"]].to_numpy())
    np.testing.assert_allclose(ea["length"], eb["length"], rtol=0, atol=1e-6)
    assert list(ea["highway"]) == list(eb["highway"])
    assert list(ea["maxspeed"]) == list(eb["maxspeed"])


def _assert_same_network(a: engine.RoadNetwork, b: engine.RoadNetwork) -> None:
    assert a.n_nodes == b.n_nodes and a.n_edges == b.n_edges
    assert set(a.osmid.tolist()) == set(b.osmid.tolist())

    def keyed(net):
        tails = net.osmid[net.edge_tails()]
        heads = net.osmid[net.indices]
        order = np.lexsort((heads, tails))
        return tails[order], heads[order], net.length_m[order], net.travel_time_s[order]

    ta, ha, la, tta = keyed(a)
    tb, hb, lb, ttb = keyed(b)
    np.testing.assert_array_equal(ta, tb)
    np.testing.assert_array_equal(ha, hb)
    np.testing.assert_allclose(la, lb, rtol=0, atol=1e-6)
    np.testing.assert_allclose(tta, ttb, rtol=1e-12, atol=1e-9)


# ---------------------------------------------------------------------- rules


def test_drive_filter_is_osmnx_filter():
    """The hard-coded filter must stay what osmnx 2.1 sends to Overpass for "drive"."""
    from osmnx import _overpass

    query = _overpass._get_network_filter("drive")
    assert query.startswith('["highway"]')
    pairs = re.findall(r'\["([^"]+)"!~"([^"]+)"\]', query)
    assert sorted(pairs) == sorted(DRIVE_FILTER)
    # Nothing else in the filter than the highway presence test and the exclusions.
    assert len(re.findall(r"\[", query)) == len(pairs) + 1


@pytest.mark.parametrize(("tags", "kept"), [
    ({"highway": "residential"}, True),
    ({"highway": "motorway_link"}, True),
    ({"building": "yes"}, False),
    ({"highway": "track"}, False),
    ({"highway": "service"}, False),
    ({"highway": "steps"}, False),
    ({"highway": "primary", "access": "private"}, False),
    ({"highway": "primary", "access": "destination"}, True),
    ({"highway": "primary", "motorcar": "no"}, False),
    ({"highway": "primary", "area": "yes"}, False),
    ({"highway": "residential", "service": "driveway"}, False),
    # Overpass "!~" is an unanchored search, so any value containing "no" is dropped.
    ({"highway": "unknown"}, False),
])
def test_is_drivable(tags, kept):
    assert is_drivable(tags) is kept


def test_way_direction_matches_osmnx():
    from osmnx import graph as oxg

    values = {"yes", "true", "1", "-1", "reverse", "T", "F"}
    reversed_values = {"-1", "reverse", "T"}
    for oneway in [None, "yes", "no", "true", "1", "-1", "reverse", "T", "F", "alternating"]:
        for junction in [None, "roundabout", "circular"]:
            tags = {k: v for k, v in (("oneway", oneway), ("junction", junction)) if v}
            one = oxg._is_path_one_way(tags, False, values)
            rev = one and oxg._is_path_reversed(tags, reversed_values)
            assert way_direction(tags) == (0 if not one else -1 if rev else 1), tags


# ---------------------------------------------------------------------- tiny hand-written files


@pytest.fixture
def tiny_xml(tmp_path):
    path = tmp_path / "tiny.osm"
    path.write_text(_osm_xml(_NODES, _WAYS), encoding="utf-8")
    return path


@pytest.fixture
def tiny_pbf(tiny_xml, tmp_path):
    path = tmp_path / "tiny.osm.pbf"
    _convert(tiny_xml, path)
    return path


@pytest.mark.parametrize("fmt", ["xml", "pbf"])
def test_tiny_filter_and_oneway(fmt, tiny_xml, tiny_pbf):
    nodes, edges = read_osm_xml(tiny_xml) if fmt == "xml" else read_osm_pbf(tiny_pbf)
    got = set(zip(edges["u"].tolist(), edges["v"].tolist(), strict=True))
    assert got == _EXPECTED_EDGES
    assert len(edges) == len(_EXPECTED_EDGES)
    assert set(nodes["osmid"]) == {n for e in _EXPECTED_EDGES for n in e}
    assert 99 not in set(nodes["osmid"]) and 4 not in set(nodes["osmid"])
    # Lengths: great-circle distance between consecutive nodes.
    row = edges[(edges["u"] == 1) & (edges["v"] == 2)].iloc[0]
    (x1, y1), (x2, y2) = _NODES[1], _NODES[2]
    assert row["length"] == pytest.approx(float(engine.routing.network.haversine_m(x1, y1, x2, y2)),
                                          abs=1e-6)
    assert row["highway"] == "residential" and row["maxspeed"] == "30" and row["osmid"] == 101
    assert edges.loc[(edges["u"] == 5) & (edges["v"] == 3), "maxspeed"].iloc[0] is None


def test_tiny_pbf_equals_xml(tiny_xml, tiny_pbf):
    _assert_same_frames(read_osm_pbf(tiny_pbf), read_osm_xml(tiny_xml))


@pytest.mark.parametrize("opener", [gzip.open, bz2.open], ids=["gz", "bz2"])
def test_compressed_xml(opener, tiny_xml, tmp_path):
    suffix = ".gz" if opener is gzip.open else ".bz2"
    path = tmp_path / f"tiny.osm{suffix}"
    with opener(path, "wb") as fh:
        fh.write(tiny_xml.read_bytes())
    _assert_same_frames(read_osm_xml(path), read_osm_xml(tiny_xml))
    net = engine.load_network(path, largest_component=False)
    assert net.meta["format"] == "osm.xml"


def test_missing_nodes_drop_their_segments(tmp_path):
    """A clipped extract: the segments touching an absent node go, the rest of the way stays."""
    nodes = {i: _NODES[i] for i in (1, 2, 4, 5)}  # node 3 is missing
    ways = [(201, [1, 2, 3, 4, 5], {"highway": "residential"})]
    xml = tmp_path / "clipped.osm"
    xml.write_text(_osm_xml(nodes, ways), encoding="utf-8")
    pbf = tmp_path / "clipped.osm.pbf"
    _convert(xml, pbf)
    expected = {(1, 2), (2, 1), (4, 5), (5, 4)}
    for reader, path in ((read_osm_xml, xml), (read_osm_pbf, pbf)):
        with pytest.warns(UserWarning, match="missing from the file"):
            got_nodes, edges = reader(path)
        assert set(zip(edges["u"], edges["v"], strict=True)) == expected
        assert set(edges["osmid"]) == {201}
        assert set(got_nodes["osmid"]) == {1, 2, 4, 5}


# ---------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    for name in ("nope.osm.pbf", "nope.osm"):
        with pytest.raises(NetworkError, match="no such file"):
            engine.load_network(tmp_path / name)
    with pytest.raises(NetworkError, match="no such file"):
        read_osm_pbf(tmp_path / "nope.osm.pbf")
    with pytest.raises(NetworkError, match="no such file"):
        read_osm_xml(tmp_path / "nope.osm")


def test_truncated_pbf(tiny_pbf, tmp_path):
    data = tiny_pbf.read_bytes()
    for name, payload in (("half", data[: len(data) // 2]), ("garbage", b"not a pbf" * 50)):
        path = tmp_path / f"{name}.osm.pbf"
        path.write_bytes(payload)
        with pytest.raises(NetworkError, match="corrupt or truncated") as info:
            engine.load_network(path)
        assert str(path) in str(info.value)


def test_garbage_gzip(tmp_path):
    path = tmp_path / "bad.osm.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage, not deflate" * 10)
    with pytest.raises(NetworkError, match="compressed stream"):
        engine.load_network(path)
    path = tmp_path / "plain.osm.gz"
    path.write_bytes(b"<osm></osm>")  # not gzip at all
    with pytest.raises(NetworkError, match="compressed stream"):
        read_osm_xml(path)


def test_malformed_xml(tmp_path, tiny_xml):
    path = tmp_path / "bad.osm"
    path.write_text(tiny_xml.read_text()[:-200], encoding="utf-8")
    with pytest.raises(NetworkError, match="malformed OSM XML"):
        engine.load_network(path)
    path = tmp_path / "other.xml"
    path.write_text("<graphml></graphml>", encoding="utf-8")
    with pytest.raises(NetworkError, match="not an OSM XML file"):
        read_osm_xml(path)


def test_empty_after_filtering(tmp_path):
    ways = [(1, [1, 2], {"highway": "footway"}), (2, [2, 3], {"highway": "track"}),
            (3, [3, 4], {"building": "yes"})]
    xml = tmp_path / "paths.osm"
    xml.write_text(_osm_xml(_NODES, ways), encoding="utf-8")
    pbf = tmp_path / "paths.osm.pbf"
    _convert(xml, pbf)
    for path in (xml, pbf):
        with pytest.raises(NetworkError, match="no drivable road"):
            engine.load_network(path)
    xml_nodes_only = tmp_path / "nodes.osm"
    xml_nodes_only.write_text(_osm_xml(_NODES, []), encoding="utf-8")
    with pytest.raises(NetworkError, match="no drivable road"):
        engine.load_network(xml_nodes_only)


# ---------------------------------------------------------------------- real extracts


@pytest.fixture(scope="module")
def sbh_pbf(mirror):
    path = mirror / "osm" / "saint-barthelemy.osm.pbf"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the data mirror")
    return path


@pytest.fixture(scope="module")
def lemans_pbf(mirror):
    path = mirror / "osm" / "le-mans-extract.osm.pbf"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the data mirror")
    return path


@pytest.fixture(scope="module")
def sbh_xml(sbh_pbf, tmp_path_factory):
    path = tmp_path_factory.mktemp("sbh") / "saint-barthelemy.osm"
    _convert(sbh_pbf, path)
    return path


def _check_routable(net: engine.RoadNetwork) -> None:
    sources = np.array([0, net.n_nodes // 2, net.n_nodes - 1])
    m = engine.travel_times(net, sources, max_minutes=10)
    assert m.nnz > len(sources)
    ref = dijkstra(net.to_scipy(), indices=sources, limit=600.0) / 60.0
    dense = m.to_dense()
    np.testing.assert_array_equal(np.isfinite(dense), np.isfinite(ref))
    np.testing.assert_allclose(dense[np.isfinite(dense)], ref[np.isfinite(ref)], rtol=1e-12)


def test_saint_barthelemy_pbf(sbh_pbf):
    t0 = time.perf_counter()
    net = engine.load_network(sbh_pbf)
    elapsed = time.perf_counter() - t0
    assert net.meta["format"] == "osm.pbf"
    # 515 highway ways in the file; the drive filter keeps ~3.7k nodes (measured 3,710
    # nodes / 7,472 directed edges), the largest strong component nearly all of them.
    assert 3_000 < net.meta["input_nodes"] < 4_500
    assert net.n_nodes > 0.9 * net.meta["input_nodes"]
    assert np.all(net.length_m > 0)
    assert elapsed < 10
    _check_routable(net)


def test_le_mans_pbf(lemans_pbf):
    net = engine.load_network(lemans_pbf)
    assert net.meta["format"] == "osm.pbf"
    assert net.n_nodes > 50
    # A 1.5 km² extract of a city: every node lies in its bounding box.
    assert net.lon.min() > 0.19 and net.lon.max() < 0.21
    assert net.lat.min() > 48.0 and net.lat.max() < 48.02
    _check_routable(net)


def test_saint_barthelemy_pbf_equals_xml(sbh_pbf, sbh_xml):
    """pyosmium on the PBF and osmnx on the same data as XML give the same graph."""
    pbf_frames = read_osm_pbf(sbh_pbf)
    xml_frames = read_osm_xml(sbh_xml)
    _assert_same_frames(pbf_frames, xml_frames)
    # Some one-way streets and roundabouts are in there, so direction handling is exercised.
    edges = pbf_frames[1]
    pairs = set(zip(edges["u"], edges["v"], strict=True))
    one_way = sum((v, u) not in pairs for u, v in pairs)
    assert one_way > 10
    for largest in (True, False):
        _assert_same_network(engine.load_network(sbh_pbf, largest_component=largest),
                             engine.load_network(sbh_xml, largest_component=largest))


def test_saint_barthelemy_xml_gz(sbh_xml, sbh_pbf, tmp_path):
    path = tmp_path / "saint-barthelemy.osm.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(sbh_xml.read_bytes())
    net = engine.load_network(path)
    _assert_same_network(net, engine.load_network(sbh_pbf))
    _check_routable(net)


# ---------------------------------------------------------------------- osmnx downloads
# Never online in tests: osmnx's download functions are replaced by a graph osmnx builds from
# the Saint-Barthélemy extract, so the in-memory download path is checked against the GraphML
# that `fetch_graphml` writes (the path validated on Corsica).


@pytest.fixture(scope="module")
def sbh_osmnx_graph(sbh_xml, tmp_path_factory):
    """What ``osmnx.graph_from_place`` returns: a simplified graph of highways (clipped ways cut)."""
    import osmnx as ox

    from engine.routing.osm import _write_highway_subset

    subset = tmp_path_factory.mktemp("sbh-osmnx") / "highways.osm"
    _write_highway_subset(sbh_xml, subset)
    return ox.graph_from_xml(subset, simplify=True, retain_all=False)


def test_download_equals_fetched_graphml(sbh_osmnx_graph, monkeypatch, tmp_path):
    import osmnx as ox

    from engine.routing.loaders import fetch_graphml

    calls = []

    def fake_place(query, **kwargs):
        calls.append(("place", query, kwargs))
        return sbh_osmnx_graph.copy()

    def fake_bbox(bbox, **kwargs):
        calls.append(("bbox", bbox, kwargs))
        return sbh_osmnx_graph.copy()

    monkeypatch.setattr(ox, "graph_from_place", fake_place)
    monkeypatch.setattr(ox, "graph_from_bbox", fake_bbox)
    # Simplified osmnx graphs hold list-valued tags on merged edges; both paths must agree on them.
    assert any(isinstance(d.get("highway"), list) or isinstance(d.get("maxspeed"), list)
               for _, _, d in sbh_osmnx_graph.edges(data=True))

    by_place = engine.load_network("Saint-Barthélemy, France")
    by_bbox = engine.load_network((-62.95, 17.86, -62.78, 17.97))
    saved = fetch_graphml("Saint-Barthélemy, France", tmp_path / "net" / "sbh.graphml")
    from_file = engine.load_network(saved)

    assert [c[0] for c in calls] == ["place", "bbox", "place"]
    assert calls[1][1] == (-62.95, 17.86, -62.78, 17.97)  # (west, south, east, north) as osmnx 2 wants
    assert all(c[2]["network_type"] == "drive" for c in calls)
    assert by_place.meta["format"] == "osmnx-download"
    _assert_same_network(by_place, from_file)
    _assert_same_network(by_bbox, from_file)
    assert not list(saved.parent.glob("*.tmp"))
    _check_routable(by_place)


def test_download_offline_is_a_clear_error(monkeypatch, tmp_path):
    import osmnx as ox

    from engine.errors import NetworkError
    from engine.routing.loaders import fetch_graphml

    def offline(*args, **kwargs):
        raise ConnectionError("Max retries exceeded with url: nominatim")

    monkeypatch.setattr(ox, "graph_from_place", offline)
    monkeypatch.setattr(ox, "graph_from_bbox", offline)
    with pytest.raises(NetworkError, match="offline, pass a local .graphml"):
        engine.load_network("Bastia, France")
    with pytest.raises(NetworkError, match="offline, pass a local .graphml"):
        engine.load_network((9.4, 42.6, 9.5, 42.8))
    out = tmp_path / "bastia.graphml"
    with pytest.raises(NetworkError, match="is the machine online"):
        fetch_graphml("Bastia, France", out)
    assert not out.exists() and not list(tmp_path.iterdir())
