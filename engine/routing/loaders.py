"""Loading road networks from files: osmnx GraphML, OSM XML and OSM PBF."""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import InputWarning, NetworkError
from engine.routing.network import RoadNetwork, haversine_m
from engine.routing.osm import open_maybe_compressed
from engine.routing.speeds import (
    SpeedModel,
    edge_speeds_kmh,
    resolve_speed_model,
)

_GRAPHML_NS = "{http://graphml.graphdrawing.org/xmlns}"


def load_network(
    source: str | os.PathLike | tuple,
    *,
    network_type: str = "drive",
    speeds: SpeedModel | Mapping[str, float] | None = None,
    largest_component: bool = True,
    contract: bool = False,
) -> RoadNetwork:
    """Load a road network and turn it into a routable :class:`RoadNetwork`.

    Parameters
    ----------
    source : str, path-like or tuple
        A file: osmnx GraphML (``.graphml``, ``.graphml.gz``), OSM XML (``.osm``,
        ``.osm.gz``, ``.osm.bz2``, read through osmnx) or OSM PBF (``.osm.pbf``, read
        through pyosmium), or a network cache written by :meth:`RoadNetwork.save`
        (``.npz``). Otherwise a place name (str) or a bounding box
        ``(west, south, east, north)`` downloaded through osmnx, which needs a connection.
    network_type : str
        ``"drive"`` (the only type the raw-OSM filters implement; GraphML files are taken
        as they are).
    speeds : SpeedModel or mapping, optional
        The speed model, or a mapping ``{highway class: km/h}`` overriding the French
        defaults (:data:`engine.routing.speeds.FRENCH_DEFAULT_SPEEDS_KMH`).
    largest_component : bool
        Keep the largest strongly connected component (default) and record what was
        dropped in ``network.meta``.
    contract : bool
        OSM PBF only: stream the file into CSR arrays and contract pass-through nodes
        (:func:`engine.routing.pbf.stream_pbf_network`), the way to read a country in
        bounded memory. Travel times between kept nodes equal the uncontracted ones to a
        relative 1e-12. Default ``False``: every OSM node of a drivable way is kept, as
        osmnx's unsimplified graph. (osmnx GraphML is usually simplified already.)

    Returns
    -------
    RoadNetwork
        Edge weights are travel times in seconds.

    Raises
    ------
    NetworkError
        When the file is missing, unreadable, corrupt, or holds no drivable road.

    Examples
    --------
    >>> import engine
    >>> net = engine.load_network("../shared/data/osm/corse-drive.graphml.gz")  # doctest: +SKIP
    >>> net  # doctest: +SKIP
    RoadNetwork(31,333 nodes, 65,009 edges, ...)
    """
    if network_type != "drive":
        raise ValueError(f"network_type={network_type!r} is not supported; only 'drive' is")
    model = resolve_speed_model(speeds)
    if isinstance(source, tuple):
        return _from_osmnx_download(source, model, largest_component)
    path = Path(source)
    name = path.name.lower()
    if contract and not name.endswith(".pbf"):
        raise NetworkError("contract=True applies to OSM PBF files (.osm.pbf) only", path=path)
    is_file_like = any(name.endswith(s) for s in (".graphml", ".graphml.gz", ".osm", ".osm.gz",
                                                   ".osm.bz2", ".pbf", ".npz", ".xml"))
    if not path.exists():
        if is_file_like or os.sep in str(source):
            raise NetworkError("no such file; give the path to a .graphml(.gz), .osm(.gz|.bz2), "
                               ".osm.pbf or .npz network", path=path)
        return _from_osmnx_download(str(source), model, largest_component)
    if path.is_dir():
        raise NetworkError("is a folder, expected a network file", path=path)
    if name.endswith(".npz"):
        return RoadNetwork.load(path)
    if name.endswith((".graphml", ".graphml.gz")):
        nodes, edges = read_graphml(path)
        meta = {"source": str(path), "format": "graphml"}
    elif name.endswith(".pbf") and contract:
        from engine.routing.pbf import stream_pbf_network

        return stream_pbf_network(path, speeds=model, largest_component=largest_component)
    elif name.endswith(".pbf"):
        from engine.routing.pbf import read_osm_pbf

        nodes, edges = read_osm_pbf(path)
        meta = {"source": str(path), "format": "osm.pbf"}
    elif name.endswith((".osm", ".osm.gz", ".osm.bz2", ".xml")):
        from engine.routing.osm import read_osm_xml

        nodes, edges = read_osm_xml(path)
        meta = {"source": str(path), "format": "osm.xml"}
    else:
        raise NetworkError("unknown network format; expected .graphml(.gz), .osm(.gz|.bz2), "
                           ".osm.pbf or .npz", path=path)
    return network_from_frames(nodes, edges, speeds=model, meta=meta,
                               largest_component=largest_component)


