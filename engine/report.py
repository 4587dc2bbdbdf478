"""The HTML report of a run: one self-contained page for planners and boards.

Everything is inside the file: CSS inline, maps and charts as base64 PNG data URIs, no
script and no external request, so it can be e-mailed, archived or opened offline. Key
elements carry stable ids (``map-apl``, ``map-forecast``, ``forecast-chart``,
``population-by-class``, ``new-deficit``, ``installations``) for tests and for anyone
scraping the page.

This module lays out what it is given; it never computes APL. The only arithmetic is
presentation (population summed by class, shares) on the columns received.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment
from markupsafe import Markup

from engine.maps import CLASSES, MISSING, _population, class_key, class_keys, fmt_dec, fmt_int
from engine.outputs import atomic_path

#: French headers for the columns the engine produces; others are prettified.
_LABELS = {
    "classe": "Classe", "classe_u65": "Classe (≤ 65 ans)", "departement": "Département",
    "communes": "Communes", "n_communes": "Communes", "population": "Population",
    "pop_totale": "Population", "pop_standardisee": "Population standardisée",
    "apl": "APL", "apl_u65": "APL (≤ 65 ans)", "apl_moyen": "APL moyen", "apl_mean": "APL moyen",
    "share": "Part", "part": "Part", "share_population": "Part de la population",
    "code_commune": "Code INSEE", "nom": "Commune", "year": "Année", "annee": "Année",
    "p_deficit": "Probabilité", "gps": "Médecins ajoutés", "rank": "Rang",
    "population_lifted": "Population sortie de la sous-densité", "gap_closed": "Écart comblé",
    "population_in_deficit": "Population encore sous-dense",
    "pop_under_2_5_mean": "Population < 2,5", "pop_under_2_5_p10": "P10", "pop_under_2_5_p90": "P90",
    "share_under_2_5_mean": "Part < 2,5", "communes_new_deficit": "Nouvelles communes < 2,5",
    "active_gps_mean": "Médecins actifs", "mean_apl": "APL moyen",
}

_CSS = """
:root { --ink:#1d2430; --muted:#5d6675; --line:#e3e7ee; --accent:#1f4e79; --bg:#f6f8fb;
  --red:#b2182b; --orange:#f28e2b; --green:#8fd1bb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.55 "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 0 28px 48px; }
header.band { background: linear-gradient(120deg, #173a5e, #1f4e79 60%, #2f6d9e); color: white;
  padding: 34px 0 30px; margin-bottom: 28px; }
header.band .inner { max-width: 1120px; margin: 0 auto; padding: 0 28px; }
header.band h1 { margin: 0 0 6px; font-size: 30px; letter-spacing: -0.01em; }
header.band p { margin: 0; opacity: .85; }
h2 { font-size: 21px; margin: 38px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; }
p.lead { font-size: 16px; color: #2b3340; max-width: 900px; }
.muted { color: var(--muted); font-size: 13px; }
.chip { display:inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12.5px;
  font-weight: 600; color: #1d2430; white-space: nowrap; }
.chip.sous-dense { background: var(--red); color: white; }
.chip.intermediaire { background: var(--orange); }
.chip.hors-zone { background: var(--green); }
.chip.none { background: #ccc; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 16px; margin: 20px 0 8px; }
.card { background: white; border-radius: 10px; padding: 16px 18px; box-shadow: 0 1px 3px rgba(20,30,50,.12);
  border-top: 4px solid var(--accent); }
.card.alert { border-top-color: var(--red); }
.card .label { font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 30px; font-weight: 700; margin: 4px 0 2px; font-variant-numeric: tabular-nums; }
.card .detail { font-size: 13px; color: var(--muted); }
.panel { background: white; border-radius: 10px; padding: 18px 20px; box-shadow: 0 1px 3px rgba(20,30,50,.12); }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 20px; align-items: start; }
.grid2.wide-left { grid-template-columns: minmax(0, 1.15fr) minmax(0, 1fr); }
.scroll { overflow-x: auto; }
.map-panel figure img { max-width: 760px; margin: 0 auto; }
@media (max-width: 900px) { .grid2, .grid2.wide-left { grid-template-columns: 1fr; } }
figure { margin: 0; }
figure img { width: 100%; height: auto; display: block; border-radius: 6px; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; background: white; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12.5px; text-transform: uppercase;
  letter-spacing: .03em; border-bottom: 2px solid var(--line); padding: 8px 10px; }
td { border-bottom: 1px solid var(--line); padding: 7px 10px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
tr:last-child td { border-bottom: none; }
table.zoning th, table.zoning td { padding: 6px 7px; }
table.zoning th { text-transform: none; letter-spacing: 0; font-size: 12.5px; }
table.zoning th.group { text-align: center; border-bottom: 1px solid var(--line); }
table.zoning tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
.bar { height: 12px; border-radius: 6px; background: #dfe4ea; overflow: hidden; min-width: 40px; }
.bar span { display: block; height: 100%; }
.prob { display: inline-block; width: 70px; height: 8px; background: #eee; border-radius: 4px;
  vertical-align: middle; margin-right: 8px; overflow: hidden; }
.prob span { display: block; height: 100%; background: var(--red); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; font-size: 13.5px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; font-variant-numeric: tabular-nums; }
footer { margin-top: 40px; font-size: 12.5px; color: var(--muted); }
.note { font-size: 13px; color: var(--muted); margin-top: 8px; }
@media print { body { background: white; } .panel, .card { box-shadow: none; border: 1px solid var(--line); }
  h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="apl-engine {{ version }}">
<title>Accès aux médecins généralistes — {{ region_name }}</title>
<style>{{ css }}</style>
</head>
<body>
<header class="band"><div class="inner">
  <h1>Accès aux médecins généralistes — {{ region_name }}</h1>
  <p>Indicateur APL (DREES) calculé sur le réseau routier OpenStreetMap{% if scenario_name %}
   · scénario « {{ scenario_name }} »{% endif %} · {{ generated }}</p>
</div></header>
<main>
<p class="lead">L'<strong>accessibilité potentielle localisée (APL)</strong> mesure, pour chaque commune,
le nombre de consultations de médecine générale accessibles par habitant et par an, en tenant compte
de l'offre des communes voisines (jusqu'à 20 minutes de route, avec une pondération décroissante) et
des besoins de la population selon l'âge. Une commune est <span class="chip sous-dense">sous-dense</span>
sous 2,5 consultations par an et par habitant (éligible d'office en zone d'intervention prioritaire),
<span class="chip intermediaire">intermédiaire</span> entre 2,5 et 4 (vivier des zones d'action
complémentaire) et <span class="chip hors-zone">hors zone</span> au-delà.</p>

<section id="headline" class="cards">
  <div class="card alert"><div class="label">Population sous-dense aujourd'hui</div>
    <div class="value">{{ today.population }}</div>
    <div class="detail">{{ today.share }} % de la population · {{ today.communes }} commune{{ 's' if today.n_communes > 1 }}</div></div>
  {% if final %}
  <div class="card alert"><div class="label">Population sous-dense en {{ final.year }}</div>
    <div class="value">{{ final.population }}</div>
    <div class="detail">intervalle à 80 % : {{ final.p10 }} – {{ final.p90 }}{% if final.share %} · {{ final.share }} % de la population{% endif %}</div></div>
  {% endif %}
  {% if new_count is not none %}
  <div class="card"><div class="label">Communes qui basculent</div>
    <div class="value">{{ new_count }}</div>
    <div class="detail">deviennent sous-denses d'ici {{ final.year if final else "la fin de la projection" }} (probabilité &gt; 50 %)</div></div>
  {% endif %}
  {% if gps %}
  <div class="card"><div class="label">Médecins généralistes actifs</div>
    <div class="value">{{ gps.first }} → {{ gps.last }}</div>
    <div class="detail">moyenne des tirages, {{ gps.first_year }} → {{ gps.last_year }}</div></div>
  {% endif %}
</section>

<h2>Zonage actuel</h2>
<div class="stack">
  <div class="panel map-panel">
  {% if maps.apl %}<figure><img id="map-apl" src="{{ maps.apl }}" alt="Carte du zonage APL par commune">
    <figcaption>Classe APL par commune (médecins généralistes, population standardisée par âge).</figcaption></figure>
  {% else %}<p class="note">Carte non fournie.</p>{% endif %}
  </div>
  <div class="panel scroll" style="margin-top:20px">
    <h3>Population par classe</h3>
    <table id="population-by-class">
      <thead><tr><th>Classe</th><th class="num">Communes</th><th class="num">Population</th><th class="num">Part</th><th></th></tr></thead>
      <tbody>
      {% for row in by_class %}<tr><td><span class="chip {{ row.key }}">{{ row.label }}</span></td>
        <td class="num">{{ row.communes }}</td><td class="num">{{ row.population }}</td><td class="num">{{ row.share }} %</td>
        <td><div class="bar"><span style="width:{{ row.width }}%;background:{{ row.color }}"></span></div></td></tr>
      {% endfor %}
      </tbody>
      <tfoot><tr><td><strong>Total</strong></td><td class="num">{{ totals.communes }}</td><td class="num"><strong>{{ totals.population }}</strong></td><td class="num">100 %</td><td></td></tr></tfoot>
    </table>
  </div>
</div>
{% if zoning_table %}<div class="panel scroll" style="margin-top:20px"><h3>Synthèse du zonage</h3>{{ zoning_table }}</div>{% endif %}

{% for key, src in extra_maps %}
<div class="panel" style="margin-top:20px"><figure><img id="map-{{ key }}" src="{{ src }}" alt="Carte {{ key }}"></figure></div>
{% endfor %}

{% if forecast_chart or maps.forecast %}
<h2>Projection : départs à la retraite</h2>
<p class="muted">Simulation des départs à la retraite des médecins généralistes, année par année ; la
bande colorée couvre 80 % des tirages (du 10<sup>e</sup> au 90<sup>e</sup> centile).</p>
<div class="grid2">
  <div class="panel">
  {% if forecast_chart %}<figure><img id="forecast-chart" src="{{ forecast_chart }}" alt="Population sous 2,5 par année avec intervalle à 80 %">
    <figcaption>Population vivant dans une commune d'APL &lt; 2,5, moyenne et intervalle à 80 %.</figcaption></figure>{% endif %}
  </div>
  <div class="panel">
  {% if maps.forecast %}<figure><img id="map-forecast" src="{{ maps.forecast }}" alt="Carte de la probabilité de sous-densité">
    <figcaption>Probabilité d'être sous-dense en fin de projection.</figcaption></figure>{% endif %}
  </div>
</div>
{% if forecast_table %}<div class="panel" style="margin-top:20px"><h3>Par année</h3>{{ forecast_table }}</div>{% endif %}
{% endif %}

{% if new_deficit is not none %}
<h2>Communes qui basculent en sous-densité</h2>
<div class="panel">
<table id="new-deficit">
  <thead><tr><th>Commune</th><th>Code INSEE</th><th class="num">Année</th><th>Probabilité</th><th class="num">APL projeté</th></tr></thead>
  <tbody>
  {% for row in new_deficit %}<tr><td>{{ row.nom }}</td><td>{{ row.code }}</td><td class="num">{{ row.year }}</td>
    <td><span class="prob"><span style="width:{{ row.width }}%"></span></span>{{ row.p }} %</td><td class="num">{{ row.apl }}</td></tr>
  {% else %}<tr><td colspan="5" class="muted">Aucune commune ne bascule sous 2,5 dans la projection.</td></tr>
  {% endfor %}
  </tbody>
</table>
{% if new_deficit_more %}<p class="note">… et {{ new_deficit_more }} autres (liste complète dans forecast.csv).</p>{% endif %}
</div>
{% endif %}

{% if installations is not none %}
<h2>Où installer de nouveaux médecins</h2>
<p class="muted">Propositions de l'optimiseur, dans l'ordre : chaque ligne ajoute des médecins dans la commune indiquée,
en tenant compte des lignes précédentes.</p>
<div class="panel">{{ installations }}</div>
{% endif %}

<h2>Méthode, sources et licences</h2>
<div class="grid2">
<div class="panel">
<ul>
  <li>Réseau routier : © les contributeurs d'OpenStreetMap, données sous licence
  <a href="https://opendatacommons.org/licenses/odbl/">ODbL</a> (openstreetmap.org/copyright) ;
  temps de trajet calculés par apl-engine.</li>
  <li>Communes, populations et équipements : INSEE (recensement, base permanente des équipements),
  Licence Ouverte / Etalab 2.0.</li>
  <li>Méthode et paramètres de l'APL (bornes d'activité, pondérations par âge, seuils de distance) :
  DREES / IRDES. Les temps de trajet diffèrent du distancier Metric de l'INSEE : résultats proches,
  non identiques à l'indicateur officiel.</li>
  <li>Zonage : seuils de l'arrêté du 13 novembre 2017 (APL &lt; 2,5 ; 2,5 à 4).</li>
</ul>
</div>
<div class="panel">
<h3>Génération</h3>
<dl class="meta">{% for k, v in meta %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}</dl>
</div>
</div>
<footer>Rapport produit par apl-engine {{ version }}. Les projections sont des scénarios, pas des prévisions certaines.</footer>
</main>
</body>
</html>
"""

_META_LABELS = {
    "seed": "Graine aléatoire", "draws": "Tirages", "n_draws": "Tirages", "date": "Date",
    "generated": "Date", "scenario": "Scénario", "version": "Version", "network": "Réseau",
    "base_year": "Année de référence", "horizon": "Horizon", "duration_s": "Durée (s)",
}


def _data_uri(path: str | os.PathLike[str]) -> str:
    data = Path(path).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _png_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _label(col: str) -> str:
    return _LABELS.get(col, str(col).replace("_", " ").capitalize())


def _cell(col: str, value) -> tuple[str, bool]:
    """Formatted cell text and whether it is numeric (right-aligned)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–", True
    name = str(col).lower()
    if name.startswith("classe"):
        key = class_key(value)
        label = CLASSES[key][0] if key else str(value)
        return Markup('<span class="chip {}">{}</span>').format(key or "none", label), False
    if isinstance(value, (bool, np.bool_)):
        return ("oui" if value else "non"), False
    if isinstance(value, (int, np.integer)):
        if name in ("year", "annee", "rank"):
            return str(int(value)), True
        return fmt_int(value), True
    if isinstance(value, (float, np.floating)):
        if name.startswith(("share", "part", "p_")):
            return f"{fmt_dec(100 * float(value), 1)} %", True
        if "pop" in name or "communes" in name or "gps" in name:
            return fmt_int(value), True
        if name in ("year", "annee"):
            return str(int(value)), True
        return fmt_dec(value, 2), True
    return str(value), False


def _row(columns, values, *, row_class: str | None = None) -> Markup:
    """One ``<tr>`` of formatted cells (see :func:`_cell`)."""
    cells = []
    for c, v in zip(columns, values, strict=True):
        text, is_num = _cell(str(c), v)
        cls = Markup(' class="num"') if is_num else Markup("")
        cells.append(Markup("<td{}>{}</td>").format(cls, text))
    opening = Markup('<tr class="{}">').format(row_class) if row_class else Markup("<tr>")
    return opening + Markup("").join(cells) + Markup("</tr>")


def _table(df: pd.DataFrame, *, table_id: str | None = None, max_rows: int | None = None) -> Markup:
    """Render any DataFrame as a formatted HTML table (escaped)."""
    rows = df if max_rows is None else df.head(max_rows)
    head = []
    numeric = {c: pd.api.types.is_numeric_dtype(df[c]) for c in df.columns}
    for c in df.columns:
        cls = ' class="num"' if numeric[c] else ""
        head.append(Markup("<th{}>{}</th>").format(Markup(cls), _label(str(c))))
    body = [_row(df.columns, rec) for rec in rows.itertuples(index=False)]
    ident = Markup(' id="{}"').format(table_id) if table_id else Markup("")
    out = (Markup("<table{}><thead><tr>").format(ident) + Markup("").join(head)
           + Markup("</tr></thead><tbody>") + Markup("").join(body) + Markup("</tbody></table>"))
    if max_rows is not None and len(df) > max_rows:
        out += Markup('<p class="note">… et {} autres lignes (voir le fichier CSV).</p>').format(
            len(df) - max_rows)
    return out


def _zoning_table(summary: pd.DataFrame) -> Markup:
    """The zoning summary with one column group per class: communes, population, share.

    Columns other than the per-class triples (``departement``, ``communes``, ``population``,
    ``mean_apl``) come first with their French labels; unknown extra columns are kept.
    """
    df = pd.DataFrame(summary).copy()
    if "departement" not in df.columns and not isinstance(df.index, pd.RangeIndex):
        df = df.rename_axis("departement").reset_index()  # as engine.apl.zoning_summary returns it
    grouped = [c for c in CLASSES
               if all(f"{k}_{c}" in df.columns for k in ("communes", "population", "share"))]
    if not grouped:
        return _table(df)
    per_class = [f"{k}_{c}" for c in grouped for k in ("communes", "population", "share")]
    lead = [c for c in df.columns if c not in per_class]
    top, sub = [], []
    for c in lead:
        cls = Markup(' class="num"') if pd.api.types.is_numeric_dtype(df[c]) else Markup("")
        top.append(Markup('<th rowspan="2"{}>{}</th>').format(cls, _label(str(c))))
    for c in grouped:
        top.append(Markup('<th colspan="3" class="group"><span class="chip {}">{}</span></th>')
                   .format(c, CLASSES[c][0]))
        sub.extend(Markup('<th class="num">{}</th>').format(t)
                   for t in ("Communes", "Habitants", "Part"))
    columns = lead + per_class
    is_total = (df["departement"].astype(str) == "total" if "departement" in df.columns
                else pd.Series(False, index=df.index))
    if "departement" in df.columns:
        df["departement"] = df["departement"].where(~is_total, "Ensemble")
    body = [_row(columns, rec, row_class="total" if total else None)
            for rec, total in zip(df[columns].itertuples(index=False), is_total, strict=True)]
    return (Markup('<table class="zoning"><thead><tr>') + Markup("").join(top)
            + Markup("</tr><tr>") + Markup("").join(sub) + Markup("</tr></thead><tbody>")
            + Markup("").join(body) + Markup("</tbody></table>"))


def _by_class(communes) -> tuple[list[dict], dict]:
    pop = _population(communes)
    keys = (class_keys(communes["classe"]) if "classe" in communes.columns
            else pd.Series([None] * len(communes), index=communes.index))
    total = float(pop.sum())
    rows = []
    entries = [(k, lab, col) for k, (lab, col) in CLASSES.items()]
    if keys.isna().any():
        entries.append((None, MISSING[0], MISSING[1]))
    for key, label, color in entries:
        sel = keys.isna() if key is None else keys == key
        p = float(pop[sel].sum())
        share = 100 * p / total if total > 0 else 0.0
        rows.append({"key": key or "none", "label": label, "color": color,
                     "communes": fmt_int(int(sel.sum())), "population": fmt_int(p),
                     "share": fmt_dec(share, 1), "width": f"{share:.1f}"})
    return rows, {"communes": fmt_int(len(communes)), "population": fmt_int(total)}


def forecast_chart_png(forecast_summary: pd.DataFrame, path: str | os.PathLike[str] | None = None):
    """Chart of the population under APL 2.5 by year, with its 80% interval band.

    Parameters
    ----------
    forecast_summary : pandas.DataFrame
        ``year``, ``pop_under_2_5_mean``, ``pop_under_2_5_p10``, ``pop_under_2_5_p90``
        (and optionally ``share_under_2_5_mean``).
    path : str or os.PathLike, optional
        Also write the PNG there (atomically).

    Returns
    -------
    str
        The PNG as a ``data:image/png;base64,...`` URI.

    Examples
    --------
    >>> uri = forecast_chart_png(summary, "out/forecast_chart.png")  # doctest: +SKIP
    >>> uri[:22]  # doctest: +SKIP
    'data:image/png;base64,'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fs = pd.DataFrame(forecast_summary).sort_values("year")
    years = fs["year"].astype(int).to_numpy()
    mean = fs["pop_under_2_5_mean"].astype(float).to_numpy()
    lo = fs.get("pop_under_2_5_p10", fs["pop_under_2_5_mean"]).astype(float).to_numpy()
    hi = fs.get("pop_under_2_5_p90", fs["pop_under_2_5_mean"]).astype(float).to_numpy()

    fig = Figure(figsize=(8.0, 4.2), dpi=150, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0.12, 0.13, 0.84, 0.75])
    ax.fill_between(years, lo, hi, color="#b2182b", alpha=0.16, linewidth=0,
                    label="Intervalle à 80 % (P10–P90)")
    ax.plot(years, mean, color="#b2182b", linewidth=2.4, marker="o", markersize=4.5,
            label="Moyenne des tirages")
    for x, y in ((years[0], mean[0]), (years[-1], mean[-1])):
        ax.annotate(fmt_int(y), (x, y), textcoords="offset points", xytext=(0, 9),
                    ha="center", fontsize=9.5, fontweight="bold", color="#7a1020")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_int(v)))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0, top=max(float(np.nanmax(hi)) * 1.15, 1.0))
    ax.grid(axis="y", color="#e3e7ee")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#999999")
    ax.spines["bottom"].set_color("#999999")
    ax.tick_params(colors="#444444", labelsize=9.5)
    ax.set_ylabel("Habitants en commune d'APL < 2,5", fontsize=10, color="#444444")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    fig.text(0.12, 0.95, "Population en zone sous-dense", fontsize=12.5, fontweight="bold",
             color="#1d2430")
    if path is not None:
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format="png", dpi=150, facecolor="white")
    return _png_uri(fig)


def _headline_final(forecast_summary: pd.DataFrame | None) -> dict | None:
    if forecast_summary is None or len(forecast_summary) == 0:
        return None
    last = pd.DataFrame(forecast_summary).sort_values("year").iloc[-1]
    share = last.get("share_under_2_5_mean")
    return {
        "year": int(last["year"]), "population": fmt_int(last["pop_under_2_5_mean"]),
        "p10": fmt_int(last.get("pop_under_2_5_p10", np.nan)),
        "p90": fmt_int(last.get("pop_under_2_5_p90", np.nan)),
        "share": None if share is None or pd.isna(share) else fmt_dec(100 * float(share), 1),
    }


def _gps(forecast_summary: pd.DataFrame | None) -> dict | None:
    if forecast_summary is None or "active_gps_mean" not in forecast_summary or len(forecast_summary) == 0:
        return None
    fs = pd.DataFrame(forecast_summary).sort_values("year")
    return {"first": fmt_int(fs["active_gps_mean"].iloc[0]), "last": fmt_int(fs["active_gps_mean"].iloc[-1]),
            "first_year": int(fs["year"].iloc[0]), "last_year": int(fs["year"].iloc[-1])}


def _new_deficit_rows(df: pd.DataFrame, limit: int) -> tuple[list[dict], int]:
    nd = pd.DataFrame(df).sort_values(["year", "p_deficit"], ascending=[True, False])
    rows = []
    for rec in nd.head(limit).itertuples(index=False):
        p = float(getattr(rec, "p_deficit", np.nan))
        rows.append({"nom": getattr(rec, "nom", ""), "code": str(getattr(rec, "code_commune", "")),
                     "year": int(rec.year), "p": fmt_dec(100 * p, 0),
                     "width": f"{100 * min(max(p, 0.0), 1.0):.0f}",
                     "apl": fmt_dec(getattr(rec, "apl_mean", np.nan))})
    return rows, max(0, len(nd) - limit)


def write_report(
    path: str | os.PathLike[str],
    *,
    region_name: str,
    communes,
    zoning_summary: pd.DataFrame | None = None,
    forecast_summary: pd.DataFrame | None = None,
    newly_in_deficit: pd.DataFrame | None = None,
    installations: pd.DataFrame | None = None,
    maps: Mapping[str, str | os.PathLike[str]] | None = None,
    scenario_name: str | None = None,
    meta: Mapping[str, Any] | None = None,
    max_rows: int = 40,
) -> Path:
    """Write the run's report as one self-contained HTML page.

    Sections: a short explanation of the APL and its thresholds; headline figures
    (population under 2.5 today and in the final forecast year with its 80% interval,
    communes tipping into deficit, active GPs); the class map and the population by class
    (table and bars); the zoning summary; the forecast chart and map; the communes falling
    into deficit with their probability; the optimiser's proposals; sources, licences and
    generation metadata.

    Parameters
    ----------
    path : str or os.PathLike
        The HTML file (written atomically).
    region_name : str
        Shown in the title ("Corse").
    communes : pandas.DataFrame or geopandas.GeoDataFrame
        Per-commune results with ``classe`` and ``pop_totale`` (geometry unused).
    zoning_summary : pandas.DataFrame, optional
        Any summary table (per class, per département...); rendered as given.
    forecast_summary : pandas.DataFrame, optional
        ``year``, ``pop_under_2_5_mean``, ``pop_under_2_5_p10``, ``pop_under_2_5_p90``,
        ``share_under_2_5_mean``, ``communes_new_deficit``, ``active_gps_mean``.
    newly_in_deficit : pandas.DataFrame, optional
        ``code_commune``, ``nom``, ``year``, ``p_deficit``, ``apl_mean``.
    installations : pandas.DataFrame, optional
        The optimiser's proposals (``rank``, ``code_commune``, ``nom``, ``gps``, ...).
    maps : mapping of str to path, optional
        PNG files to embed: ``"apl"`` (id ``map-apl``), ``"forecast"`` (id
        ``map-forecast``); other keys are appended with id ``map-<key>``.
    scenario_name : str, optional
        Shown under the title.
    meta : mapping, optional
        Generation metadata (``seed``, ``draws``, ``date``, ...), listed at the end.
    max_rows : int
        Rows shown in the commune tables; the rest is counted, not listed.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> write_report("out/report.html", region_name="Corse", communes=communes,
    ...              zoning_summary=summary, maps={"apl": "out/map_apl.png"},
    ...              meta={"seed": 42, "draws": 200})  # doctest: +SKIP
    PosixPath('out/report.html')
    """
    from engine import __version__

    maps = dict(maps or {})
    uris = {k: _data_uri(v) for k, v in maps.items() if v is not None and Path(v).is_file()}
    by_class, totals = _by_class(communes)
    pop = _population(communes)
    keys = class_keys(communes["classe"]) if "classe" in communes.columns else None
    under = float(pop[keys == "sous-dense"].sum()) if keys is not None else float("nan")
    n_under = int((keys == "sous-dense").sum()) if keys is not None else 0
    total = float(pop.sum())
    today = {"population": fmt_int(under), "share": fmt_dec(100 * under / total if total else np.nan, 1),
             "communes": fmt_int(n_under), "n_communes": n_under}

    forecast_chart = None
    forecast_table = None
    if forecast_summary is not None and len(forecast_summary):
        forecast_chart = forecast_chart_png(forecast_summary)
        cols = [c for c in ("year", "pop_under_2_5_mean", "pop_under_2_5_p10", "pop_under_2_5_p90",
                            "share_under_2_5_mean", "communes_new_deficit", "active_gps_mean")
                if c in forecast_summary.columns]
        forecast_table = _table(pd.DataFrame(forecast_summary)[cols].sort_values("year"))

    new_rows, new_more, new_count = None, 0, None
    if newly_in_deficit is not None:
        new_rows, new_more = _new_deficit_rows(newly_in_deficit, max_rows)
        new_count = fmt_int(pd.DataFrame(newly_in_deficit)["code_commune"].nunique()) if len(newly_in_deficit) else "0"

    inst_html = None
    if installations is not None:
        inst_html = _table(pd.DataFrame(installations), table_id="installations", max_rows=max_rows)
        if len(installations) == 0:
            inst_html = Markup('<table id="installations"><tbody><tr><td class="muted">'
                               "Aucune proposition.</td></tr></tbody></table>")

    now = dt.datetime.now().astimezone()
    meta_items = []
    meta = dict(meta or {})
    meta.setdefault("date", now.strftime("%Y-%m-%d %H:%M %Z").strip())
    meta.setdefault("version", f"apl-engine {__version__}")
    if scenario_name:
        meta.setdefault("scenario", scenario_name)
    for k, v in meta.items():
        if isinstance(v, float):
            v = fmt_dec(v, 2)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool) and k != "seed":
            v = fmt_int(v)
        meta_items.append((_META_LABELS.get(k, _label(k)), v))

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    page = env.from_string(_TEMPLATE).render(
        version=__version__, css=Markup(_CSS), region_name=region_name,
        scenario_name=scenario_name, generated=now.strftime("%d/%m/%Y"),
        today=today, final=_headline_final(forecast_summary), new_count=new_count,
        gps=_gps(forecast_summary), maps={"apl": uris.get("apl"), "forecast": uris.get("forecast")},
        extra_maps=[(k, v) for k, v in uris.items() if k not in ("apl", "forecast")],
        by_class=by_class, totals=totals,
        zoning_table=_zoning_table(zoning_summary) if zoning_summary is not None and len(zoning_summary) else None,
        forecast_chart=forecast_chart, forecast_table=forecast_table,
        new_deficit=new_rows, new_deficit_more=new_more, installations=inst_html, meta=meta_items,
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
