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
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from engine.apl import Profession
from engine.apl import profession as as_profession
from engine.french import (
    column_label,
    departement_name,
    fmt_dec,
    fmt_int,
    fmt_pct,
    fmt_threshold,
    plural,
)
from engine.maps import MISSING, class_key, class_keys, population_of, zoning_legend
from engine.outputs import atomic_path
from engine.tables import WATCH_RANGE

_META_LABELS = {
    "seed": "Graine aléatoire", "draws": "Simulations", "n_draws": "Simulations", "date": "Date",
    "generated": "Date", "scenario": "Scénario", "version": "Version", "network": "Réseau",
    "base_year": "Année de référence", "horizon": "Horizon", "duration_s": "Durée (s)",
}



def _watch_low() -> str:
    """The watch-list's bounds as the report writes them ("20" ... "50 %")."""
    return fmt_pct(WATCH_RANGE[0], 0).replace("\u202f%", "")


def _watch_high() -> str:
    return fmt_pct(WATCH_RANGE[1], 0)

def _data_uri(path: str | os.PathLike[str]) -> str:
    data = Path(path).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _png_uri(fig, metadata: dict | None = None) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, facecolor="white", metadata=metadata)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _label(col: str) -> str:
    return column_label(col)


def _cell(col: str, value, prof: Profession) -> tuple[str, bool]:
    """Formatted cell text and whether it is numeric (right-aligned)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–", True
    name = str(col).lower()
    if name.startswith("classe"):
        key = class_key(value, prof)
        labels = {e.code: e.label for e in zoning_legend(prof)}
        label = labels[key] if key else str(value)
        return Markup('<span class="chip {}">{}</span>').format(key or "none", label), False
    if isinstance(value, (bool, np.bool_)):
        return ("oui" if value else "non"), False
    if isinstance(value, (int, np.integer)):
        if name in ("year", "annee", "rank"):
            return str(int(value)), True
        return fmt_int(value), True
    if isinstance(value, (float, np.floating)):
        if name.startswith(("share", "part", "p_", "probabilit")):
            return f"{fmt_dec(100 * float(value), 1)} %", True
        if ("pop" in name or "habitant" in name or "communes" in name or "gps" in name
                or "practitioners" in name or "médecins" in name):
            return fmt_int(value), True
        if name in ("year", "annee"):
            return str(int(value)), True
        return fmt_dec(value, 2), True
    return str(value), False


def _row(columns, values, prof: Profession, *, row_class: str | None = None,
         wrap: tuple = (), integer: tuple = ()) -> Markup:
    """One ``<tr>`` of formatted cells (see :func:`_cell`); ``wrap`` columns are long text in
    small type, ``integer`` columns are numbers shown without decimals."""
    cells = []
    for c, v in zip(columns, values, strict=True):
        if c in integer and isinstance(v, (int, float, np.integer, np.floating)) and not pd.isna(v):
            text, is_num = fmt_int(v), True
        else:
            text, is_num = _cell(str(c), v, prof)
        cls = (Markup(' class="num"') if is_num else
               Markup(' class="wrap"') if c in wrap else Markup(""))
        cells.append(Markup("<td{}>{}</td>").format(cls, text))
    opening = Markup('<tr class="{}">').format(row_class) if row_class else Markup("<tr>")
    return opening + Markup("").join(cells) + Markup("</tr>")


def _table(df: pd.DataFrame, prof: Profession, *, table_id: str | None = None,
           max_rows: int | None = None, wrap: tuple = (), integer: tuple = ()) -> Markup:
    """Render any DataFrame as a formatted HTML table (escaped)."""
    rows = df if max_rows is None else df.head(max_rows)
    head = []
    numeric = {c: pd.api.types.is_numeric_dtype(df[c]) for c in df.columns}
    for c in df.columns:
        cls = ' class="num"' if numeric[c] else ""
        head.append(Markup("<th{}>{}</th>").format(Markup(cls), _label(str(c))))
    body = [_row(df.columns, rec, prof, wrap=wrap, integer=integer)
            for rec in rows.itertuples(index=False)]
    ident = Markup(' id="{}"').format(table_id) if table_id else Markup("")
    out = (Markup("<table{}><thead><tr>").format(ident) + Markup("").join(head)
           + Markup("</tr></thead><tbody>") + Markup("").join(body) + Markup("</tbody></table>"))
    if max_rows is not None and len(df) > max_rows:
        out += Markup('<p class="note">… et {} autres lignes (voir les fichiers CSV et Excel).</p>'
                      ).format(len(df) - max_rows)
    return out


def _zoning_table(summary: pd.DataFrame, prof: Profession) -> Markup:
    """The zoning summary with one column group per class: communes, population, share.

    Columns other than the per-class triples (``departement``, ``communes``, ``population``,
    ``mean_apl``) come first with their French labels; unknown extra columns are kept.
    """
    df = pd.DataFrame(summary).copy()
    if "departement" not in df.columns and not isinstance(df.index, pd.RangeIndex):
        df = df.rename_axis("departement").reset_index()  # as engine.apl.zoning_summary returns it
    legend = {e.code: e for e in zoning_legend(prof)}
    grouped = [c for c in legend
               if all(f"{k}_{c}" in df.columns for k in ("communes", "population", "share"))]
    if not grouped:
        return _table(df, prof)
    per_class = [f"{k}_{c}" for c in grouped for k in ("communes", "population", "share")]
    lead = [c for c in df.columns if c not in per_class]
    top, sub = [], []
    for c in lead:
        cls = Markup(' class="num"') if pd.api.types.is_numeric_dtype(df[c]) else Markup("")
        top.append(Markup('<th rowspan="2"{}>{}</th>').format(cls, _label(str(c))))
    for c in grouped:
        top.append(Markup('<th colspan="3" class="group"><span class="chip {}">{}</span></th>')
                   .format(c, legend[c].long_label))
        sub.extend(Markup('<th class="num">{}</th>').format(t)
                   for t in ("Communes", "Habitants", "Part"))
    columns = lead + per_class
    is_total = (df["departement"].astype(str) == "total" if "departement" in df.columns
                else pd.Series(False, index=df.index))
    if "departement" in df.columns:
        named = [f"{departement_name(c)} ({c})" if departement_name(c) else c
                 for c in df["departement"].astype(str)]
        df["departement"] = pd.Series(named, index=df.index).where(~is_total, "Ensemble")
    body = [_row(columns, rec, prof, row_class="total" if total else None)
            for rec, total in zip(df[columns].itertuples(index=False), is_total, strict=True)]
    return (Markup('<table class="zoning"><thead><tr>') + Markup("").join(top)
            + Markup("</tr><tr>") + Markup("").join(sub) + Markup("</tr></thead><tbody>")
            + Markup("").join(body) + Markup("</tbody></table>"))


def _by_class(communes, prof: Profession) -> tuple[list[dict], dict]:
    pop = population_of(communes)
    keys = (class_keys(communes["classe"], prof) if "classe" in communes.columns
            else pd.Series([None] * len(communes), index=communes.index))
    total = float(pop.sum())
    rows = []
    entries = [(e.code, e.long_label, e.color) for e in zoning_legend(prof)]
    if keys.isna().any():
        entries.append((None, MISSING[0], MISSING[1]))
    for key, label, color in entries:
        sel = keys.isna() if key is None else keys == key
        p = float(pop[sel].sum())
        share = 100 * p / total if total > 0 else 0.0
        rows.append({"key": key or "none", "label": label, "color": color,
                     "communes": fmt_int(int(sel.sum())), "population": fmt_int(p),
                     "share": fmt_dec(share, 1), "width": f"{share:.1f}",
                     "n_communes": int(sel.sum())})
    return rows, {"communes": fmt_int(len(communes)), "population": fmt_int(total)}


def forecast_chart_png(forecast_summary: pd.DataFrame, path: str | os.PathLike[str] | None = None,
                       *, profession: str | Profession = "gp"):
    """Chart of the population in deficit by year, with its 80% interval band.

    Parameters
    ----------
    forecast_summary : pandas.DataFrame
        ``year``, ``pop_deficit_mean``, ``pop_deficit_p10``, ``pop_deficit_p90``.
    path : str or os.PathLike, optional
        Also write the PNG there (atomically).
    profession : str, path-like or Profession
        Whose deficit class names the axis.

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
    mean = fs["pop_deficit_mean"].astype(float).to_numpy()
    lo = fs.get("pop_deficit_p10", fs["pop_deficit_mean"]).astype(float).to_numpy()
    hi = fs.get("pop_deficit_p90", fs["pop_deficit_mean"]).astype(float).to_numpy()
    deficit = zoning_legend(profession)[0]

    fig = Figure(figsize=(8.0, 4.2), dpi=150, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0.12, 0.13, 0.84, 0.75])
    ax.fill_between(years, lo, hi, color="#b2182b", alpha=0.16, linewidth=0,
                    label="Intervalle à 80 % (P10–P90)")
    ax.plot(years, mean, color="#b2182b", linewidth=2.4, marker="o", markersize=4.5,
            label="Moyenne des simulations")
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
    ax.set_ylabel(f"Habitants en commune d'{deficit.range}", fontsize=10, color="#444444")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    fig.text(0.12, 0.95, f"Population en zone {deficit.label.lower()}", fontsize=12.5,
             fontweight="bold",
             color="#1d2430")
    facts = {"apl:first_year": str(int(years[0])), "apl:first_population": str(round(mean[0]))}
    if path is not None:
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format="png", dpi=150, facecolor="white", metadata=facts)
    return _png_uri(fig, facts)


