"""Helpers shared by the benchmark files and their conftest (imported as ``_harness``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.routing.network import RoadNetwork

RESULTS_DIR = Path(__file__).parent / "results"
ROWS: list[dict[str, Any]] = []


def quick_mode(config: pytest.Config) -> bool:
    """True under ``--benchmark-min-rounds=1`` (the CI setting): time peers once."""
    return int(config.getoption("benchmark_min_rounds", 5) or 5) <= 1


def best_of(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    """Minimum wall time of ``rounds`` calls of ``fn`` and the last result."""
    best, result = np.inf, None
    for _ in range(max(1, rounds)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def record(benchmark, *, case: str, peer: str, engine_s: float, peer_s: float,
           target: float | None, **info: Any) -> dict[str, Any]:
    """Store one engine/peer comparison in ``benchmark.extra_info`` and the session table.

    ``engine_s`` and ``peer_s`` must cover the same work (scale a peer timed on a subset
    of origins to the full set before calling, and say so in ``info``).
    """
    ratio = peer_s / engine_s if engine_s > 0 else float("nan")
    row = {"case": case, "peer": peer, "engine_s": engine_s, "peer_s": peer_s,
           "ratio": ratio, "target": target,
           "met": None if target is None else bool(ratio >= target), **info}
    benchmark.extra_info.update(row)
    ROWS.append(row)
    return row


def record_skip(*, case: str, peer: str, reason: str) -> None:
    """Put a peer that cannot run in the session table, with why, and skip the test."""
    ROWS.append({"case": case, "peer": peer, "engine_s": None, "peer_s": None, "ratio": None,
                 "target": None, "met": None, "skipped": reason})
    pytest.skip(reason)


def synthetic_road_network(side: int = 1000, seed: int = 0) -> RoadNetwork:
    """A road-like network of ``side * side`` nodes, made in code.

    A grid with 100 m spacing whose nodes are jittered by up to +-30 m; local streets at
    30-50 km/h; every 25th row and column an arterial at 70 km/h; every 100th a
    motorway-like road at 110 km/h; plus a sprinkling of diagonal shortcuts. Every road is
    two-way, so the graph is strongly connected. Lengths are straight-line metres between
    the jittered nodes and travel times are length over speed.
    """
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = jj * 100.0 + rng.uniform(-30, 30, ii.shape)
    y = ii * 100.0 + rng.uniform(-30, 30, ii.shape)
    node = np.arange(side * side).reshape(side, side)
    local = rng.uniform(30, 50, (side, side))

    def kmh(line: np.ndarray, base: np.ndarray) -> np.ndarray:
        return np.where(line % 100 == 0, 110.0, np.where(line % 25 == 0, 70.0, base))

    u = [node[:, :-1].ravel(), node[:-1, :].ravel()]
    v = [node[:, 1:].ravel(), node[1:, :].ravel()]
    speed = [kmh(ii[:, :-1], local[:, :-1]).ravel(), kmh(jj[:-1, :], local[:-1, :]).ravel()]
    # Diagonal shortcuts on ~5% of the cells.
    diag = rng.random((side - 1, side - 1)) < 0.05
    u.append(node[:-1, :-1][diag])
    v.append(node[1:, 1:][diag])
    speed.append(local[:-1, :-1][diag])
    u, v, speed = np.concatenate(u), np.concatenate(v), np.concatenate(speed)
    xf, yf = x.ravel(), y.ravel()
    length = np.hypot(xf[u] - xf[v], yf[u] - yf[v])
    tt = length / (speed / 3.6)
    # Metres to degrees around 45N, so that snapping and Hilbert ordering see map coordinates.
    lon = 2.0 + xf / 78_700.0
    lat = 45.0 + yf / 111_200.0
    return RoadNetwork.from_edges(
        np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([tt, tt]),
        np.concatenate([length, length]), lon, lat, np.arange(side * side, dtype=np.int64),
        meta={"source": f"synthetic grid {side}x{side}, seed {seed}"}, largest_component=False,
    )
