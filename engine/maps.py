"""Maps of the results: static PNG maps for slides and a self-contained interactive HTML map.

Static maps are drawn with matplotlib in Lambert-93 (EPSG:2154, the French official
projection), so that areas are not distorted and the scale bar is true in kilometres. They
carry the usual cartographic furniture: a title naming the year (and the scenario), a
plain-French subtitle, a legend with the population in each class, a scale bar in French
notation, a north arrow and a source line.

The interactive map (:func:`map_html`) is one HTML file that opens offline (planners'
laptops, CI, an e-mailed file):

- Leaflet 1.9.4's JS and CSS are inlined from the official build vendored in the package
  (``engine/assets/leaflet``, BSD-2 licence beside it), its images as data URIs; the page's
  own script is ``engine/assets/apl_map.js``, inlined too;
- the only network request is the OpenStreetMap basemap, made by the viewer's browser when
  online; offline its tiles fail silently and the commune polygons stay the base;
- the data (communes, zones, installations...) travel as JSON in a
  ``<script type="application/json">`` element and every string from it is put into the
  page as text (``textContent``), never as HTML; a Content-Security-Policy allows only the
  two inline scripts (by hash), so that even an injected ``onerror=`` could not run.

These functions only draw what they are given: APL and classes come from :mod:`engine.apl`,
class codes, labels, thresholds and colours from the profession's zoning
(:attr:`engine.apl.Profession.zoning`), numbers are formatted by :mod:`engine.french`.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from engine.apl import Profession
from engine.apl import profession as as_profession
from engine.errors import InputError
from engine.french import fmt_dec, fmt_int, fmt_pct, fmt_threshold, plural
from engine.outputs import atomic_path
from engine.routing.surface import LAMBERT93  # the projection of the static maps too

#: Colour and label of communes without a value.
MISSING = ("Sans donnée", "#cccccc")

#: The attribution every map carries.
SOURCES = "Sources : © les contributeurs d'OpenStreetMap (ODbL), INSEE, DREES · calcul apl-engine"

#: The same, as HTML for the interactive map (a link is only followed when clicked); the
#: basemap adds its own.
_ATTRIBUTION_HTML = ('Données © <a href="https://www.openstreetmap.org/copyright">contributeurs '
                     "d'OpenStreetMap</a> (ODbL), INSEE, DREES · calcul apl-engine")


@dataclass(frozen=True)
class LegendEntry:
    """One zoning class as maps and the report show it."""

    code: str
    label: str
    range: str
    color: str

    @property
    def long_label(self) -> str:
        """``"Sous-dense (APL < 2,5)"``."""
        return f"{self.label} ({self.range})"


def zoning_legend(profession: str | Profession = "gp") -> list[LegendEntry]:
    """The profession's zoning classes with their French labels, ranges and colours.

    Examples
    --------
    >>> [e.long_label for e in zoning_legend()]
    ['Sous-dense (APL < 2,5)', 'Intermédiaire (2,5 à 4)', 'Hors zone (APL ≥ 4)']
    """
    zoning = as_profession(profession).zoning
    t = [fmt_threshold(x) for x in zoning.thresholds]
    out = []
    for k, cls in enumerate(zoning.classes):
        if k == 0:
            rng = f"APL < {t[0]}"
        elif k == len(t):
            rng = f"APL ≥ {t[-1]}"
        else:
            rng = f"{t[k - 1]} à {t[k]}"
        out.append(LegendEntry(cls.code, cls.label, rng, cls.color))
    return out


def map_title(profession: str | Profession = "gp") -> str:
    """``"Accessibilité aux médecins généralistes (APL)"``."""
    return f"Accessibilité aux {as_profession(profession).label} (APL)"


def class_key(value, profession: str | Profession = "gp") -> str | None:
    """Normalise a class code or label (``"Intermédiaire"``, ``"hors zone"``) to its code.

    Parameters
    ----------
    value : object
        A class code or label, or a missing value.
    profession : str, path-like or Profession
        Whose zoning classes.

    Returns
    -------
    str or None
        The class code, or ``None`` when missing or unknown.

    Examples
    --------
    >>> class_key("Intermédiaire")
    'intermediaire'
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    zoning = as_profession(profession).zoning
    wanted = _normal(value)
    for cls in zoning.classes:
        if wanted in (_normal(cls.code), _normal(cls.label)):
            return cls.code
    return None


def _normal(text) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[\s_-]+", "-", text.strip().lower())


def class_keys(values, profession: str | Profession = "gp") -> pd.Series:
    """:func:`class_key` over a Series, as an object Series (``None`` where missing).

    Examples
    --------
    >>> class_keys(pd.Series(["sous-dense", None])).tolist()
    ['sous-dense', None]
    """
    return pd.Series([class_key(v, profession) for v in values], index=values.index, dtype=object)


def population_of(communes) -> pd.Series:
    """The total population column of a communes table (0 where unknown).

    Examples
    --------
    >>> population_of(pd.DataFrame({"pop_totale": [10.0, None]})).tolist()
    [10.0, 0.0]
    """
    for col in ("pop_totale", "population_municipale", "population"):
        if col in communes.columns:
            return pd.to_numeric(communes[col], errors="coerce").fillna(0.0)
    return pd.Series(np.zeros(len(communes)), index=communes.index)


# --------------------------------------------------------------------------- static maps
def _to_l93(gdf):
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    return gdf.to_crs(LAMBERT93)


class _Layout:
    """A figure laid out in inches: title band, map on the left, a side column on the right.

    Sizes are in inches so that fonts keep their size whatever the region's shape; the map
    box follows the region's aspect ratio, so a tall region (Corsica) does not leave a wide
    empty margin.
    """

    margin, bottom_band, gap, side_w = 0.35, 0.45, 0.35, 3.9

    def __init__(self, gdf_l93, header_lines: int = 2) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        xmin, ymin, xmax, ymax = gdf_l93.total_bounds
        ratio = (ymax - ymin) / max(xmax - xmin, 1.0)
        if ratio >= 1.0:
            map_h, map_w = 7.5, max(7.5 / ratio, 4)
        else:
            map_w, map_h = 8.0, max(8.0 * ratio, 5.5)
        self.width = self.margin + map_w + self.gap + self.side_w + 0.2
        # Title, then one band per further header line (scenario, subtitle).
        self.top_band = 0.62 + 0.36 * max(header_lines - 1, 1)
        self.height = self.top_band + map_h + self.bottom_band
        self.side_x = self.margin + map_w + self.gap
        self.fig = Figure(figsize=(self.width, self.height), dpi=150, facecolor="white")
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes([self.margin / self.width, self.bottom_band / self.height,
                                     map_w / self.width, map_h / self.height])
        self.ax.set_axis_off()

    def at(self, x_in: float, top_in: float) -> tuple[float, float]:
        """Figure fraction of a point ``x_in`` right of the side column's left edge, ``top_in``
        below the top of the map box (the side column starts level with the map)."""
        return (self.side_x + x_in) / self.width, 1.0 - (top_in + self.top_band - 1.0) / self.height

    def side_axes(self, x_in: float, top_in: float, w_in: float, h_in: float):
        """An axes in the side column (for a colour bar)."""
        x, y = self.at(x_in, top_in + h_in)
        return self.fig.add_axes([x, y, w_in / self.width, h_in / self.height])


def _draw_base(ax, gdf_l93, colors, *, point_sizes=None) -> None:
    from matplotlib.colors import to_hex

    # One colour format for all (geopandas chokes on a mix of hex strings and RGBA tuples).
    colors = [to_hex(c) for c in colors]
    geom_types = set(gdf_l93.geometry.geom_type.dropna())
    if geom_types <= {"Point", "MultiPoint"}:
        sizes = point_sizes if point_sizes is not None else 20
        ax.scatter(gdf_l93.geometry.x, gdf_l93.geometry.y, s=sizes, c=list(colors),
                   edgecolor="white", linewidth=0.4, zorder=2)
    else:
        gdf_l93.plot(ax=ax, color=list(colors), edgecolor="white", linewidth=0.25, zorder=1)
        if "departement" in gdf_l93.columns and gdf_l93["departement"].nunique() > 1:
            # Département borders help planners find their way on a map without a basemap.
            try:
                borders = gdf_l93[["departement", gdf_l93.geometry.name]].dissolve("departement")
                borders.boundary.plot(ax=ax, color="#555555", linewidth=0.9, zorder=3)
            except Exception:  # a topology error must not cost the whole map
                pass
    ax.set_aspect("equal", adjustable="datalim")
    ax.apply_aspect()


