"""Adapters for the routing peers of ``bench_peers.py`` (imported as ``_peers``).

Every adapter is built from the engine's own CSR arrays (``indptr``, ``indices``,
``travel_time_s``), so each peer routes the same directed graph with the same weights.
Building it (graph object, contraction hierarchy, CCH order and customization) is the
peer's preprocessing and is timed apart from its queries. ``run`` is the timed query; it
returns the peer's native answer, which ``to_seconds`` turns, untimed, into a dense
``(len(origins), len(destinations))`` array of seconds with ``inf`` beyond the bound.

Two peers do not route on float64 seconds, and their answers are checked with a bound
on the rounding (:func:`rounding_tolerance`):

pandana
    Multiplies each weight by 1000 and stores it as an integer (truncation: every edge
    loses less than 1 ms) and returns float32 distances.
RoutingKit (``pyroutingkit``)
    Takes uint32 weights: this benchmark gives it milliseconds, rounded to the nearest
    (every edge off by at most 0.5 ms).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import time
from typing import Any

import numpy as np

#: Absolute slack for float32 outputs (pandana): 2**-24 of 20,000 s is 1.2 ms.
FLOAT32_SLACK_S = 2e-3


def edge_list(net) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tail, head, travel_time_s)`` of every directed edge, in CSR order."""
    return net.edge_tails(), net.indices.astype(np.int64), np.asarray(net.travel_time_s, dtype=np.float64)


def rounding_tolerance(seconds, eps_per_edge: float, min_edge_s: float) -> np.ndarray:
    """Largest possible gap between exact times and times on edges off by ``eps_per_edge``.

    A path of ``h`` edges gains or loses at most ``h * eps``; every edge takes at least
    ``min_edge_s`` exactly, hence at least ``min_edge_s - eps`` rounded, so a path whose
    rounded time is ``d`` has ``h <= d / (min_edge_s - eps)`` edges. The gap is therefore at
    most ``eps * d / (min_edge_s - eps)`` (plus float32 slack), whichever of the two paths
    (exact or rounded shortest) is the longer.
    """
    return eps_per_edge * np.asarray(seconds) / (min_edge_s - eps_per_edge) + FLOAT32_SLACK_S


class Peer:
    """One peer library, built on one network: class attributes say what it is.

    ``Peer(net)`` imports ``module``, reads the installed ``package`` version and runs
    ``_prepare(net)`` (the preprocessing, each step timed into ``preprocess_s``).
    ``Peer(version=..., preprocess_s=...)`` describes a peer run elsewhere (OSRM).
    """

    name = ""
    package = ""
    module = ""
    api = ""
    bounded = False
    threads = ""
    eps_per_edge = 0.0  # 0: float64 weights, answers must be identical
    weights = "float64 seconds (the engine's)"

    def __init__(self, net=None, *, version: str | None = None,
                 preprocess_s: dict[str, float] | None = None):
        self.preprocess_s: dict[str, float] = dict(preprocess_s or {})
        self.n_nodes = 0 if net is None else net.n_nodes
        self.version = version or importlib.metadata.version(self.package)
        if net is not None:
            self.lib = importlib.import_module(self.module)
            self._prepare(net)

    def _prepare(self, net) -> None:
        raise NotImplementedError

    def _step(self, label: str, fn, *args) -> Any:
        """Run one preprocessing step, adding its time to ``preprocess_s[label]``."""
        t0 = time.perf_counter()
        out = fn(*args)
        self.preprocess_s[label] = self.preprocess_s.get(label, 0.0) + time.perf_counter() - t0
        return out

    def run(self, origins: np.ndarray, destinations: np.ndarray | None, limit_s: float) -> Any:
        raise NotImplementedError

    def to_seconds(self, native: Any, origins: np.ndarray, destinations: np.ndarray | None,
                   limit_s: float) -> np.ndarray:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {"peer_package": self.package, "peer_version": self.version,
                "peer_api": self.api, "peer_bounded": self.bounded,
                "peer_threads": self.threads, "peer_weights": self.weights,
                "preprocess_s": dict(self.preprocess_s),
                "preprocess_total_s": float(sum(self.preprocess_s.values()))}

    def _columns(self, destinations: np.ndarray | None) -> np.ndarray:
        """Column of each node in the output (-1: not a destination)."""
        if destinations is None:
            return np.arange(self.n_nodes)
        col = np.full(self.n_nodes, -1, dtype=np.int64)
        col[destinations] = np.arange(len(destinations))
        return col

    def _dense(self, origins, destinations) -> np.ndarray:
        n = self.n_nodes if destinations is None else len(destinations)
        return np.full((len(origins), n), np.inf)


