"""Output writers, travel-time rasters, static maps, the interactive map and the report.

Synthetic data made in code, plus the real Corsican commune polygons from the data mirror
(with a made-up APL, since these modules only render what they are given).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import random_network
from shapely.geometry import Point, box

from engine import french, maps, outputs, report
from engine.errors import InputError
from engine.routing import surface
from engine.routing.matrix import nearest_travel_times
from engine.routing.network import RoadNetwork

# --------------------------------------------------------------------------- synthetic data



def _to_nearest(net, sources, max_minutes=60):
    return nearest_travel_times(net, sources, max_minutes=max_minutes, reverse=True)

def _classe(apl: np.ndarray) -> np.ndarray:
    return np.where(apl < 2.5, "sous-dense", np.where(apl < 4, "intermediaire", "hors-zone"))


def make_communes(n_side: int = 4, *, points: bool = False) -> gpd.GeoDataFrame:
    """A grid of square communes near Ajaccio with every computed column."""
    rng = np.random.default_rng(1)
    geoms, codes = [], []
    for i in range(n_side):
        for j in range(n_side):
            x0, y0 = 8.7 + 0.05 * i, 41.9 + 0.05 * j
            geoms.append(Point(x0 + 0.025, y0 + 0.025) if points else box(x0, y0, x0 + 0.05, y0 + 0.05))
            codes.append(f"0{len(codes) + 1:04d}")
    n = len(geoms)
    apl = rng.uniform(0.5, 6.0, n)
    pop = rng.integers(50, 20000, n).astype(float)
    gdf = gpd.GeoDataFrame({
        "code_commune": codes, "nom": [f"Commune {k}" for k in range(n)],
        "departement": ["01"] * n, "pop_totale": pop, "pop_standardisee": pop * 1.05,
        "apl": apl, "apl_u65": apl * 0.8, "classe": _classe(apl), "classe_u65": _classe(apl * 0.8),
    }, geometry=geoms, crs="EPSG:4326")
    gdf.loc[0, "apl"] = np.nan  # a commune without data must not break anything
    gdf.loc[0, "classe"] = None
    return gdf


def make_forecast(communes: gpd.GeoDataFrame, years=range(2025, 2029)):
    rows = []
    for k, year in enumerate(years):
        for code, nom, apl in zip(communes.code_commune, communes.nom, communes.apl, strict=True):
            m = (apl if np.isfinite(apl) else 3.0) * (1 - 0.05 * k)
            rows.append((code, nom, year, m, 0.8 * m, 1.2 * m, float(1 / (1 + np.exp(3 * (m - 2.5)))),
                         _classe(np.array([m]))[0]))
    fc = pd.DataFrame(rows, columns=["code_commune", "nom", "year", "apl_mean", "apl_p10",
                                     "apl_p90", "p_deficit", "classe"])
    summary = pd.DataFrame({
        "year": list(years), "pop_deficit_mean": [1000.0, 1500.0, 2100.0, 2600.0],
        "pop_deficit_p10": [900.0, 1200.0, 1700.0, 2000.0],
        "pop_deficit_p90": [1100.0, 1800.0, 2500.0, 3300.0],
        "share_deficit_mean": [0.1, 0.15, 0.21, 0.26], "communes_new_deficit": [0, 2, 3, 1],
        "active_practitioners_mean": [40.0, 38.5, 36.2, 35.0],
    })
    newly = fc[(fc.p_deficit > 0.5) & (fc.year > 2025)].groupby("code_commune").first().reset_index()
    newly = newly[["code_commune", "nom", "year", "p_deficit", "apl_mean"]]
    installations = pd.DataFrame({
        "rank": [1, 2], "code_commune": ["00003", "00007"], "nom": ["Commune 2", "Commune 6"],
        "gps": [2, 1], "population_lifted": [1200.0, 300.0], "gap_closed": [0.4, 0.1],
        "population_in_deficit": [1400.0, 1100.0],
    })
    return fc, summary, newly, installations


def grid_network(n: int = 6, spacing_deg: float = 0.01) -> RoadNetwork:
    """A ``n x n`` grid of two-way streets with different times each way (node order kept)."""
    u, v, tt = [], [], []
    rng = np.random.default_rng(7)
    for i in range(n):
        for j in range(n):
            a = i * n + j
            for b in ([a + 1] if j + 1 < n else []) + ([a + n] if i + 1 < n else []):
                u += [a, b]
                v += [b, a]
                tt += [float(rng.uniform(30, 120)), float(rng.uniform(30, 120))]
    lon = 9.0 + spacing_deg * (np.arange(n * n) % n)
    lat = 42.0 + spacing_deg * (np.arange(n * n) // n)
    tt = np.array(tt)
    return RoadNetwork.from_edges(np.array(u), np.array(v), tt, tt * 10, lon, lat,
                                  np.arange(n * n) + 100, node_order="input")


def _png_ok(path: Path, min_side: int = 600) -> None:
    from PIL import Image

    assert path.is_file()
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert min(im.size) >= min_side
        colours = im.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is None or len(colours) > 20, "the image is (nearly) blank"


# --------------------------------------------------------------------------- file writers


def test_write_communes_gpkg_and_csv(tmp_path):
    import pyogrio

    communes = make_communes()
    files = outputs.write_communes(communes, tmp_path)
    assert [f.name for f in files] == ["communes.gpkg", "communes.csv"]
    layers = pyogrio.list_layers(tmp_path / "communes.gpkg")
    assert [name for name, _ in layers] == ["communes"]
    back = gpd.read_file(tmp_path / "communes.gpkg", layer="communes")
    for col in communes.columns:
        assert col in back.columns
    assert back.crs.to_epsg() == 4326
    assert list(back.code_commune) == list(communes.code_commune)
    csv = pd.read_csv(tmp_path / "communes.csv", dtype={"code_commune": str, "departement": str})
    assert "geometry" not in csv.columns
    assert csv.code_commune.iloc[0] == "00001"
    assert csv.departement.iloc[0] == "01"
    np.testing.assert_allclose(csv.apl, communes.apl)
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_numeric_codes_are_zero_padded(tmp_path):
    df = pd.DataFrame({"code_commune": [1001, 2004], "departement": [1, 2], "apl": [2.0, 3.0]})
    outputs.write_table(df, tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[1].startswith("01001,01,")
    assert lines[2].startswith("02004,02,")


def test_write_atomic_publishes_a_whole_new_set(tmp_path):
    out = tmp_path / "run"
    outputs.write_atomic(out, [lambda d: (d / "communes.csv").write_text("old"),
                               lambda d: (d / "installations.csv").write_text("old")])
    (out / "mes_notes.txt").write_text("keep me")  # the planner's own file
    communes = make_communes()
    fc, summary, newly, inst = make_forecast(communes)
    files = outputs.write_atomic(out, {
        "communes": lambda d: outputs.write_communes(communes, d),
        "forecast": lambda d: outputs.write_table(fc, d / "forecast.csv"),
        "summary": lambda d: outputs.write_table(summary, d / "forecast_summary.csv"),
        "nested": lambda d: (d / "maps").mkdir() or (d / "maps" / "a.txt").write_text("x"),
    })
    names = sorted(p.relative_to(out).as_posix() for p in files)
    assert names == ["communes.csv", "communes.gpkg", "forecast.csv", "forecast_summary.csv",
                     "maps/a.txt"]
    assert (out / "communes.csv").read_text() != "old"
    # The previous set's files go (no stale installations.csv); the user's file stays.
    assert not (out / "installations.csv").exists()
    assert (out / "mes_notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"], "staging folder left behind"
    assert json.loads((out / outputs.MARKER).read_text())["files"] == names


def test_write_atomic_refuses_folders_it_did_not_write(tmp_path, monkeypatch):
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "budget.docx").write_text("x")
    with pytest.raises(InputError, match="did not write"):
        outputs.write_atomic(foreign, [lambda d: (d / "a.csv").write_text("1")])
    assert sorted(p.name for p in foreign.iterdir()) == ["budget.docx"]
    # Outputs of a version without the record are recognised by their names.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "report.html").write_text("old")
    outputs.write_atomic(legacy, [lambda d: (d / "report.html").write_text("new")])
    assert (legacy / "report.html").read_text() == "new"
    monkeypatch.chdir(legacy)
    for bad in ("", " ", ".", str(tmp_path)):
        with pytest.raises(InputError):
            outputs.prepare_output(bad)


def test_write_atomic_cleans_what_killed_runs_left(tmp_path):
    out = tmp_path / "run"
    outputs.write_atomic(out, [lambda d: (d / "a.csv").write_text("1")])
    dead = 2**22 + 12345  # above the default pid_max: no such process
    stale = tmp_path / f".run.staging-{dead}-abcd"
    stale.mkdir()
    (stale / "half.csv").write_text("x")
    outputs.write_atomic(out, [lambda d: (d / "a.csv").write_text("2")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # Killed between setting the old set aside and publishing: the old set is put back.
    aside = tmp_path / f".run.old-{dead}-abcd"
    out.rename(aside)
    assert outputs.prepare_output(out) == out and (out / "a.csv").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_write_atomic_follows_a_symlink_to_its_folder(tmp_path):
    real = tmp_path / "elsewhere" / "run"
    outputs.write_atomic(real, [lambda d: (d / "a.csv").write_text("1")])
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    outputs.write_atomic(link, [lambda d: (d / "a.csv").write_text("2")])
    assert link.is_symlink() and (link / "a.csv").read_text() == "2"
    assert sorted(p.name for p in real.parent.iterdir()) == ["run"]


def test_write_atomic_failure_leaves_previous_outputs(tmp_path):
    out = tmp_path / "run"
    outputs.write_atomic(out, [lambda d: (d / "communes.csv").write_text("previous run")])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    communes = make_communes()

    def broken(d: Path) -> None:
        (d / "half.csv").write_text("half written")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full") as info:
        outputs.write_atomic(out, [lambda d: outputs.write_communes(communes, d), broken])
    assert any("left unchanged" in note for note in getattr(info.value, "__notes__", []))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"], "staging folder left behind"


def test_write_atomic_creates_missing_folder(tmp_path):
    out = tmp_path / "a" / "b"
    outputs.write_atomic(out, [lambda d: (d / "x.txt").write_text("1")])
    assert (out / "x.txt").read_text() == "1"


def test_atomic_path_failure_keeps_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(ValueError), outputs.atomic_path(target) as tmp:
        tmp.write_text("new")
        raise ValueError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_isochrones(tmp_path):
    iso = gpd.GeoDataFrame({"source": ["a", "a", "b"], "minutes": [10, 20, 10]},
                           geometry=[box(9, 42, 9.1, 42.1), box(9, 42, 9.2, 42.2), None],
                           crs="EPSG:4326")
    path = outputs.write_isochrones(iso, tmp_path / "isochrones.gpkg")
    back = gpd.read_file(path, layer="isochrones")
    assert list(back.minutes) == [10, 20, 10]
    assert outputs.write_isochrones(None, tmp_path / "none.gpkg") is None
    assert not (tmp_path / "none.gpkg").exists()


def test_write_communes_corsica(mirror, tmp_path):
    g = gpd.read_file(mirror / "insee" / "communes_corse.gpkg", layer="communes")
    g = g.rename(columns={"population_municipale": "pop_totale"})
    g["apl"] = np.log1p(g.pop_totale) / 2
    g["classe"] = _classe(g["apl"].to_numpy())
    out = tmp_path / "out"
    outputs.write_atomic(out, [lambda d: outputs.write_communes(g, d)])
    back = gpd.read_file(out / "communes.gpkg", layer="communes")
    assert len(back) == 360
    assert set(g.columns) <= set(back.columns)
    csv = pd.read_csv(out / "communes.csv", dtype={"code_commune": str})
    assert csv.code_commune.str.match(r"^2[AB]\d{3}$").all()
    assert list(csv.code_commune) == list(g.code_commune)


# --------------------------------------------------------------------------- rasters


def _brute_nearest(net: RoadNetwork, sources, max_minutes=None) -> np.ndarray:
    """Minutes from each node to its nearest source: one networkx Dijkstra per source."""
    rev = net.to_networkx().reverse(copy=True)
    best = np.full(net.n_nodes, np.inf)
    for s in set(int(x) for x in sources):
        for node, secs in nx.single_source_dijkstra_path_length(rev, s, weight="travel_time").items():
            best[node] = min(best[node], secs / 60.0)
    if max_minutes is not None:
        best[best > max_minutes] = np.inf
    return best


@pytest.mark.parametrize("max_minutes", [None, 3.0])
def test_travel_time_to_nearest_matches_bruteforce(max_minutes):
    net = grid_network()
    sources = [0, 21, 21, 35]
    got = _to_nearest(net, sources, max_minutes=max_minutes)
    want = _brute_nearest(net, sources, max_minutes)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=1e-12)
    assert (got[[0, 21, 35]] == 0).all()


def test_travel_time_to_nearest_zero_weights_random():
    # Integer weights include zeros: a stored zero must count as reached, not as missing.
    net = random_network(80, 400, seed=3, integer_weights=True)
    sources = [1, 5, 40]
    got = _to_nearest(net, sources, max_minutes=None)
    want = _brute_nearest(net, sources)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=1e-12)
    assert (got == 0).sum() >= len(sources)


def test_travel_time_to_nearest_no_source():
    net = grid_network(3)
    assert np.isinf(_to_nearest(net, [])).all()


def test_rasterize_and_geotiff(tmp_path):
    import rasterio
    from pyproj import Transformer

    net = grid_network()
    minutes = _to_nearest(net, [0, 35], max_minutes=60)
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    x, y = to_l93.transform(net.lon, net.lat)
    # A frame reaching 10 km beyond the network, so that some cells are off-network.
    bounds = (min(x) - 10_000, min(y) - 10_000, max(x) + 10_000, max(y) + 10_000)
    array, transform, crs = surface.rasterize_travel_time(
        net, minutes, resolution_m=200, bounds=bounds, access_speed_kmh=20, max_access_m=1500)
    assert crs.to_epsg() == 2154
    assert array.dtype == np.float32
    valid = array != surface.NODATA
    assert valid.any() and (~valid).any()
    assert (array[valid] >= 0).all()
    # The corners of the frame are > max_access_m from every node.
    assert array[0, 0] == surface.NODATA and array[-1, -1] == surface.NODATA

    # Cell containing source node 0: only the off-road access (< one cell diagonal) is added.
    row, col = rasterio.transform.rowcol(transform, x[0], y[0])
    assert 0 <= array[row, col] <= 200 * 1.5 / (20_000 / 60)
    # Every valid cell is at least the best "node time + straight line" over all nodes.
    rows, cols = np.nonzero(valid)
    cx, cy = rasterio.transform.xy(transform, rows, cols)
    d = np.hypot(np.subtract.outer(cx, x), np.subtract.outer(cy, y))
    lower = np.where(d <= 1500, minutes[None, :] + d / (20_000 / 60), np.inf).min(axis=1)
    assert (array[rows, cols] >= lower.astype(np.float32) - 1e-3).all()

    path = outputs.write_geotiff(tmp_path / "travel_time.tif", array, transform, crs)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 2154
        assert src.nodata == surface.NODATA
        assert src.dtypes[0] == "float32"
        assert src.compression is not None
        band = src.read(1)
    np.testing.assert_array_equal(band, array)
    assert [p.name for p in tmp_path.iterdir()] == ["travel_time.tif"]


def test_rasterize_mask_blanks_outside():
    net = grid_network()
    minutes = _to_nearest(net, [0])
    half = box(8.9, 41.9, 9.025, 42.2)  # west half of the grid only
    full, _, _ = surface.rasterize_travel_time(net, minutes, resolution_m=250)
    masked, _, _ = surface.rasterize_travel_time(net, minutes, resolution_m=250, mask=half)
    assert (masked != surface.NODATA).sum() < (full != surface.NODATA).sum()
    assert ((masked == full) | (masked == surface.NODATA)).all()


# --------------------------------------------------------------------------- maps and report


def test_french_number_formats():
    assert french.fmt_int(1234567) == "1\u202f234\u202f567"
    assert french.fmt_dec(2.5) == "2,50"
    assert french.fmt_dec(float("nan")) == "–"
    assert maps.class_key("Hors zone") == "hors-zone"
    assert maps.class_key("Intermédiaire") == "intermediaire"
    assert maps.class_key("unknown") is None


_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?(?:src|href)\s*=\s*["']?(?:https?:)?//""",
                       re.IGNORECASE)


