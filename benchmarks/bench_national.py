"""National scale: a France-sized road graph, 35,000 communes, local and Dask backends.

Two benchmarks:

``test_national_apl``
    A synthetic road-like graph of 4.2 million nodes and ~9.4 million directed edges
    (France's OSM car network is ~4.5 M nodes and ~10 M edges after simplification), made
    in numpy, and 35,000 "communes" on it. Times the steps of a national APL (snapping the
    communes, the 20-minute commune-to-commune matrix, the floating catchment) with the
    local backend (numba threads on every core) and with Dask on two local worker
    processes, each in a fresh subprocess so that its peak memory (``VmHWM``, plus
    the Dask worker processes) is its own.
``test_stream_pbf``
    The streaming PBF builder on a synthetic PBF of 2 million nodes: nodes per second and
    peak memory, in a subprocess.

Quick mode (``--benchmark-min-rounds=1``, CI) routes 2,000 of the 35,000 origins and
streams a 300,000-node PBF, and projects linearly to the full size; every projected
figure says so. The full run measures everything at full size::

    .venv/bin/python -m pytest benchmarks/bench_national.py --benchmark-min-rounds=3 -s

This file doubles as the subprocess script (``python bench_national.py child ...``).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _harness import quick_mode, record

N_COMMUNES = 35_000
N_GPS = 61_000
MAX_MINUTES = 20.0
SIDE = 2048  # 4.19 M nodes
QUICK_ORIGINS = 2_000
SCIPY_ORIGINS = 32
PBF_FULL = (1400, 1430)  # 2.0 M nodes
PBF_QUICK = (500, 600)  # 300 k nodes
TARGET_APL_S = 600.0
TARGET_MEM_GIB = 8.0
RESULTS = Path(__file__).parent / "results" / "national.json"


# --------------------------------------------------------------------------- inputs


def france_like_network(side: int = SIDE, seed: int = 0):
    """A road-like graph of ``side**2`` nodes with France's density and mean degree.

    Nodes on a 350 m grid jittered by up to 100 m (4.2 M nodes over ~515,000 km², close to
    France's 8 nodes per km² of simplified OSM car network); every 8th row and column is a
    continuous 80 km/h road, every 64th a 110 km/h expressway; other links exist with
    probability 1/2 at 30-60 km/h, one in ten of them one-way. That gives ~2.25 directed
    edges per node, France's 10 M / 4.5 M. Built directly as an edge list (no PBF), with
    ``largest_component=False``.
    """
    from engine.routing.network import RoadNetwork

    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side, dtype=np.int32), np.arange(side, dtype=np.int32),
                         indexing="ij")
    x = jj * 350.0 + rng.uniform(-100, 100, ii.shape)
    y = ii * 350.0 + rng.uniform(-100, 100, ii.shape)
    node = np.arange(side * side, dtype=np.int64).reshape(side, side)
    us, vs, kmhs, oneways = [], [], [], []
    for a, b, line in ((node[:, :-1], node[:, 1:], ii[:, :-1]),
                       (node[:-1, :], node[1:, :], jj[:-1, :])):
        a, b, line = a.ravel(), b.ravel(), line.ravel()
        major = line % 8 == 0
        keep = major | (rng.random(len(a)) < 0.5)
        a, b, line, major = a[keep], b[keep], line[keep], major[keep]
        kmh = np.where(line % 64 == 0, 110.0, np.where(major, 80.0, rng.uniform(30, 60, len(a))))
        us.append(a)
        vs.append(b)
        kmhs.append(kmh)
        oneways.append(~major & (rng.random(len(a)) < 0.1))
    u, v = np.concatenate(us), np.concatenate(vs)
    kmh, oneway = np.concatenate(kmhs), np.concatenate(oneways)
    del us, vs, kmhs, oneways
    xf, yf = x.ravel(), y.ravel()
    length = np.hypot(xf[u] - xf[v], yf[u] - yf[v])
    tt = length / (kmh / 3.6)
    # One-way links go one way or the other at random; two-way links get both directions.
    flip = oneway & (rng.random(len(u)) < 0.5)
    u, v = np.where(flip, v, u), np.where(flip, u, v)
    two = ~oneway
    lon = -1.5 + xf / 76_500.0  # metres to degrees around 46.5N
    lat = 43.0 + yf / 111_200.0
    return RoadNetwork.from_edges(
        np.concatenate([u, v[two]]), np.concatenate([v, u[two]]),
        np.concatenate([tt, tt[two]]), np.concatenate([length, length[two]]),
        lon, lat, np.arange(side * side, dtype=np.int64),
        meta={"source": f"synthetic France-like graph {side}x{side}, seed {seed}"},
        largest_component=False,
    )


def _communes(net, seed: int = 1):
    """35,000 commune points a few metres from distinct random nodes, and 61,000 GPs."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.n_nodes, N_COMMUNES, replace=False)
    communes = pd.DataFrame({
        "code_commune": [f"{i:05d}" for i in range(N_COMMUNES)],
        "lon": net.lon[nodes] + rng.uniform(-1e-4, 1e-4, N_COMMUNES),
        "lat": net.lat[nodes] + rng.uniform(-1e-4, 1e-4, N_COMMUNES),
        "pop_standardisee": rng.lognormal(6.0, 1.3, N_COMMUNES),
    })
    return communes


# --------------------------------------------------------------------------- subprocess side


def _peak_rss_gib() -> float:
    """Peak resident memory of this process in GiB.

    ``VmHWM`` from ``/proc/self/status``, which starts afresh at ``exec``: ``ru_maxrss``
    would carry over the peak of the pytest process that launched the subprocess.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:  # not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _child_apl(network_path: str, backend: str, n_origins: int) -> dict[str, Any]:
    """Run in a fresh process: the staged national APL on ``n_origins`` of the communes."""
    from engine.apl.fca import Catchment, catchment_weights
    from engine.routing.matrix import travel_times
    from engine.routing.network import RoadNetwork

    out: dict[str, Any] = {"backend": backend, "n_origins": n_origins}
    t0 = time.perf_counter()
    net = RoadNetwork.load(network_path)
    out["load_s"] = time.perf_counter() - t0
    communes = _communes(net)
    t0 = time.perf_counter()
    node, _dist = net.snap(communes["lon"].to_numpy(), communes["lat"].to_numpy())
    dst = np.unique(node)
    out["snap_s"] = time.perf_counter() - t0
    origins = dst[np.random.default_rng(2).permutation(len(dst))[:n_origins]]
    client = None
    if backend == "dask":
        import distributed


        t0 = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
        client = distributed.Client(cluster)
        travel_times(net, origins[:4], dst, max_minutes=MAX_MINUTES, client=client)
        out["startup_s"] = time.perf_counter() - t0

        def route():
            return travel_times(net, origins, dst, max_minutes=MAX_MINUTES,
                                            client=client, chunk_size=500)
    else:
        travel_times(net, origins[:4], dst, max_minutes=MAX_MINUTES)  # numba cache load

        def route():
            return travel_times(net, origins, dst, max_minutes=MAX_MINUTES)
    t0 = time.perf_counter()
    m = route()
    out["route_s"] = time.perf_counter() - t0
    out["nnz"] = int(m.nnz)
    out["relaxations"] = int(m.stats["relaxations"])

    def fca():
        cat = Catchment(catchment_weights(m), np.ones(m.shape[0]))
        return cat.accessibility(np.ones(m.shape[1]), warn=False)

    fca()  # numba: load the kernels for these array types before timing
    t0 = time.perf_counter()
    fca()
    out["fca_s"] = time.perf_counter() - t0
    out["peak_client_gib"] = _peak_rss_gib()
    if backend == "local":
        # After the engine's peak is read: scipy's dense rows are not the engine's memory.
        out.update(_scipy_peer(net, origins[:SCIPY_ORIGINS], dst, m))
    if client is not None:
        # A LocalCluster's nannies and scheduler live in this (client) process, so the
        # total is this process plus the worker processes.
        out["peak_workers_gib"] = list(client.run(_peak_rss_gib).values())
        client.close()
        cluster.close()
    out["peak_total_gib"] = out["peak_client_gib"] + sum(out.get("peak_workers_gib", []))
    return out


def _scipy_peer(net, origins, dst, m) -> dict[str, Any]:
    """scipy's bounded Dijkstra on the first origins: the same times, and its speed.

    scipy returns dense rows of every node (34 MB each at France's size), so it routes
    a few origins in batches of 8; its time is compared per origin with ours.
    """
    from scipy.sparse.csgraph import dijkstra

    adj = net.to_scipy()
    limit = MAX_MINUTES * 60.0
    t0 = time.perf_counter()
    rows = []
    for i in range(0, len(origins), 8):
        d = dijkstra(adj, indices=origins[i:i + 8], limit=limit)[:, dst] / 60.0
        rows.append(d)
    scipy_s = time.perf_counter() - t0
    ref = np.vstack(rows)
    ours = np.full(ref.shape, np.inf)
    for i in range(len(origins)):
        cols, minutes = m.row(i)
        ours[i, cols] = minutes
    same = bool(np.array_equal(np.where(np.isfinite(ref), ref, np.inf), ours))
    return {"scipy_origins": len(origins), "scipy_s": scipy_s,
            "scipy_s_per_origin": scipy_s / len(origins), "scipy_identical": same}


def _child_pbf_table(pbf_path: str) -> dict[str, Any]:
    """The peer: ``load_network`` on the PBF through pandas tables, no contraction."""
    from engine.routing.loaders import load_network

    t0 = time.perf_counter()
    net = load_network(pbf_path)
    return {"wall_s": time.perf_counter() - t0, "kept_nodes": net.n_nodes,
            "edges": net.n_edges, "peak_gib": _peak_rss_gib()}


def _child_pbf(pbf_path: str) -> dict[str, Any]:
    from engine.routing.pbf import stream_pbf_network

    t0 = time.perf_counter()
    net = stream_pbf_network(pbf_path)
    wall = time.perf_counter() - t0
    meta = net.meta
    return {"wall_s": wall, "file_nodes": int(meta["input_nodes"]),
            "way_nodes": int(meta["way_nodes"]), "kept_nodes": net.n_nodes,
            "edges": net.n_edges, "contracted_nodes": int(meta["contracted_nodes"]),
            "peak_gib": _peak_rss_gib()}


def _run_child(*args: str, timeout: float = 3600) -> dict[str, Any]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess {args} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- benchmarks


def _save(key: str, payload: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    data[key] = payload
    RESULTS.write_text(json.dumps(data, indent=2, default=float) + "\n")


def test_national_apl(benchmark, request, tmp_path_factory, capsys):
    quick = quick_mode(request.config)
    n_origins = QUICK_ORIGINS if quick else N_COMMUNES
    t0 = time.perf_counter()
    net = france_like_network()
    build_s = time.perf_counter() - t0
    path = tmp_path_factory.mktemp("national") / "france_like.npz"
    net.save(path)
    shape = (net.n_nodes, net.n_edges)
    del net

    runs: dict[str, dict[str, Any]] = {}

    def run_both():
        runs["local"] = _run_child("child-apl", str(path), "local", str(n_origins))
        runs["dask"] = _run_child("child-apl", str(path), "dask", str(n_origins))

    benchmark.pedantic(run_both, rounds=1, iterations=1)
    scale = N_COMMUNES / n_origins
    summary: dict[str, Any] = {
        "graph_nodes": shape[0], "graph_edges": shape[1], "graph_build_s": build_s,
        "n_communes": N_COMMUNES, "origins_routed": n_origins, "max_minutes": MAX_MINUTES,
        "projected": bool(scale != 1),
        "projection": (f"routed {n_origins:,} of {N_COMMUNES:,} origins, routing and FCA "
                       f"scaled x{scale:.1f}" if scale != 1 else "measured at full size"),
    }
    for name, r in runs.items():
        route35 = r["route_s"] * scale
        apl35 = r["snap_s"] + route35 + r["fca_s"] * scale
        summary[name] = {**r, "route_35k_s": route35, "national_apl_s": apl35,
                         "relaxations_per_origin": r["relaxations"] / n_origins}
    local, dask = summary["local"], summary["dask"]
    met = (local["national_apl_s"] < TARGET_APL_S and local["peak_total_gib"] < TARGET_MEM_GIB)
    summary["apl_target"] = f"national APL < {TARGET_APL_S / 60:.0f} min and < {TARGET_MEM_GIB:g} GiB"
    summary["target_met_local"] = bool(met)
    word = "projected" if scale != 1 else "measured"
    note = (f"{shape[0]:,} nodes / {shape[1]:,} edges; {summary['projection']}; national APL "
            f"{word}: local {local['national_apl_s']:.0f} s ({local['peak_total_gib']:.2f} GiB), "
            f"dask 2 workers {dask['national_apl_s']:.0f} s ({dask['peak_total_gib']:.2f} GiB "
            f"in client+workers); target {summary['apl_target']}: "
            f"{'met' if met else 'MISSED'}")
    ours_per_origin = local["route_s"] / n_origins
    summary["scipy_per_origin_ratio"] = local["scipy_s_per_origin"] / ours_per_origin
    note += (f"; scipy dijkstra(limit) {local['scipy_s_per_origin'] * 1e3:.0f} ms/origin vs ours "
             f"{ours_per_origin * 1e3:.1f} ms/origin = {summary['scipy_per_origin_ratio']:.1f}x, "
             f"times identical on {local['scipy_origins']} origins: {local['scipy_identical']}")
    record(benchmark, case="national APL 35k communes (4.2M)", peer="scipy dijkstra(limit)",
           engine_s=ours_per_origin, peer_s=local["scipy_s_per_origin"], target=None,
           note=note, **{k: v for k, v in summary.items() if k not in ("local", "dask")},
           local=local, dask=dask)
    _save("national_apl", summary)
    with capsys.disabled():
        print("\n" + "=" * 78)
        print(f"National APL benchmark ({'quick' if quick else 'full'} mode)")
        print(f"  graph: {shape[0]:,} nodes, {shape[1]:,} edges (built in {build_s:.1f} s)")
        print(f"  {summary['projection']}; destinations: all {N_COMMUNES:,} communes, "
              f"{MAX_MINUTES:g} min bound")
        for name in ("local", "dask"):
            r = summary[name]
            extra = f", cluster start {r['startup_s']:.1f} s" if "startup_s" in r else ""
            print(f"  {name:>5}: snap {r['snap_s']:.1f} s, route {r['route_s']:.1f} s for "
                  f"{n_origins:,} origins -> {r['route_35k_s']:.0f} s for 35k ({word}), FCA "
                  f"{r['fca_s'] * scale:.2f} s{extra}; peak {r['peak_total_gib']:.2f} GiB; "
                  f"national APL {r['national_apl_s']:.0f} s ({word})")
        print(f"  scipy dijkstra(limit) on {local['scipy_origins']} origins: "
              f"{local['scipy_s_per_origin'] * 1e3:.0f} ms/origin vs ours "
              f"{ours_per_origin * 1e3:.1f} ms/origin ({summary['scipy_per_origin_ratio']:.1f}x); "
              f"identical times: {local['scipy_identical']}")
        print(f"  target {summary['apl_target']}: {'met' if met else 'MISSED'}")
        print("=" * 78)


def test_stream_pbf(benchmark, request, tmp_path_factory, capsys):
    from synthetic import write_synthetic_osm

    quick = quick_mode(request.config)
    rows, cols = PBF_QUICK if quick else PBF_FULL
    path = tmp_path_factory.mktemp("pbf") / "synthetic.osm.pbf"
    t0 = time.perf_counter()
    written = write_synthetic_osm(path, rows, cols, seed=0)
    write_s = time.perf_counter() - t0
    runs: list[dict[str, Any]] = []
    benchmark.pedantic(lambda: runs.append(_run_child("child-pbf", str(path))),
                       rounds=1, iterations=1)
    r = runs[-1]
    peer = _run_child("child-pbf-table", str(path))
    full_nodes = PBF_FULL[0] * PBF_FULL[1]
    scale = full_nodes / r["file_nodes"]
    info = {
        **r, "file_mb": path.stat().st_size / 1e6, "write_s": write_s, "ways": written["ways"],
        "nodes_per_s": r["file_nodes"] / r["wall_s"],
        "way_nodes_per_s": r["way_nodes"] / r["wall_s"],
        "projected_2m_s": r["wall_s"] * scale, "projected": bool(scale > 1.01),
        "table_reader": peer, "speedup_vs_table_reader": peer["wall_s"] / r["wall_s"],
        "memory_ratio_vs_table_reader": peer["peak_gib"] / r["peak_gib"],
        "scope": ("measured on 2 M nodes" if scale <= 1.01 else
                 f"measured on {r['file_nodes']:,} nodes, time projected linearly to "
                 f"{full_nodes:,}"),
    }
    record(benchmark, case=f"stream PBF {r['file_nodes']:,} nodes",
           peer="load_network(pbf) via pandas tables, uncontracted", engine_s=r["wall_s"],
           peer_s=peer["wall_s"], target=None,
           note=(f"peak {r['peak_gib']:.2f} GiB vs {peer['peak_gib']:.2f} GiB; "
                 f"{info['nodes_per_s']:,.0f} nodes/s"),
           **{k: v for k, v in info.items() if k != "table_reader"}, table_reader=peer)
    _save("stream_pbf", info)
    with capsys.disabled():
        print("\n" + "=" * 78)
        print(f"Streaming PBF builder ({'quick' if quick else 'full'} mode): "
              f"{r['file_nodes']:,} nodes, {written['ways']:,} ways, {info['file_mb']:.1f} MB")
        print(f"  {r['wall_s']:.1f} s = {info['nodes_per_s']:,.0f} nodes/s "
              f"({info['way_nodes_per_s']:,.0f} way-node refs/s); peak RSS {r['peak_gib']:.2f} GiB")
        print(f"  peer load_network(pbf) (pandas tables, uncontracted): {peer['wall_s']:.1f} s, "
              f"peak {peer['peak_gib']:.2f} GiB -> streaming {info['speedup_vs_table_reader']:.1f}x "
              f"faster, {info['memory_ratio_vs_table_reader']:.1f}x less memory")
        print(f"  kept {r['kept_nodes']:,} nodes / {r['edges']:,} edges after contracting "
              f"{r['contracted_nodes']:,}; {info['scope']}: {info['projected_2m_s']:.1f} s for 2 M")
        print("=" * 78)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "child-apl":
        result = _child_apl(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif mode == "child-pbf":
        result = _child_pbf(sys.argv[2])
    elif mode == "child-pbf-table":
        result = _child_pbf_table(sys.argv[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result, default=float))