def _headline_final(forecast_summary: pd.DataFrame | None) -> dict | None:
    if forecast_summary is None or len(forecast_summary) == 0:
        return None
    last = pd.DataFrame(forecast_summary).sort_values("year").iloc[-1]
    share = last.get("share_deficit_mean")
    return {
        "year": int(last["year"]), "population": fmt_int(last["pop_deficit_mean"]),
        "p10": fmt_int(last.get("pop_deficit_p10", np.nan)),
        "p90": fmt_int(last.get("pop_deficit_p90", np.nan)),
        "share": None if share is None or pd.isna(share) else fmt_dec(100 * float(share), 1),
    }


def _gps(forecast_summary: pd.DataFrame | None) -> dict | None:
    col = "active_practitioners_mean"
    if forecast_summary is None or col not in forecast_summary or len(forecast_summary) == 0:
        return None
    fs = pd.DataFrame(forecast_summary).sort_values("year")
    return {"first": fmt_int(fs[col].iloc[0]), "last": fmt_int(fs[col].iloc[-1]),
            "first_year": int(fs["year"].iloc[0]), "last_year": int(fs["year"].iloc[-1])}


def _new_deficit_rows(df: pd.DataFrame, limit: int) -> tuple[list[dict], int]:
    nd = pd.DataFrame(df).sort_values(["year", "p_deficit"], ascending=[True, False])
    rows = []
    for rec in nd.head(limit).itertuples(index=False):
        p = float(getattr(rec, "p_deficit", np.nan))
        rows.append({"nom": getattr(rec, "nom", ""), "code": str(getattr(rec, "code_commune", "")),
                     "population": fmt_int(getattr(rec, "pop_totale", np.nan)),
                     "year": int(rec.year), "p": fmt_dec(100 * p, 0),
                     "width": f"{100 * min(max(p, 0.0), 1.0):.0f}",
                     "apl": fmt_dec(getattr(rec, "apl_median", getattr(rec, "apl_mean", np.nan)))})
    return rows, max(0, len(nd) - limit)


def _check_view(check: dict, prof: Profession) -> dict:
    """The model-check figures, formatted, with one plain sentence."""
    calibrated = "fitted_mae" in check
    sentence = (
        "Le recalcul diffère de l'indicateur officiel surtout par l'offre : le moteur compte "
        f"les {prof.label} de la base permanente des équipements à une activité par défaut, la "
        "DREES l'activité réelle de chacun l'année même (données de l'Assurance maladie) ; et "
        "par les temps de trajet (réseau OpenStreetMap contre le distancier Metric de l'INSEE "
        "entre chefs-lieux).")
    if calibrated:
        sentence += (" C'est pourquoi les projections partent des valeurs officielles : l'offre "
                     "de chaque commune est recalée sur elles, et un écart résiduel, gardé "
                     "commune par commune, rend l'année de départ exacte.")
    confusion = check["confusion"].copy()
    labels = {e.code: e.label for e in zoning_legend(prof)}
    confusion.index = [labels.get(c, c) for c in confusion.index]
    confusion.columns = [labels.get(c, c) for c in confusion.columns]
    head = Markup("").join(Markup("<th class=\"num\">{}</th>").format(c) for c in confusion.columns)
    body = Markup("").join(
        Markup("<tr><th>{}</th>{}</tr>").format(
            idx, Markup("").join(Markup("<td class=\"num\">{}</td>").format(fmt_int(v))
                                 for v in row))
        for idx, row in zip(confusion.index, confusion.to_numpy(), strict=True))
    table = (Markup('<table id="confusion"><thead><tr><th></th>') + head
             + Markup("</tr></thead><tbody>") + body + Markup("</tbody></table>"))
    return {
        "spearman": fmt_dec(check["spearman"]), "mae": fmt_dec(check["mae"]),
        "agreement": fmt_pct(check["class_agreement"]),
        "share_model": fmt_pct(check.get("share_deficit_predicted")),
        "share_official": fmt_pct(check.get("share_deficit_observed")),
        "calibrated": calibrated,
        "fitted_spearman": fmt_dec(check.get("fitted_spearman")),
        "fitted_mae": fmt_dec(check.get("fitted_mae")),
        "offsets": fmt_int(check.get("offset_communes", 0)),
        "sentence": sentence, "confusion": table,
    }