def _nice_length_km(span_m: float) -> float:
    """A round scale-bar length near a fifth of the map width (1, 2 or 5 times a power of ten,
    so that its half is round too)."""
    target = max(span_m / 5.0 / 1000.0, 1e-3)
    steps = [m * 10.0 ** e for e in range(4) for m in (1, 2, 5)]
    return min(steps, key=lambda step: abs(math.log(step / target)))


def _km(value: float) -> str:
    """A scale-bar distance in French notation: ``2.5 -> '2,5'``, ``10.0 -> '10'``."""
    return fmt_threshold(round(value, 3))


def _scale_bar(ax) -> None:
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length_km = _nice_length_km(x1 - x0)
    length = length_km * 1000.0
    height = (y1 - y0) * 0.008
    left = x0 + (x1 - x0) * 0.04
    bottom = y0 + (y1 - y0) * 0.03
    half = length / 2.0
    for i, face in enumerate(("#222222", "white")):
        ax.add_patch(Rectangle((left + i * half, bottom), half, height, facecolor=face,
                               edgecolor="#222222", linewidth=0.8, zorder=10))
    label_y = bottom + height * 1.8
    for frac, text in ((0.0, "0"), (0.5, _km(length_km / 2)), (1.0, _km(length_km))):
        ax.text(left + frac * length, label_y, text, ha="center", va="bottom", fontsize=8,
                color="#222222", zorder=10)
    # The unit after the bar, so that it does not crowd the numbers above it.
    ax.text(left + length + (x1 - x0) * 0.012, bottom + height / 2, "km", ha="left",
            va="center", fontsize=8, color="#222222", zorder=10)


def _north_arrow(ax) -> None:
    """A north arrow pointing straight up.

    Up is Lambert-93 grid north. True north differs from it by the meridian convergence,
    about 4.5° in Corsica and at most a few degrees over a French département; at the scale
    of these maps that is invisible, while a tilted arrow reads as a drawing error.
    """
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    size = (y1 - y0) * 0.06
    base_x = x1 - (x1 - x0) * 0.06
    base_y = y1 - (y1 - y0) * 0.13
    ax.annotate("", xy=(base_x, base_y + size), xytext=(base_x, base_y),
                arrowprops={"arrowstyle": "-|>,head_width=0.5,head_length=1.0",
                            "color": "#222222", "linewidth": 1.6}, zorder=10)
    ax.text(base_x, base_y + size * 1.25, "N", ha="center", va="bottom", fontsize=12,
            fontweight="bold", color="#222222", zorder=10)


def _header_lines(*lines: str | None) -> int:
    return sum(1 for line in lines if line)


def _furniture(lay: _Layout, title: str, subtitle: str | None, *,
               scenario: str | None = None) -> None:
    """Scale bar, north arrow, the title block (title, scenario, subtitle) and the sources."""
    _scale_bar(lay.ax)
    _north_arrow(lay.ax)
    fig, w, h = lay.fig, lay.width, lay.height
    width_in = w - 2 * lay.margin
    top = 0.3
    fig.text(lay.margin / w, 1 - top / h, _fit(title, width_in, 16, bold=True), fontsize=16,
             fontweight="bold", color="#1a1a1a", va="top")
    if scenario:
        top += 0.42
        fig.text(lay.margin / w, 1 - top / h, _fit(f"Scénario : {scenario}", width_in, 12.5),
                 fontsize=12.5, color="#1a1a1a", va="top")
    if subtitle:
        top += 0.40 if scenario else 0.38
        fig.text(lay.margin / w, 1 - top / h, _fit(subtitle, width_in, 10.5), fontsize=10.5,
                 color="#555555", va="top")
    fig.text(lay.margin / w, 0.15 / h, SOURCES, fontsize=7.5, color="#666666", va="bottom")


def _fit(text: str, width_in: float, fontsize: float, *, bold: bool = False) -> str:
    """``text`` on one line if it fits ``width_in`` inches at ``fontsize``, else shortened with
    an ellipsis (a slide title must stay one line; the full text is in the report). A ``$``
    (a scenario's "Coût : 50 000 $") is escaped, or matplotlib would read it as math."""
    per_char = fontsize / 72.0 * (0.64 if bold else 0.56)
    most = max(int(width_in / per_char), 10)
    text = text if len(text) <= most else text[:most - 1].rstrip() + "…"
    return text.replace("$", r"\$")


def _save_png(fig, path: Path, facts: dict | None = None) -> Path:
    """Write the figure; ``facts`` (the numbers the legend shows) go into the PNG's text
    metadata, so that a reader (or a test) can check a map against the tables."""
    path = Path(path)
    metadata = {"Software": "apl-engine"}
    metadata.update({f"apl:{k}": str(v) for k, v in (facts or {}).items()})
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, facecolor="white", metadata=metadata)
    return path


def _point_sizes(pop: pd.Series) -> np.ndarray:
    return 8.0 + 120.0 * np.sqrt(pop.to_numpy() / max(float(pop.max()), 1.0))


def map_apl_png(
    communes,
    path: str | os.PathLike[str],
    *,
    column: str = "classe",
    title: str | None = None,
    subtitle: str | None = None,
    profession: str | Profession = "gp",
    year: int | None = None,
) -> Path:
    """Choropleth of the APL zoning classes (or of a numeric column) as a PNG.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Commune polygons (or points) with ``column`` and, for the legend, ``pop_totale``.
    path : str or os.PathLike
        The PNG file (written atomically).
    column : str
        ``"classe"`` (default) or another class column (``"classe_u65"``) for the official
        class colours; a numeric column (``"apl"``) gets a red-to-green colour scale with
        breaks at the zoning thresholds.
    title : str, optional
        Map title; default "Accessibilité aux <profession> (APL) en <year>".
    subtitle : str, optional
        A second line under the title (region, source of the values).
    profession : str, path-like or Profession
        Whose zoning classes, labels and colours.
    year : int, optional
        The year of the values, named in the default title and written into the PNG's
        metadata (``apl:year``).

    Returns
    -------
    pathlib.Path
        ``path``. The PNG's text metadata hold the legend's numbers
        (``apl:population_<class code>``, ``apl:communes_<class code>``).

    Examples
    --------
    >>> map_apl_png(communes, "out/map_apl.png", year=2022, subtitle="Corse")  # doctest: +SKIP
    PosixPath('out/map_apl.png')
    """
    from matplotlib.patches import Patch

    if column not in communes.columns:
        raise KeyError(f"communes has no column {column!r} to map")
    prof = as_profession(profession)
    gdf = _to_l93(communes)
    pop = population_of(gdf)
    lay = _Layout(gdf, _header_lines(title or "title", subtitle))
    values = gdf[column]
    facts: dict = {} if year is None else {"year": int(year)}
    if pd.api.types.is_numeric_dtype(values):
        _numeric_choropleth(lay, gdf, values, pop, prof)
    else:
        legend = zoning_legend(prof)
        color_of = {e.code: e.color for e in legend}
        keys = class_keys(values, prof)
        colors = [color_of[k] if k else MISSING[1] for k in keys]
        _draw_base(lay.ax, gdf, colors, point_sizes=_point_sizes(pop))
        total = max(float(pop.sum()), 1.0)
        handles = []
        for entry in legend:
            p = float(pop[keys == entry.code].sum())
            n = int((keys == entry.code).sum())
            facts[f"population_{entry.code}"] = round(p)
            facts[f"communes_{entry.code}"] = n
            handles.append(Patch(facecolor=entry.color, edgecolor="#888888", linewidth=0.5,
                                 label=f"{entry.long_label}\n{fmt_int(p)} hab. "
                                       f"({fmt_pct(p / total)}) · {plural(n, 'commune')}"))
        if keys.isna().any():
            p = float(pop[keys.isna()].sum())
            handles.append(Patch(facecolor=MISSING[1], edgecolor="#888888", linewidth=0.5,
                                 label=f"{MISSING[0]}\n{fmt_int(p)} hab. · "
                                       f"{plural(int(keys.isna().sum()), 'commune')}"))
        legend_title = (f"Zonage ({prof.label} ≤ {prof.variant_max_age:g} ans)"
                        if column.endswith("u65") and prof.variant_max_age else "Zonage APL")
        lay.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=lay.at(0.0, 1.1),
                       frameon=False, fontsize=9.5, title=legend_title, title_fontsize=11,
                       alignment="left", labelspacing=1.2, handleheight=1.6)
        lay.fig.text(*lay.at(0.08, 1.3 + 0.62 * len(handles) + 0.35),
                     _wrap(f"APL : {prof.unit}", 42), fontsize=8.5, color="#555555", va="top")
    _furniture(lay, title or _in_year(map_title(prof), year), subtitle)
    return _save_png(lay.fig, Path(path), facts)