def test_report_is_self_contained(tmp_path):
    communes = make_communes()
    fc, summary, newly, inst = make_forecast(communes)
    m1 = maps.map_apl_png(communes, tmp_path / "map_apl.png")
    m2 = maps.map_forecast_png(communes, fc, tmp_path / "map_forecast.png")
    zs = communes.groupby("classe").agg(communes=("code_commune", "size"),
                                        population=("pop_totale", "sum")).reset_index()
    path = report.write_report(tmp_path / "report.html", region_name="Test <Région>",
                               communes=communes, zoning_summary=zs, forecast_summary=summary,
                               newly_in_deficit=newly, installations=inst,
                               maps={"apl": m1, "forecast": m2}, scenario_name="base",
                               meta={"seed": 42, "draws": 200})
    text = path.read_text(encoding="utf-8")
    assert not _EXTERNAL.search(text)
    for ident in ("map-apl", "map-forecast", "forecast-chart", "population-by-class",
                  "new-deficit", "installations"):
        assert f'id="{ident}"' in text, ident
    assert text.count("data:image/png;base64,") == 3
    assert "Test &lt;Région&gt;" in text  # escaped
    assert "2\u202f600" in text  # final-year population, French thousands separator
    assert "ODbL" in text and "42" in text


def test_report_zoning_table_is_grouped_by_class(tmp_path):
    from engine.apl import zoning_summary

    communes = make_communes()
    known = communes.dropna(subset=["apl"])
    codes = np.where(np.arange(len(known)) % 2 == 0, "01001", "02001")  # two départements
    zs = zoning_summary(known["apl"], known["pop_totale"], known["pop_totale"], code_commune=codes)
    # As engine.apl returns it (indexed by département) and as the CLI writes it (a column).
    for frame in (zs, zs.rename_axis("departement").reset_index()):
        path = report.write_report(tmp_path / "r.html", region_name="X", communes=communes,
                                   zoning_summary=frame)
        text = path.read_text(encoding="utf-8")
        table = text[text.index('<table class="zoning">'):]
        table = table[:table.index("</table>")]
        assert table.count('colspan="3"') == 3
        assert "APL moyen" in table and "Ensemble" in table and "Département" in table
        assert "Share" not in table and "Mean" not in table and ">total<" not in table


def test_report_minimal(tmp_path):
    path = report.write_report(tmp_path / "r.html", region_name="X", communes=make_communes(),
                               zoning_summary=None)
    text = path.read_text(encoding="utf-8")
    assert 'id="population-by-class"' in text
    assert 'id="forecast-chart"' not in text
