"""The maps: static PNGs for slides and the interactive map.html, in a real headless Chromium.

Synthetic communes made in code (:func:`test_outputs.make_communes`) with every column the
CLI gives the maps, plus the real Corsican commune polygons from the data mirror. The
browser tests run offline (network emulated off): the OpenStreetMap tiles are the only
request the map may make, and their failure must cost nothing else. Hostile names
(``<img src=x onerror=alert(1)>``...) are put in every user-supplied string; every tooltip
and popup is then opened through Leaflet's API, and the test fails if any script runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from browser import Browser, chromium, problems
from shapely.geometry import box
from test_outputs import _EXTERNAL, _png_ok, make_communes, make_forecast

from engine import french, maps
from engine.errors import InputError

YEAR, FINAL = 2024, 2027
TILES = ("https://tile.openstreetmap.org/",)

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '"><script>alert(2)</script>',
    "javascript:alert(3)",
    "</script><script>alert(4)</script>",
    "<svg onload=alert(5)>",
    "L'Île-Rousse & « Ota »",
    "@DATA@ {{ 7*7 }} ${alert(6)}",
    "<a href=\"javascript:alert(7)\">clic</a>",
]


def planner_table(names=None) -> gpd.GeoDataFrame:
    """The synthetic communes with every column ``commune_table`` + ``with_forecast`` give."""
    g = make_communes()
    fc, *_ = make_forecast(g, years=range(YEAR, FINAL + 1))
    last = fc[fc["year"] == FINAL].set_index("code_commune")
    g["apl_officiel"] = g["apl"]
    g["apl_modele"] = g["apl"] * 1.1
    g["practitioners"] = np.arange(len(g)) % 4
    g["apl_forecast"] = g["code_commune"].map(last["apl_mean"])
    g["apl_forecast_p10"] = g["code_commune"].map(last["apl_p10"])
    g["apl_forecast_p90"] = g["code_commune"].map(last["apl_p90"])
    g["p_deficit_forecast"] = g["code_commune"].map(last["p_deficit"])
    first = fc[fc["apl_mean"] < 2.5].groupby("code_commune")["year"].min()
    g["annee_deficit"] = g["code_commune"].map(first)
    if names is not None:
        g["nom"] = [names[k % len(names)] for k in range(len(g))]
    return g


def zone_inputs(names=("Pays d'Ajaccio", "Celavu & Prunelli")):
    g = make_communes()
    zone_of = pd.DataFrame({"code_commune": g["code_commune"],
                            "zone": np.where(np.arange(len(g)) < 8, "Z1", "Z2")})
    zones = pd.DataFrame({"zone": ["Z1", "Z2"], "zone_nom": list(names[:2]),
                          "communes": [8, 8], "apl": [2.1, 3.6],
                          "classe": ["sous-dense", "intermediaire"],
                          "pop_totale": [50_000.0, 40_000.0], "pop_deficit": [20_000.0, 1_500.0]})
    return zones, zone_of


def installation_inputs(labels=("MSP de Piedicroce", None)) -> pd.DataFrame:
    return pd.DataFrame({
        "lon": [8.73, 8.78, 8.83], "lat": [41.93, 41.98, 42.03],
        "label": [labels[0], labels[1 % len(labels)], None], "gps": [3, 1, 1],
        "year": [2025, FINAL, FINAL], "kind": ["prévue", "proposée", "proposée"],
        "nom": ["Commune 2", "Commune 6", "Commune 11"],
        "code_commune": ["00003", "00007", "00012"], "rank": [None, 1, 2],
        "population_lifted": [None, 1200.0, 300.0]})


def full_map(path, **kw):
    """map_html with every layer, as the CLI passes them after a forecast."""
    g = kw.pop("communes", None)
    g = planner_table() if g is None else g
    zones, zone_of = kw.pop("zones", None) or zone_inputs()
    gps = pd.DataFrame({"lon": [8.72, 8.72, 8.8], "lat": [41.92, 41.92, 42.0],
                        "code_commune": ["00001", "00001", "00006"]})
    iso = gpd.GeoDataFrame({"source": ["a", "b", "a", "b"], "minutes": [10, 10, 20, 20]},
                           geometry=[box(8.7, 41.9, 8.75, 41.95), box(8.74, 41.9, 8.8, 41.95),
                                     box(8.7, 41.9, 8.8, 42.0), box(8.75, 41.9, 8.85, 42.05)],
                           crs="EPSG:4326")
    args = {"practitioners_points": gps, "isochrones": iso, "year": YEAR, "forecast_year": FINAL,
            "scenario": "Départ à 65 ans", "draws": 1000,
            "installations": installation_inputs(), "zones": zones, "zone_of": zone_of}
    args.update(kw)
    return maps.map_html(g, path, **args)


def map_data(path) -> dict:
    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="apl-map-data">(.*?)</script>', text, re.S)
    assert found, "no map data in the page"
    return json.loads(found.group(1))


# --------------------------------------------------------------------------- static maps
@pytest.fixture
def figures(monkeypatch):
    """The figures the static maps save, by file name (to read their texts)."""
    saved = {}
    real = maps._save_png

    def keep(fig, path, facts=None):
        saved[path.name] = fig
        return real(fig, path, facts)

    monkeypatch.setattr(maps, "_save_png", keep)
    return saved


def _texts(fig) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text().strip()]


def _metadata(path) -> dict:
    from PIL import Image

    with Image.open(path) as im:
        return {k[4:]: v for k, v in im.text.items() if k.startswith("apl:")}


def test_static_maps_synthetic(tmp_path):
    communes = make_communes()
    fc, *_ = make_forecast(communes)
    _png_ok(maps.map_apl_png(communes, tmp_path / "map_apl.png", subtitle="Test"))
    _png_ok(maps.map_apl_png(communes, tmp_path / "map_u65.png", column="classe_u65"))
    _png_ok(maps.map_apl_png(communes, tmp_path / "map_num.png", column="apl"))
    _png_ok(maps.map_forecast_png(communes, fc, tmp_path / "map_forecast.png"))
    _png_ok(maps.map_apl_png(make_communes(points=True), tmp_path / "map_points.png"))
    zones, zone_of = zone_inputs()
    _png_ok(maps.map_zones_png(communes, zones, zone_of, tmp_path / "map_zones.png", year=YEAR))
    with pytest.raises(ValueError, match="no forecast for year"):
        maps.map_forecast_png(communes, fc, tmp_path / "x.png", year=1990)
    assert not (tmp_path / "x.png").exists()


def test_static_maps_for_slides(tmp_path, figures):
    """Year and scenario in the titles, plain French, a straight north arrow, French numbers."""
    from matplotlib.text import Annotation

    communes = make_communes()
    fc, *_ = make_forecast(communes, years=range(YEAR, FINAL + 1))
    zones, zone_of = zone_inputs()
    maps.map_apl_png(communes, tmp_path / "map_apl.png", year=YEAR, subtitle="Corse")
    maps.map_forecast_png(communes, fc, tmp_path / "map_forecast.png",
                          scenario="Départ à 65 ans", draws=1000)
    maps.map_zones_png(communes, zones, zone_of, tmp_path / "map_zones.png", year=YEAR)
    apl, forecast, zone = (_texts(figures[n]) for n in ("map_apl.png", "map_forecast.png",
                                                          "map_zones.png"))
    assert any(t.endswith(f"(APL) en {YEAR}") for t in apl)
    assert any(t == f"Risque d'être sous-dense en {FINAL}" for t in forecast)
    assert "Scénario : Départ à 65 ans" in forecast
    assert (f"Probabilité, sur 1\u202f000 simulations, que la commune soit sous-dense "
            f"(APL < 2,5) en {FINAL}") in forecast
    assert any(t.endswith(f"médecins généralistes en {YEAR}") for t in zone)
    for texts in (apl, forecast, zone):
        joined = "\n".join(texts)
        assert "tirage" not in joined.lower()
        # No decimal point, no unformatted thousands (years excepted), no % without its space.
        assert not re.search(r"\d\.\d", joined), joined
        assert not re.search(r"(?<![\d\u202f])(?!(?:19|20)\d\d\b)\d{4,}", joined), joined
        assert not re.search(r"\d %|\d%", joined), joined
        assert "km" in texts and "0" in texts  # the scale bar: 0, half, length, unit
    for name in ("map_apl.png", "map_forecast.png", "map_zones.png"):
        arrows = [a for a in figures[name].findobj(Annotation) if a.arrow_patch is not None]
        assert len(arrows) == 1
        (x_tip, _), (x_base, _) = arrows[0].xy, arrows[0].xyann
        assert x_tip == x_base, "the north arrow must point straight up"


def test_static_maps_take_any_title(tmp_path, figures):
    """Titles come from the user (a scenario file): markup and ``$`` are drawn as written."""
    communes = make_communes()
    fc, *_ = make_forecast(communes)
    maps.map_forecast_png(communes, fc, tmp_path / "f.png", scenario="Coût $x^2$ : 50 000 $",
                          title=HOSTILE[0], subtitle=HOSTILE[5])
    texts = _texts(figures["f.png"])
    assert HOSTILE[0] in texts and HOSTILE[5] in texts
    assert r"Scénario : Coût \$x^2\$ : 50 000 \$" in texts  # matplotlib draws "\$" as "$"
    _png_ok(tmp_path / "f.png")


def test_scale_bar_lengths_are_round():
    for span_km in (3, 8, 15, 40, 90, 120, 260, 700, 1100):
        length = maps._nice_length_km(span_km * 1000.0)
        assert 0.5 <= length / (span_km / 5) <= 2.5
        for text in (maps._km(length), maps._km(length / 2)):
            assert re.fullmatch(r"\d+(,\d)?", text), text  # French, at most one decimal


def test_png_metadata_match_the_tables(tmp_path):
    communes = make_communes()
    fc, *_ = make_forecast(communes, years=range(YEAR, FINAL + 1))
    meta = _metadata(maps.map_apl_png(communes, tmp_path / "a.png", year=YEAR))
    assert meta["year"] == str(YEAR)
    known = communes[communes["classe"].notna()]
    for code, group in known.groupby("classe"):
        assert int(meta[f"population_{code}"]) == round(group["pop_totale"].sum())
        assert int(meta[f"communes_{code}"]) == len(group)
    meta = _metadata(maps.map_forecast_png(communes, fc, tmp_path / "f.png", draws=200))
    last = fc[fc["year"] == FINAL].set_index("code_commune")["p_deficit"]
    likely = communes["code_commune"].map(last) >= 0.5
    assert meta["year"] == str(FINAL) and meta["draws"] == "200"
    assert int(meta["communes_likely"]) == int(likely.sum())
    assert int(meta["population_likely"]) == round(communes.loc[likely, "pop_totale"].sum())


def test_probability_classes():
    assert maps.probability_class([0.0, 0.0999, 0.1, 0.5, 0.8999, 0.9, 1.0, np.nan]).tolist() == \
        [0, 0, 1, 3, 4, 5, 5, -1]
    assert maps._probability_labels()[0] == "Moins de 10\u202f%"
    assert maps._probability_labels()[-1] == "90\u202f% ou plus"


def test_static_maps_corsica(mirror, tmp_path):
    g = gpd.read_file(mirror / "insee" / "communes_corse.gpkg", layer="communes")
    g = g.rename(columns={"population_municipale": "pop_totale"})
    g["apl"] = np.log1p(g.pop_totale) / 2
    g["classe"] = np.where(g.apl < 2.5, "sous-dense", np.where(g.apl < 4, "intermediaire", "hors-zone"))
    _png_ok(maps.map_apl_png(g, tmp_path / "map_apl.png", subtitle="Corse", year=2022),
            min_side=900)


# --------------------------------------------------------------------------- map.html, no browser
def test_map_html_is_self_contained(tmp_path):
    path = full_map(tmp_path / "map.html")
    text = path.read_text(encoding="utf-8")
    assert not _EXTERNAL.search(text), "the map must not load anything from the network"
    assert "L.map(" in text and "leaflet-container" in text  # Leaflet JS and CSS are inline
    # The only network address the page may fetch from is the tile server (the others are
    # attribution links, followed only when clicked).
    fetched = set(re.findall(r"https?://[^\s\"'<>)]+", text)) - {
        "https://www.openstreetmap.org/copyright"}
    assert {u for u in fetched if "{z}" in u} == {maps.OSM_TILES}
    # Every inline script is allowed by its hash, and nothing else.
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
    assert len(scripts) == 2
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "img-src data: https://tile.openstreetmap.org" in csp
    # Communes given as points (no polygons available) are drawn as circle markers.
    points = maps.map_html(make_communes(points=True), tmp_path / "points.html")
    assert map_data(points)["communes"]["features"][0]["geometry"]["type"] == "Point"


def test_map_html_layers_and_tooltips(tmp_path):
    g = planner_table()
    data = map_data(full_map(tmp_path / "map.html", communes=g))
    assert [t["name"] for t in data["themes"]] == [
        f"Zonage officiel {YEAR}", f"Zonage projeté {FINAL}", f"Probabilité de déficit {FINAL}",
        "Année de passage sous le seuil"]
    assert data["scenario"] == "Départ à 65 ans"
    assert data["tiles"]["name"] == "Fond de carte OpenStreetMap"
    assert data["tiles"]["attribution"].endswith("OpenStreetMap contributors</a>")
    # Every theme's legend adds up to the population, and each commune's class is in it.
    total = g["pop_totale"].sum()
    feats = data["communes"]["features"]
    assert len(feats) == len(g)
    for k, theme in enumerate(data["themes"]):
        values = [float(r["value"].replace("\u202f", "").replace(" hab.", "")) for r in theme["rows"]]
        assert sum(values) == pytest.approx(total, abs=len(values))
        assert all(0 <= f["properties"]["k"][k] < len(theme["rows"]) for f in feats)
    # The official class of each commune is the one in the table.
    official = {r["label"]: i for i, r in enumerate(data["themes"][0]["rows"])}
    legend = {e.code: e.long_label for e in maps.zoning_legend()}
    for f, cls in zip(feats, g["classe"], strict=True):
        want = official[legend[cls]] if isinstance(cls, str) else official[maps.MISSING[0]]
        assert f["properties"]["k"][0] == want
    # A tooltip, in French.
    i = int(np.flatnonzero(g["annee_deficit"].gt(YEAR).to_numpy())[0])
    row = g.iloc[i]
    tip = dict(feats[i]["properties"]["t"]["r"])
    assert feats[i]["properties"]["t"]["h"] == f"{row['nom']} ({row['code_commune']})"
    assert tip["Population"] == f"{french.fmt_int(row['pop_totale'])} hab."
    assert tip[f"APL {YEAR}"].startswith(french.fmt_dec(row["apl"]))
    assert tip[f"APL médian en {FINAL}"].startswith(french.fmt_dec(row["apl_forecast"]))
    assert tip["80\u202f% des simulations"] == (f"entre {french.fmt_dec(row['apl_forecast_p10'])} "
                                            f"et {french.fmt_dec(row['apl_forecast_p90'])}")
    assert tip[f"Probabilité d'être sous-dense en {FINAL}"] == french.fmt_pct(
        row["p_deficit_forecast"], 0)
    assert tip["Passage sous 2,5"] == str(int(row["annee_deficit"]))
    assert tip["Territoire"].startswith(("Pays d'Ajaccio · APL 2,10", "Celavu & Prunelli · APL 3,60"))
    # Zones dissolved into two outlines; isochrones dissolved into one polygon per band.
    assert len(data["zones"]["features"]) == 2
    assert [b["minutes"] for b in data["isochrones"]] == ["20", "10"]
    assert all(len(b["geojson"]["features"]) == 1 for b in data["isochrones"])
    assert data["show_isochrones"] is False
    assert data["isochrones_legend"] == ("Isochrones : 10, 20 min de route d'un "
                                         "médecin généraliste")
    # Installations: one planned, two proposed, with their figures.
    assert len(data["installations"]["planned"]) == 1
    assert len(data["installations"]["proposed"]) == 2
    first = data["installations"]["proposed"][0]
    assert first["badge"] == "+1" and dict(first["t"]["r"])[
        "Habitants sortis de la sous-densité"] == "1\u202f200 hab."
    assert data["practitioners_legend"] == "Médecins généralistes (3)"


def test_map_html_without_forecast_or_basemap(tmp_path):
    communes = make_communes()
    data = map_data(maps.map_html(communes, tmp_path / "map.html", tiles=None))
    assert [t["name"] for t in data["themes"]] == ["Zonage"]  # no official values, no year
    assert data["tiles"] is None and data["zones"] is None
    text = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "img-src data:;" in text


def test_map_html_rejects_bad_installations(tmp_path):
    bad = installation_inputs().assign(kind=["prévue", "demain", "proposée"])
    with pytest.raises(InputError, match="neither 'prévue' nor 'proposée'"):
        full_map(tmp_path / "map.html", installations=bad)
    with pytest.raises(InputError, match="need a column 'kind'"):
        full_map(tmp_path / "map.html", installations=installation_inputs().drop(columns="kind"))
    assert not (tmp_path / "map.html").exists()
    # Tables glued together keep repeated index labels: that is no error.
    twice = pd.concat([installation_inputs(), installation_inputs()])
    data = map_data(full_map(tmp_path / "map.html", installations=twice))
    assert [len(data["installations"][k]) for k in ("planned", "proposed")] == [2, 4]


def test_hostile_names_never_reach_the_page_as_markup(tmp_path):
    g = planner_table(HOSTILE)
    path = full_map(tmp_path / "map.html", communes=g, title=HOSTILE[0], subtitle=HOSTILE[1],
                    scenario=HOSTILE[3], zones=zone_inputs(HOSTILE[:2]),
                    installations=installation_inputs(HOSTILE[4:6]))
    text = path.read_text(encoding="utf-8")
    # The page has its three scripts and no other tag than the template's and Leaflet's.
    assert text.count("<script") == 3 and text.count("</script>") == 3
    for bad in ("<img src=x", "<svg onload", "<a href=\"javascript", "<script>alert"):
        assert bad not in text, bad
    assert "<title>&lt;img src=x onerror=alert(1)&gt;</title>" in text
    data = map_data(path)  # and the names come back intact
    assert {f["properties"]["t"]["h"].rsplit(" (", 1)[0]
            for f in data["communes"]["features"]} == set(HOSTILE)


# --------------------------------------------------------------------------- map.html in Chromium
@pytest.fixture(scope="module")
def browser():
    b = Browser(chromium())
    try:
        b.offline()
        yield b
    finally:
        b.close()


#: Installed before the page's scripts: records every dialog a script would open.
_TRAP = """
window.__ran = [];
for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
  window[name] = function () { window.__ran.push(name + ":" + [...arguments].join(",")); };
}
"""

#: Every layer on the map, then every tooltip and popup opened through Leaflet's API.
_OPEN_ALL = """
(() => {
  const m = aplMap.map;
  const layers = [...aplMap.themes, ...Object.values(aplMap.overlays)];
  let opened = 0;
  const visit = (layer) => {
    if (layer.getTooltip && layer.getTooltip()) { layer.openTooltip(); opened++; }
    if (layer.getPopup && layer.getPopup()) { layer.openPopup(); opened++; }
    if (layer.eachLayer) layer.eachLayer(visit);
  };
  for (const layer of layers) { m.addLayer(layer); visit(layer); }
  return opened;
})()
"""

_INJECTED = """
(() => {
  const handlers = [...document.querySelectorAll("*")]
    .flatMap(e => [...e.attributes].filter(a => /^on/i.test(a.name)).map(a => e.tagName + " " + a.name));
  const links = [...document.querySelectorAll("[href], [src]")]
    .map(e => e.getAttribute("href") || e.getAttribute("src"))
    .filter(u => /^\\s*javascript:/i.test(u) || u === "x");
  return {ran: window.__ran, handlers: handlers, links: links,
          scripts: document.scripts.length,
          svg_img: document.querySelectorAll("#apl-map img:not(.leaflet-tile), svg[onload]").length};
})()
"""


def _open_everything(browser, url: str) -> tuple[list[dict], int, dict]:
    trap = browser.before_scripts(_TRAP)
    try:
        events = browser.open(url)
        opened = browser.eval(_OPEN_ALL)
        time.sleep(0.6)  # an injected <img onerror> would fire once its load has failed
        return events, opened, browser.eval(_INJECTED)
    finally:
        browser.forget(trap)


def test_the_script_trap_catches_an_injection(browser, tmp_path):
    """The harness itself: an unescaped name put into innerHTML is caught."""
    page = tmp_path / "naive.html"
    page.write_text("<!DOCTYPE html><div id=t></div><script>"
                    "window.aplMap = {map: {addLayer() {}}, themes: [], overlays: {}};"
                    f"document.getElementById('t').innerHTML = {json.dumps(HOSTILE[0])};"
                    "</script>", encoding="utf-8")
    _, _, found = _open_everything(browser, page.as_uri())
    assert found["ran"] == ["alert:1"]


@pytest.mark.parametrize("bypass_csp", [True, False], ids=["escaping-alone", "with-csp"])
def test_hostile_names_run_no_script(browser, tmp_path, bypass_csp):
    """Every tooltip and popup opened, on every theme and overlay: no script runs. With the
    page's Content-Security-Policy bypassed, this tests the escaping alone."""
    g = planner_table(HOSTILE)
    gps = pd.DataFrame({"lon": [8.72, 8.8], "lat": [41.92, 42.0], "code_commune": ["00001", "00006"],
                        "label": [HOSTILE[0], HOSTILE[7]]})
    path = full_map(tmp_path / "map.html", communes=g, title=HOSTILE[0], subtitle=HOSTILE[1],
                    scenario=HOSTILE[3], zones=zone_inputs(HOSTILE[4:6]),
                    installations=installation_inputs(HOSTILE[:2]), practitioners_points=gps)
    browser.bypass_csp(bypass_csp)
    try:
        events, opened, found = _open_everything(browser, path.as_uri())
        # The control: with the policy bypassed, markup put into the page would run (so the
        # result above is the escaping's); with it, it would not.
        browser.eval("window.__ran = []; document.body.insertAdjacentHTML('beforeend', "
                     "'<img src=x onerror=\"alert(8)\">')")
        time.sleep(0.6)
        assert browser.eval("window.__ran") == (["alert:8"] if bypass_csp else [])
    finally:
        browser.bypass_csp(False)
    assert problems(events, allow=TILES) == []
    # 16 communes x 4 themes, 2 zones, 2 practitioner points, 3 installations.
    assert opened == 16 * 4 + 2 + 2 + 3
    assert found == {"ran": [], "handlers": [], "links": [], "scripts": 3, "svg_img": 0}
    shown = browser.eval("[...document.querySelectorAll('.leaflet-tooltip, .apl-panel')]"
                         ".map(e => e.textContent).join('\\n')")
    for name in HOSTILE:
        assert name in shown, name  # shown as written
    assert browser.eval("document.title") == HOSTILE[0]


