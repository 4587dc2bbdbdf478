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
from engine.french import fmt_dec, fmt_int, fmt_pct, fmt_threshold
from engine.maps import MISSING, class_key, class_keys, population_of, zoning_legend
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
    "population_in_deficit": "Population encore en déficit",
    "pop_deficit_mean": "Population en déficit", "pop_deficit_p10": "P10", "pop_deficit_p90": "P90",
    "share_deficit_mean": "Part en déficit", "communes_new_deficit": "Nouvelles communes en déficit",
    "active_practitioners_mean": "Praticiens actifs", "mean_apl": "APL moyen",
    "practitioners": "Praticiens",
}

_META_LABELS = {
    "seed": "Graine aléatoire", "draws": "Tirages", "n_draws": "Tirages", "date": "Date",
    "generated": "Date", "scenario": "Scénario", "version": "Version", "network": "Réseau",
    "base_year": "Année de référence", "horizon": "Horizon", "duration_s": "Durée (s)",
}


def _data_uri(path: str | os.PathLike[str]) -> str:
    data = Path(path).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _png_uri(fig, metadata: dict | None = None) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, facecolor="white", metadata=metadata)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _label(col: str) -> str:
    return _LABELS.get(col, str(col).replace("_", " ").capitalize())


def _cell(col: str, value, prof: Profession) -> tuple[str, bool]:
    """Formatted cell text and whether it is numeric (right-aligned)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–", True
    name = str(col).lower()
    if name.startswith("classe"):
        key = class_key(value, prof)
        labels = {e.code: e.long_label for e in zoning_legend(prof)}
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
        if "pop" in name or "communes" in name or "gps" in name or "practitioners" in name:
            return fmt_int(value), True
        if name in ("year", "annee"):
            return str(int(value)), True
        return fmt_dec(value, 2), True
    return str(value), False


def _row(columns, values, prof: Profession, *, row_class: str | None = None) -> Markup:
    """One ``<tr>`` of formatted cells (see :func:`_cell`)."""
    cells = []
    for c, v in zip(columns, values, strict=True):
        text, is_num = _cell(str(c), v, prof)
        cls = Markup(' class="num"') if is_num else Markup("")
        cells.append(Markup("<td{}>{}</td>").format(cls, text))
    opening = Markup('<tr class="{}">').format(row_class) if row_class else Markup("<tr>")
    return opening + Markup("").join(cells) + Markup("</tr>")


def _table(df: pd.DataFrame, prof: Profession, *, table_id: str | None = None,
           max_rows: int | None = None) -> Markup:
    """Render any DataFrame as a formatted HTML table (escaped)."""
    rows = df if max_rows is None else df.head(max_rows)
    head = []
    numeric = {c: pd.api.types.is_numeric_dtype(df[c]) for c in df.columns}
    for c in df.columns:
        cls = ' class="num"' if numeric[c] else ""
        head.append(Markup("<th{}>{}</th>").format(Markup(cls), _label(str(c))))
    body = [_row(df.columns, rec, prof) for rec in rows.itertuples(index=False)]
    ident = Markup(' id="{}"').format(table_id) if table_id else Markup("")
    out = (Markup("<table{}><thead><tr>").format(ident) + Markup("").join(head)
           + Markup("</tr></thead><tbody>") + Markup("").join(body) + Markup("</tbody></table>"))
    if max_rows is not None and len(df) > max_rows:
        out += Markup('<p class="note">… et {} autres lignes (voir le fichier CSV).</p>').format(
            len(df) - max_rows)
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
        df["departement"] = df["departement"].where(~is_total, "Ensemble")
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
                     "share": fmt_dec(share, 1), "width": f"{share:.1f}"})
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
    return {
        "from_year": bt.from_year, "to_year": bt.to_year,
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
    already_in_deficit: pd.DataFrame | None = None,
    backtest=None,
    zones: pd.DataFrame | None = None,
    zones_forecast: pd.DataFrame | None = None,
) -> Path:
    """Write the run's report as one self-contained HTML page.

    Sections: a short explanation of the APL and its thresholds; headline figures
    (population in deficit today and in the final forecast year with its 80% interval,
    communes tipping into deficit, active practitioners); the class map and the population by class
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
        ``year``, ``pop_deficit_mean``, ``pop_deficit_p10``, ``pop_deficit_p90``,
        ``share_deficit_mean``, ``communes_new_deficit``, ``active_practitioners_mean``.
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
    profession : str, path-like or Profession
        Whose labels, zoning classes and thresholds.
    baseline : scenarios.baseline.Baseline, optional
        Year 0: official or model, listed and unlisted practitioners.
    model_check : dict, optional
        :func:`engine.tables.model_check` (the model-check section).
    year : int, optional
        The data year (year 0).
    already_in_deficit : pandas.DataFrame, optional
        :meth:`scenarios.Forecast.already_in_deficit`.
    backtest : scenarios.backtest.Backtest, optional
        Adds the backtest section.
    zones : pandas.DataFrame, optional
        :func:`engine.tables.zones_table` (the zones section; map ``"zones"`` in ``maps``).
    zones_forecast : pandas.DataFrame, optional
        :func:`engine.tables.zones_forecast_table`.

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
        pop = population_of(communes)
        keys = class_keys(communes["classe"], prof) if "classe" in communes.columns else None
        under = float(pop[keys == deficit.code].sum()) if keys is not None else float("nan")
        n_under = int((keys == deficit.code).sum()) if keys is not None else 0
        total = float(pop.sum())
        today = {"population": fmt_int(under),
                 "share": fmt_dec(100 * under / total if total else np.nan, 1),
                 "communes": fmt_int(n_under), "n_communes": n_under}

    forecast_chart = None
    forecast_table = None
    if forecast_summary is not None and len(forecast_summary):
        forecast_chart = forecast_chart_png(forecast_summary, profession=prof)
        cols = [c for c in ("year", "pop_deficit_mean", "pop_deficit_p10", "pop_deficit_p90",
                            "share_deficit_mean", "communes_new_deficit",
                            "active_practitioners_mean")
                if c in forecast_summary.columns]
        shown = pd.DataFrame(forecast_summary)[cols].sort_values("year").reset_index(drop=True)
        # Year 0 is observed, not simulated: say so where it is read.
        shown["year"] = [f"{int(y)} (observé)" if k == 0 else str(int(y))
                         for k, y in enumerate(shown["year"])]
        forecast_table = _table(shown, prof, table_id="forecast-table")

    new_rows, new_more, new_count = None, 0, None
    if newly_in_deficit is not None:
        new_rows, new_more = _new_deficit_rows(newly_in_deficit, max_rows)
        new_count = fmt_int(pd.DataFrame(newly_in_deficit)["code_commune"].nunique()) if len(newly_in_deficit) else "0"

    inst_html = None
    if installations is not None:
        inst_html = _table(pd.DataFrame(installations), prof, table_id="installations",
                           max_rows=max_rows)
        if len(installations) == 0:
            inst_html = Markup('<table id="installations"><tbody><tr><td class="muted">'
                               "Aucune proposition.</td></tr></tbody></table>")

    already_rows, already_more = None, 0
    if already_in_deficit is not None:
        ad = pd.DataFrame(already_in_deficit)
        limit = min(max_rows, 15)
        already_rows = [{"nom": r.nom, "code": r.code_commune, "apl0": fmt_dec(r.apl_year0),
                         "last": fmt_dec(r.apl_median_last_year), "pop": fmt_int(r.pop_totale)}
                        for r in ad.head(limit).itertuples(index=False)]
        already_more = max(0, len(ad) - limit)
    zone_html = None
    if zones is not None and len(zones):
        zt = pd.DataFrame(zones)[["zone_nom", "communes", "pop_totale", "apl", "classe",
                                  "communes_deficit", "pop_deficit", "share_deficit"]].rename(
            columns={"zone_nom": "Zone", "communes_deficit": "Communes en déficit",
                     "pop_deficit": "Habitants en commune en déficit",
                     "share_deficit": "Part en déficit"})
        if zones_forecast is not None and len(zones_forecast):
            zf = pd.DataFrame(zones_forecast)
            last = zf[zf["year"] == zf["year"].max()].set_index("zone")
            key = pd.DataFrame(zones)["zone"].to_numpy()
            zt[f"APL médian {int(zf['year'].max())}"] = last["apl_median"].reindex(key).to_numpy()
            zt[f"Part en déficit {int(zf['year'].max())}"] = (
                last["share_deficit_mean"].reindex(key).to_numpy())
            crossing = zf.groupby("zone").apply(
                lambda g: g.loc[g["apl_median"] < prof.zoning.deficit_threshold, "year"].min(),
                include_groups=False)
            zt["Année de passage sous le seuil"] = [
                "–" if pd.isna(y) else str(int(y)) for y in crossing.reindex(key)]
        zone_html = _table(zt, prof, table_id="zones-table", max_rows=max_rows)
    practitioners = None
    if baseline is not None:
        listed = int((~baseline.slot_unlisted).sum())
        practitioners = {"listed": fmt_int(listed), "unlisted": fmt_int(baseline.n_unlisted)
                         if baseline.n_unlisted else None}

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

    env = Environment(loader=PackageLoader("engine", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    css = resources.files("engine").joinpath("templates", "report.css").read_text("utf-8")
    page = env.get_template("report.html.j2").render(
        version=__version__, css=Markup(css), region_name=region_name, prof=prof, legend=legend,
        deficit=deficit, deficit_threshold=fmt_threshold(prof.zoning.deficit_threshold),
        max_minutes=fmt_threshold(prof.decay.max_minutes),
        scenario_name=scenario_name, generated=now.strftime("%d/%m/%Y"),
        today=today, final=_headline_final(forecast_summary), new_count=new_count,
        gps=_gps(forecast_summary), maps={"apl": uris.get("apl"), "forecast": uris.get("forecast")},
        extra_maps=[(k, v) for k, v in uris.items() if k not in ("apl", "forecast", "zones")],
        zones_map=uris.get("zones"),
        by_class=by_class, totals=totals,
        zoning_table=(_zoning_table(zoning_summary, prof)
                      if zoning_summary is not None and len(zoning_summary) else None),
        forecast_chart=forecast_chart, forecast_table=forecast_table,
        new_deficit=new_rows, new_deficit_more=new_more, installations=inst_html, meta=meta_items,
        year=year, official_baseline=baseline is not None and baseline.kind == "official",
        practitioners=practitioners, already=already_rows, already_more=already_more,
        already_count=fmt_int(len(already_in_deficit)) if already_in_deficit is not None else None,
        check=_check_view(model_check, prof) if model_check else None,
        backtest=_backtest_view(backtest, prof) if backtest is not None else None,
        zones=zone_html, zones_count=fmt_int(len(zones)) if zones is not None else None,
        hide_current=communes is None,
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
