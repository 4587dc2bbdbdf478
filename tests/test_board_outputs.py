"""What a planner puts in front of a board, on Corsica: the outputs of ``apl forecast``,
``apl optimize`` and ``apl compare`` (real data).

- the report's assumptions table (plain French, no local path), risk ranking, watch-list,
  per-département table, proposals and comparison chart, read from the HTML;
- the printed PDF (headless Chromium): A4, its page count, no text past the right margin,
  no heading left alone at the foot of a page, every table's last column printed;
- the spreadsheets opened with openpyxl: French headers, accented classes, rounded values,
  codes as text;
- ``--pdf`` without any PDF engine: a clear message before computing, nothing written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from htmlpage import Page, read_page

from engine.cli import main

DRAWS = "120"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path:
        return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{tool} is not installed; CI must install it (apt-get install chromium "
                    "poppler-utils)")
    pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="module")
def runs(mirror, tmp_path_factory):
    """A forecast of the default scenario (with PDF), one of the MSP plan, an optimizer run
    (with PDF) and the comparison of the two forecasts (with PDF)."""
    _need("chromium")
    root = tmp_path_factory.mktemp("board")
    out = {k: root / k for k in ("hazard", "msp", "optimize", "compare")}
    assert main(["forecast", "--out", str(out["hazard"]), "--draws", DRAWS, "--seed", "3",
                 "--quiet", "--pdf"]) == 0
    assert main(["forecast", "--scenario", "new-msp", "--out", str(out["msp"]), "--draws",
                 DRAWS, "--seed", "3", "--quiet", "--no-backtest", "--new", "0"]) == 0
    assert main(["optimize", "--new", "4", "--year", "2027", "--out", str(out["optimize"]),
                 "--quiet", "--pdf"]) == 0
    assert main(["compare", str(out["hazard"]), str(out["msp"]), "--out", str(out["compare"]),
                 "--quiet", "--pdf"]) == 0
    return out


def _rows(page: Page, table: str) -> list[list[str]]:
    return [[c.strip() for c in row] for row in page.tables[table]]


def _percent(text: str) -> float:
    return float(text.replace("\u202f", "").replace("%", "").replace(",", ".").strip()) / 100


# -- the report ---------------------------------------------------------------------------

def test_assumptions_are_written_out_in_french(runs, mirror):
    html = (runs["hazard"] / "report.html").read_text("utf-8")
    page = read_page(runs["hazard"] / "report.html")
    rows = {r[0]: r[1] for r in _rows(page, "assumptions")}
    for label in ("Scénario", "Départs", "Remplacements", "Installations prévues",
                  "Évolution de la demande", "Horizon", "Simulations", "Graine aléatoire",
                  "Point de départ", "Seuil de sous-densité", "Données", "Contrôle du modèle",
                  "Contrôle a posteriori"):
        assert label in rows, label
    assert "Départs progressifs, remplacement partiel" in rows["Scénario"]
    # The hazard table, the replacement rates by class and the delay, in words.
    assert "65 à 66 ans : 20" in rows["Départs"] and "75 ans et plus : 60" in rows["Départs"]
    assert "Sous-dense : 25" in rows["Remplacements"] and "1 an de vacance" in rows["Remplacements"]
    assert "2023 à 2032" in rows["Horizon"] and DRAWS in rows["Simulations"]
    assert "DREES" in rows["Données"] and "OpenStreetMap" in rows["Données"]
    assert "Spearman" in rows["Contrôle du modèle"] and "AUC" in rows["Contrôle a posteriori"]
    # Never a local path, never the English header of earlier versions.
    assert str(mirror) not in html and "scenarios/" not in html and ".toml" not in html
    assert "Retirement hazard" not in html and "retirement-hazard" not in html
    msp = {r[0]: r[1] for r in _rows(read_page(runs["msp"] / "report.html"), "assumptions")}
    assert "Piedicroce (2B219)" in msp["Installations prévues"]
    assert "3 médecins généralistes" in msp["Installations prévues"]
    assert "2024" in msp["Installations prévues"]


def test_risk_ranking_watch_list_and_departements(runs):
    page = read_page(runs["hazard"] / "report.html")
    ranking = _rows(page, "risk-ranking")
    header, body = ranking[0], ranking[1:]
    assert len(body) == 30
    col = header.index("Probabilité 2032")
    probs = [_percent(r[col]) for r in body]
    assert probs == sorted(probs, reverse=True)
    assert "Passage sous le seuil" in header and "Intervalle à 80 %" in header
    risk = pd.read_csv(runs["hazard"] / "risk.csv", dtype={"code_commune": str})
    assert len(risk) == 360 and risk["rang"].tolist() == list(range(1, 361))
    for year in range(2023, 2033):
        for stat in ("apl_median", "apl_p10", "apl_p90"):
            assert f"{stat}_{year}" in risk, (stat, year)
    # The first year under the threshold is the first year whose median is under it.
    fc = pd.read_csv(runs["hazard"] / "forecast.csv", dtype={"code_commune": str})
    first = fc[fc["apl_median"] < 2.5].groupby("code_commune")["year"].min()
    crossing = risk.set_index("code_commune")["annee_deficit"].dropna().astype(int)
    assert crossing.to_dict() == first.reindex(crossing.index).astype(int).to_dict()
    assert crossing.index.nunique() > 200  # today's 212 official communes in deficit and more
    watch = _rows(page, "watch-list")
    wcol = watch[0].index("Probabilité 2032")
    assert watch[1:] and all(0.2 <= _percent(r[wcol]) < 0.5 for r in watch[1:])
    listed = pd.read_csv(runs["hazard"] / "watch_list.csv")
    assert len(listed) == len(watch) - 1
    deps = _rows(page, "departements-forecast")
    assert [r[0] for r in deps[1:]] == ["Corse-du-Sud (2A)", "Haute-Corse (2B)"]
    assert deps[0][1] == "2022 (observé)" and deps[0][-1] == "2032"


def test_proposals_say_whom_they_help_and_in_what_unit(runs):
    for folder, year in ((runs["hazard"], "2032"), (runs["optimize"], "2027")):
        page = read_page(folder / "report.html")
        table = _rows(page, "installations")
        header = table[0]
        for column in ("Commune", "Habitants", f"APL avant ({year})",
                       "Communes sorties de la sous-densité", "Habitants sortis",
                       "Consultations par an ajoutées sous le seuil"):
            assert column in header, (folder.name, column)
        lifted = header.index("Communes sorties de la sous-densité")
        assert any("hab.)" in row[lifted] for row in table[1:])
        objective = page.text["proposals-objective"]
        assert "Unité" in objective and "habitants" in objective
        assert year in page.text["proposals-basis"] or year in (folder / "report.html").read_text()
    opt = read_page(runs["optimize"] / "report.html")
    assert "2027" in opt.text["proposals-basis"] and "65 ans" in opt.text["proposals-basis"]
    assert {"installations.csv", "installations.xlsx", "report.html", "report.pdf", "map.html",
            "map_apl.png", "run.json"} <= {p.name for p in runs["optimize"].iterdir()}
    result = pd.read_csv(runs["optimize"] / "installations.csv", dtype={"code_commune": str})
    assert (result["year"] == 2027).all() and len(result) == 4
    assert (result["n_communes_lifted"] >= 0).all()


def test_comparison_chart_and_differing_communes(runs):
    folder = runs["compare"]
    page = read_page(folder / "report.html")
    assert page.images["compare-chart"].startswith("data:image/png;base64,")
    from PIL import Image

    facts = Image.open(folder / "compare_chart.png").text
    assert facts["apl:scenario_0"] == "Départs progressifs, remplacement partiel"
    assert facts["apl:scenario_1"] == "Départs progressifs et nouvelle maison de santé"
    years = _rows(page, "compare-years")
    assert years[0][1:] == [facts["apl:scenario_0"], facts["apl:scenario_1"]]
    assert years[1][0] == "2022 (observé)" and len(years) == 12
    summary = pd.read_csv(folder / "compare_summary.csv")
    hazard = pd.read_csv(runs["hazard"] / "forecast_summary.csv")
    got = summary[summary["scenario"] == facts["apl:scenario_0"]]["pop_deficit_mean"].to_numpy()
    assert np.array_equal(got, hazard["pop_deficit_mean"].to_numpy())
    differs = pd.read_csv(folder / "compare_communes.csv", dtype={"code_commune": str})
    assert len(differs) > 0
    # The MSP's commune is among those whose outcome changes.
    assert "2B219" in set(differs["code_commune"])
    crossed = (differs["apl_median_0"] < 2.5) != (differs["apl_median_1"] < 2.5)
    assert (crossed | (differs["p_deficit_range"] >= 0.2)).all()
    assert "compare-communes" in page.tables
    # The assumptions side by side, the installations row marked as differing.
    html = (folder / "report.html").read_text("utf-8")
    assert re.search(r'<tr data-key="installations" class="differs">', html)
    assert not re.search(r'<tr data-key="retirement" class="differs">', html)


def test_compare_refuses_what_it_cannot_compare(runs, tmp_path, capsys):
    assert main(["compare", str(runs["hazard"]), str(runs["optimize"]), "--out",
                 str(tmp_path / "x"), "--quiet"]) == 1
    assert "apl optimize" in capsys.readouterr().err and not (tmp_path / "x").exists()
    other = tmp_path / "other"
    shutil.copytree(runs["msp"], other)
    meta = json.loads((other / "run.json").read_text("utf-8"))
    meta["data_year"] = 2023
    (other / "run.json").write_text(json.dumps(meta), "utf-8")
    assert main(["compare", str(runs["hazard"]), str(other), "--out", str(tmp_path / "y"),
                 "--quiet"]) == 1
    assert "different data years" in capsys.readouterr().err


# -- print --------------------------------------------------------------------------------

def _words(pdf: Path) -> tuple[list[tuple[float, float]], list[list[dict]]]:
    """Page sizes and, per page, its lines (text, top, bottom, left, right)."""
    _need("pdftotext")
    xml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    xml = re.sub(r"<!DOCTYPE[^>]*>", "", xml)
    root = ET.fromstring(xml)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    sizes, pages = [], []
    for page in root.iter("{http://www.w3.org/1999/xhtml}page"):
        sizes.append((float(page.get("width")), float(page.get("height"))))
        lines = []
        for line in page.iterfind(".//h:line", ns):
            words = line.findall("h:word", ns)
            lines.append({"text": " ".join(w.text or "" for w in words),
                          "top": float(line.get("yMin")), "bottom": float(line.get("yMax")),
                          "left": float(line.get("xMin")), "right": float(line.get("xMax"))})
        pages.append(lines)
    return sizes, pages


def _headings(html: str) -> set[str]:
    text = re.findall(r"<h[23][^>]*>(.*?)</h[23]>", html, re.S)
    return {re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", t)).strip() for t in text}


@pytest.mark.parametrize(("run", "lo", "hi"), [("hazard", 8, 16), ("optimize", 4, 9),
                                               ("compare", 3, 8)])
def test_printed_report_fits_the_page(runs, run, lo, hi):
    pdf = runs[run] / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    sizes, pages = _words(pdf)
    assert lo <= len(pages) <= hi, len(pages)
    margin = 12 / 25.4 * 72  # the print style's side margins, in points
    for k, ((width, height), lines) in enumerate(zip(sizes, pages, strict=True), start=1):
        assert (round(width), round(height)) == (595, 842), "not A4 portrait"
        assert lines, f"page {k} is empty"
        for line in lines:
            # A table wider than the page would be cut at its right edge or run past it.
            assert line["right"] <= width - margin + 2, (k, line["text"], line["right"])
            assert line["left"] >= margin - 2, (k, line["text"], line["left"])
    html = (runs[run] / "report.html").read_text("utf-8")
    headings = _headings(html)
    for k, lines in enumerate(pages[:-1], start=1):
        last = max(lines, key=lambda line: line["bottom"])
        assert last["text"] not in headings, f"heading {last['text']!r} alone at the foot of page {k}"
    # Every table's last column made it to paper (nothing clipped on the right).
    text = "\n".join(line["text"] for lines in pages for line in lines)
    flat = re.sub(r"\s+", " ", text)
    for header in re.findall(r"<thead><tr>(.*?)</tr>", html, re.S):
        cells = re.findall(r"<th[^>]*>(.*?)</th>", header, re.S)
        last = re.sub(r"<[^>]+>", "", cells[-1]).strip() if cells else ""
        words = [w for w in re.split(r"\s+", last) if len(w) > 3]
        if words:
            assert words[-1] in flat, (run, last)


def test_pdf_without_any_engine_says_what_to_install(mirror, tmp_path, monkeypatch, capsys):
    import engine.pdf

    monkeypatch.setattr(engine.pdf, "find_chromium", lambda: None)
    monkeypatch.setitem(__import__("sys").modules, "weasyprint", None)
    out = tmp_path / "out"
    assert main(["compute", "--out", str(out), "--pdf", "--no-isochrones", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Chromium" in err and "WeasyPrint" in err and "apt install chromium" in err
    assert not out.exists()


# -- spreadsheets -------------------------------------------------------------------------

def _sheet(path: Path, name: str):
    from openpyxl import load_workbook

    book = load_workbook(path)
    return book, book[name]


def _table(sheet, header_row: int = 1) -> tuple[list[str], list[tuple]]:
    rows = list(sheet.iter_rows(values_only=True))
    return list(rows[header_row - 1]), rows[header_row:]


def _decimals(value) -> int:
    text = repr(float(value))
    return 0 if text.endswith(".0") else len(text.split(".")[1])


def test_communes_xlsx_reads_like_french_excel(runs):
    book, sheet = _sheet(runs["hazard"] / "communes.xlsx", "Communes")
    header, body = _table(sheet)
    assert len(body) == 360
    for column in ("Code INSEE", "Commune", "Population", "APL", "Classe",
                   "APL médian 2032", "Probabilité de sous-densité 2032", "Passage sous le seuil"):
        assert column in header, column
    at = {c: header.index(c) for c in header}
    codes = [r[at["Code INSEE"]] for r in body]
    assert "2A004" in codes and all(isinstance(c, str) and len(c) == 5 for c in codes)
    assert {r[at["Classe"]] for r in body} == {"Sous-dense", "Intermédiaire", "Hors zone"}
    assert max(_decimals(r[at["APL"]]) for r in body) <= 2
    assert max(_decimals(r[at["Probabilité de sous-densité 2032"]]) for r in body) <= 3
    assert all(isinstance(r[at["Population"]], int) for r in body)
    ajaccio = body[codes.index("2A004")]
    assert ajaccio[at["Commune"]] == "Ajaccio"
    # The CSV beside it keeps full precision for programs.
    csv = pd.read_csv(runs["hazard"] / "communes.csv", dtype={"code_commune": str})
    assert csv["apl_forecast"].map(lambda v: _decimals(v) > 3).any()
    assert sheet.freeze_panes == "A2"


def test_forecast_xlsx_has_the_tables_of_the_report(runs):
    from openpyxl import load_workbook

    book = load_workbook(runs["hazard"] / "forecast.xlsx")
    assert book.sheetnames[:5] == ["Par année", "Communes à risque", "À surveiller", "Basculent",
                                   "Par département"]
    assert "Installations proposées" in book.sheetnames
    header, body = _table(book["Communes à risque"], header_row=3)
    assert header[:4] == ["Rang", "Code INSEE", "Commune", "Département"]
    assert "APL médian 2027" in header and "APL P10 2032" in header
    assert len(body) == 360
    years, rows = _table(book["Par année"], header_row=3)
    assert years[0] == "Année" and rows[0][0] == 2022 and len(rows) == 11
    share = years.index("Part en déficit")
    assert book["Par année"].cell(row=4, column=share + 1).number_format == "0.0%"
    inst_header, inst = _table(book["Installations proposées"])
    assert "Communes sorties de la sous-densité" in inst_header and len(inst) == 10
