"""Start from the official APL: year 0 is DREES 2022, the report says one "today", and the
backtest against DREES 2023 is written (Corsica, real data)."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from engine.cli import main
from engine.mirror import read_drees_apl
from scenarios import forecast


@pytest.fixture(scope="module")
def drees(mirror):
    path = mirror / "drees" / "apl_medecins_generalistes_2022_2023.csv"
    d22 = read_drees_apl(path, 2022).set_index("code_commune")
    d23 = read_drees_apl(path, 2023).set_index("code_commune")
    return d22, d23


@pytest.fixture(scope="module")
def forecast_run(mirror, tmp_path_factory):
    out = tmp_path_factory.mktemp("fc") / "out"
    assert main(["forecast", "--out", str(out), "--draws", "200", "--seed", "2", "--quiet"]) == 0
    return out


def test_baseline_reproduces_the_official_values(corse_region, corse_baseline, drees):
    d22, _ = drees
    official = d22.loc[corse_region.codes, "apl"].to_numpy()
    assert corse_baseline.kind == "official"
    assert np.abs(corse_baseline.apl - official).max() < 1e-12
    assert np.abs(corse_baseline.correction.apply(corse_baseline.fitted_apl) - official).max() < 1e-9
    # The calibration places supply where the roster lists nobody: unlisted, with drawn ages.
    assert corse_baseline.n_unlisted > 0 and np.isnan(corse_baseline.slot_age).all()
    assert 0 < corse_baseline.fit.regularisation < 100


def test_forecast_year_zero_is_drees_2022(forecast_run, drees):
    d22, _ = drees
    fc = pd.read_csv(forecast_run / "forecast.csv", dtype={"code_commune": str})
    y0 = fc[fc["year"] == 2022].set_index("code_commune")
    assert len(y0) == 360 and fc["year"].min() == 2022
    diff = (y0["apl_mean"] - d22.loc[y0.index, "apl"]).abs().max()
    assert diff < 1e-9
    assert (y0["apl_p10"] == y0["apl_mean"]).all() and (y0["apl_p90"] == y0["apl_mean"]).all()
    communes = pd.read_csv(forecast_run / "communes.csv", dtype={"code_commune": str})
    assert {"apl", "apl_modele", "apl_officiel", "classe", "classe_modele", "unlisted",
            "annee_deficit"} <= set(communes.columns)
    np.testing.assert_array_equal(communes["apl"].to_numpy(), communes["apl_officiel"].to_numpy())
    summary = pd.read_csv(forecast_run / "forecast_summary.csv")
    assert summary["year"].iloc[0] == 2022
    assert round(summary["share_deficit_mean"].iloc[0], 3) == 0.180


class _Page(HTMLParser):
    """Text by element id, the images' sources and the tables' cells, of the report."""

    _VOID = {"img", "br", "meta", "link", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.images, self.tables = [], {}, {}, {}
        self.table, self.row = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and "id" in a:
            self.images[a["id"]] = a.get("src", "")
        if tag == "table":
            self.table = a.get("id")
            self.tables.setdefault(self.table, [])
        if tag == "tr" and self.table is not None:
            self.row = []
            self.tables[self.table].append(self.row)
        if tag in ("td", "th") and self.row is not None:
            self.row.append("")
        if tag not in self._VOID:
            self.stack.append(a.get("id"))

    def handle_endtag(self, tag):
        if tag == "table":
            self.table, self.row = None, None
        if tag not in self._VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for ident in self.stack:
            if ident:
                self.text[ident] = self.text.get(ident, "") + data
        if self.row:
            self.row[-1] += data


def _png_facts(uri: str) -> dict:
    from PIL import Image

    data = base64.b64decode(uri.split(",", 1)[1])
    return Image.open(io.BytesIO(data)).text


def _number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def test_report_has_one_today(forecast_run):
    page = _Page()
    page.feed((forecast_run / "report.html").read_text("utf-8"))
    card = page.text["card-today"]
    assert "18,0" in card
    today = _number(re.search(r"\d[\d\u202f ]*\d", card.split("2022", 1)[1]).group(0))
    # The first row of the year table, labelled as observed, holds the same population.
    header, first_row = page.tables["forecast-table"][0], page.tables["forecast-table"][1]
    assert first_row[0] == "2022 (observé)"
    assert _number(first_row[header.index("Population en déficit")]) == today
    # The chart starts from it, and the map's legend counts it.
    assert int(_png_facts(page.images["forecast-chart"])["apl:first_population"]) == today
    assert int(_png_facts(page.images["map-apl"])["apl:population_sous-dense"]) == today
    # The practitioner count is the roster's, the calibrated unlisted ones shown apart.
    assert "335" in page.text["card-practitioners"] and "non listés" in page.text["card-practitioners"]
    assert "Contrôle du modèle" in (forecast_run / "report.html").read_text("utf-8")
    assert "Spearman" in page.text["model-check"]


def test_communes_listed_as_falling_really_fall(forecast_run):
    communes = pd.read_csv(forecast_run / "communes.csv", dtype={"code_commune": str})
    new = pd.read_csv(forecast_run / "new_deficit.csv", dtype={"code_commune": str})
    base = communes.set_index("code_commune")["apl"]
    assert len(new) and (new["code_commune"].map(base) >= 2.5).all()
    assert (new["apl_median"] < 2.5).all()


def test_backtest_2022_to_2023(mirror, tmp_path, drees):
    _, d23 = drees
    out = tmp_path / "bt"
    assert main(["backtest", "--from", "2022", "--to", "2023", "--draws", "300", "--out", str(out),
                 "--quiet"]) == 0
    bt = pd.read_csv(out / "backtest.csv", dtype={"code_commune": str})
    assert len(bt) == 360
    assert {"apl_from", "apl_to", "apl_mean", "apl_p10", "apl_p90", "p_deficit", "fell"} <= set(bt.columns)
    np.testing.assert_allclose(bt.set_index("code_commune")["apl_to"],
                               d23.loc[bt["code_commune"], "apl"].to_numpy())
    assert int(bt["fell"].sum()) == 14  # DREES: 14 communes fell under 2.5 in 2022 -> 2023
    summary = pd.read_csv(out / "backtest_summary.csv").set_index("figure")
    share = summary.loc["share_deficit"]
    assert share["observed"] == pytest.approx(0.2031, abs=5e-4)
    # Closer to what happened than keeping 2022's values.
    assert abs(share["forecast"] - share["observed"]) < abs(share["persistence"] - share["observed"])
    assert abs(share["forecast"] - share["observed"]) < 0.01
    assert summary.loc["auc_falls", "forecast"] > 0.5
    html = (out / "report.html").read_text("utf-8")
    assert "2022 → 2023" in html and 'id="unforeseen"' in html


def test_model_baseline_keeps_the_engine_recomputation(corse_region):
    fc = forecast(corse_region, "retire-at-65", draws=20, seed=0, baseline="model")
    y0 = fc.communes[fc.communes["year"] == 2022]
    np.testing.assert_array_equal(y0["apl_mean"].to_numpy(), corse_region.apl())
