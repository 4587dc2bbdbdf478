"""Shared fixtures: the data mirror and small synthetic networks made in code."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from realdata import required_mirror

from engine import settings
from engine.routing.network import RoadNetwork

#: The example input files shipped with the scenarios (scenarios/examples/).
EXAMPLES = Path(__file__).resolve().parent.parent / "scenarios" / "examples"


@pytest.fixture(scope="session", autouse=True)
def cache_folder(tmp_path_factory):
    """Every test writes its caches (region bundles) in one temporary folder, never the user's."""
    folder = tmp_path_factory.mktemp("cache")
    old_env = os.environ.get(settings.CACHE_DIR_ENV)
    old = settings.cache_dir
    os.environ[settings.CACHE_DIR_ENV] = str(folder)
    settings.cache_dir = folder
    yield folder
    settings.cache_dir = old
    if old_env is None:
        os.environ.pop(settings.CACHE_DIR_ENV, None)
    else:
        os.environ[settings.CACHE_DIR_ENV] = old_env


@pytest.fixture(scope="session")
def mirror():
    """The data mirror; a failure (not a skip) under CI when it is missing."""
    return required_mirror()


@pytest.fixture(scope="session")
def corse_graphml(mirror):
    path = mirror / "osm" / "corse-drive.graphml.gz"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the data mirror")
    return path


@pytest.fixture(scope="session")
def corse(corse_graphml, tmp_path_factory):
    """The Corsica drive network, loaded once per session."""
    import engine

    return engine.load_network(corse_graphml)


def random_network(n: int, m: int, seed: int, *, integer_weights: bool = False) -> RoadNetwork:
    """A random directed network made in code (not necessarily connected)."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    if integer_weights:
        w = rng.integers(0, 50, m).astype(float)
    else:
        w = rng.exponential(60.0, m)
    lon = 9.0 + rng.random(n) * 0.2
    lat = 42.0 + rng.random(n) * 0.2
    return RoadNetwork.from_edges(u, v, w, w * 10, lon, lat, np.arange(n) + 1000,
                                  largest_component=False)


@pytest.fixture(scope="session")
def corse_region(mirror):
    """The assembled Corsica region (network, 360 communes, 335 GPs), built once per session."""
    from engine.mirror import load_region

    return load_region("corse", mirror=mirror, cache=False)


@pytest.fixture(scope="session")
def corse_baseline(corse_region):
    """The official baseline of Corsica 2022 (supply calibrated on DREES), once per session."""
    from scenarios.baseline import official_baseline

    return official_baseline(corse_region)
