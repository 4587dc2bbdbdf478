"""Start-up stays lean: ``import engine`` and ``apl --help`` load no heavy library.

Timing targets live in benchmarks/bench_startup.py; this test checks what is imported
(``python -X importtime`` in a fresh process), which does not depend on the machine's load.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "pandas", "scipy", "numba", "matplotlib", "geopandas", "shapely", "sklearn",
         "osmnx", "networkx", "igraph", "rasterio", "pyproj", "openpyxl", "jinja2", "dask")


def _imported(code: str) -> set[str]:
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                         text=True, check=True)
    names = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_import_engine_is_light():
    loaded = _imported("import engine")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_apl_help_is_light():
    loaded = _imported("import sys; sys.argv = ['apl', '--help']\n"
                       "from engine.cli import main\n"
                       "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert "engine.cli" in loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}, sorted(
        m for m in loaded if m.split(".")[0] in HEAVY)


def test_scikit_learn_and_scipy_stats_stay_out_of_a_run():
    loaded = _imported("from engine.mirror import load_region\n"
                       "from scenarios.baseline import baseline\n"
                       "from engine import tables\n"
                       "r = load_region('corse')\n"
                       "t = tables.commune_table(r, baseline=baseline(r))")
    assert not {m for m in loaded if m.startswith(("sklearn", "scipy.stats"))}