def _bound(d: np.ndarray, limit_s: float) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    d[~(d <= limit_s)] = np.inf
    return d


# --------------------------------------------------------------------------- pandana


class Pandana(Peer):
    """pandana's contraction hierarchy: ``nodes_in_range`` (bounded, parallel)."""

    name = "pandana CH nodes_in_range"
    package = module = "pandana"
    api = "Network(...).nodes_in_range(origins, limit)"
    bounded = True
    threads = "OpenMP, all cores"
    eps_per_edge = 1e-3
    weights = "float64 seconds, stored by pandana as int(1000 * w) (truncated to 1 ms)"

    def _prepare(self, net):
        import pandas as pd

        tail, head, w = edge_list(net)
        self.net = self._step(
            "contraction hierarchy", self.lib.Network, pd.Series(net.lon), pd.Series(net.lat),
            pd.Series(tail), pd.Series(head), pd.DataFrame({"travel_time_s": w}), False)

    def run(self, origins, destinations, limit_s):
        return self.net.nodes_in_range(np.asarray(origins, dtype=np.int64), float(limit_s))

    def to_seconds(self, native, origins, destinations, limit_s):
        col = self._columns(destinations)
        row = np.full(self.n_nodes, -1, dtype=np.int64)
        row[origins] = np.arange(len(origins))  # distinct origins only
        src = native["source"].to_numpy()
        c = col[native["destination"].to_numpy()]
        keep = c >= 0
        out = self._dense(origins, destinations)
        out[row[src[keep]], c[keep]] = native.iloc[:, 2].to_numpy()[keep]
        return _bound(out, limit_s)


# --------------------------------------------------------------------------- RoutingKit


class RoutingKitCCH(Peer):
    """RoutingKit's customizable contraction hierarchy through ``pyroutingkit``."""

    name = "RoutingKit CCH many_to_many"
    package = module = "pyroutingkit"
    api = "CCHMetric.distances_many_to_many(origins, destinations)"
    threads = "library default"
    eps_per_edge = 5e-4
    weights = "uint32 milliseconds, rounded to nearest (<= 0.5 ms per edge)"

    def _prepare(self, net):
        rk = self.lib
        self.inf = rk.INF_WEIGHT
        tail, head, w = edge_list(net)
        ms = np.rint(w * 1000.0)
        if ms.max() * 2 > self.inf:
            raise ValueError("edge times too long for RoutingKit's uint32 milliseconds")
        self.topology = rk.CCHTopology()
        self._step("CCH order + contraction (topology)", self.topology.build,
                   tail.astype(np.uint32), head.astype(np.uint32), net.lat.astype(np.float32),
                   net.lon.astype(np.float32), net.n_nodes)
        self.metric = rk.CCHMetric(self.topology)
        self._step("customization (weights)", self.metric.customize, ms.astype(np.uint32))
        self.all_nodes = np.arange(net.n_nodes, dtype=np.uint32)

    def run(self, origins, destinations, limit_s):
        dst = self.all_nodes if destinations is None else destinations.astype(np.uint32)
        return self.metric.distances_many_to_many(origins.astype(np.uint32), dst)

    def to_seconds(self, native, origins, destinations, limit_s):
        d = np.where(native >= self.inf, np.inf, native / 1000.0)
        return _bound(d, limit_s)


# --------------------------------------------------------------------------- networkit


