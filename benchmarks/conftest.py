"""Benchmark harness: collects ``bench_*.py``, shares networks, reports engine/peer ratios.

``pytest benchmarks`` runs every file named ``bench_*.py`` here (the root ``pytest`` only
collects ``tests/``). Each benchmark times the engine with pytest-benchmark and a peer
library on the same input in the same run, records both through :func:`record`, and the
session ends with a table of ratios, also written to ``benchmarks/results/routing.json``.
Speed targets are reported (a miss is flagged), never asserted: timings on shared CI
machines drift too much for that. Agreement between engine and peer is asserted.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import numba
import pytest

# The synthetic inputs and naive twins of tests/ serve the benchmarks too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _harness import RESULTS_DIR, ROWS, quick_mode, synthetic_road_network
from realdata import required_mirror

from engine.routing.network import RoadNetwork


def pytest_collect_file(file_path: Path, parent):
    # A file named on the command line is collected by pytest itself: not twice.
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not ROWS:
        return
    tr = terminalreporter
    tr.section("engine vs peers (same input, same run; ratio = peer time / engine time)")
    tr.write_line(f"{'case':<34} {'peer':<26} {'engine s':>9} {'peer s':>9} {'ratio':>7} "
                  f"{'target':>7}  status")
    for r in ROWS:
        if "skipped" in r:
            tr.write_line(f"{r['case']:<34} {r['peer']:<26} {'':>9} {'':>9} {'':>7} {'':>7}  "
                          f"skipped: {r['skipped']}")
            continue
        target = "" if r["target"] is None else f">={r['target']:g}x"
        status = "" if r["met"] is None else ("ok" if r["met"] else "MISSED")
        tr.write_line(f"{r['case']:<34} {r['peer']:<26} {r['engine_s']:>9.4f} {r['peer_s']:>9.4f} "
                      f"{r['ratio']:>6.2f}x {target:>7}  {status}")
        for key in ("relaxations_per_s_per_core", "preprocessing", "note"):
            if key in r:
                value = r[key]
                tr.write_line(f"{'':<4}{key}: {value:,.0f}" if isinstance(value, float)
                              else f"{'':<4}{key}: {value}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"cpus": os.cpu_count(), "numba_threads": numba.get_num_threads(),
                    "python": platform.python_version(), "numba": numba.__version__,
                    "platform": platform.platform()},
        "quick_mode": quick_mode(config),
        "results": ROWS,
    }
    out = RESULTS_DIR / "routing.json"
    out.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    tr.write_line(f"written to {out}")


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The data mirror; a failure (not a skip) under CI when it is missing (as in tests/)."""
    return required_mirror()


@pytest.fixture(scope="session")
def corse_graphml(mirror) -> Path:
    """Corsica's drive network file in the mirror (a failure when the mirror lacks it)."""
    path = mirror / "osm" / "corse-drive.graphml.gz"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the data mirror")
    return path


@pytest.fixture(scope="session")
def corse(corse_graphml) -> RoadNetwork:
    """Corsica's drive network, loaded once per session."""
    import engine

    return engine.load_network(corse_graphml)


@pytest.fixture(scope="session")
def corse_region(mirror):
    """The Corsica region (network, communes, GPs of the mirror), its commune matrix routed
    once per session, outside every timing; nothing written to the user's cache."""
    from engine.mirror import load_region

    region = load_region("corse", mirror=mirror, cache=False)
    region.commune_times()
    return region


@pytest.fixture(scope="session")
def synthetic_1m() -> RoadNetwork:
    """The 1,000,000-node synthetic road network (built once per session, ~5 s)."""
    return synthetic_road_network(1000)
