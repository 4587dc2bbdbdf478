"""OSRM's CH table on the engine's graph, run in its own Python (``osrm-bindings`` >= 3.12).

``bench_peers.py`` runs this file with the Python of a separate virtual environment, since
``osrm-bindings`` ships wheels only for CPython 3.12 and later::

    python osrm_peer.py GRAPH.npz WORKDIR ROUNDS

``GRAPH.npz`` holds the engine's edges (``tail``, ``head``, ``travel_time_s``), the node
coordinates (``lon``, ``lat``) and the ``query`` nodes. The graph is written as OSM XML,
one one-way OSM way per directed edge carrying its time, and a Lua profile gives every way
exactly that duration (no speeds, no turn costs, no traffic signals). OSRM snaps query
coordinates onto road segments; a node snapped onto the start of a one-way edge could then
only leave along that edge, so each query node gets a two-way stub of 0.1 s to a dead end
1 m north, and the query points are the stubs' ends: 0.2 s is taken off every
origin-destination pair afterwards. ``osrm-extract`` and ``osrm-contract`` are the
preprocessing. OSRM stores durations in whole deciseconds (each edge rounded to the nearest
0.1 s). Prints one JSON line: times, the table in seconds, and the version.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STUB_S = 0.1
STUB_DLAT = 1e-5  # ~1.1 m

PROFILE = """
api_version = 4
function setup()
  return {
    properties = {
      weight_name = 'duration',
      u_turn_penalty = 0,
      traffic_light_penalty = 0,
      continue_straight_at_waypoint = false,
      use_turn_restrictions = false,
      max_speed_for_map_matching = 300 / 3.6,
    },
    default_mode = mode.driving,
    default_speed = 50,
  }
end
function process_node(profile, node, result, relations)
end
function process_way(profile, way, result, relations)
  local d = tonumber(way:get_value_by_key('apl_s'))
  if not d then return end
  result.forward_mode = mode.driving
  if way:get_value_by_key('oneway') == 'yes' then
    result.backward_mode = mode.inaccessible
  else
    result.backward_mode = mode.driving
  end
  result.forward_speed = 50
  result.backward_speed = 50
  result.duration = d
  result.weight = d
end
function process_turn(profile, turn)
  turn.duration = 0
  turn.weight = 0
end
return { setup = setup, process_way = process_way, process_node = process_node,
         process_turn = process_turn }
"""


def write_osm(path: Path, g) -> tuple[np.ndarray, np.ndarray]:
    """OSM XML of the graph plus one stub per query node; the stub ends' coordinates."""
    lon, lat = g["lon"], g["lat"]
    n = len(lon)
    q = g["query"]
    qlon, qlat = lon[q], lat[q] + STUB_DLAT
    with open(path, "w") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
        for i in range(n):
            fh.write(f'<node id="{i + 1}" version="1" lat="{lat[i]:.7f}" lon="{lon[i]:.7f}"/>\n')
        for j in range(len(q)):
            fh.write(f'<node id="{n + j + 1}" version="1" lat="{qlat[j]:.7f}" '
                     f'lon="{qlon[j]:.7f}"/>\n')
        way = 0
        for u, v, t in zip(g["tail"].tolist(), g["head"].tolist(), g["travel_time_s"].tolist(),
                           strict=True):
            way += 1
            fh.write(f'<way id="{way}" version="1"><nd ref="{u + 1}"/><nd ref="{v + 1}"/>'
                     f'<tag k="highway" v="road"/><tag k="oneway" v="yes"/>'
                     f'<tag k="apl_s" v="{t!r}"/></way>\n')
        for j, u in enumerate(q.tolist()):
            way += 1
            fh.write(f'<way id="{way}" version="1"><nd ref="{u + 1}"/><nd ref="{n + j + 1}"/>'
                     f'<tag k="highway" v="road"/><tag k="apl_s" v="{STUB_S!r}"/></way>\n')
        fh.write("</osm>\n")
    return qlon, qlat


def _tool(name: str) -> str:
    import osrm

    return str(Path(osrm.__file__).parent / "bin" / name)


def main(graph_path: str, workdir: str, rounds: int) -> dict:
    import osrm

    g = dict(np.load(graph_path))
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    osm = work / "graph.osm"
    qlon, qlat = write_osm(osm, g)
    profile = work / "profile.lua"
    profile.write_text(PROFILE)
    pre: dict[str, float] = {}
    for step, cmd in (("osrm-extract", [_tool("osrm-extract"), "-p", str(profile), str(osm)]),
                      ("osrm-contract", [_tool("osrm-contract"), str(work / "graph.osrm")])):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        pre[step] = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{step} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    engine = osrm.OSRM(storage_config=str(work / "graph.osrm"), algorithm="CH",
                       use_shared_memory=False, max_locations_distance_table=100_000)
    params = osrm.TableParameters(coordinates=list(zip(qlon.tolist(), qlat.tolist(), strict=True)),
                                  annotations=["duration"])
    best, res = np.inf, None
    for _ in range(max(1, rounds)):
        t0 = time.perf_counter()
        res = engine.Table(params)
        best = min(best, time.perf_counter() - t0)
    durations = [[np.inf if d is None else float(d) for d in row] for row in res["durations"]]
    table = np.asarray(durations, dtype=np.float64) - 2 * STUB_S
    np.fill_diagonal(table, 0.0)
    return {"table_s": best, "preprocess_s": pre, "table": table.tolist(),
            "version": importlib.metadata.version("osrm-bindings"),
            "python": sys.version.split()[0], "weights": "deciseconds (OSRM durations)"}


if __name__ == "__main__":
    out = main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    print(json.dumps(out, default=float))
