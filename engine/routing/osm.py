"""Raw OpenStreetMap loaders: OSM PBF (pyosmium) and OSM XML (osmnx), drive network.

Both readers keep the ways osmnx 2.1 keeps for ``network_type="drive"`` and turn them into
osmnx's *unsimplified* graph: one directed edge per pair of consecutive way nodes, both
directions unless the way is one-way, and the great-circle length of the segment. The PBF
reader reimplements osmnx's rules on top of pyosmium, so that a PBF and the same data as
OSM XML loaded through osmnx give the same graph (checked by ``tests/test_osm.py``).
"""

from __future__ import annotations

import bz2
import gzip
import os
import re
import tempfile
import warnings
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from engine._validate import existing_file
from engine.errors import NetworkError
from engine.routing.network import haversine_m

#: osmnx 2.1's Overpass filter for ``network_type="drive"`` (``_overpass._get_network_filter``
#: with the default ``settings.default_access``), as (tag, regex) pairs: a way is dropped when
#: it has the tag and the regex matches *anywhere* in its value (Overpass ``!~`` is an
#: unanchored, case-sensitive search). A way also needs a ``highway`` tag.
DRIVE_FILTER: tuple[tuple[str, str], ...] = (
    ("area", "yes"),
    ("access", "private"),
    ("highway", "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
                "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
                "rest_area|service|services|steps|track"),
    ("motor_vehicle", "no"),
    ("motorcar", "no"),
    ("service", "alley|driveway|emergency_access|parking|parking_aisle|private"),
)

_EXCLUDE = tuple((key, re.compile(pattern)) for key, pattern in DRIVE_FILTER)

# osmnx's graph._add_paths: values of ``oneway`` meaning one-way, and those meaning one-way
# against the node order ("T"/"F" come from the Geofabrik shapefile convention).
_ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
_REVERSED_VALUES = frozenset({"-1", "reverse", "T"})

#: Way tags the readers need: the filter keys plus what sets direction and speed.
WAY_TAGS: tuple[str, ...] = tuple(dict.fromkeys(
    ["highway", *(key for key, _ in DRIVE_FILTER), "oneway", "junction", "maxspeed"]
))