def network_from_frames(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    speeds: SpeedModel | Mapping[str, float] | None = None,
    meta: dict | None = None,
    largest_component: bool = True,
) -> RoadNetwork:
    """Build a :class:`RoadNetwork` from node and edge tables.

    Parameters
    ----------
    nodes : pandas.DataFrame
        Columns ``osmid`` (int), ``lon``, ``lat``.
    edges : pandas.DataFrame
        Columns ``u``, ``v`` (OSM node ids), ``length`` (metres), ``highway`` and
        optionally ``maxspeed``. One row per *directed* edge.
    speeds : SpeedModel or mapping, optional
        Speed model (see :func:`load_network`).
    meta : dict, optional
        Provenance stored in ``network.meta``.
    largest_component : bool
        Keep the largest strongly connected component.

    Returns
    -------
    RoadNetwork
    """
    model = resolve_speed_model(speeds)
    meta = dict(meta or {})
    source = meta.get("source")
    if len(edges) == 0:
        raise NetworkError("the network is empty after filtering (no drivable road was found)",
                           path=source)
    osmid = nodes["osmid"].to_numpy(np.int64)
    index = pd.Index(osmid)
    if not index.is_unique:
        raise NetworkError("duplicate node ids in the network", path=source)
    u = index.get_indexer(edges["u"].to_numpy(np.int64))
    v = index.get_indexer(edges["v"].to_numpy(np.int64))
    missing = (u < 0) | (v < 0)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise NetworkError(f"edge {edges['u'].iloc[i]}->{edges['v'].iloc[i]} refers to a node "
                           "that is not in the file", path=source)
    lon = nodes["lon"].to_numpy(np.float64)
    lat = nodes["lat"].to_numpy(np.float64)
    length = pd.to_numeric(edges["length"], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(length) | (length < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise NetworkError(f"edge {edges['u'].iloc[i]}->{edges['v'].iloc[i]} has length "
                           f"{edges['length'].iloc[i]!r}; expected metres >= 0", path=source,
                           column="length")
    with np.errstate(invalid="ignore"):
        straight = haversine_m(lon[u], lat[u], lon[v], lat[v])
    maxspeed = edges["maxspeed"].to_numpy(object) if "maxspeed" in edges else None
    highway = edges["highway"].to_numpy(object) if "highway" in edges else np.full(len(edges), "")
    kmh, fallback = edge_speeds_kmh(model, highway, maxspeed, length, np.nan_to_num(straight),
                                    return_fallback=True)
    _check_highway(model, fallback, source)
    travel_time = length / (kmh / 3.6)
    meta["speed_model"] = {
        "fallback_kmh": model.fallback_kmh, "maxspeed_factor": model.maxspeed_factor,
        "use_maxspeed": model.use_maxspeed, "winding_penalty": model.winding_penalty,
        "winding_floor": model.winding_floor, "highway_kmh": dict(model.highway_kmh),
    }
    meta.setdefault("input_nodes", int(len(nodes)))
    meta.setdefault("input_edges", int(len(edges)))
    return RoadNetwork.from_edges(u, v, travel_time, length, lon, lat, osmid, meta=meta,
                                  largest_component=largest_component)


#: Share of edges without a known ``highway`` class above which the loader warns.
UNKNOWN_HIGHWAY_WARN = 0.2


def _check_highway(model: SpeedModel, fallback: np.ndarray, source) -> None:
    """Refuse a network whose speeds would all be the fallback (no usable highway class nor
    maxspeed: ``fallback`` from :func:`edge_speeds_kmh`), warn when many edges fall back."""
    share = float(fallback.mean()) if len(fallback) else 0.0
    if share >= 1.0:
        raise NetworkError(
            "no road has a 'highway' class (or a 'maxspeed') the speed model knows: every "
            f"road would be driven at the fallback {model.fallback_kmh:g} km/h and travel times "
            "would be meaningless. Give an OSM drive network with its tags (osmnx GraphML, "
            ".osm, .osm.pbf) or a speed model (speeds=)", path=source, column="highway")
    if share > UNKNOWN_HIGHWAY_WARN:
        warnings.warn(f"{source}: {share:.0%} of the roads have no 'highway' class the speed "
                      f"model knows; they are driven at {model.fallback_kmh:g} km/h",
                      InputWarning, stacklevel=3)


def read_graphml(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stream an osmnx GraphML file into node and edge tables.

    A streaming parse of osmnx's GraphML layout, several times faster than building a
    networkx graph first. Edge attributes are read as strings (osmnx stores lists as their
    Python repr, e.g. ``"['primary', 'secondary']"``).

    Parameters
    ----------
    path : str or path-like
        ``.graphml`` or ``.graphml.gz``.

    Returns
    -------
    nodes, edges : pandas.DataFrame
        See :func:`network_from_frames`.

    Raises
    ------
    NetworkError
        On a missing file, a corrupt gzip stream, malformed XML, or a node without
        coordinates.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkError("no such file", path=path)
    keys: dict[str, str] = {}
    node_id: list[int] = []
    node_x: list[float] = []
    node_y: list[float] = []
    eu: list[int] = []
    ev: list[int] = []
    cols: dict[str, list] = {"length": [], "highway": [], "maxspeed": [], "osmid": [], "oneway": []}
    directed = True
    try:
        with open_maybe_compressed(path) as fh:
            for _event, elem in ET.iterparse(fh, events=("end",)):
                tag = elem.tag
                if tag == _GRAPHML_NS + "key":
                    keys[elem.get("id")] = elem.get("attr.name")
                elif tag == _GRAPHML_NS + "node":
                    attrs = {keys.get(d.get("key")): d.text for d in elem}
                    nid = elem.get("id")
                    try:
                        node_id.append(int(nid))
                        node_x.append(float(attrs.get("x", "nan")))
                        node_y.append(float(attrs.get("y", "nan")))
                    except (TypeError, ValueError) as exc:
                        raise NetworkError(f"node {nid!r} has a non-numeric id or coordinate ({exc})",
                                           path=path) from None
                    elem.clear()
                elif tag == _GRAPHML_NS + "edge":
                    attrs = {keys.get(d.get("key")): d.text for d in elem}
                    eu.append(int(elem.get("source")))
                    ev.append(int(elem.get("target")))
                    for c, lst in cols.items():
                        lst.append(attrs.get(c))
                    elem.clear()
                elif tag == _GRAPHML_NS + "graph":
                    directed = elem.get("edgedefault", "directed") == "directed"
    except (OSError, EOFError, zlib.error) as exc:
        raise NetworkError(f"cannot read the file: corrupt or truncated compressed stream ({exc})",
                           path=path) from None
    except ET.ParseError as exc:
        raise NetworkError(f"malformed GraphML/XML ({exc})", path=path) from None
    if not node_id:
        raise NetworkError("no node found: not an osmnx GraphML network", path=path)
    nodes = pd.DataFrame({"osmid": node_id, "lon": node_x, "lat": node_y})
    edges = pd.DataFrame({"u": np.asarray(eu, dtype=np.int64), "v": np.asarray(ev, dtype=np.int64), **cols})
    if not directed:
        rev = edges.rename(columns={"u": "v", "v": "u"})
        edges = pd.concat([edges, rev], ignore_index=True)
    edges["length"] = pd.to_numeric(edges["length"], errors="coerce")
    return nodes, edges


def _from_osmnx_download(query, model: SpeedModel, largest_component: bool) -> RoadNetwork:
    """Download a drive network through osmnx (needs a connection; never used in tests)."""
    import osmnx as ox

    try:
        if isinstance(query, tuple):
            graph = ox.graph_from_bbox(query, network_type="drive", simplify=True)
        else:
            graph = ox.graph_from_place(query, network_type="drive", simplify=True)
    except Exception as exc:
        raise NetworkError(
            f"could not download the network for {query!r} through osmnx ({exc}); if the machine is "
            "offline, pass a local .graphml, .osm or .osm.pbf file instead"
        ) from exc
    nodes, edges = _frames_from_networkx(graph)
    return network_from_frames(nodes, edges, speeds=model, largest_component=largest_component,
                               meta={"source": str(query), "format": "osmnx-download"})


def _frames_from_networkx(graph) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node and edge tables from an osmnx MultiDiGraph."""
    nodes = pd.DataFrame(
        [(int(n), float(d["x"]), float(d["y"])) for n, d in graph.nodes(data=True)],
        columns=["osmid", "lon", "lat"],
    )
    rows = [(int(u), int(v), d.get("length"), d.get("highway"), d.get("maxspeed"))
            for u, v, d in graph.edges(data=True)]
    edges = pd.DataFrame(rows, columns=["u", "v", "length", "highway", "maxspeed"])
    return nodes, edges


def fetch_graphml(place: str, path: str | os.PathLike) -> Path:
    """Download a drive network through osmnx and save it as GraphML (needs a connection).

    Parameters
    ----------
    place : str
        A place name osmnx can geocode (``"Bastia, France"``).
    path : path-like
        The ``.graphml`` file to write.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    NetworkError
        When the download fails (offline machine, unknown place).
    """
    import osmnx as ox

    path = Path(path)
    try:
        graph = ox.graph_from_place(place, network_type="drive", simplify=True)
    except Exception as exc:
        raise NetworkError(f"could not download {place!r} through osmnx ({exc}); is the machine online?") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    ox.save_graphml(graph, tmp)
    os.replace(tmp, path)
    return path