def _backtest_view(bt, prof: Profession) -> dict:
    """The backtest section, formatted."""
    f = bt.figures
    rows = [("Corrélation des rangs (Spearman)", fmt_dec(f["spearman_forecast"]),
             fmt_dec(f["spearman_persistence"]), "–"),
            ("Écart absolu moyen", fmt_dec(f["mae_forecast"]), fmt_dec(f["mae_persistence"]), "–"),
            ("Même classe de zonage", fmt_pct(f["class_agreement_forecast"]),
             fmt_pct(f["class_agreement_persistence"]), "–")]
    scores = [("AUC (1 = parfait, 0,5 = hasard)", fmt_dec(f["auc_forecast"]),
               fmt_dec(f["auc_persistence"]), fmt_dec(f.get("auc_u65_variant"))),
              ("Score de Brier (0 = parfait)", fmt_dec(f["brier_forecast"], 3),
               fmt_dec(f["brier_persistence"], 3), fmt_dec(f.get("brier_u65_variant"), 3))]

    def grid(items, table_id, head):
        header = Markup("").join(Markup("<th class=\"num\">{}</th>").format(h) for h in head)
        body = Markup("").join(Markup("<tr><td>{}</td>{}</tr>").format(
            name, Markup("").join(Markup("<td class=\"num\">{}</td>").format(v) for v in vals))
            for name, *vals in items)
        return (Markup('<table id="{}"><thead><tr><th></th>').format(table_id) + header
                + Markup("</tr></thead><tbody>") + body + Markup("</tbody></table>"))

    unforeseen = pd.DataFrame(bt.unforeseen).rename(columns={
        "nom": "Commune", "code_commune": "Code INSEE", "pop_totale": "Population",
        "apl_from": f"APL {bt.from_year}", "apl_u65_from": f"APL ≤ 65 ans {bt.from_year}",
        "apl_median": f"APL projeté {bt.to_year} (médiane)", "p_deficit": "Probabilité",
        "apl_to": f"APL {bt.to_year}"})
    unforeseen = unforeseen[["Commune", "Code INSEE", "Population", f"APL {bt.from_year}",
                             f"APL ≤ 65 ans {bt.from_year}", f"APL projeté {bt.to_year} (médiane)",
                             "Probabilité", f"APL {bt.to_year}"]]
    intro = (f"La projection est partie des valeurs officielles de {bt.from_year} seules, avec "
             f"les populations officielles de {bt.to_year} ; elle est comparée ici aux valeurs "
             f"officielles de {bt.to_year}, qui n'ont servi à rien d'autre. La « persistance » "
             f"est la prévision qui garde les valeurs de {bt.from_year}.")
    return {
        "from_year": bt.from_year, "to_year": bt.to_year, "intro": intro,
        "share_observed": fmt_pct(f["share_deficit_observed"]),
        "share_predicted": fmt_pct(f["share_deficit_predicted_mean"]),
        "share_p10": fmt_pct(f["share_deficit_predicted_p10"]),
        "share_p90": fmt_pct(f["share_deficit_predicted_p90"]),
        "share_persistence": fmt_pct(f["share_deficit_persistence"]),
        "table": grid(rows, "backtest-communes", ("Projection", "Persistance", "Variante ≤ 65 ans")),
        "scores": grid(scores, "backtest-scores", ("Projection", "Persistance", "Variante ≤ 65 ans")),
        "fell": fmt_int(f["communes_fell"]), "rose": fmt_int(f["communes_rose"]),
        "fell_population": fmt_int(f["population_fell"]),
        "unforeseen": (_table(unforeseen, prof, table_id="unforeseen") if len(unforeseen)
                       else Markup('<p class="muted">Aucune.</p>')),
    }


def write_backtest_report(path: str | os.PathLike[str], backtest, *, region_name: str,
                          scenario_name: str | None = None, profession: str | Profession = "gp",
                          meta: Mapping[str, Any] | None = None) -> Path:
    """Write the report of :func:`scenarios.backtest.backtest` as one self-contained page.

    Parameters
    ----------
    path : path-like
        The HTML file (written atomically).
    backtest : scenarios.backtest.Backtest
    region_name : str
    scenario_name : str, optional
    profession : str, path-like or Profession
    meta : mapping, optional
        Generation metadata.

    Returns
    -------
    pathlib.Path
    """
    return write_report(path, region_name=region_name, communes=None, backtest=backtest,
                        scenario_name=scenario_name, profession=profession, meta=meta,
                        year=backtest.from_year, baseline=backtest.forecast.baseline)




def _years_table(frame: pd.DataFrame | None, prof: Profession, *, table_id: str,
                 group_label: str, data_year: int | None) -> Markup | None:
    """A per-group forecast (:attr:`scenarios.Forecast.departements` or ``zones``) as one
    row per group and one column per year: people in deficit and their share."""
    if frame is None or len(frame) == 0:
        return None
    df = pd.DataFrame(frame)
    years = sorted(int(y) for y in df["year"].unique())
    groups = df.drop_duplicates("zone")[["zone", "zone_nom"]]
    cells = df.set_index(["zone", "year"])
    head = Markup("").join(
        Markup('<th class="num">{}</th>').format(f"{y} (observé)" if y == data_year else y)
        for y in years)
    body = []
    for zone, name in groups.itertuples(index=False):
        label = str(zone) if pd.isna(name) or str(name) == str(zone) else f"{name} ({zone})"
        tds = Markup("").join(
            Markup('<td class="num">{}<span class="share">{}</span></td>').format(
                fmt_int(cells.loc[(zone, y), "pop_deficit_mean"]),
                fmt_pct(cells.loc[(zone, y), "share_deficit_mean"]))
            for y in years)
        body.append(Markup("<tr><td>{}</td>{}</tr>").format(label, tds))
    return (Markup('<table class="years" id="{}"><thead><tr><th>{}</th>').format(table_id,
                                                                                group_label)
            + head + Markup("</tr></thead><tbody>") + Markup("").join(body)
            + Markup("</tbody></table>"))