def _in_year(text: str, year: int | None) -> str:
    """``"Accessibilité ... (APL) en 2022"`` (the text alone without a year)."""
    return text if year is None else f"{text} en {int(year)}"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _numeric_choropleth(lay: _Layout, gdf, values, pop, prof: Profession) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm

    v = pd.to_numeric(values, errors="coerce")
    # Colour breaks on the zoning thresholds, with one more break inside each class.
    t = list(prof.zoning.thresholds)
    inner = [t[0] * 0.6] + [(a + b) / 2 for a, b in zip(t, t[1:], strict=False)]
    bounds = sorted({0.0, *t, *inner, t[-1] * 1.25})
    top = max(bounds[-1] * 1.2, float(np.nanmax(v.to_numpy())) if v.notna().any() else 0.0)
    bounds = [*bounds, top + 1e-9]
    cmap = colormaps["RdYlGn"].resampled(len(bounds) - 1)
    norm = BoundaryNorm(bounds, cmap.N)
    colors = [MISSING[1] if pd.isna(x) else cmap(norm(x)) for x in v]
    _draw_base(lay.ax, gdf, colors, point_sizes=_point_sizes(pop))
    from matplotlib.cm import ScalarMappable

    cax = lay.side_axes(0.1, 1.3, 0.2, 4)
    bar = lay.fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    bar.set_ticks(bounds[:-1] + [top])
    bar.set_ticklabels([fmt_dec(b, 1) for b in bounds[:-1]] + [fmt_dec(top, 1)])
    bar.set_label(f"APL ({prof.unit_short})", fontsize=9)


#: Edges of the classes of the probability of deficit, shared by the static and the
#: interactive map; 50 % is an edge, so that "more likely than not" reads off the legend.
PROBABILITY_EDGES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)


def _probability_colors() -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    # Not from the very start of the scale: a white commune would vanish between white borders.
    cmap = colormaps["Reds"]
    return [to_hex(cmap(x)) for x in np.linspace(0.1, 0.95, len(PROBABILITY_EDGES) - 1)]


def _probability_labels() -> list[str]:
    e = PROBABILITY_EDGES
    out = [f"Moins de {fmt_pct(e[1], 0)}"]
    out += [f"{fmt_dec(100 * a, 0)} à {fmt_pct(b, 0)}" for a, b in zip(e[1:-2], e[2:-1], strict=True)]
    return [*out, f"{fmt_pct(e[-2], 0)} ou plus"]


def probability_class(p) -> np.ndarray:
    """Index of the class of :data:`PROBABILITY_EDGES` of each probability (-1 where missing).

    Examples
    --------
    >>> probability_class([0.0, 0.1, 0.49, 0.5, 1.0, float("nan")]).tolist()
    [0, 1, 2, 3, 5, -1]
    """
    a = np.asarray(p, dtype=np.float64)
    k = np.searchsorted(np.asarray(PROBABILITY_EDGES[1:-1]), np.clip(a, 0.0, 1.0), side="right")
    return np.where(np.isnan(a), -1, k).astype(np.int64)


def deficit_sentence(year: int | None, draws: int | None = None,
                     profession: str | Profession = "gp") -> str:
    """The plain-French reading of a probability of deficit.

    Examples
    --------
    >>> deficit_sentence(2032, 1000)
    'Probabilité, sur 1\u202f000 simulations, que la commune soit sous-dense (APL < 2,5) en 2032'
    """
    deficit = zoning_legend(profession)[0]
    over = f", sur {plural(int(draws), 'simulation')}," if draws else ""
    when = f" en {int(year)}" if year is not None else ""
    return (f"Probabilité{over} que la commune soit {deficit.label.lower()} "
            f"({deficit.range}){when}")