def test_csp_blocks_an_inline_handler(browser, tmp_path):
    """Defence in depth: were a name ever put into the page as HTML, its handler would not run."""
    path = full_map(tmp_path / "map.html")
    trap = browser.before_scripts(_TRAP)
    try:
        browser.open(path.as_uri())
        browser.eval("document.body.insertAdjacentHTML('beforeend', "
                     "'<img src=x onerror=\"alert(9)\">')")
        time.sleep(0.6)
        assert browser.eval("window.__ran") == []
    finally:
        browser.forget(trap)


def test_map_loads_offline_and_renders(browser, tmp_path):
    path = full_map(tmp_path / "map.html")
    events = browser.open(path.as_uri())
    assert problems(events, allow=TILES) == []
    tiles = [e for e in events if e.get("method") == "Network.requestWillBeSent"
             and e["params"]["request"]["url"].startswith(TILES)]
    assert tiles, "the basemap should have been asked for"
    assert browser.eval("typeof L") == "object", "Leaflet did not load"
    assert not browser.eval("document.getElementById('apl-map').classList.contains('apl-basemap-on')")
    # 16 communes, 2 zone outlines, 2 practitioner circles (two share a point), 2 isochrone
    # bands off; 3 installation badges.
    assert browser.eval("document.querySelectorAll('.leaflet-aplCommunes-pane path').length") == 16
    assert browser.eval("document.querySelectorAll('.leaflet-aplZones-pane path').length") == 2
    assert browser.eval("document.querySelectorAll('.leaflet-aplPoints-pane path').length") == 2
    assert browser.eval("document.querySelectorAll('.leaflet-aplIsochrones-pane path').length") == 0
    assert browser.eval("document.querySelectorAll('.leaflet-marker-pane .apl-badge-planned')"
                        ".length") == 1
    assert browser.eval("document.querySelectorAll('.leaflet-marker-pane .apl-badge-proposed')"
                        ".length") == 2
    labels = browser.eval("[...document.querySelectorAll('.leaflet-control-layers label')]"
                          ".map(l => l.textContent.trim())")
    assert labels == [f"Zonage officiel {YEAR}", f"Zonage projeté {FINAL}",
                      f"Probabilité de déficit {FINAL}", "Année de passage sous le seuil",
                      "Fond de carte OpenStreetMap", "Sans fond de carte", "Territoires",
                      "Médecins généralistes", "Installations prévues",
                      "Installations proposées", "Isochrones"]
    attribution = browser.eval("document.querySelector('.leaflet-control-attribution').textContent")
    assert "OpenStreetMap contributors" in attribution and "INSEE, DREES" in attribution
    legend = "document.querySelector('#apl-legend h2').textContent"
    assert browser.eval(legend) == f"Zonage officiel {YEAR}"
    # Switching the theme in the layer control changes the legend; the isochrones switch on.
    for k, title in ((2, f"Probabilité d'être sous-dense en {FINAL}"),
                     (3, "Année de passage sous 2,5"), (0, f"Zonage officiel {YEAR}")):
        browser.eval(f"document.querySelectorAll('.leaflet-control-layers-base input')[{k}].click()")
        assert browser.eval(legend) == title
        assert browser.eval("document.querySelectorAll('.leaflet-aplCommunes-pane path').length") == 16
    browser.eval("[...document.querySelectorAll('.leaflet-control-layers label')]"
                 ".find(l => l.textContent.trim() === 'Isochrones').querySelector('input').click()")
    assert browser.eval("document.querySelectorAll('.leaflet-aplIsochrones-pane path').length") == 2
    assert "Isochrones" in browser.eval("document.getElementById('apl-legend').textContent")
    # Hovering a commune (a real mouse event) shows its tooltip.
    box = browser.eval("(() => { const p = [...document.querySelectorAll('.leaflet-aplCommunes-pane path')]"
                       ".find(e => e.getAttribute('fill') === '#b2182b');"
                       " const r = p.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    for _ in range(2):
        browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0] + 1, "y": box[1]})
        time.sleep(0.2)
    tooltip = browser.eval("(document.querySelector('.leaflet-tooltip') || {}).textContent || ''")
    assert f"APL {YEAR}" in tooltip and "Sous-dense" in tooltip and "Territoire" in tooltip, tooltip


