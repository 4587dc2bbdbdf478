"""One APL path: the library, the Region, the command line and a forecast that changes nothing
give the same APL to the last bit, whatever the roster holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.apl import apl_communes, bounded_activity, profession
from engine.cli import main
from engine.region import Region
from engine.routing.network import RoadNetwork
from scenarios import forecast, parse_scenario

NOTHING_CHANGES = parse_scenario(
    "[scenario]\nname = 'rien ne change'\nstart_year = 2022\nhorizon = 3\n"
    "[retirement]\nmodel = 'none'\n")


def _grid(side: int = 12, seed: int = 4) -> RoadNetwork:
    """A two-way grid road, ~1.2 km between nodes, 40-110 s per edge."""
    rng = np.random.default_rng(seed)
    ids = np.arange(side * side).reshape(side, side)
    u = np.r_[ids[:, :-1].ravel(), ids[:-1, :].ravel()]
    v = np.r_[ids[:, 1:].ravel(), ids[1:, :].ravel()]
    tt = rng.uniform(40.0, 110.0, len(u))
    lon = 9.0 + 0.015 * (ids % side).ravel().astype(float)
    lat = 42.0 + 0.011 * (ids // side).ravel().astype(float)
    return RoadNetwork.from_edges(np.r_[u, v], np.r_[v, u], np.r_[tt, tt], np.r_[tt, tt] * 12,
                                  lon, lat, np.arange(side * side) + 1)


def _inputs(net: RoadNetwork, n: int = 14, seed: int = 1):
    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.n_nodes, n, replace=False)
    communes = pd.DataFrame({
        "code_commune": [f"2A{k:03d}" for k in range(n)],
        "nom": [f"Commune {k}" for k in range(n)],
        "lon": net.lon[nodes], "lat": net.lat[nodes],
        "pop_totale": rng.uniform(50, 3000, n).round(),
        "pop_standardisee": rng.uniform(50, 3000, n),
    })
    k = 22
    where = rng.integers(0, n, k)
    gps = pd.DataFrame({
        "id": np.arange(k) + 1,
        "code_commune": communes["code_commune"].to_numpy()[where].astype(object),
        "lon": np.nan, "lat": np.nan,
        # Every rule of the DREES bounds: under 250, the floor, as is, the cap, unknown.
        "activity": rng.choice([100.0, 2000.0, 4500.0, 7000.0, np.nan], k),
        "active_previous_year": rng.random(k) < 0.8,
        "health_centre": rng.random(k) < 0.2,
        "age": rng.integers(30, 72, k).astype(float),
    })
    # Practitioners given by a point, 300 m from a commune's town hall.
    for row in (3, 9, 15):
        c = int(where[row])
        gps.loc[row, "code_commune"] = None
        gps.loc[row, ["lon", "lat"]] = [communes["lon"][c] + 0.002, communes["lat"][c] + 0.001]
    return communes, gps


@pytest.fixture(scope="module")
def case():
    net = _grid()
    communes, gps = _inputs(net)
    return net, communes, gps


def test_library_region_and_forecast_agree_bit_for_bit(case):
    net, communes, gps = case
    library = apl_communes(net, communes, gps)["apl"].to_numpy()
    region = Region(name="grille", network=net, communes=communes, practitioners=gps)
    assert np.array_equal(region.apl(), library)
    fc = forecast(region, NOTHING_CHANGES, draws=1, seed=0, baseline="model")
    for year in NOTHING_CHANGES.years(region.year):
        got = fc.communes.loc[fc.communes["year"] == year, "apl_mean"].to_numpy()
        assert np.array_equal(got, library), year
    assert library.max() > 0 and len(np.unique(library)) > 3


def test_the_command_line_writes_the_same_apl(case, tmp_path):
    net, communes, gps = case
    library = apl_communes(net, communes, gps)["apl"].to_numpy()
    net.save(tmp_path / "net.npz")
    communes.to_csv(tmp_path / "communes.csv", index=False)
    gps.to_csv(tmp_path / "gps.csv", index=False)
    files = ["--network", str(tmp_path / "net.npz"), "--communes", str(tmp_path / "communes.csv"),
             "--practitioners", str(tmp_path / "gps.csv"), "--quiet"]
    assert main(["compute", *files, "--no-isochrones", "--out", str(tmp_path / "c")]) == 0
    table = pd.read_csv(tmp_path / "c" / "communes.csv", dtype={"code_commune": str})
    assert np.array_equal(table["apl"].to_numpy(), library)
    scen = tmp_path / "rien.toml"
    scen.write_text("[scenario]\nname = 'rien'\nstart_year = 2022\nhorizon = 2\n"
                    "[retirement]\nmodel = 'none'\n")
    assert main(["forecast", *files, "--scenario", str(scen), "--draws", "1", "--new", "0",
                 "--out", str(tmp_path / "f")]) == 0
    fc = pd.read_csv(tmp_path / "f" / "forecast.csv", dtype={"code_commune": str})
    for _, rows in fc.groupby("year"):
        assert np.array_equal(rows["apl_mean"].to_numpy(), library)


def test_the_issue_case_previous_year_imputation(tmp_path):
    """3 communes, GPs activity=[100, NaN], active_previous_year=[False, True]: the DREES
    rule imputes 5,400 to the first and the default activity to the second, on every path."""
    rng = np.random.default_rng(0)
    n = 30
    u = rng.integers(0, n, 120)
    v = rng.integers(0, n, 120)
    w = rng.uniform(30, 300, 120)
    lon = 9.0 + rng.random(n) * 0.05
    lat = 42.0 + rng.random(n) * 0.05
    net = RoadNetwork.from_edges(np.r_[u, v], np.r_[v, u], np.r_[w, w], np.r_[w, w] * 10, lon, lat,
                                 np.arange(n) + 1)
    communes = pd.DataFrame({"code_commune": ["2A001", "2A002", "2A003"],
                             "lon": net.lon[:3], "lat": net.lat[:3],
                             "pop_standardisee": [800.0, 1200.0, 500.0],
                             "pop_totale": [800.0, 1200.0, 500.0]})
    gps = pd.DataFrame({"code_commune": ["2A001", "2A002"], "activity": [100.0, np.nan],
                        "active_previous_year": [False, True]})
    library = apl_communes(net, communes, gps)
    region = Region(name="x", network=net, communes=communes, practitioners=gps)
    assert np.array_equal(region.apl(), library["apl"].to_numpy())
    gp = profession("gp")
    expected = bounded_activity([100.0, gp.activity.default], [False, True])
    assert expected[0] == gp.activity.no_activity_previous_year
    np.testing.assert_array_equal(library["supply"].to_numpy()[:2], expected)