class Networkit(Peer):
    """networkit's ``SPSP`` (Dijkstra from each source, parallel over sources)."""

    name = "networkit SPSP (no cutoff)"
    package = module = "networkit"
    api = "distance.SPSP(G, origins[, destinations]).run().getDistances()"
    threads = "OpenMP, all cores"

    def _prepare(self, net):
        tail, head, w = edge_list(net)
        self.graph = self._step("graph build", self.lib.Graph, net.n_nodes, True, True)
        self._step("graph build", self.graph.addEdges,
                   (w, (tail.astype(np.uint64), head.astype(np.uint64))))

    def run(self, origins, destinations, limit_s):
        args = [origins.tolist()] if destinations is None else [origins.tolist(),
                                                                 destinations.tolist()]
        sp = self.lib.distance.SPSP(self.graph, *args)
        sp.run()
        return sp.getDistances()

    def to_seconds(self, native, origins, destinations, limit_s):
        # networkit marks unreached nodes with the largest double.
        d = np.asarray(native, dtype=np.float64)
        d[d >= np.finfo(np.float64).max] = np.inf
        return _bound(d, limit_s)


# --------------------------------------------------------------------------- rustworkx


class Rustworkx(Peer):
    """rustworkx's single-source Dijkstra, one call per origin."""

    name = "rustworkx dijkstra (no cutoff)"
    package = module = "rustworkx"
    api = "digraph_dijkstra_shortest_path_lengths(g, s, edge_cost_fn=float) per origin"
    threads = "1 (one call per origin; the cost function is Python)"

    def _prepare(self, net):
        tail, head, w = edge_list(net)
        self.graph = self.lib.PyDiGraph()
        self._step("graph build", self.graph.add_nodes_from, range(net.n_nodes))
        self._step("graph build", self.graph.add_edges_from,
                   list(zip(tail.tolist(), head.tolist(), w.tolist(), strict=True)))

    def run(self, origins, destinations, limit_s):
        f = self.lib.digraph_dijkstra_shortest_path_lengths
        return [f(self.graph, int(s), edge_cost_fn=float) for s in origins]

    def to_seconds(self, native, origins, destinations, limit_s):
        col = self._columns(destinations)
        out = self._dense(origins, destinations)
        for i, (s, lengths) in enumerate(zip(origins, native, strict=True)):
            nodes = np.fromiter(lengths.keys(), np.int64, len(lengths))
            times = np.fromiter(lengths.values(), np.float64, len(lengths))
            c = col[nodes]
            out[i, c[c >= 0]] = times[c >= 0]
            if col[s] >= 0:
                out[i, col[s]] = 0.0  # rustworkx leaves the source out
        return _bound(out, limit_s)


class OsrmTable(Peer):
    """OSRM's CH table, run by ``osrm_peer.py`` in its own Python: described, not built."""

    name = "OSRM CH table"
    package = "osrm-bindings"
    api = "osrm.OSRM(algorithm='CH').Table(coordinates) (snapping included)"
    threads = "one request"
    eps_per_edge = 0.1  # whole deciseconds per edge: 0.1 s covers rounding or truncation
    weights = "OSRM durations: whole deciseconds per edge"


PEERS: dict[str, type[Peer]] = {
    "pandana": Pandana, "routingkit": RoutingKitCCH, "networkit": Networkit,
    "rustworkx": Rustworkx,
}


def unavailable(key: str) -> str | None:
    """Why peer ``key`` cannot run here, or None when it can."""
    module = PEERS[key].module
    try:
        importlib.import_module(module)
    except Exception as exc:  # ImportError, or a wheel that fails to load
        return (f"{module} cannot be imported ({type(exc).__name__}: {exc}); "
                "install the peers with pip install -e '.[peers]'")
    return None


# --------------------------------------------------------------------------- checks