def _year_of(value) -> str:
    return "–" if value is None or pd.isna(value) else str(int(value))


def _risk_frame(risk: pd.DataFrame, years: list[int], data_year: int | None) -> pd.DataFrame:
    """The risk ranking as shown: today, a middle year, the last year with its interval."""
    last = years[-1]
    shown_years = [y for y in (years[1] if len(years) > 2 else None,
                               years[len(years) // 2] if len(years) > 3 else None) if y]
    today = f" {data_year}" if data_year else ""
    out = pd.DataFrame({
        "Rang": risk["rang"].astype(int).to_numpy(),
        "Commune": risk["nom"].to_numpy() if "nom" in risk else risk["code_commune"].to_numpy(),
        "Code INSEE": risk["code_commune"].to_numpy(),
        "Population": risk["pop_totale"].to_numpy(np.float64),
        f"Classe{today}": risk["classe"].to_numpy(),
        f"APL{today}": risk["apl"].to_numpy(np.float64),
    })
    for y in dict.fromkeys(shown_years):
        if y != last and f"apl_median_{y}" in risk:
            out[f"APL médian {y}"] = risk[f"apl_median_{y}"].to_numpy(np.float64)
    out[f"APL médian {last}"] = risk[f"apl_median_{last}"].to_numpy(np.float64)
    out["Intervalle à 80 %"] = [f"{fmt_dec(a)} – {fmt_dec(b)}" for a, b in
                                zip(risk[f"apl_p10_{last}"], risk[f"apl_p90_{last}"], strict=True)]
    out[f"Probabilité {last}"] = risk["p_deficit"].to_numpy(np.float64)
    out["Passage sous le seuil"] = [_year_of(v) for v in risk["annee_deficit"]]
    return out


_OBJECTIVE_WORDS = {
    "population_in_deficit": (
        "faire sortir de la sous-densité le plus d'habitants. À chaque étape, la commune retenue "
        "est celle où {added} de plus font passer le plus d'habitants au-dessus du seuil de "
        "{threshold} ; à égalité, celle qui ajoute le plus de consultations là où l'accès est "
        "sous le seuil. Unité : habitants (population totale des communes qui passent le seuil)."),
    "deficit_gap": (
        "combler le plus l'écart au seuil. À chaque étape, la commune retenue est celle où "
        "{added} de plus ajoutent le plus de consultations par an là où l'APL est sous "
        "{threshold}, sans compter ce qui dépasse le seuil. Unité : consultations par an "
        "(population standardisée × APL gagné, jusqu'au seuil)."),
}


def _proposals_view(installations: pd.DataFrame, optimizer: Mapping[str, Any] | None,
                    prof: Profession, *, data_year: int | None, scenario_name: str | None,
                    max_rows: int) -> dict:
    """The proposals section: objective in words, starting state, the table, a summary."""
    inst = pd.DataFrame(installations)
    opt = dict(optimizer or {})
    gps = int(opt.get("gps_per_site", inst["gps"].iloc[0] if len(inst) and "gps" in inst else 1))
    n = len(inst)
    year = opt.get("year", inst["year"].iloc[0] if len(inst) and "year" in inst else data_year)
    threshold = fmt_threshold(prof.zoning.deficit_threshold)
    added = (plural(gps, prof.label_singular, prof.label) if gps > 1
             else f"un {prof.label_singular}")
    count_label = (f"{plural(n, 'nouveau ' + prof.label_singular, 'nouveaux ' + prof.label)}"
                   if gps == 1 else f"{plural(n, 'équipe')} de {plural(gps, prof.label_singular, prof.label)}")
    objective = _OBJECTIVE_WORDS.get(opt.get("objective", "population_in_deficit"),
                                     _OBJECTIVE_WORDS["population_in_deficit"])
    if opt.get("method", "greedy") != "greedy":
        objective = (f"couvrir, à {opt.get('service_minutes', 10):g} minutes d'un nouveau site, le "
                     "plus d'habitants des communes sous le seuil (modèle exact de couverture). "
                     "Unité : habitants couverts.")
    else:
        objective = objective.format(added=added, threshold=threshold)
    basis = opt.get("basis", "plan")
    if basis == "scenario":
        basis_text = (f"État de départ : l'offre moyenne attendue en {year} dans le scénario "
                      f"« {scenario_name} » (départs et remplacements simulés), à partir des "
                      f"valeurs de {data_year}.")
    elif year is not None and data_year is not None and int(year) > int(data_year):
        age = opt.get("retirement_age", prof.variant_max_age)
        basis_text = (f"État de départ : l'offre de {data_year}, sans les {prof.label} qui auront "
                      f"plus de {age:g} ans en {year} (retraite supposée, aucun remplacement).")
    else:
        basis_text = f"État de départ : l'offre de {data_year} telle qu'elle est."
    caveat = ("Propositions d'une recherche pas à pas : chaque ligne tient compte des précédentes "
              "et une commune peut revenir plusieurs fois. Elles ne tiennent compte ni des locaux, "
              "ni de l'attractivité, ni des souhaits des praticiens : ce sont des pistes à "
              "instruire, pas un plan.")
    summary = None
    if n and "population_lifted" in inst:
        shown = pd.DataFrame({
            "Rang": inst["rank"].astype(int).to_numpy(),
            "Commune": [f"{a} ({b})" for a, b in zip(inst["nom"], inst["code_commune"], strict=True)],
            "Habitants": inst["population"].to_numpy(np.float64) if "population" in inst else np.nan,
            f"APL avant ({year})": inst["apl_before"].to_numpy(np.float64)
            if "apl_before" in inst else np.nan,
            "Médecins ajoutés": inst["gps"].astype(int).to_numpy(),
            "Communes sorties de la sous-densité": inst.get(
                "communes_lifted", pd.Series([""] * n)).replace("", "aucune").to_numpy(),
            "Habitants sortis": inst["population_lifted"].to_numpy(np.float64),
            "Consultations par an ajoutées sous le seuil": inst["gap_closed"].to_numpy(np.float64),
            "Habitants encore en sous-densité": inst["population_in_deficit"].to_numpy(np.float64),
        })
        table = _table(shown, prof, table_id="installations", max_rows=max_rows,
                       wrap=("Communes sorties de la sous-densité",),
                       integer=("Consultations par an ajoutées sous le seuil",))
        lifted = float(inst["population_lifted"].sum())
        summary = (f"Les {plural(n, 'site')} proposés ({plural(n * gps, prof.label_singular, prof.label)}) "
                   f"feraient sortir {fmt_int(lifted)} habitants de la sous-densité en {year} ; "
                   f"il en resterait {fmt_int(inst['population_in_deficit'].iloc[-1])}.")
    elif n:
        table = _table(inst, prof, table_id="installations", max_rows=max_rows)
    else:
        table = Markup('<table id="installations"><tbody><tr><td class="muted">'
                       "Aucune proposition.</td></tr></tbody></table>")
    return {"count_label": count_label, "year": year, "objective": objective,
            "basis": basis_text, "table": table, "summary": summary, "caveat": caveat}


def _key_points(*, today: dict, final: dict | None, year: int | None, newly, watch,
                installations, prof: Profession, deficit) -> list[str]:
    """The few sentences of « À retenir », from figures computed elsewhere."""
    points = []
    label = deficit.label.lower()
    if today:
        points.append(f"En {year}, {today['population']} habitants ({today['share']} % de la "
                      f"population) vivent dans l'une des {today['communes']} communes {label}s.")
    if final:
        points.append(f"En {final['year']}, selon ce scénario : {final['population']} habitants "
                      f"en commune {label} (intervalle à 80 % : {final['p10']} – {final['p90']}).")
    if newly is not None:
        nd = pd.DataFrame(newly)
        if len(nd):
            top = (nd.sort_values("pop_totale", ascending=False) if "pop_totale" in nd else nd)
            names = ", ".join(f"{r.nom} ({fmt_int(getattr(r, 'pop_totale', np.nan))} hab.)"
                              for r in top.head(3).itertuples(index=False))
            points.append(f"{plural(nd['code_commune'].nunique(), 'commune')} passerai"
                          f"{'en' if nd['code_commune'].nunique() > 1 else ''}t sous le seuil d'ici "
                          f"{final['year'] if final else 'la fin'} ; les plus peuplées : {names}.")
        else:
            points.append("Aucune commune ne passerait sous le seuil.")
    if watch is not None and final:
        points.append(f"{plural(len(watch), 'commune')} à surveiller : probabilité de "
                      f"{_watch_low()} à {_watch_high()} d'être {label} en {final['year']}.")
    if installations is not None and len(installations) and "population_lifted" in installations:
        inst = pd.DataFrame(installations)
        points.append(f"Les {plural(len(inst), 'site')} d'installation proposés feraient sortir "
                      f"{fmt_int(inst['population_lifted'].sum())} habitants de la sous-densité.")
    return points


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
    profession: str | Profession = "gp",
    baseline=None,
    model_check: dict | None = None,
    year: int | None = None,
    backtest=None,
    zones: pd.DataFrame | None = None,
    zones_forecast: pd.DataFrame | None = None,
    assumptions: list[dict] | None = None,
    risk: pd.DataFrame | None = None,
    watch: pd.DataFrame | None = None,
    departements_forecast: pd.DataFrame | None = None,
    optimizer: Mapping[str, Any] | None = None,
    title: str | None = None,
    risk_rows: int = 30,
) -> Path:
    """Write the run's report as one self-contained HTML page that prints to A4.

    Sections (each on its own printed page; those without data are left out): a synthesis
    (what the APL is, where year 0 comes from, headline figures, « À retenir »); the
    assumptions in plain French; the zoning of year 0 (map, population by class, per
    département); the forecast (chart with its 80 % interval, per year, per département and
    year, map of the probability of deficit); the communes at risk (ranking, watch-list,
    communes tipping into deficit); the zones; the proposed installations (objective in
    words, starting state, communes each site lifts, map); the model check and backtest;
    sources, licences and generation details.

    Parameters
    ----------
    path : str or os.PathLike
        The HTML file (written atomically).
    region_name : str
        Shown in the title ("Corse").
    communes : pandas.DataFrame or geopandas.GeoDataFrame or None
        Per-commune results with ``classe`` and ``pop_totale`` (geometry unused); ``None``
        leaves out the synthesis cards and the zoning (the backtest report).
    zoning_summary : pandas.DataFrame, optional
        :func:`engine.tables.zoning_table` (or any summary, rendered as given).
    forecast_summary : pandas.DataFrame, optional
        :attr:`scenarios.Forecast.summary`.
    newly_in_deficit : pandas.DataFrame, optional
        :meth:`scenarios.Forecast.newly_in_deficit` (with ``pop_totale`` when known).
    installations : pandas.DataFrame, optional
        :func:`scenarios.optimize_installations`.
    maps : mapping of str to path, optional
        PNG files to embed: ``"apl"``, ``"forecast"``, ``"zones"``, ``"proposals"`` (ids
        ``map-<key>``); other keys are appended to the zoning section.
    scenario_name : str, optional
        The scenario's French title.
    meta : mapping, optional
        Generation metadata (``seed``, ``draws``, ...), listed at the end.
    max_rows : int
        Rows shown in the commune lists; the rest is counted, not listed.
    profession : str, path-like or Profession
        Whose labels, zoning classes and thresholds.
    baseline : scenarios.baseline.Baseline, optional
        Year 0: official or model, listed and unlisted practitioners.
    model_check : dict, optional
        :func:`engine.tables.model_check`.
    year : int, optional
        The data year (year 0).
    backtest : scenarios.backtest.Backtest, optional
        Adds the backtest to the model-check section.
    zones, zones_forecast : pandas.DataFrame, optional
        :func:`engine.tables.zones_table`, :func:`engine.tables.zones_forecast_table`.
    assumptions : list of dict, optional
        :func:`scenarios.assumptions.assumptions` (the assumptions table).
    risk, watch : pandas.DataFrame, optional
        :func:`engine.tables.risk_table`, :func:`engine.tables.watch_list`.
    departements_forecast : pandas.DataFrame, optional
        :attr:`scenarios.Forecast.departements`.
    optimizer : mapping, optional
        How the proposals were made: ``year``, ``objective``, ``gps_per_site``, ``basis``
        (``"scenario"``: a forecast's expected supply; ``"plan"``: year 0 without the
        practitioners past the variant age by then), ``method``.
    title : str, optional
        The page title (default: « Accès aux <profession> — <region> »).
    risk_rows : int
        Communes of the risk ranking listed in the report (all are in the files).

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

    prof = as_profession(profession)
    legend = zoning_legend(prof)
    deficit = legend[0]
    maps = dict(maps or {})
    uris = {k: _data_uri(v) for k, v in maps.items() if v is not None and Path(v).is_file()}
    by_class, totals, today = [], {}, {}
    if communes is not None:
        by_class, totals = _by_class(communes, prof)
        # Today's deficit is the deficit class's row (the legend's first) of that breakdown.
        today = {k: by_class[0][k] for k in ("population", "share", "communes", "n_communes")}

    forecast_chart = forecast_table = None
    years: list[int] = []
    if forecast_summary is not None and len(forecast_summary):
        forecast_chart = forecast_chart_png(forecast_summary, profession=prof)
        cols = [c for c in ("year", "pop_deficit_mean", "pop_deficit_p10", "pop_deficit_p90",
                            "share_deficit_mean", "communes_deficit", "communes_new_deficit",
                            "active_practitioners_mean")
                if c in forecast_summary.columns]
        shown = pd.DataFrame(forecast_summary)[cols].sort_values("year").reset_index(drop=True)
        years = [int(y) for y in shown["year"]]
        # Year 0 is observed, not simulated: say so where it is read.
        shown["year"] = [f"{int(y)} (observé)" if k == 0 else str(int(y))
                         for k, y in enumerate(shown["year"])]
        forecast_table = _table(shown, prof, table_id="forecast-table")

    new_rows, new_more, new_count = None, 0, None
    if newly_in_deficit is not None:
        new_rows, new_more = _new_deficit_rows(newly_in_deficit, max_rows)
        new_count = (fmt_int(pd.DataFrame(newly_in_deficit)["code_commune"].nunique())
                     if len(newly_in_deficit) else "0")

    final = _headline_final(forecast_summary)
    proposals = None
    if installations is not None:
        proposals = _proposals_view(installations, optimizer, prof, data_year=year,
                                    scenario_name=scenario_name, max_rows=max_rows)

    zone_html = None
    if zones is not None and len(zones):
        zt = pd.DataFrame(zones)[["zone_nom", "communes", "pop_totale", "apl", "classe",
                                  "communes_deficit", "pop_deficit", "share_deficit"]].rename(
            columns={"zone_nom": "Territoire", "communes_deficit": "Communes en déficit",
                     "pop_deficit": "Habitants en commune en déficit",
                     "share_deficit": "Part en déficit"})
        if zones_forecast is not None and len(zones_forecast):
            zf = pd.DataFrame(zones_forecast)
            last = zf[zf["year"] == zf["year"].max()].set_index("zone")
            key = pd.DataFrame(zones)["zone"].to_numpy()
            zt[f"APL médian {int(zf['year'].max())}"] = last["apl_median"].reindex(key).to_numpy()
            zt[f"Part en déficit {int(zf['year'].max())}"] = (
                last["share_deficit_mean"].reindex(key).to_numpy())
            if "annee_deficit" in last:
                zt["Passage sous le seuil"] = [_year_of(v) for v in
                                               last["annee_deficit"].reindex(key)]
        zone_html = _table(zt, prof, table_id="zones-table", max_rows=max_rows)
    practitioners = None
    if baseline is not None:
        listed = int((~baseline.slot_unlisted).sum())
        practitioners = {"listed": fmt_int(listed), "unlisted": fmt_int(baseline.n_unlisted)
                         if baseline.n_unlisted else None}

    risk_html = watch_html = None
    if risk is not None and years:
        risk_html = _table(_risk_frame(pd.DataFrame(risk).head(risk_rows), years, year), prof,
                           table_id="risk-ranking")
    if watch is not None and years:
        watch_html = (_table(_risk_frame(pd.DataFrame(watch), years, year), prof,
                             table_id="watch-list", max_rows=max_rows) if len(watch) else
                      Markup('<table id="watch-list"><tbody><tr><td class="muted">Aucune commune.'
                             '</td></tr></tbody></table>'))

    now = dt.datetime.now().astimezone()
    meta_items = []
    meta = dict(meta or {})
    meta.setdefault("date", now.strftime("%d/%m/%Y %H:%M %Z").strip())
    meta.setdefault("version", f"apl-engine {__version__}")
    if scenario_name:
        meta.setdefault("scenario", scenario_name)
    for k, v in meta.items():
        if isinstance(v, float):
            v = fmt_dec(v, 2)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool) and k != "seed":
            v = fmt_int(v)
        meta_items.append((_META_LABELS.get(k, _label(k)), v))

    official = baseline is not None and baseline.kind == "official"
    subtitle = []
    if year:
        subtitle.append(f"Situation {year}" + (" (valeurs officielles DREES)" if official else
                                               " (APL recalculé)"))
    if scenario_name:
        subtitle.append(f"Scénario « {scenario_name} »")
    if years:
        subtitle.append(f"Projection {years[1] if len(years) > 1 else years[0]}–{years[-1]}")
    subtitle.append(now.strftime("%d/%m/%Y"))
    key_points = None
    if final is not None or proposals is not None:
        key_points = _key_points(today=today, final=final, year=year, newly=newly_in_deficit,
                                 watch=watch, installations=installations, prof=prof,
                                 deficit=deficit)
    env = _environment()
    css = resources.files("engine").joinpath("templates", "report.css").read_text("utf-8")
    page = env.get_template("report.html.j2").render(
        version=__version__, css=Markup(css), region_name=region_name, prof=prof, legend=legend,
        page_title=title or f"Accès aux {prof.label} — {region_name}", subtitle=subtitle,
        deficit=deficit, deficit_threshold=fmt_threshold(prof.zoning.deficit_threshold),
        max_minutes=fmt_threshold(prof.decay.max_minutes),
        scenario_name=scenario_name, generated=now.strftime("%d/%m/%Y"),
        today=today, final=final, new_count=new_count,
        gps=_gps(forecast_summary),
        maps={k: uris.get(k) for k in ("apl", "forecast", "proposals")},
        extra_maps=[(k, v) for k, v in uris.items()
                    if k not in ("apl", "forecast", "zones", "proposals")],
        zones_map=uris.get("zones"), by_class=by_class, totals=totals,
        zoning_table=(_zoning_table(zoning_summary, prof)
                      if zoning_summary is not None and len(zoning_summary) else None),
        forecast_chart=forecast_chart, forecast_table=forecast_table,
        years_label=(f"{years[0]}–{years[-1]}" if years else ""),
        scenario_has_installations=any(r.get("key") == "installations" and r.get("lines")
                                       for r in (assumptions or [])),
        departements_years=_years_table(departements_forecast, prof,
                                        table_id="departements-forecast",
                                        group_label="Département", data_year=year),
        zones_years=_years_table(zones_forecast, prof, table_id="zones-forecast",
                                 group_label="Territoire", data_year=year),
        new_deficit=new_rows, new_deficit_more=new_more, proposals=proposals, meta=meta_items,
        year=year, official_baseline=official, practitioners=practitioners,
        check=_check_view(model_check, prof) if model_check else None,
        backtest=_backtest_view(backtest, prof) if backtest is not None else None,
        zones=zone_html, zones_count=fmt_int(len(zones)) if zones is not None else None,
        hide_current=communes is None, assumptions=assumptions, key_points=key_points,
        risk=risk_html, watch=watch_html if watch is not None else None,
        risk_shown=fmt_int(min(risk_rows, len(risk))) if risk is not None else None,
        risk_total=fmt_int(len(risk)) if risk is not None else None,
        watch_low=_watch_low(), watch_high=_watch_high(),
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def _environment() -> Environment:
    return Environment(loader=PackageLoader("engine", "templates"), autoescape=True,
                       trim_blocks=True, lstrip_blocks=True)


#: Line colours of the scenarios in a comparison (ColorBrewer, distinguishable in print).
_SCENARIO_COLORS = ("#b2182b", "#2166ac", "#1b7837", "#762a83", "#e08214", "#4d4d4d")


def compare_chart_png(summary: pd.DataFrame, labels: list[str],
                      path: str | os.PathLike[str] | None = None, *,
                      profession: str | Profession = "gp") -> str:
    """Chart of the population in deficit by year for several scenarios, with 80 % bands.

    Parameters
    ----------
    summary : pandas.DataFrame
        :attr:`scenarios.compare.Comparison.summary` (``scenario``, ``year``,
        ``pop_deficit_mean``, ``pop_deficit_p10``, ``pop_deficit_p90``).
    labels : list of str
        The scenarios in order (colours follow it).
    path : path-like, optional
        Also write the PNG there (atomically).
    profession : str, path-like or Profession

    Returns
    -------
    str
        The PNG as a ``data:`` URI.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    deficit = zoning_legend(profession)[0]
    fig = Figure(figsize=(8.0, 4.4), dpi=150, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0.12, 0.24, 0.84, 0.64])
    top = 1.0
    facts = {}
    for k, label in enumerate(labels):
        s = summary[summary["scenario"] == label].sort_values("year")
        color = _SCENARIO_COLORS[k % len(_SCENARIO_COLORS)]
        years = s["year"].astype(int).to_numpy()
        mean = s["pop_deficit_mean"].to_numpy(np.float64)
        lo = s.get("pop_deficit_p10", s["pop_deficit_mean"]).to_numpy(np.float64)
        hi = s.get("pop_deficit_p90", s["pop_deficit_mean"]).to_numpy(np.float64)
        ax.fill_between(years, lo, hi, color=color, alpha=0.14, linewidth=0)
        ax.plot(years, mean, color=color, linewidth=2.2, marker="o", markersize=3.5,
                label=label)
        ax.annotate(fmt_int(mean[-1]), (years[-1], mean[-1]), textcoords="offset points",
                    xytext=(4, 0), va="center", fontsize=9, fontweight="bold", color=color)
        top = max(top, float(np.nanmax(hi)))
        facts[f"apl:scenario_{k}"] = label
        facts[f"apl:last_population_{k}"] = str(round(mean[-1]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_int(v)))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0, top=top * 1.15)
    ax.grid(axis="y", color="#e3e7ee")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors="#444444", labelsize=9.5)
    ax.set_ylabel(f"Habitants en commune d'{deficit.range}", fontsize=10, color="#444444")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(len(labels), 2),
              frameon=False, fontsize=9)
    fig.text(0.12, 0.94, f"Population en zone {deficit.label.lower()}, par scénario",
             fontsize=12.5, fontweight="bold", color="#1d2430")
    if path is not None:
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format="png", dpi=150, facecolor="white", metadata=facts)
    return _png_uri(fig, facts)


