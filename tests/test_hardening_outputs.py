"""Hardening of what the engine writes and reads around the data (issue 16): networks without
usable speeds, files posing as network caches, permissions of what it creates, the memory
limit of a forecast, and an unwritable output folder."""

from __future__ import annotations

import gzip
import os
import re
import stat

import numpy as np
import pytest

from engine.cli import main
from engine.errors import InputWarning, NetworkError
from engine.routing.loaders import load_network
from engine.routing.network import RoadNetwork


def test_a_network_without_highway_tags_is_refused(mirror, tmp_path):
    text = gzip.open(mirror / "osm" / "corse-drive.graphml.gz", "rt", encoding="utf-8").read()
    keys = dict(re.findall(r'<key id="(d\d+)" for="edge" attr\.name="(\w+)"', text))
    for key, name in keys.items():
        if name in ("highway", "maxspeed"):
            text = re.sub(rf'<data key="{key}">[^<]*</data>', "", text)
    path = tmp_path / "untagged.graphml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NetworkError, match="fallback 25 km/h") as info:
        load_network(path)
    assert str(path) in str(info.value)
    # Through the command line: one line, exit 1, nothing written.
    out = tmp_path / "out"
    assert main(["compute", "--network", str(path), "--out", str(out), "--quiet",
                 "--no-isochrones"]) == 1
    assert not out.exists()


def test_many_untagged_roads_are_said(tmp_path):
    import pandas as pd

    from engine.routing.loaders import network_from_frames

    nodes = pd.DataFrame({"osmid": [1, 2, 3], "lon": [9.0, 9.01, 9.02], "lat": [42.0] * 3})
    edges = pd.DataFrame({"u": [1, 2, 2, 3], "v": [2, 1, 3, 2], "length": [800.0] * 4,
                          "highway": ["primary", "primary", "", ""]})
    with pytest.warns(InputWarning, match="50% of the roads"):
        network_from_frames(nodes, edges, meta={"source": "roads.graphml"})


def test_a_file_posing_as_a_network_cache(tmp_path):
    path = tmp_path / "roads.npz"
    np.savez(path, a=np.array([object()], dtype=object))
    with pytest.raises(NetworkError) as info:
        RoadNetwork.load(path)
    message = str(info.value)
    assert "written by the engine" in message and "pickle" not in message
    path.write_bytes(os.urandom(2048))
    with pytest.raises(NetworkError, match="written by the engine"):
        RoadNetwork.load(path)


def test_what_the_engine_creates_follows_the_umask(corse, tmp_path):
    old = os.umask(0o022)
    try:
        saved = corse.save(tmp_path / "net.npz")
        assert stat.S_IMODE(saved.stat().st_mode) == 0o644
        from engine import outputs

        out = tmp_path / "out"
        outputs.write_atomic(out, [lambda d: (d / "a.csv").write_text("1")])
        assert stat.S_IMODE(out.stat().st_mode) == 0o755
        assert stat.S_IMODE((out / "a.csv").stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_a_forecast_too_large_is_refused_before_it_starts(mirror, tmp_path, capsys, monkeypatch):
    # 1,000,000 draws of Corsica keep about 137 MiB (binned quantiles, and each draw's
    # population in deficit): refused under a 0.1 GiB limit, before any simulation.
    monkeypatch.setenv("APL_MAX_MEMORY_GIB", "0.1")
    out = tmp_path / "out"
    assert main(["forecast", "--draws", "1000000", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GiB" in err[0] and "draws or fewer" in err[0]
    assert not out.exists()


def test_draws_prefix_is_stable(corse_region, corse_baseline):
    from scenarios import forecast

    small = forecast(corse_region, "retirement-hazard", draws=250, seed=5, baseline=corse_baseline)
    large = forecast(corse_region, "retirement-hazard", draws=500, seed=5, baseline=corse_baseline)
    # More draws extend a run: the first chunk (250) is the same draws.
    assert np.array_equal(small.pop_deficit_draws, large.pop_deficit_draws[:, :250])