def compare(peer: Peer, engine_minutes: np.ndarray, peer_s: np.ndarray, limit_s: float,
            wide_engine_s: np.ndarray | None = None, min_edge_s: float | None = None
            ) -> dict[str, Any]:
    """Check a peer's bounded times against the engine's; raise AssertionError if off.

    Float64 peers must give the engine's times exactly (compared in minutes, the engine's
    unit). Rounding peers are held to :func:`rounding_tolerance`, which needs
    ``wide_engine_s``: the engine's times in seconds with a bound raised by the tolerance,
    so that a pair the peer puts just inside the bound (and the engine just outside) is
    still checked against the engine's exact time.
    """
    if peer.eps_per_edge == 0:
        assert np.array_equal(engine_minutes, peer_s / 60.0), f"{peer.name}: times differ"
        return {"check": "identical to the engine (float64)", "max_abs_err_s": 0.0}
    assert wide_engine_s is not None and min_edge_s is not None
    exact_s = engine_minutes * 60.0
    tol_at = rounding_tolerance
    p_in = np.isfinite(peer_s)
    # Every pair the peer reaches: the engine reaches it too, within the tolerance.
    assert np.isfinite(wide_engine_s[p_in]).all(), f"{peer.name}: reaches pairs the engine does not"
    err = peer_s[p_in] - wide_engine_s[p_in]
    tol = tol_at(np.maximum(peer_s[p_in], wide_engine_s[p_in]), peer.eps_per_edge, min_edge_s)
    assert (np.abs(err) <= tol).all(), f"{peer.name}: error {np.abs(err).max():.4f} s > tolerance"
    # Every pair only the engine reaches lies within the tolerance of the bound.
    e_only = np.isfinite(exact_s) & ~p_in
    gap = limit_s - exact_s[e_only]
    assert (gap <= tol_at(limit_s, peer.eps_per_edge, min_edge_s)).all(), \
        f"{peer.name}: misses a pair {gap.max():.3f} s inside the bound"
    p_only = p_in & ~np.isfinite(exact_s)
    return {"check": (f"within tolerance: |peer - engine| <= {peer.eps_per_edge * 1e3:g} ms x "
                      f"edges on the path, edges <= t / ({min_edge_s:.3f} s - "
                      f"{peer.eps_per_edge * 1e3:g} ms), + {FLOAT32_SLACK_S * 1e3:g} ms"),
            "tolerance_at_bound_s": float(tol_at(limit_s, peer.eps_per_edge, min_edge_s)),
            "max_abs_err_s": float(np.abs(err).max()) if err.size else 0.0,
            "mean_err_s": float(err.mean()) if err.size else 0.0,
            "pairs_only_engine": int(e_only.sum()), "pairs_only_peer": int(p_only.sum())}


# --------------------------------------------------------------------------- own environments


def newer_python(minor: int = 12) -> str | None:
    """A ``python3.<minor>`` or newer interpreter on PATH or under pyenv, or None."""
    import glob
    import os
    import shutil

    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for m in range(minor, 20):
        # pyenv's own interpreters first: its shims on PATH may refuse to pick a version.
        for path in sorted(glob.glob(f"{pyenv}/versions/3.{m}.*/bin/python")):
            return path
        found = shutil.which(f"python3.{m}")
        if found and "/shims/" not in found:
            return found
    return None


#: The peers that need their own environment: name -> requirements (``make_peer_envs.py``).
PEER_ENVS = {"osrm-bindings": ["osrm-bindings", "numpy"]}


def peer_env(name: str, requirements: list[str], minor: int = 12, *,
             create: bool = False) -> tuple[str | None, str]:
    """The Python of a virtual environment holding ``requirements``.

    For a peer whose wheels need a newer Python than the project's. The environment lives
    in ``$APL_PEER_ENVS`` (default ``~/.cache/apl-engine/peer-envs``) and is reused. The
    benchmarks never install anything while they run (``create=False``): the environment is
    made beforehand by ``python benchmarks/make_peer_envs.py`` (``.ci/run`` does it).
    Returns ``(python, "")``, or ``(None, reason)`` when it is not there or cannot be set up.
    """
    import os
    import subprocess
    from pathlib import Path

    root = Path(os.environ.get("APL_PEER_ENVS",
                               Path.home() / ".cache" / "apl-engine" / "peer-envs"))
    env = root / f"{name}-py3{minor}"
    python = env / "bin" / "python"
    stamp = env / ".complete"
    if stamp.is_file():
        return str(python), ""
    if not create:
        return None, (f"no {name} environment for Python 3.{minor}: run python "
                      "benchmarks/make_peer_envs.py first (it installs from PyPI)")
    base = newer_python(minor)
    if base is None:
        return None, f"no Python >= 3.{minor} found (PATH, pyenv) for {name}"
    try:
        subprocess.run([base, "-m", "venv", "--clear", str(env)], check=True,
                       capture_output=True, text=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True,
                       capture_output=True, text=True, timeout=900)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["?"]
        return None, f"cannot install {' '.join(requirements)} for Python 3.{minor}: {tail[0]}"
    except subprocess.TimeoutExpired:
        return None, f"installing {' '.join(requirements)} for Python 3.{minor} timed out"
    stamp.write_text(" ".join(requirements) + "\n")
    return str(python), ""