def _compare_assumptions(runs) -> Markup:
    keys: dict[str, str] = {}
    by_run = []
    for r in runs:
        rows = {row["key"]: row for row in r.meta.get("assumptions", [])}
        by_run.append(rows)
        for key, row in rows.items():
            keys.setdefault(key, row["label"])
    head = Markup("").join(Markup("<th>{}</th>").format(r.label) for r in runs)
    body = []
    for key, label in keys.items():
        cells = []
        texts = []
        for rows in by_run:
            row = rows.get(key)
            if row is None:
                cells.append(Markup('<td class="muted">–</td>'))
                texts.append(None)
                continue
            items = Markup("").join(Markup("<li>{}</li>").format(x) for x in row["lines"])
            cells.append(Markup("<td>{}{}</td>").format(
                row["text"], Markup("<ul>{}</ul>").format(items) if row["lines"] else ""))
            texts.append((row["text"], tuple(row["lines"])))
        differs = len(set(texts)) > 1
        body.append(Markup('<tr data-key="{}"{}><th scope="row">{}</th>{}</tr>').format(
            key, Markup(' class="differs"') if differs else "", label, Markup("").join(cells)))
    return (Markup('<table id="compare-assumptions" class="assumptions compare"><thead><tr><th>'
                   '</th>') + head + Markup("</tr></thead><tbody>") + Markup("").join(body)
            + Markup("</tbody></table>"))