def map_forecast_png(
    communes,
    forecast_communes: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    year: int | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    profession: str | Profession = "gp",
    scenario: str | None = None,
    draws: int | None = None,
) -> Path:
    """Map of the probability that each commune is in deficit in a forecast year.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Commune polygons (or points) with ``code_commune``.
    forecast_communes : pandas.DataFrame
        ``code_commune``, ``year``, ``p_deficit`` (0–1) per commune and year.
    path : str or os.PathLike
        The PNG file (written atomically).
    year : int, optional
        The year mapped; default the last year of the forecast.
    title : str, optional
        Default "Risque d'être sous-dense en <year>".
    subtitle : str, optional
        Default the plain-French reading of the colours, "Probabilité, sur 1 000
        simulations, que la commune soit sous-dense (APL < 2,5) en 2032".
    profession : str, path-like or Profession
        Whose zoning (the deficit class and its threshold).
    scenario : str, optional
        The scenario's French title, shown under the title ("Scénario : ...").
    draws : int, optional
        The number of simulations, named in the subtitle.

    Returns
    -------
    pathlib.Path
        ``path``. The PNG's text metadata hold ``apl:year``, ``apl:communes_likely`` and
        ``apl:population_likely`` (communes with a probability of 50 % or more).

    Examples
    --------
    >>> map_forecast_png(communes, fc.communes, "out/map_forecast.png",
    ...                  scenario="Départ à 65 ans", draws=1000)  # doctest: +SKIP
    PosixPath('out/map_forecast.png')
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    fc = pd.DataFrame(forecast_communes)
    if fc.empty:
        raise ValueError("forecast_communes is empty: nothing to map")
    if year is None:
        year = int(fc["year"].max())
    sel = fc[fc["year"] == year]
    if sel.empty:
        raise ValueError(f"no forecast for year {year}; years are "
                         f"{sorted(fc['year'].unique().tolist())}")
    prof = as_profession(profession)
    prob = sel.groupby(sel["code_commune"].astype(str))["p_deficit"].mean()
    gdf = _to_l93(communes)
    p = gdf["code_commune"].astype(str).map(prob)
    colors_of = _probability_colors()
    k = probability_class(p.to_numpy(dtype=np.float64))
    colors = [MISSING[1] if c < 0 else colors_of[c] for c in k]
    subtitle = subtitle or deficit_sentence(year, draws, prof)
    lay = _Layout(gdf, _header_lines(title or "title", scenario, subtitle))
    fig = lay.fig
    pop = population_of(gdf)
    _draw_base(lay.ax, gdf, colors, point_sizes=_point_sizes(pop))
    deficit = zoning_legend(prof)[0]
    fig.text(*lay.at(0.0, 1.1), f"Probabilité d'être {deficit.label.lower()}\n"
             f"({deficit.range}) en {year}", fontsize=11, fontweight="bold", va="top")
    cax = lay.side_axes(0.1, 1.75, 0.22, 3.6)
    norm = BoundaryNorm(PROBABILITY_EDGES, len(colors_of))
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=ListedColormap(colors_of)), cax=cax)
    bar.set_ticks(PROBABILITY_EDGES)
    bar.set_ticklabels([fmt_pct(b, 0) for b in PROBABILITY_EDGES])
    bar.ax.tick_params(labelsize=9)
    likely = (k >= int(np.searchsorted(PROBABILITY_EDGES, 0.5))) & (k >= 0)
    n_likely, pop_likely = int(likely.sum()), float(pop[likely].sum())
    fig.text(*lay.at(0.0, 5.7), f"Probabilité de {fmt_pct(0.5, 0)} ou plus :\n"
             f"{plural(n_likely, 'commune')}, {fmt_int(pop_likely)} habitants",
             fontsize=9.5, color="#333333", va="top")
    if p.isna().any():
        fig.legend(handles=[Patch(facecolor=MISSING[1], edgecolor="#888888", label="Sans projection")],
                   loc="upper left", bbox_to_anchor=lay.at(-0.05, 6.4), frameon=False, fontsize=9)
    _furniture(lay, title or f"Risque d'être {deficit.label.lower()} en {year}", subtitle,
               scenario=scenario)
    facts = {"year": int(year), "communes_likely": n_likely, "population_likely": round(pop_likely)}
    if draws:
        facts["draws"] = int(draws)
    return _save_png(fig, Path(path), facts)


def map_installations_png(
    communes,
    installations: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    column: str = "classe",
    year: int | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    scenario: str | None = None,
    profession: str | Profession = "gp",
) -> Path:
    """The proposed installation sites, numbered in order, on the zoning classes.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Commune polygons (or points) with ``code_commune``, ``column`` and ``pop_totale``.
    installations : pandas.DataFrame
        :func:`scenarios.optimize_installations`: ``rank``, ``code_commune``, ``nom``,
        ``gps`` and, when known, ``population_lifted``; sites are drawn at their commune.
    path : path-like
        The PNG (written atomically).
    column : str
        The class column drawn under the sites (``"classe"``: year 0; a forecast's
        ``"classe_forecast"``: its last year).
    year : int, optional
        The planning year, named in the default title.
    title, subtitle, scenario : str, optional
    profession : str, path-like or Profession

    Returns
    -------
    pathlib.Path
        ``path``; the PNG's metadata hold ``apl:sites`` and ``apl:population_lifted``.
    """
    from matplotlib.patches import Patch

    prof = as_profession(profession)
    gdf = _to_l93(communes)
    pop = population_of(gdf)
    lay = _Layout(gdf, _header_lines(title or "title", subtitle, scenario))
    legend = zoning_legend(prof)
    color_of = {e.code: e.color for e in legend}
    keys = class_keys(gdf[column], prof)
    # Paler classes, so that the numbered sites stand out.
    colors = [_blend(color_of[k] if k else MISSING[1], 0.45) for k in keys]
    _draw_base(lay.ax, gdf, colors, point_sizes=_point_sizes(pop))
    inst = pd.DataFrame(installations).reset_index(drop=True)
    at = gdf.set_index("code_commune").geometry.representative_point()
    lines = []
    for k, row in inst.iterrows():
        point = at.get(row["code_commune"])
        if point is None:
            continue
        rank = int(row["rank"]) if "rank" in row else k + 1
        lay.ax.scatter([point.x], [point.y], s=210, color="#1f4e79", edgecolor="white",
                       linewidth=1.2, zorder=12)
        lay.ax.text(point.x, point.y, str(rank), ha="center", va="center", fontsize=7.5,
                    fontweight="bold", color="white", zorder=13)
        lifted = row.get("population_lifted")
        gain = "" if lifted is None or pd.isna(lifted) else f" : {fmt_int(lifted)} hab. sortis"
        lines.append(f"{rank}. {row.get('nom', row['code_commune'])}{gain}")
    shown = lines[:18]
    lay.fig.text(*lay.at(0.08, 1.1), "Sites proposés, dans l'ordre", fontsize=10.5,
                 fontweight="bold", color="#1a1a1a", va="top")
    lay.fig.text(*lay.at(0.08, 1.45), "\n".join(_fit(line, 3.7, 8.5) for line in shown),
                 fontsize=8.5, color="#1a1a1a", va="top", linespacing=1.5)
    handles = [Patch(facecolor=_blend(e.color, 0.45), edgecolor="#888888", linewidth=0.5,
                     label=e.long_label) for e in legend]
    lay.fig.legend(handles=handles, loc="upper left",
                   bbox_to_anchor=lay.at(0.0, 1.8 + 0.215 * len(shown)), frameon=False,
                   fontsize=9, title="Zonage sous les sites", title_fontsize=10.5,
                   alignment="left")
    gps = inst["gps"].astype(int) if "gps" in inst else pd.Series([1] * len(inst))
    if (gps == 1).all():
        default = f"Où installer {plural(len(inst), 'nouveau ' + prof.label_singular, 'nouveaux ' + prof.label)}"
    else:
        default = f"Où installer {plural(len(inst), 'site')} de {prof.label}"
    _furniture(lay, title or _in_year(default, year), subtitle, scenario=scenario)
    lifted = inst["population_lifted"].sum() if "population_lifted" in inst else float("nan")
    return _save_png(lay.fig, Path(path), {"sites": len(inst),
                                          "population_lifted": round(float(lifted))
                                          if np.isfinite(lifted) else ""})


def _blend(color: str, weight: float) -> str:
    """``color`` mixed with white (``weight`` of the colour)."""
    from matplotlib.colors import to_hex, to_rgb

    r, g, b = to_rgb(color)
    return to_hex((1 - weight + weight * r, 1 - weight + weight * g, 1 - weight + weight * b))


def map_zones_png(communes, zones, zone_of, path: str | os.PathLike[str], *,
                  title: str | None = None, subtitle: str | None = None,
                  profession: str | Profession = "gp", year: int | None = None) -> Path:
    """Map of the zones (EPCI, territoires de vie-santé...) coloured by their zoning class.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Commune polygons with ``code_commune`` (and ``pop_totale``).
    zones : pandas.DataFrame
        :func:`engine.apl.zone_table`: ``zone``, ``zone_nom``, ``apl``, ``classe``,
        ``pop_totale``, ``pop_deficit``.
    zone_of : pandas.DataFrame
        ``code_commune`` → ``zone`` (communes in no zone are drawn grey).
    path : path-like
        The PNG file (written atomically).
    title : str, optional
        Default "Zones : accessibilité aux <profession> en <year>".
    subtitle : str, optional
        A second line (region, source).
    profession : str, path-like or Profession
    year : int, optional
        The year of the values, named in the default title.

    Returns
    -------
    pathlib.Path
        ``path``; the PNG's text metadata hold ``apl:zones_<class code>``.
    """
    from matplotlib.patches import Patch

    prof = as_profession(profession)
    gdf = _to_l93(communes)
    zone = gdf["code_commune"].map(zone_of.set_index("code_commune")["zone"])
    gdf = gdf.assign(zone=zone.to_numpy())
    legend = zoning_legend(prof)
    color_of = {e.code: e.color for e in legend}
    classe = pd.Series(zones["classe"].to_numpy(), index=zones["zone"].astype(str).to_numpy())
    keys = gdf["zone"].map(lambda z: None if pd.isna(z) else classe.get(str(z)))
    colors = [color_of.get(k, MISSING[1]) if k is not None else MISSING[1] for k in keys]
    lay = _Layout(gdf, _header_lines(title or "title", subtitle))
    _draw_base(lay.ax, gdf.drop(columns=["departement"], errors="ignore"), colors)
    polygons = not set(gdf.geometry.geom_type.dropna()) <= {"Point", "MultiPoint"}
    try:
        if polygons:  # communes given as points have no borders to draw
            borders = gdf[gdf["zone"].notna()][["zone", gdf.geometry.name]].dissolve("zone")
            borders.boundary.plot(ax=lay.ax, color="#333333", linewidth=1.1, zorder=3)
    except Exception:  # a topology error must not cost the whole map
        pass
    facts = {} if year is None else {"year": int(year)}
    handles = []
    for entry in legend:
        sel = zones["classe"] == entry.code
        n = int(sel.sum())
        facts[f"zones_{entry.code}"] = n
        handles.append(Patch(facecolor=entry.color, edgecolor="#888888", linewidth=0.5,
                             label=f"{entry.long_label}\n{plural(n, 'zone')} · "
                                   f"{fmt_int(zones.loc[sel, 'pop_totale'].sum())} hab."))
    lay.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=lay.at(0.0, 1.1),
                   frameon=False, fontsize=9.5, title="APL de la zone", title_fontsize=11,
                   alignment="left", labelspacing=1.2, handleheight=1.6)
    lay.fig.text(*lay.at(0.08, 1.3 + 0.62 * len(handles) + 0.35),
                 _wrap("APL d'une zone : moyenne de l'APL de ses communes pondérée par la "
                       "population standardisée (règle DREES)", 42),
                 fontsize=8.5, color="#555555", va="top")
    _furniture(lay, title or _in_year(f"Zones : accessibilité aux {prof.label}", year), subtitle)
    return _save_png(lay.fig, Path(path), facts)


# --------------------------------------------------------------------------- interactive map
#: OpenStreetMap's standard tiles: the only request map.html makes, from the viewer's browser
#: and only when it is online (https://operations.osmfoundation.org/policies/tiles/).
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

#: The attribution OpenStreetMap asks for next to its tiles (HTML, shown by Leaflet).
OSM_TILES_ATTRIBUTION = ('© <a href="https://www.openstreetmap.org/copyright">'
                         "OpenStreetMap contributors</a>")

#: Colours of the year-of-crossing classes: already under, soon ... late, never.
_CROSSING_COLORS = ("#67000d", "#cb181d", "#fb6a4a", "#fcae91", "#fee5d9")
_NEVER_COLOR = "#d1e5f0"

#: Colours of the isochrone bands, shortest first (light blues: they lie over the classes).
_ISOCHRONE_COLORS = ("#2171b5", "#6baed6", "#9ecae1", "#c6dbef", "#deebf7")

_KINDS = {"prevue": "planned", "planned": "planned", "proposee": "proposed", "proposed": "proposed"}


@functools.lru_cache(maxsize=1)
def _assets() -> tuple[str, str, str]:
    """Leaflet's JS and CSS (images inlined), from the copy vendored in the package, and the
    page's own script."""
    assets = resources.files("engine").joinpath("assets")
    static = assets.joinpath("leaflet")
    js = static.joinpath("leaflet.js").read_text(encoding="utf-8")
    css = static.joinpath("leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        image = static.joinpath(*match.group(1).split("/"))
        if not image.is_file():
            return match.group(0)
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    # The source-map comment would make DevTools request a file that is not there.
    js = re.sub(r"//# sourceMappingURL=\S+", "", js)
    app = assets.joinpath("apl_map.js").read_text(encoding="utf-8")
    return js, css, app


def _script_json(obj) -> str:
    """``obj`` as JSON that is safe inside a ``<script>`` element: ``<``, ``>`` and ``&``
    escaped (so no ``</script>`` nor ``<!--`` can appear), NaN refused."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char in ("&", "<", ">", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _text(value) -> str | None:
    """A user-supplied value as plain text (None when missing); the page shows it as text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _number(frame, column: str) -> pd.Series | None:
    if column not in frame.columns:
        return None
    return pd.to_numeric(frame[column], errors="coerce")


def _light_geometry(geoms, tolerance: float):
    """Simplified geometries with coordinates rounded to 1e-5° (~1 m): a small file, the same
    look."""
    import shapely

    simple = geoms.simplify(tolerance, preserve_topology=True)
    return simple.apply(lambda g: None if g is None else
                        shapely.transform(g, lambda xy: np.round(xy, 5)))


def _features(geoms, props: list[dict]) -> dict:
    """A GeoJSON FeatureCollection of ``geoms`` (EPSG:4326) with ``props``."""
    feats = []
    for geom, prop in zip(geoms, props, strict=True):
        if geom is None or geom.is_empty:
            continue
        feats.append({"type": "Feature", "geometry": geom.__geo_interface__, "properties": prop})
    return {"type": "FeatureCollection", "features": feats}


def _tip(header: str, rows: list[tuple[str, str | None]]) -> dict:
    return {"h": header, "r": [[label, value] for label, value in rows if value is not None]}


def _apl_with_class(value, key, legend: dict) -> str | None:
    if pd.isna(value):
        return None
    return fmt_dec(value) + (f" · {legend[key].label}" if key in legend else "")


def _class_theme(name: str, title: str, note: str, keys: pd.Series, pop: pd.Series,
                 legend: list[LegendEntry], missing: str) -> dict:
    """A choropleth theme of zoning classes: legend rows and each commune's row index."""
    rows = [{"color": e.color, "label": e.long_label,
             "value": f"{fmt_int(pop[keys == e.code].sum())} hab."} for e in legend]
    index = {e.code: i for i, e in enumerate(legend)}
    k = [index.get(v, -1) if v is not None else -1 for v in keys]
    return _theme(name, title, note, rows, k, pop, missing)


def _theme(name, title, note, rows, k, pop, missing: str) -> dict:
    k = [int(x) for x in k]
    if any(x < 0 for x in k):
        lost = float(pop[np.asarray(k) < 0].sum())
        rows = [*rows, {"color": MISSING[1], "label": missing, "value": f"{fmt_int(lost)} hab."}]
        k = [len(rows) - 1 if x < 0 else x for x in k]
    return {"name": name, "title": title, "note": note, "rows": rows, "k": k}


def _crossing_groups(year0: int, final: int) -> list[tuple[int, int]]:
    """Year groups after ``year0`` of growing length (2, 3, 5, 10 years...) up to ``final``."""
    groups, start = [], year0 + 1
    for length in (2, 3, 5, 10, 20, 40):
        if start > final:
            break
        end = min(start + length - 1, final)
        groups.append((start, end))
        start = end + 1
    if start <= final:
        groups.append((start, final))
    return groups


def _crossing_theme(annee: pd.Series, pop: pd.Series, year0: int, final: int, threshold: str,
                    has_forecast: pd.Series) -> dict:
    """Communes by the first year their median APL is under the threshold: already in year 0,
    then groups of years, then not within the forecast."""
    groups = _crossing_groups(year0, final)
    labels = [f"Déjà sous le seuil en {year0}"] + [str(a) if a == b else f"{a} à {b}"
                                                    for a, b in groups]
    colors = [_CROSSING_COLORS[min(i, len(_CROSSING_COLORS) - 1)] for i in range(len(labels))]
    never = len(labels)

    def index(y, has) -> int:
        if not has:
            return -1
        if pd.isna(y) or y > final:
            return never
        if y <= year0:
            return 0
        return next(i + 1 for i, (a, b) in enumerate(groups) if a <= y <= b)

    k = np.array([index(y, has) for y, has in zip(annee, has_forecast, strict=True)], dtype=int)
    rows = [{"color": c, "label": label, "value": f"{fmt_int(pop[k == i].sum())} hab."}
            for i, (c, label) in enumerate(zip(colors, labels, strict=True))]
    rows.append({"color": _NEVER_COLOR, "label": f"Pas d'ici {final}",
                 "value": f"{fmt_int(pop[k == never].sum())} hab."})
    return _theme("Année de passage sous le seuil", f"Année de passage sous {threshold}",
                  "Première année où l'APL médiane des simulations passe sous le seuil.",
                  rows, k, pop, "Sans projection")


def _commune_layer(gdf, prof: Profession, *, year, final_year, draws, scenario,
                   zone_text: pd.Series | None):
    """The communes' GeoJSON (tooltips) and the choropleth themes drawn from it."""
    from engine.apl import class_index

    legend = zoning_legend(prof)
    by_code = {e.code: e for e in legend}
    deficit = legend[0]
    codes = [e.code for e in legend]
    pop = population_of(gdf).reset_index(drop=True)
    frame = gdf.reset_index(drop=True)
    names = (frame["nom"] if "nom" in frame else frame["code_commune"]).map(_text)
    code = frame["code_commune"].map(_text) if "code_commune" in frame else pd.Series([None] * len(frame))
    today = (class_keys(frame["classe"], prof) if "classe" in frame
             else pd.Series([None] * len(frame), dtype=object))
    apl = _number(frame, "apl")
    model = _number(frame, "apl_modele")
    young = _number(frame, "apl_u65")
    gps = _number(frame, "practitioners")
    median = _number(frame, "apl_forecast")
    p10, p90 = _number(frame, "apl_forecast_p10"), _number(frame, "apl_forecast_p90")
    prob = _number(frame, "p_deficit_forecast")
    annee = _number(frame, "annee_deficit")
    if median is not None:
        known = median.notna().to_numpy()
        idx = np.full(len(frame), -1)
        idx[known] = class_index(median[known].to_numpy(), profession=prof)
        projected = pd.Series([codes[i] if i >= 0 else None for i in idx], dtype=object)
    fy = final_year
    in_fy = f" en {fy}" if fy is not None else " en fin de projection"
    fy_name = f" {fy}" if fy is not None else " (fin de projection)"
    y0 = f" {year}" if year is not None else ""
    threshold = fmt_threshold(prof.zoning.deficit_threshold)
    if annee is not None:
        # Without the years given, the span the crossing years themselves show.
        seen = annee.dropna()
        year0 = int(year) if year is not None else int(seen.min()) if len(seen) else 0
        last = int(fy) if fy is not None else int(seen.max()) if len(seen) else year0

    props = []
    for i in range(len(frame)):
        header = names[i] or code[i] or "?"
        if code[i] and names[i]:
            header = f"{names[i]} ({code[i]})"
        rows = [("Population", f"{fmt_int(pop[i])} hab.")]
        if apl is not None:
            rows.append((f"APL{y0}", _apl_with_class(apl[i], today[i], by_code) or "–"))
        if model is not None:
            rows.append(("APL recalculé (modèle)", None if pd.isna(model[i]) else fmt_dec(model[i])))
        if young is not None and prof.variant_max_age is not None:
            rows.append((f"APL ({_younger(prof)})", None if pd.isna(young[i]) else fmt_dec(young[i])))
        if gps is not None:
            rows.append((prof.label.capitalize(), None if pd.isna(gps[i]) else fmt_int(gps[i])))
        if median is not None:
            rows.append((f"APL médian{in_fy}", _apl_with_class(median[i], projected[i], by_code)))
            if p10 is not None and p90 is not None and not (pd.isna(p10[i]) or pd.isna(p90[i])):
                rows.append((f"{fmt_pct(0.8, 0)} des simulations",
                             f"entre {fmt_dec(p10[i])} et {fmt_dec(p90[i])}"))
        if prob is not None and not pd.isna(prob[i]):
            rows.append((f"Probabilité d'être {deficit.label.lower()}{in_fy}", fmt_pct(prob[i], 0)))
        if annee is not None and (median is None or not pd.isna(median[i])):
            if pd.isna(annee[i]) or annee[i] > last:
                when = f"pas d'ici {last}"
            elif annee[i] <= year0:
                when = f"déjà sous le seuil en {year0}"
            else:
                when = str(int(annee[i]))
            rows.append((f"Passage sous {threshold}", when))
        if zone_text is not None:
            rows.append(("Territoire", zone_text.iloc[i]))
        props.append({"t": _tip(header, rows)})

    today_name = f"Zonage officiel{y0}" if "apl_officiel" in frame else f"Zonage{y0}"
    themes = [_class_theme(today_name, today_name, f"APL : {prof.unit}.", today, pop, legend,
                           MISSING[0])]
    about = f" du scénario « {scenario} »" if scenario else ""
    if median is not None:
        n_sim = f"des {fmt_int(draws)} simulations" if draws else "des simulations"
        themes.append(_class_theme(f"Zonage projeté{fy_name}", f"Zonage projeté{in_fy}",
                                   f"Classe de l'APL médiane {n_sim}{about}.",
                                   projected, pop, legend, "Sans projection"))
    if prob is not None:
        k = probability_class(prob.to_numpy(dtype=np.float64))
        colors = _probability_colors()
        rows = [{"color": c, "label": label, "value": f"{fmt_int(pop[k == j].sum())} hab."}
                for j, (c, label) in enumerate(zip(colors, _probability_labels(), strict=True))]
        themes.append(_theme(f"Probabilité de déficit{fy_name}",
                             f"Probabilité d'être {deficit.label.lower()}{in_fy}",
                             deficit_sentence(fy, draws, prof) + about + ".",
                             rows, k, pop, "Sans projection"))
    if annee is not None:
        has = median.notna() if median is not None else pd.Series([True] * len(frame))
        themes.append(_crossing_theme(annee, pop, year0, last, threshold, has))
    for th in themes:
        for prop, k in zip(props, th["k"], strict=True):
            prop.setdefault("k", []).append(k)
        del th["k"]
    return props, themes


def _zone_layer(gdf, zones: pd.DataFrame, zone_of: pd.DataFrame, prof: Profession, *,
                year, tolerance: float):
    """Zone outlines (commune polygons dissolved by zone) with their tooltips, and the line
    each commune's tooltip gives about its zone."""
    import geopandas as gpd

    for col in ("code_commune", "zone"):
        if col not in zone_of.columns:
            raise InputError(f"zone_of has no column {col!r} (it maps code_commune to zone)",
                             column=col)
    if "zone" not in zones.columns:
        raise InputError("zones has no column 'zone' (see engine.apl.zone_table)", column="zone")
    legend = {e.code: e for e in zoning_legend(prof)}
    deficit = zoning_legend(prof)[0]
    zone_of_commune = zone_of.assign(code_commune=zone_of["code_commune"].astype(str),
                                     zone=zone_of["zone"].astype(str))
    zone_of_commune = zone_of_commune.drop_duplicates("code_commune").set_index("code_commune")["zone"]
    table = zones.assign(zone=zones["zone"].astype(str)).drop_duplicates("zone").set_index("zone")
    y0 = f" {year}" if year is not None else ""

    def name(z: str) -> str:
        if "zone_nom" in table and z in table.index and _text(table.at[z, "zone_nom"]):
            return _text(table.at[z, "zone_nom"])
        return z

    def apl_text(z: str) -> str | None:
        if z not in table.index or "apl" not in table or pd.isna(table.at[z, "apl"]):
            return None
        key = class_key(table.at[z, "classe"], prof) if "classe" in table else None
        return _apl_with_class(table.at[z, "apl"], key, legend)

    zone = gdf["code_commune"].astype(str).map(zone_of_commune)
    commune_line = pd.Series([None if pd.isna(z) else
                              name(z) + (f" · APL {apl_text(z)}" if apl_text(z) else "")
                              for z in zone], index=gdf.index, dtype=object)
    polys = gdf[zone.notna().to_numpy()]
    if polys.empty or set(polys.geometry.geom_type.dropna()) <= {"Point", "MultiPoint"}:
        return None, commune_line
    try:
        dissolved = gpd.GeoDataFrame({"zone": zone[zone.notna()].to_numpy()},
                                     geometry=polys.geometry.to_numpy(), crs=gdf.crs)
        dissolved = dissolved.dissolve("zone").reset_index()
    except Exception:  # a topology error must not cost the whole map
        return None, commune_line
    props = []
    for z in dissolved["zone"]:
        row = table.loc[z] if z in table.index else pd.Series(dtype=object)
        pop = row.get("pop_totale")
        rows = [("Code", z), (f"APL{y0}", apl_text(z)),
                ("Population", None if pop is None or pd.isna(pop) else f"{fmt_int(pop)} hab.")]
        if "communes" in row and not pd.isna(row["communes"]):
            rows.append(("Communes", fmt_int(row["communes"])))
        pd_def = row.get("pop_deficit")
        if pd_def is not None and not pd.isna(pd_def):
            share = f" ({fmt_pct(pd_def / pop)})" if pop else ""
            rows.append((f"Habitants en commune {deficit.label.lower()}", f"{fmt_int(pd_def)} hab.{share}"))
        props.append({"t": _tip(name(z), rows)})
    return _features(_light_geometry(dissolved.geometry, tolerance), props), commune_line


def _practitioner_layer(points: pd.DataFrame, gdf, prof: Profession) -> list[dict]:
    pts = pd.DataFrame(points).copy()
    for col in ("lon", "lat"):
        if col not in pts.columns:
            raise InputError(f"practitioners_points has no column {col!r}", column=col)
        pts[col] = pd.to_numeric(pts[col], errors="coerce")
    pts = pts.dropna(subset=["lon", "lat"])
    if pts.empty:
        return []
    names = {}
    if "code_commune" in pts and "code_commune" in gdf and "nom" in gdf:
        names = dict(zip(gdf["code_commune"].astype(str), gdf["nom"].map(_text), strict=False))
    keys = ["lon", "lat"] + (["code_commune"] if "code_commune" in pts else [])
    pts["_label"] = pts["label"].map(_text) if "label" in pts else None
    out = []
    for key, group in pts.groupby(keys, dropna=False, sort=True):
        lon, lat = float(key[0]), float(key[1])
        n = len(group)
        where = names.get(str(key[2])) if len(key) > 2 else None
        header = f"{fmt_int(n)} {prof.label if n > 1 else prof.label_singular}"
        if where:
            header += f" · {where}"
        labels = [x for x in group["_label"] if x]
        rows = [("", "; ".join(labels[:10]) + (" …" if len(labels) > 10 else ""))] if labels else []
        out.append({"lat": round(lat, 6), "lon": round(lon, 6), "n": n, "t": _tip(header, rows)})
    return out


def _installation_layer(installations: pd.DataFrame, prof: Profession) -> dict[str, list[dict]]:
    inst = pd.DataFrame(installations)
    for col in ("lon", "lat", "kind"):
        if col not in inst.columns:
            raise InputError(f"installations need a column {col!r} (lon, lat, kind = "
                             "'prévue' or 'proposée'; optional label, gps, year, nom, "
                             "code_commune, rank, population_lifted)", column=col)
    out: dict[str, list[dict]] = {"planned": [], "proposed": []}
    lon = pd.to_numeric(inst["lon"], errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(inst["lat"], errors="coerce").to_numpy(dtype=np.float64)
    for pos, (i, row) in enumerate(inst.iterrows()):
        kind = _KINDS.get(_normal(row["kind"]).replace("-", ""))
        if kind is None:
            raise InputError(f"installation kind {row['kind']!r} is neither 'prévue' nor "
                             "'proposée'", column="kind", row=i)
        if np.isnan(lon[pos]) or np.isnan(lat[pos]):
            continue
        gps = int(row["gps"]) if "gps" in row and not pd.isna(row["gps"]) else 1
        nom, code = _text(row.get("nom")), _text(row.get("code_commune"))
        where = f"{nom} ({code})" if nom and code else nom or code
        label = _text(row.get("label"))
        who = f"{fmt_int(gps)} {prof.label if gps > 1 else prof.label_singular}"
        header = label or (f"{who} à {nom}" if nom else who)
        year = row.get("year")
        rank = row.get("rank")
        lifted = row.get("population_lifted")
        rows = [("", "Installation prévue par le scénario" if kind == "planned" else
                 "Proposée par l'optimiseur" + (f" (n° {fmt_int(rank)})"
                                                if rank is not None and not pd.isna(rank) else "")),
                ("Commune", where),
                ("Année", None if year is None or pd.isna(year) else str(int(year))),
                (prof.label.capitalize(), fmt_int(gps))]
        if lifted is not None and not pd.isna(lifted):
            rows.append(("Habitants sortis de la sous-densité", f"{fmt_int(lifted)} hab."))
        out[kind].append({"lat": round(float(lat[pos]), 6), "lon": round(float(lon[pos]), 6),
                          "badge": f"+{gps}", "t": _tip(header, rows)})
    return out


def _isochrone_layer(isochrones, tolerance: float) -> list[dict]:
    """One light polygon per travel-time band (the bands dissolved), longest first."""
    import geopandas as gpd

    iso = isochrones[isochrones.geometry.notna() & ~isochrones.geometry.is_empty]
    if iso.empty:
        return []
    if iso.crs is not None:
        iso = iso.to_crs("EPSG:4326")
    minutes = pd.to_numeric(iso["minutes"], errors="coerce")
    bands = sorted(minutes.dropna().unique())
    out = []
    for i, m in enumerate(bands):
        shape = gpd.GeoSeries(iso.geometry[minutes == m].to_numpy(), crs="EPSG:4326").union_all()
        geom = _light_geometry(gpd.GeoSeries([shape], crs="EPSG:4326"), tolerance)
        out.append({"minutes": fmt_dec(m, 0), "color": _ISOCHRONE_COLORS[min(i, len(_ISOCHRONE_COLORS) - 1)],
                    "geojson": _features(geom, [{}])})
    return out[::-1]


_MAP_CSS = """
html, body, #apl-map { height: 100%; margin: 0; }
.leaflet-container { background: #eaf1f6; font: 13px/1.4 "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.apl-basemap-on .leaflet-aplCommunes-pane path { fill-opacity: 0.55; }
.apl-panel { position: fixed; z-index: 1000; background: rgba(255,255,255,0.95); border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.3); padding: 10px 14px; color: #222;
  font: 13px/1.4 "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
#apl-title { top: 10px; left: 60px; max-width: 460px; }
#apl-title h1 { font-size: 16px; margin: 0 0 2px; }
#apl-title p { margin: 0; color: #555; font-size: 12px; }
#apl-title p.apl-scenario { color: #222; font-size: 13px; }
#apl-legend { bottom: 30px; left: 10px; max-width: 340px; max-height: 60vh; overflow-y: auto; }
#apl-legend h2 { font-size: 13px; margin: 0 0 6px; }
#apl-legend p.apl-note { margin: 6px 0 0; color: #555; font-size: 11.5px; }
#apl-legend hr { border: 0; border-top: 1px solid #ddd; margin: 8px 0 6px; }
.apl-legend-row { display: flex; align-items: center; gap: 8px; margin: 3px 0; }
.apl-legend-pop { margin-left: auto; padding-left: 12px; color: #555; font-variant-numeric: tabular-nums; white-space: nowrap; }
.apl-swatch { display: inline-block; flex: none; width: 16px; height: 12px; border: 1px solid #888; }
.apl-line { display: inline-block; flex: none; width: 16px; height: 0; border-top: 2px solid #1a1a1a; }
.apl-dot { display: inline-block; flex: none; width: 10px; height: 10px; border-radius: 50%; background: #1f4e79; border: 1px solid #fff; margin: 0 3px; }
.apl-badge { display: flex; align-items: center; justify-content: center; box-sizing: border-box;
  width: 26px; height: 20px; border: 2px solid #fff; border-radius: 4px; color: #fff;
  font: bold 11px/1 "Segoe UI", Roboto, Arial, sans-serif; box-shadow: 0 1px 3px rgba(0,0,0,0.5); }
.apl-badge-planned { background: #6a3d9a; }
.apl-badge-proposed { background: #1a9850; border-radius: 10px; }
.apl-legend-row .apl-badge { width: 22px; height: 16px; font-size: 9px; box-shadow: none; }
.leaflet-control-layers-list h3 { font-size: 12px; margin: 0 0 4px; color: #555; text-transform: uppercase; letter-spacing: 0.04em; }
.leaflet-tooltip.apl-tooltip { white-space: normal; max-width: 480px; }
.apl-tip-h { font-weight: bold; margin-bottom: 2px; }
.apl-tip table { border-collapse: collapse; }
.apl-tip th { text-align: left; font-weight: normal; color: #555; padding: 1px 8px 1px 0; white-space: nowrap; vertical-align: top; }
.apl-tip td { padding: 1px 0; font-variant-numeric: tabular-nums; min-width: 120px; max-width: 230px; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title>
<style>@LEAFLET_CSS@</style>
<style>@MAP_CSS@</style>
</head>
<body>
<div id="apl-map"></div>
<div id="apl-title" class="apl-panel"></div>
<div id="apl-legend" class="apl-panel"></div>
<script type="application/json" id="apl-map-data">@DATA@</script>
<script>@LEAFLET_JS@</script>
<script>@APP_JS@</script>
</body>
</html>
"""


def _csp(scripts: list[str], tiles: str | None) -> str:
    """A Content-Security-Policy allowing these inline scripts only (by hash), inline styles
    (Leaflet positions everything with them), data: images and the tile server."""
    import hashlib
    from urllib.parse import urlsplit

    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest())
                      .decode("ascii") + "'" for s in scripts)
    img = "data:"
    if tiles:
        parts = urlsplit(tiles)
        img += f" {parts.scheme}://{parts.netloc}" if parts.netloc else f" {parts.scheme}:"
    return (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
            f"img-src {img}; base-uri 'none'; form-action 'none'")


