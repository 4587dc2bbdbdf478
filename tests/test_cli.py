"""The ``apl`` command line on the embedded Corsica region and on a planner's own files."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import EXAMPLES

from engine.cli import build_parser, main


@pytest.fixture(scope="module", autouse=True)
def needs_mirror(mirror):
    """Every command here runs on the embedded region: the data mirror must be there."""
    return mirror


def run(*argv):
    return main(list(argv))


def test_compute_writes_every_output(tmp_path, capsys):
    out = tmp_path / "compute"
    assert run("compute", "--out", str(out), "--quiet") == 0
    for name in ("communes.gpkg", "communes.csv", "zoning_summary.csv", "travel_time_to_practitioner.tif",
                 "map_apl.png", "map.html", "report.html", "isochrones.gpkg"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "communes.csv", dtype={"code_commune": str})
    assert len(table) == 360 and table["code_commune"].str.match(r"^2[AB]\d{3}$").all()
    assert {"code_commune", "nom", "pop_totale", "apl", "apl_u65", "classe"} <= set(table.columns)
    assert capsys.readouterr().err == ""  # --quiet


def test_forecast_is_the_main_job(tmp_path):
    out = tmp_path / "fc"
    assert run("forecast", "--out", str(out), "--draws", "40", "--seed", "1", "--new", "5", "--quiet") == 0
    fc = pd.read_csv(out / "forecast.csv", dtype={"code_commune": str})
    assert list(fc.columns) == ["code_commune", "nom", "year", "apl_mean", "apl_median", "apl_p10",
                                "apl_p90", "p_deficit", "classe"]
    assert fc["year"].min() == 2022 and fc["year"].max() == 2032  # year 0 observed, then 10 years
    summary = pd.read_csv(out / "forecast_summary.csv")
    assert {"year", "pop_deficit_mean", "pop_deficit_p10", "pop_deficit_p90",
            "communes_new_deficit"} <= set(summary.columns)
    assert len(pd.read_csv(out / "installations.csv")) == 5
    for name in ("map_forecast.png", "report.html", "map.html", "communes.gpkg"):
        assert (out / name).is_file()
    # Same seed, same numbers.
    out2 = tmp_path / "fc2"
    assert run("forecast", "--out", str(out2), "--draws", "40", "--seed", "1", "--new", "0", "--quiet") == 0
    pd.testing.assert_frame_equal(summary, pd.read_csv(out2 / "forecast_summary.csv"))


def test_optimize_and_isochrones(tmp_path):
    assert run("optimize", "--new", "4", "--year", "2027", "--data-year", "2022", "--out", str(tmp_path / "o"), "--quiet") == 0
    inst = pd.read_csv(tmp_path / "o" / "installations.csv", dtype={"code_commune": str})
    assert list(inst["rank"]) == [1, 2, 3, 4]
    assert run("isochrones", "--minutes", "5,10", "--out", str(tmp_path / "i"), "--quiet") == 0
    import geopandas as gpd

    iso = gpd.read_file(tmp_path / "i" / "isochrones.gpkg")
    assert sorted(iso["minutes"].unique()) == [5, 10] and iso.crs.to_epsg() == 4326


def test_own_files(tmp_path, corse_graphml):
    out = tmp_path / "own"
    code = run("compute", "--network", str(corse_graphml), "--communes", str(EXAMPLES / "communes.csv"),
               "--practitioners", str(EXAMPLES / "practitioners.csv"), "--out", str(out), "--quiet",
               "--no-isochrones")
    assert code == 0
    assert len(pd.read_csv(out / "communes.csv")) == 5
    assert (out / "map.html").is_file() and not (out / "isochrones.gpkg").exists()


def test_usage_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run("forecast", "--draws", "many")
    assert e.value.code == 2
    # A file that is not there is a data error (exit 1), never a usage error or a download.
    assert run("compute", "--communes", "x.csv", "--out", str(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "x.csv" in err and "no such" in err
    assert run("forecast", "--draws", "0", "--out", str(tmp_path)) == 2
    assert run() == 2


def test_data_errors_exit_1_with_one_line(tmp_path, capsys, corse_graphml):
    bad = tmp_path / "gps.csv"
    bad.write_text("id,code_commune,age\n1,2B033,40\n2,2B033,old\n")
    code = run("compute", "--network", str(corse_graphml), "--communes", str(EXAMPLES / "communes.csv"),
               "--practitioners", str(bad), "--out", str(tmp_path / "x"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len([line for line in err if "gps.csv" in line]) == 1
    assert err[-1].startswith(f"apl compute: {bad}:3, column 'age'")
    assert "Error" not in "\n".join(err)  # no Python class name before the message
    assert "Traceback" not in "\n".join(err)
    scen = tmp_path / "s.toml"
    scen.write_text("[scenario]\nname='x'\nstart_year=2022\nhorizon=2\n[retirement]\nmodel='hazard'\n"
                    "[retirement.hazard]\n'60+' = 2\n")
    assert run("forecast", "--scenario", str(scen), "--out", str(tmp_path / "y")) == 1
    assert "s.toml:8, key 'retirement.hazard.60+'" in capsys.readouterr().err


def test_failed_run_leaves_previous_outputs(tmp_path, corse_graphml):
    out = tmp_path / "keep"
    assert run("optimize", "--new", "2", "--out", str(out), "--quiet") == 0
    before = (out / "installations.csv").read_bytes()
    bad = tmp_path / "c.csv"
    bad.write_text("code_commune,pop_totale,pop_standardisee,lon,lat\n2B033,-5,1,9.4,42.7\n")
    code = run("optimize", "--new", "2", "--network", str(corse_graphml), "--communes", str(bad),
               "--practitioners", str(EXAMPLES / "practitioners.csv"), "--out", str(out), "--quiet")
    assert code == 1
    assert (out / "installations.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if ".tmp" in p.name) == []


def test_data_commands(capsys):
    assert run("data", "list") == 0
    assert "corse" in capsys.readouterr().out
    assert run("data", "check") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("ok") for line in lines)


def test_data_network_streams_a_pbf_to_a_cache(tmp_path, mirror, capsys):
    import numpy as np

    from engine.routing.network import RoadNetwork
    from engine.routing.pbf import stream_pbf_network

    pbf = mirror / "osm" / "saint-barthelemy.osm.pbf"
    out = tmp_path / "stb.npz"
    assert run("data", "network", str(pbf), "--out", str(out), "--quiet") == 0
    saved, streamed = RoadNetwork.load(out), stream_pbf_network(pbf)
    for name in ("indptr", "indices", "travel_time_s", "osmid"):
        assert np.array_equal(getattr(saved, name), getattr(streamed, name)), name
    assert run("data", "network", "--out", str(out)) == 2
    assert "needs a network file" in capsys.readouterr().err


def test_data_fetch_offline_and_usage(tmp_path, monkeypatch, capsys):
    import osmnx as ox

    def offline(*args, **kwargs):
        raise ConnectionError("Max retries exceeded with url: nominatim")

    monkeypatch.setattr(ox, "graph_from_place", offline)  # tests never download
    out = tmp_path / "bastia.graphml"
    assert run("data", "fetch", "Bastia, France", "--out", str(out), "--quiet") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Bastia, France" in err[0] and "online" in err[0]
    assert not out.exists()
    assert run("data", "fetch", "--out", str(out)) == 2
    assert "needs a place name" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["compute", "forecast", "optimize", "isochrones", "data"])
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, "--help"])
    assert e.value.code == 0
    assert "example" in capsys.readouterr().out


def test_console_script_runs():
    done = subprocess.run([sys.executable, "-m", "engine.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "apl-engine" in done.stdout