def compare_headers(comparison) -> dict[str, str]:
    """French headers of a comparison's per-scenario commune columns (``p_deficit_0`` ->
    ``"Probabilité de sous-densité [1]"``), for the report and the workbook alike."""
    last = comparison.years[-1]
    return {f"{stem}_{k}": f"{column_label(stem if stem != 'apl_median' else f'{stem}_{last}')}"
                           f" [{k + 1}]"
            for k in range(len(comparison.labels))
            for stem in ("apl_median", "p_deficit", "annee_deficit")}


def write_compare_report(path: str | os.PathLike[str], comparison, *, region_name: str,
                         profession: str | Profession = "gp", max_rows: int = 40,
                         meta: Mapping[str, Any] | None = None,
                         chart_path: str | os.PathLike[str] | None = None) -> Path:
    """Write the comparison of several forecasts as one self-contained page (prints to A4).

    Sections: the population in deficit per year and scenario (cards, chart with 80 % bands,
    table), the assumptions side by side (rows that differ in bold), the communes whose
    outcome differs in the last shared year, method and generation details.

    Parameters
    ----------
    path : path-like
        The HTML file (written atomically).
    comparison : scenarios.compare.Comparison
    region_name : str
    profession : str, path-like or Profession
    max_rows : int
        Communes listed (all are in ``compare_communes.csv``).
    meta : mapping, optional
        Generation metadata.
    chart_path : path-like, optional
        Also write the chart as a PNG there.

    Returns
    -------
    pathlib.Path
    """
    from engine import __version__

    prof = as_profession(profession)
    legend = zoning_legend(prof)
    deficit = legend[0]
    runs, labels, years = comparison.runs, comparison.labels, comparison.years
    last, year0 = years[-1], years[0]
    s = comparison.summary
    chart = compare_chart_png(s, labels, chart_path, profession=prof)
    finals = s[s["year"] == last].set_index("scenario")
    cards = []
    ref = float(finals.loc[labels[0], "pop_deficit_mean"])
    for k, label in enumerate(labels):
        row = finals.loc[label]
        delta = None
        if k:
            diff = float(row["pop_deficit_mean"]) - ref
            delta = (f"{'+' if diff >= 0 else '−'}{fmt_int(abs(diff))} par rapport à "
                     f"« {labels[0]} »")
        cards.append({"label": label, "population": fmt_int(row["pop_deficit_mean"]),
                      "p10": fmt_int(row.get("pop_deficit_p10")),
                      "p90": fmt_int(row.get("pop_deficit_p90")), "delta": delta})
    head = Markup("").join(Markup('<th class="num">{}</th>').format(lab) for lab in labels)
    rows = []
    cell = s.set_index(["scenario", "year"])
    for y in years:
        tds = []
        for lab in labels:
            r = cell.loc[(lab, y)]
            interval = ("" if y == year0 else
                        f"{fmt_int(r.get('pop_deficit_p10'))} – {fmt_int(r.get('pop_deficit_p90'))}")
            tds.append(Markup('<td class="num">{}<span class="share">{}</span></td>').format(
                fmt_int(r["pop_deficit_mean"]), interval))
        rows.append(Markup("<tr><td>{}</td>{}</tr>").format(
            f"{y} (observé)" if y == year0 else y, Markup("").join(tds)))
    years_table = (Markup('<table class="years" id="compare-years"><thead><tr><th>Année</th>')
                   + head + Markup("</tr></thead><tbody>") + Markup("").join(rows)
                   + Markup("</tbody></table>"))
    c = comparison.communes
    shown = pd.DataFrame({
        "Commune": c["nom"].to_numpy() if "nom" in c else c["code_commune"].to_numpy(),
        "Code INSEE": c["code_commune"].to_numpy(),
        "Population": c["pop_totale"].to_numpy(np.float64),
        f"APL {year0}": c["apl"].to_numpy(np.float64),
    })
    headers = compare_headers(comparison)
    for k in range(len(labels)):
        for stem in ("apl_median", "p_deficit"):
            shown[headers[f"{stem}_{k}"]] = c[f"{stem}_{k}"].to_numpy(np.float64)
        shown[headers[f"annee_deficit_{k}"]] = [_year_of(v) for v in c[f"annee_deficit_{k}"]]
    communes_html = (_table(shown, prof, table_id="compare-communes", max_rows=max_rows)
                     if len(shown) else Markup('<table id="compare-communes"><tbody><tr>'
                                               '<td class="muted">Aucune : les scénarios donnent '
                                               'la même issue partout.</td></tr></tbody></table>'))
    thr = fmt_threshold(comparison.threshold)
    legend_runs = " ; ".join(f"[{k + 1}] « {lab} »" for k, lab in enumerate(labels))
    differs_intro = (
        f"{plural(len(c), 'commune')} : sous le seuil de {thr} (APL médian) dans un scénario et "
        f"pas dans un autre en {last}, ou dont la probabilité d'être {deficit.label.lower()} varie "
        f"d'au moins {fmt_int(100 * comparison.min_probability_change)} points entre deux "
        f"scénarios ; les plus grands écarts d'abord. Scénarios : {legend_runs}. Liste "
        "complète : compare_communes.csv.")
    draws = sorted({r.meta.get("draws") for r in runs})
    seeds = sorted({r.meta.get("seed") for r in runs})
    intro = (f"{plural(len(runs), 'scénario')} sur les mêmes données ({region_name}, "
             f"{year0}) : « " + " », « ".join(labels) + f" ». Population vivant dans une commune "
             f"{deficit.label.lower()} en {last}, moyenne des simulations.")
    method = [f"Chaque scénario est une projection de Monte-Carlo ({', '.join(fmt_int(d) for d in draws)} "
              f"simulations, graine{'s' if len(seeds) > 1 else ''} {', '.join(str(x) for x in seeds)}) "
              f"partant du même état {year0}.",
              "Les intervalles vont du 10e au 90e centile des simulations ; deux scénarios dont les "
              "bandes se chevauchent largement ne se distinguent pas nettement.",
              f"Seuil de sous-densité : APL < {thr} ({prof.zoning.source}).",
              "Réseau routier © les contributeurs d'OpenStreetMap (ODbL) ; populations et "
              "équipements INSEE ; APL et paramètres DREES (Licence Ouverte)."]
    now = dt.datetime.now().astimezone()
    meta = dict(meta or {})
    meta.setdefault("date", now.strftime("%d/%m/%Y %H:%M %Z").strip())
    meta.setdefault("version", f"apl-engine {__version__}")
    meta_items = [(_META_LABELS.get(k, _label(k)), v) for k, v in meta.items()]
    css = resources.files("engine").joinpath("templates", "report.css").read_text("utf-8")
    page = _environment().get_template("compare.html.j2").render(
        version=__version__, css=Markup(css), legend=legend, deficit=deficit, prof=prof,
        page_title=f"Comparaison de scénarios — {region_name}",
        subtitle=[f"Situation {year0}", plural(len(runs), "scénario"),
                  f"Projection {years[1]}–{last}", now.strftime("%d/%m/%Y")],
        generated=now.strftime("%d/%m/%Y"), intro=intro, cards=cards, chart=chart,
        last_year=last, year=year0, years_table=years_table,
        assumptions=_compare_assumptions(runs), communes=communes_html,
        differs_intro=differs_intro, method=method, meta=meta_items)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