def map_html(
    communes,
    path: str | os.PathLike[str],
    *,
    practitioners_points: pd.DataFrame | None = None,
    isochrones=None,
    title: str | None = None,
    subtitle: str | None = None,
    simplify_tolerance: float = 0.0008,
    profession: str | Profession = "gp",
    year: int | None = None,
    forecast_year: int | None = None,
    scenario: str | None = None,
    draws: int | None = None,
    installations: pd.DataFrame | None = None,
    zones: pd.DataFrame | None = None,
    zone_of: pd.DataFrame | None = None,
    show_isochrones: bool = False,
    tiles: str | None = OSM_TILES,
    tiles_attribution: str = OSM_TILES_ATTRIBUTION,
) -> Path:
    """Interactive map in one HTML file that opens offline: classes today and projected,
    probability and year of deficit, installations, zones, practitioners, isochrones.

    A Leaflet map with two layer controls. *Carte affichée* switches between the commune
    choropleths (one at a time): "Zonage officiel <year>" (today's classes, shown first),
    and when the table has the forecast columns "Zonage projeté <final year>" (class of the
    median APL), "Probabilité de déficit <final year>" and "Année de passage sous le seuil".
    *Fond et repères* holds the OpenStreetMap basemap (or none) and the overlays:
    "Territoires" (zone outlines), practitioners, "Installations prévues" (the scenario's),
    "Installations proposées" (the optimizer's), "Isochrones" (one light polygon per band).
    Each commune's tooltip gives its key figures in French. The legend follows the
    choropleth shown.

    The basemap is the only request the page makes: offline its tiles fail silently and the
    commune polygons are the base, as before. Every user-supplied string (commune, zone,
    installation and practitioner names, titles) is shown as text, never parsed as HTML.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        :func:`engine.tables.commune_table` (optionally :func:`engine.tables.with_forecast`):
        ``code_commune``, ``nom``, ``pop_totale``, ``apl``, ``classe`` and, where present,
        ``apl_modele``, ``apl_u65``, ``practitioners``, ``apl_forecast``,
        ``apl_forecast_p10``, ``apl_forecast_p90``, ``p_deficit_forecast``,
        ``annee_deficit``; polygons or points.
    path : str or os.PathLike
        The HTML file (written atomically).
    practitioners_points : pandas.DataFrame, optional
        One row per practitioner with ``lon``, ``lat`` (and ``code_commune``, optional
        ``label``); practitioners at the same point are drawn as one circle.
    isochrones : geopandas.GeoDataFrame, optional
        ``minutes`` and polygons; the polygons of a band are dissolved into one.
    title, subtitle : str, optional
        Shown in a panel at the top left (default title: "Accessibilité aux <profession>
        (APL)"; with a scenario, the panel also says "Scénario : <scenario>").
    simplify_tolerance : float
        Polygon simplification in degrees (default ~80 m) to keep the file small.
    profession : str, path-like or Profession
        Whose zoning classes and labels.
    year : int, optional
        The data year (today), named in the layers, legend and tooltips.
    forecast_year : int, optional
        The last forecast year, which the forecast columns describe.
    scenario : str, optional
        The scenario's French title.
    draws : int, optional
        The number of simulations behind the forecast columns.
    installations : pandas.DataFrame, optional
        One row per installation: ``lon``, ``lat``, ``kind`` (``"prévue"``: the scenario's,
        ``"proposée"``: the optimizer's) and optionally ``label``, ``gps``, ``year``,
        ``nom``, ``code_commune``, ``rank``, ``population_lifted``.
    zones : pandas.DataFrame, optional
        :func:`engine.apl.zone_table` (``zone``, ``zone_nom``, ``apl``, ``classe``,
        ``pop_totale``, ``pop_deficit``); needs ``zone_of``.
    zone_of : pandas.DataFrame, optional
        ``code_commune`` → ``zone``: the commune polygons are dissolved into zone outlines.
    show_isochrones : bool
        Whether the isochrones are shown when the map opens (default off: they hide the
        classes).
    tiles : str or None
        The basemap's tile URL template (default OpenStreetMap's); None for no basemap.
    tiles_attribution : str
        The basemap's attribution, as HTML (a constant of the caller, not user data).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> map_html(table, "out/map.html", practitioners_points=gps, year=2022,
    ...          forecast_year=2032, scenario="Départ à 65 ans", draws=1000)  # doctest: +SKIP
    PosixPath('out/map.html')
    """
    prof = as_profession(profession)
    leaflet_js, leaflet_css, app_js = _assets()
    gdf = communes if communes.crs is not None else communes.set_crs("EPSG:4326")
    gdf = gdf.to_crs("EPSG:4326").reset_index(drop=True)
    xmin, ymin, xmax, ymax = gdf.total_bounds

    zone_geojson, zone_text = None, None
    if zones is not None:
        if zone_of is None:
            raise InputError("zones need zone_of (code_commune -> zone) to be drawn",
                             column="zone_of")
        zone_geojson, zone_text = _zone_layer(gdf, zones, zone_of, prof, year=year,
                                              tolerance=simplify_tolerance)
    props, themes = _commune_layer(gdf, prof, year=year, final_year=forecast_year, draws=draws,
                                   scenario=scenario, zone_text=zone_text)
    data = {
        "title": title or map_title(prof),
        "subtitle": subtitle,
        "scenario": scenario,
        "bounds": [[float(ymin), float(xmin)], [float(ymax), float(xmax)]],
        "communes": _features(_light_geometry(gdf.geometry, simplify_tolerance), props),
        "themes": themes,
        "zones": zone_geojson,
        "practitioners": (_practitioner_layer(practitioners_points, gdf, prof)
                          if practitioners_points is not None and len(practitioners_points) else []),
        "practitioners_name": prof.label.capitalize(),
        "practitioners_legend": None,
        "isochrones_legend": None,
        "installations": (_installation_layer(installations, prof)
                          if installations is not None and len(installations) else
                          {"planned": [], "proposed": []}),
        "isochrones": (_isochrone_layer(isochrones, simplify_tolerance)
                       if isochrones is not None and len(isochrones) else []),
        "show_isochrones": bool(show_isochrones),
        "tiles": ({"url": tiles, "attribution": tiles_attribution,
                   "name": "Fond de carte OpenStreetMap" if tiles == OSM_TILES else "Fond de carte"}
                  if tiles else None),
        "attribution": _ATTRIBUTION_HTML,
    }
    if data["practitioners"]:
        n = sum(p["n"] for p in data["practitioners"])
        data["practitioners_legend"] = f"{prof.label.capitalize()} ({fmt_int(n)})"
    if data["isochrones"]:
        bands = ", ".join(b["minutes"] for b in data["isochrones"][::-1])
        data["isochrones_legend"] = f"Isochrones : {bands} min de route d'un {prof.label_singular}"
    csp = _csp([leaflet_js, app_js], tiles)
    parts = {"CSP": html.escape(csp, quote=False).replace('"', "&quot;"),
             "TITLE": html.escape(data["title"]), "LEAFLET_CSS": leaflet_css,
             "MAP_CSS": _MAP_CSS, "DATA": _script_json(data), "LEAFLET_JS": leaflet_js,
             "APP_JS": app_js}
    # One pass over the template: what is put in is never scanned for tokens again.
    page = re.sub(r"@([A-Z_]+)@", lambda m: parts[m.group(1)], _PAGE)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def _younger(prof: Profession) -> str:
    """``"médecins généralistes ≤ 65 ans"``."""
    if prof.variant_max_age is None:
        return prof.label
    return f"{prof.label} ≤ {prof.variant_max_age:g} ans"