def open_maybe_compressed(path: Path):
    """Open ``path`` for binary reading, through gzip or bz2 when its name says so."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def is_drivable(tags: Mapping[str, str]) -> bool:
    """Whether osmnx's drive filter keeps a way with these tags.

    Parameters
    ----------
    tags : mapping
        The way's OSM tags (a dict or a pyosmium ``TagList``).

    Returns
    -------
    bool

    Examples
    --------
    >>> is_drivable({"highway": "residential"}), is_drivable({"highway": "footway"})
    (True, False)
    >>> is_drivable({"highway": "primary", "access": "private"})
    False
    """
    if tags.get("highway") is None:
        return False
    for key, regex in _EXCLUDE:
        value = tags.get(key)
        if value is not None and regex.search(value):
            return False
    return True


def way_direction(tags: Mapping[str, str]) -> int:
    """Direction of travel on a way, by osmnx's rules for a drive network.

    Parameters
    ----------
    tags : mapping
        The way's OSM tags.

    Returns
    -------
    int
        ``1`` one-way along the node order, ``-1`` one-way against it (``oneway=-1`` or
        ``reverse``), ``0`` both directions. ``junction=roundabout`` implies one-way.

    Examples
    --------
    >>> way_direction({"oneway": "yes"}), way_direction({"oneway": "-1"}), way_direction({})
    (1, -1, 0)
    >>> way_direction({"junction": "roundabout"})
    1
    """
    oneway = tags.get("oneway")
    if oneway in _ONEWAY_VALUES:
        return -1 if oneway in _REVERSED_VALUES else 1
    if tags.get("junction") == "roundabout":
        return 1
    return 0


def frames_from_ways(refs, xs, ys, way_of, way_id, highway, maxspeed, direction, path):
    """Node and edge tables (osmnx style) from the flattened node sequences of the kept ways."""
    same_way = way_of[1:] == way_of[:-1]
    ok = same_way & np.isfinite(xs[:-1]) & np.isfinite(xs[1:])
    a = np.flatnonzero(ok)
    b = a + 1
    if len(a) == 0:
        no_drivable_road(path)
    length = haversine_m(xs[a], ys[a], xs[b], ys[b])
    w = way_of[a]
    fwd = direction[w] >= 0
    bwd = direction[w] <= 0
    # Forward edges follow the node order, backward ones run against it (two-way roads
    # get both, oneway=-1 only the backward one).
    u = np.concatenate([refs[a][fwd], refs[b][bwd]])
    v = np.concatenate([refs[b][fwd], refs[a][bwd]])
    ew = np.concatenate([w[fwd], w[bwd]])
    edges = pd.DataFrame({
        "u": u,
        "v": v,
        "length": np.concatenate([length[fwd], length[bwd]]),
        "highway": highway[ew],
        # dtype=object, or pandas 3 infers its str dtype and turns None into NaN.
        "maxspeed": pd.Series(maxspeed[ew], dtype=object),
        "osmid": way_id[ew],
    })
    used = np.unique(np.concatenate([u, v]))
    first = pd.DataFrame({"osmid": refs, "lon": xs, "lat": ys})
    first = first[np.isfinite(xs)].drop_duplicates("osmid")
    nodes = first[first["osmid"].isin(used)].sort_values("osmid").reset_index(drop=True)
    return nodes, edges


def _write_highway_subset(path: Path, out: Path) -> tuple[dict[int, int], int, int]:
    """Copy the highway ways of an OSM XML file and their nodes into ``out``.

    osmnx's ``graph_from_xml`` builds a graph from *every* way and fails on the whole file
    as soon as one way refers to a node the file lacks, which real extracts do (clipped
    boundary relations). Handing it only the highway ways keeps osmnx's own rules for
    everything else while making it usable, and lighter, on such files. A highway way with
    missing nodes is cut into its runs of present nodes, as the PBF reader does; runs after
    the first get synthetic negative ids.

    Returns
    -------
    way_ids : dict
        Synthetic way id -> original way id.
    missing : int
        Way node references not found in the file.
    written : int
        Ways written.
    """
    nodes: dict[int, tuple[str, str]] = {}
    ways: list[tuple[int, list[int], list[tuple[str, str]]]] = []
    with open_maybe_compressed(path) as fh:
        context = ET.iterparse(fh, events=("start", "end"))
        _, root = next(context)
        if root.tag != "osm":
            raise NetworkError(f"not an OSM XML file (root element <{root.tag}>, expected <osm>)",
                               path=path)
        for event, elem in context:
            if event != "end":
                continue
            tag = elem.tag
            if tag == "node":
                lat, lon = elem.get("lat"), elem.get("lon")
                if lat is not None and lon is not None:
                    nodes[int(elem.get("id"))] = (lat, lon)
            elif tag == "way":
                tags = [(t.get("k"), t.get("v")) for t in elem.iter("tag")]
                if any(k == "highway" for k, _ in tags):
                    refs = [int(nd.get("ref")) for nd in elem.iter("nd")]
                    ways.append((int(elem.get("id")), refs, tags))
            else:
                continue
            # Drop what was parsed so memory stays flat on large files.
            root.clear()
    way_ids: dict[int, int] = {}
    missing = 0
    next_id = -1
    written = 0
    with open(out, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="apl-engine">\n')
        used = {ref for _, refs, _ in ways for ref in refs if ref in nodes}
        for ref in sorted(used):
            lat, lon = nodes[ref]
            fh.write(f'<node id="{ref}" lat={quoteattr(lat)} lon={quoteattr(lon)}/>\n')
        for wid, refs, tags in ways:
            runs: list[list[int]] = [[]]
            for ref in refs:
                if ref in nodes:
                    runs[-1].append(ref)
                else:
                    missing += 1
                    if runs[-1]:
                        runs.append([])
            tag_xml = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags)
            for i, run in enumerate(r for r in runs if len(r) > 1):
                out_id = wid
                if i > 0:
                    out_id = next_id
                    way_ids[next_id] = wid
                    next_id -= 1
                nds = "".join(f'<nd ref="{ref}"/>' for ref in run)
                fh.write(f'<way id="{out_id}">{nds}{tag_xml}</way>\n')
                written += 1
        fh.write("</osm>\n")
    return way_ids, missing, written


def read_osm_xml(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the drive network of an OSM XML file through osmnx.

    The highway ways of the file and their nodes are copied to a temporary OSM XML file
    (see below), which is read with ``osmnx.graph_from_xml(..., simplify=False,
    retain_all=True, bidirectional=False)``; osmnx does not filter by network type there,
    so the edges of ways failing osmnx's drive filter (:data:`DRIVE_FILTER`) are dropped
    afterwards. ``osmnx.settings.useful_tags_way`` is extended with the tags the filter
    needs for the duration of the call (not thread-safe) and restored afterwards.

    The copy is needed because osmnx rejects a whole file when any way (a clipped boundary,
    say) refers to a node the file lacks. Highway ways with missing nodes lose the segments
    touching them, with a warning, as in :func:`read_osm_pbf`.

    Parameters
    ----------
    path : str or path-like
        An ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.xml`` file.

    Returns
    -------
    nodes, edges : pandas.DataFrame
        As :func:`read_osm_pbf`.

    Raises
    ------
    NetworkError
        On a missing file, a corrupt compressed stream, malformed XML, or when no drivable
        way is left.

    Examples
    --------
    >>> nodes, edges = read_osm_xml("saint-barthelemy.osm")  # doctest: +SKIP
    """
    import osmnx as ox

    path = existing_file(path, error=NetworkError)
    saved = ox.settings.useful_tags_way
    with tempfile.TemporaryDirectory(prefix="apl-osm-") as tmp:
        subset = Path(tmp) / "highways.osm"
        try:
            way_ids, missing, written = _write_highway_subset(path, subset)
        except (OSError, EOFError, zlib.error) as exc:
            raise NetworkError(f"cannot read the file: corrupt or truncated compressed stream "
                               f"({exc})", path=path) from None
        except ET.ParseError as exc:
            raise NetworkError(f"malformed OSM XML ({exc})", path=path) from None
        except (TypeError, ValueError) as exc:
            raise NetworkError(f"malformed OSM XML: a node or way has a missing or non-numeric "
                               f"id ({exc})", path=path) from None
        if not written:
            # osmnx would raise its own, less telling, "no data elements" error.
            no_drivable_road(path)
        ox.settings.useful_tags_way = list(dict.fromkeys([*saved, *WAY_TAGS]))
        try:
            graph = ox.graph_from_xml(subset, simplify=False, retain_all=True,
                                      bidirectional=False)
        finally:
            ox.settings.useful_tags_way = saved
    if missing:
        warnings.warn(f"{path}: {missing} way node(s) are missing from the file (clipped "
                      "extract?); the road segments touching them were dropped", stacklevel=2)
    rows = [
        (u, v, d["length"], d["highway"], d.get("maxspeed"), way_ids.get(d["osmid"], d["osmid"]))
        for u, v, d in graph.edges(data=True)
        if is_drivable(d)
    ]
    if not rows:
        no_drivable_road(path)
    u, v, length, highway, maxspeed, way = zip(*rows, strict=True)
    edges = pd.DataFrame({
        "u": np.asarray(u, dtype=np.int64),
        "v": np.asarray(v, dtype=np.int64),
        "length": np.asarray(length, dtype=np.float64),
        "highway": np.asarray(highway, dtype=object),
        # dtype=object, or pandas 3 infers its str dtype and turns None into NaN.
        "maxspeed": pd.Series(maxspeed, dtype=object),
        "osmid": np.asarray(way, dtype=np.int64),
    })
    used = np.unique(np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]))
    xy = graph.nodes
    nodes = pd.DataFrame({
        "osmid": used,
        "lon": np.array([xy[n]["x"] for n in used], dtype=np.float64),
        "lat": np.array([xy[n]["y"] for n in used], dtype=np.float64),
    })
    return nodes, edges


def no_drivable_road(path: Path) -> NoReturn:
    """Raise the error of a file without any road open to cars."""
    raise NetworkError("no drivable road after applying osmnx's drive filter (the file holds "
                       "no way with a highway tag open to cars)", path=path)