def test_loaded_tiles_make_the_classes_translucent(browser, tmp_path):
    """Online, the classes let the basemap's roads and names show through."""
    tile = tmp_path / "tile.png"
    from PIL import Image

    Image.new("RGB", (256, 256), (200, 200, 200)).save(tile)
    path = full_map(tmp_path / "map.html", tiles=tile.as_uri())
    events = browser.open(path.as_uri())
    assert problems(events) == []
    opacity = ("getComputedStyle(document.querySelector('.leaflet-aplCommunes-pane path'))"
               ".fillOpacity")
    assert browser.eval("document.getElementById('apl-map').classList.contains('apl-basemap-on')")
    assert float(browser.eval(opacity)) == pytest.approx(0.55)
    browser.eval("document.querySelectorAll('.leaflet-control-layers-base input')[5].click()")
    assert float(browser.eval(opacity)) == pytest.approx(0.85)


def test_map_of_corsica_renders(browser, mirror, tmp_path):
    g = gpd.read_file(mirror / "insee" / "communes_corse.gpkg", layer="communes")
    g = g.rename(columns={"population_municipale": "pop_totale"})
    g["apl"] = np.log1p(g.pop_totale) / 2
    g["apl_u65"] = g["apl"] * 0.8
    g["classe"] = np.where(g.apl < 2.5, "sous-dense", np.where(g.apl < 4, "intermediaire", "hors-zone"))
    gps = pd.DataFrame({"lon": g.mairie_lon[:50], "lat": g.mairie_lat[:50],
                        "code_commune": g.code_commune[:50]})
    path = maps.map_html(g, tmp_path / "map.html", practitioners_points=gps, subtitle="Corse",
                         year=2022)
    assert path.stat().st_size < 3_000_000
    events = browser.open(path.as_uri())
    assert problems(events, allow=TILES) == []
    assert browser.eval("document.querySelectorAll('.leaflet-aplCommunes-pane path').length") >= 360


def test_hostile_communes_file_end_to_end(browser, mirror, tmp_path):
    """Issue 16's case: hostile names in the planner's communes and zones files, through
    ``apl compute``; hovering or opening anything on the map runs no script."""
    from engine.cli import main

    export = tmp_path / "export"
    assert main(["data", "export", "--region", "corse", "--out", str(export), "--quiet"]) == 0
    communes = pd.read_csv(export / "communes.csv", dtype={"code_commune": str})
    communes["nom"] = [HOSTILE[k % len(HOSTILE)] for k in range(len(communes))]
    communes.to_csv(tmp_path / "communes.csv", index=False)
    zones = pd.read_csv(mirror / "insee" / "epci_communes.csv", dtype=str)
    zones = zones[zones["code_commune"].isin(communes["code_commune"])]
    zones = zones.rename(columns={"epci_code": "zone"}).assign(
        zone_nom=lambda z: [HOSTILE[k % len(HOSTILE)] for k in range(len(z))])
    zones[["code_commune", "zone", "zone_nom"]].to_csv(tmp_path / "zones.csv", index=False)
    out = tmp_path / "out"
    assert main(["compute", "--no-isochrones", "--quiet", "--out", str(out),
                 "--communes", str(tmp_path / "communes.csv"),
                 "--zones", str(tmp_path / "zones.csv")]) == 0
    events, opened, found = _open_everything(browser, (out / "map.html").as_uri())
    assert problems(events, allow=TILES) == []
    assert opened >= len(communes)
    assert found == {"ran": [], "handlers": [], "links": [], "scripts": 3, "svg_img": 0}
    shown = browser.eval("[...document.querySelectorAll('.leaflet-tooltip')]"
                         ".map(e => e.textContent).join('\\n')")
    assert all(name in shown for name in HOSTILE)
