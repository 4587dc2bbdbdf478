"""Maps of the results: static PNG choropleths and a self-contained interactive HTML map.

Static maps are drawn with matplotlib in Lambert-93 (EPSG:2154, the French official
projection), so that areas are not distorted and the scale bar is true in kilometres. They
carry the usual cartographic furniture: title, legend (with the population in each class),
scale bar, north arrow (rotated by the grid convergence, since Lambert-93 grid north is not
true north away from 3°E) and a source line.

The interactive map is a Leaflet map built with folium. It must open offline (planners'
laptops, CI, an e-mailed file) with no request to a CDN, so:

- there is **no basemap** (``tiles=None``): tiles are fetched from servers at view time and
  cannot be embedded; the commune polygons themselves are the base layer;
- **Leaflet's JS and CSS are inlined** from the official Leaflet 1.9.4 build vendored in
  the package (``engine/assets/leaflet``, BSD-2 licence beside it); its marker and
  layer-control images are inlined as data URIs;
- folium's other default assets (jQuery, Bootstrap, Font Awesome, awesome-markers) are
  dropped, and only folium features that need none of them are used (GeoJson, tooltips,
  circle markers, layer control): popups and ``keep_in_front`` call jQuery, and marker
  clustering needs a plugin from a CDN, so GPs sharing a town-hall point are drawn as one
  circle sized by their number instead.

These functions only draw what they are given: APL and classes come from :mod:`engine.apl`,
class codes, labels, thresholds and colours from the profession's zoning
(:attr:`engine.apl.Profession.zoning`).
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
from engine.french import fmt_dec, fmt_int, fmt_threshold
from engine.outputs import atomic_path

#: Lambert-93, the projection of the static maps.
LAMBERT93 = "EPSG:2154"

#: Colour and label of communes without a value.
MISSING = ("Sans donnée", "#cccccc")

#: The attribution every map carries.
SOURCES = "Sources : © les contributeurs d'OpenStreetMap (ODbL), INSEE, DREES · calcul apl-engine"

#: The same, as HTML for the interactive map (a link is only followed when clicked).
_ATTRIBUTION_HTML = ('© <a href="https://www.openstreetmap.org/copyright">contributeurs '
                     "d'OpenStreetMap</a> (ODbL), INSEE, DREES")


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

    margin, top_band, bottom_band, gap, side_w = 0.35, 1.0, 0.45, 0.35, 3.9

    def __init__(self, gdf_l93) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        xmin, ymin, xmax, ymax = gdf_l93.total_bounds
        ratio = (ymax - ymin) / max(xmax - xmin, 1.0)
        if ratio >= 1.0:
            map_h, map_w = 7.5, max(7.5 / ratio, 4)
        else:
            map_w, map_h = 8.0, max(8.0 * ratio, 5.5)
        self.width = self.margin + map_w + self.gap + self.side_w + 0.2
        self.height = self.top_band + map_h + self.bottom_band
        self.side_x = self.margin + map_w + self.gap
        self.fig = Figure(figsize=(self.width, self.height), dpi=150, facecolor="white")
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes([self.margin / self.width, self.bottom_band / self.height,
                                     map_w / self.width, map_h / self.height])
        self.ax.set_axis_off()

    def at(self, x_in: float, top_in: float) -> tuple[float, float]:
        """Figure fraction of a point ``x_in`` right of the side column, ``top_in`` from the top."""
        return (self.side_x + x_in) / self.width, 1.0 - top_in / self.height

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
    """A round scale-bar length near a fifth of the map width."""
    target = span_m / 5.0 / 1000.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if step >= target:
            return float(step)
    return 1000.0


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
    for frac, text in ((0.0, "0"), (0.5, f"{length_km / 2:g}"), (1.0, f"{length_km:g} km")):
        ax.text(left + frac * length, label_y, text, ha="center", va="bottom", fontsize=8,
                color="#222222", zorder=10)


def _north_arrow(ax) -> None:
    """North arrow rotated by the grid convergence at the map centre."""
    from pyproj import Transformer

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    back = Transformer.from_crs(LAMBERT93, "EPSG:4326", always_xy=True)
    fwd = Transformer.from_crs("EPSG:4326", LAMBERT93, always_xy=True)
    lon, lat = back.transform(cx, cy)
    nx, ny = fwd.transform(lon, lat + 0.05)
    angle = math.atan2(nx - cx, ny - cy)
    size = (y1 - y0) * 0.06
    base_x = x1 - (x1 - x0) * 0.06
    base_y = y1 - (y1 - y0) * 0.13
    tip = (base_x + size * math.sin(angle), base_y + size * math.cos(angle))
    ax.annotate("", xy=tip, xytext=(base_x, base_y),
                arrowprops={"arrowstyle": "-|>,head_width=0.5,head_length=1.0",
                            "color": "#222222", "linewidth": 1.6}, zorder=10)
    ax.text(tip[0] + size * 0.25 * math.sin(angle), tip[1] + size * 0.25 * math.cos(angle),
            "N", ha="center", va="bottom", fontsize=12, fontweight="bold", color="#222222",
            zorder=10)


def _furniture(lay: _Layout, title: str, subtitle: str | None) -> None:
    _scale_bar(lay.ax)
    _north_arrow(lay.ax)
    fig, w, h = lay.fig, lay.width, lay.height
    fig.text(lay.margin / w, 1 - 0.3 / h, title, fontsize=16, fontweight="bold",
             color="#1a1a1a", va="top")
    if subtitle:
        fig.text(lay.margin / w, 1 - 0.68 / h, subtitle, fontsize=10.5, color="#555555", va="top")
    fig.text(lay.margin / w, 0.15 / h, SOURCES, fontsize=7.5, color="#666666", va="bottom")


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
        Map title; default "Accessibilité aux <profession> (APL)".
    subtitle : str, optional
        A second line under the title (region, year, scenario).
    profession : str, path-like or Profession
        Whose zoning classes, labels and colours.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> map_apl_png(communes, "out/map_apl.png", subtitle="Corse, 2024")  # doctest: +SKIP
    PosixPath('out/map_apl.png')
    """
    from matplotlib.patches import Patch

    if column not in communes.columns:
        raise KeyError(f"communes has no column {column!r} to map")
    prof = as_profession(profession)
    gdf = _to_l93(communes)
    pop = population_of(gdf)
    lay = _Layout(gdf)
    values = gdf[column]
    facts: dict = {}
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
            facts[f"population_{entry.code}"] = round(p)
            n = int((keys == entry.code).sum())
            handles.append(Patch(facecolor=entry.color, edgecolor="#888888", linewidth=0.5,
                                 label=f"{entry.long_label}\n{fmt_int(p)} hab. "
                                       f"({fmt_dec(100 * p / total, 1)} %)"
                                       f" · {n} commune{'s' if n > 1 else ''}"))
        if keys.isna().any():
            p = float(pop[keys.isna()].sum())
            handles.append(Patch(facecolor=MISSING[1], edgecolor="#888888", linewidth=0.5,
                                 label=f"{MISSING[0]}\n{fmt_int(p)} hab."))
        legend_title = (f"Zonage ({prof.label} ≤ {prof.variant_max_age:g} ans)"
                        if column.endswith("u65") and prof.variant_max_age else "Zonage APL")
        lay.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=lay.at(0.0, 1.1),
                       frameon=False, fontsize=9.5, title=legend_title, title_fontsize=11,
                       alignment="left", labelspacing=1.2, handleheight=1.6)
        lay.fig.text(*lay.at(0.08, 1.3 + 0.62 * len(handles) + 0.35),
                     _wrap(f"APL : {prof.unit}", 42), fontsize=8.5, color="#555555", va="top")
    _furniture(lay, title or map_title(prof), subtitle)
    return _save_png(lay.fig, Path(path), facts)


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


def map_forecast_png(
    communes,
    forecast_communes: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    year: int | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    profession: str | Profession = "gp",
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
    title, subtitle : str, optional
        Title (default names the year) and second line.
    profession : str, path-like or Profession
        Whose zoning (the deficit class and its threshold).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> map_forecast_png(communes, forecast, "out/map_forecast.png")  # doctest: +SKIP
    PosixPath('out/map_forecast.png')
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm
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
    prob = sel.groupby(sel["code_commune"].astype(str))["p_deficit"].mean()
    gdf = _to_l93(communes)
    p = gdf["code_commune"].astype(str).map(prob)
    bounds = np.linspace(0.0, 1.0, 11)
    cmap = colormaps["Reds"].resampled(10)
    norm = BoundaryNorm(bounds, cmap.N)
    colors = [MISSING[1] if pd.isna(x) else cmap(norm(min(max(float(x), 0.0), 1.0))) for x in p]
    lay = _Layout(gdf)
    fig = lay.fig
    _draw_base(lay.ax, gdf, colors, point_sizes=_point_sizes(population_of(gdf)))
    cax = lay.side_axes(0.1, 1.75, 0.22, 3.6)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    bar.set_ticks(bounds[::2])
    bar.set_ticklabels([f"{int(round(b * 100))} %" for b in bounds[::2]])
    bar.ax.tick_params(labelsize=9)
    deficit = zoning_legend(profession)[0]
    fig.text(*lay.at(0.0, 1.1), f"Probabilité d'être {deficit.label.lower()}\n"
             f"({deficit.range}) en {year}",
             fontsize=11, fontweight="bold", va="top")
    n_likely = int((p >= 0.5).sum())
    pop_likely = float(population_of(gdf)[p >= 0.5].sum())
    fig.text(*lay.at(0.0, 5.7), f"{n_likely} commune{'s' if n_likely > 1 else ''} à 50 % ou plus\n"
             f"{fmt_int(pop_likely)} habitants", fontsize=9.5, color="#333333", va="top")
    if p.isna().any():
        fig.legend(handles=[Patch(facecolor=MISSING[1], edgecolor="#888888", label="Sans projection")],
                   loc="upper left", bbox_to_anchor=lay.at(-0.05, 6.3), frameon=False, fontsize=9)
    _furniture(lay, title or f"Risque de sous-densité médicale en {year}",
               subtitle or "Part des tirages de la simulation des départs à la retraite")
    return _save_png(fig, Path(path))


def map_zones_png(communes, zones, zone_of, path: str | os.PathLike[str], *,
                  title: str | None = None, subtitle: str | None = None,
                  profession: str | Profession = "gp") -> Path:
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
    title, subtitle : str, optional
    profession : str, path-like or Profession

    Returns
    -------
    pathlib.Path
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
    lay = _Layout(gdf)
    _draw_base(lay.ax, gdf.drop(columns=["departement"], errors="ignore"), colors)
    try:
        borders = gdf[gdf["zone"].notna()][["zone", gdf.geometry.name]].dissolve("zone")
        borders.boundary.plot(ax=lay.ax, color="#333333", linewidth=1.1, zorder=3)
    except Exception:  # a topology error must not cost the whole map
        pass
    facts = {}
    handles = []
    for entry in legend:
        sel = zones["classe"] == entry.code
        facts[f"zones_{entry.code}"] = int(sel.sum())
        n = int(sel.sum())
        handles.append(Patch(facecolor=entry.color, edgecolor="#888888", linewidth=0.5,
                             label=f"{entry.long_label}\n{n} zone{'s' if n > 1 else ''} · "
                                   f"{fmt_int(zones.loc[sel, 'pop_totale'].sum())} hab."))
    lay.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=lay.at(0.0, 1.1),
                   frameon=False, fontsize=9.5, title="APL de la zone", title_fontsize=11,
                   alignment="left", labelspacing=1.2, handleheight=1.6)
    lay.fig.text(*lay.at(0.08, 1.3 + 0.62 * len(handles) + 0.35),
                 _wrap("APL d'une zone : moyenne de l'APL de ses communes pondérée par la "
                       "population standardisée (règle DREES)", 42),
                 fontsize=8.5, color="#555555", va="top")
    _furniture(lay, title or f"Zones : accessibilité aux {prof.label}", subtitle)
    return _save_png(lay.fig, Path(path), facts)


# --------------------------------------------------------------------------- interactive map
@functools.lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS (images inlined), from the copy vendored in the package."""
    static = resources.files("engine").joinpath("assets", "leaflet")
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
    return js, css


def _tooltip_frame(communes, prof: Profession) -> pd.DataFrame:
    pop = population_of(communes)
    frame = pd.DataFrame({
        "nom": communes["nom"].astype(str) if "nom" in communes else communes["code_commune"].astype(str),
        "code": communes["code_commune"].astype(str) if "code_commune" in communes else "",
        "apl_txt": communes["apl"].map(fmt_dec) if "apl" in communes else "–",
        "apl_u65_txt": communes["apl_u65"].map(fmt_dec) if "apl_u65" in communes else "–",
        "pop_txt": pop.map(fmt_int),
    }, index=communes.index)
    keys = (class_keys(communes["classe"], prof) if "classe" in communes
            else pd.Series(None, index=communes.index))
    legend = {e.code: e for e in zoning_legend(prof)}
    frame["classe_txt"] = [legend[k].long_label if k else MISSING[0] for k in keys]
    frame["fill"] = [legend[k].color if k else MISSING[1] for k in keys]
    return frame


def _light_geometry(geoms, tolerance: float):
    """Simplified geometries rounded to ~1 m: the map file stays small, the look unchanged."""
    return geoms.simplify(tolerance, preserve_topology=True).set_precision(1e-5)


def _legend_html(communes, prof: Profession) -> str:
    keys = class_keys(communes["classe"], prof) if "classe" in communes else pd.Series(dtype=object)
    pop = population_of(communes)
    rows = []
    for entry in zoning_legend(prof):
        p = float(pop[keys == entry.code].sum()) if len(keys) else 0.0
        rows.append(f'<div class="apl-legend-row"><span class="apl-swatch" '
                    f'style="background:{entry.color}"></span>{html.escape(entry.long_label)}'
                    f'<span class="apl-legend-pop">{fmt_int(p)} hab.</span></div>')
    if len(keys) and keys.isna().any():
        rows.append(f'<div class="apl-legend-row"><span class="apl-swatch" style="background:{MISSING[1]}">'
                    f'</span>{MISSING[0]}</div>')
    return "".join(rows)


_MAP_CSS = """
.leaflet-container { background: #eaf1f6; font: 13px/1.4 "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.apl-panel { position: fixed; z-index: 1000; background: rgba(255,255,255,0.95); border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.3); padding: 10px 14px; font: 13px/1.4 "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #222; }
#apl-title { top: 10px; left: 60px; max-width: 420px; }
#apl-title h1 { font-size: 16px; margin: 0 0 2px; }
#apl-title p { margin: 0; color: #555; font-size: 12px; }
#apl-legend { bottom: 44px; left: 10px; }
#apl-legend h2 { font-size: 13px; margin: 0 0 6px; }
.apl-legend-row { display: flex; align-items: center; gap: 8px; margin: 3px 0; }
.apl-legend-pop { margin-left: auto; padding-left: 12px; color: #555; font-variant-numeric: tabular-nums; }
.apl-swatch { display: inline-block; width: 16px; height: 12px; border: 1px solid #888; }
.apl-dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: #1f4e79; border: 1px solid #fff; margin: 0 3px; }
.leaflet-tooltip table td { padding: 1px 6px 1px 0; }
"""


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
) -> Path:
    """Interactive map in one offline HTML file: zoning classes, GPs and isochrones.

    A Leaflet map (built with folium) with the commune choropleth in the class colours and
    a tooltip per commune (name, APL, APL of GPs ≤ 65, population, class), GP locations as
    circles sized by the number of GPs at each point, optional isochrones, a layer control,
    a legend and the OpenStreetMap / INSEE / DREES attribution. There is no tile basemap,
    and Leaflet is embedded, so the file opens with no network access (see module notes).

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Communes with ``code_commune``, ``nom``, ``apl``, ``apl_u65``, ``pop_totale``,
        ``classe``; polygons or points.
    path : str or os.PathLike
        The HTML file (written atomically).
    practitioners_points : pandas.DataFrame, optional
        One row per GP with ``lon``, ``lat`` (and ``code_commune``); GPs at the same point
        are drawn as one circle.
    isochrones : geopandas.GeoDataFrame, optional
        ``source``, ``minutes`` and polygons (EPSG:4326); rows without geometry are skipped.
    title, subtitle : str, optional
        Shown in a panel at the top left.
    simplify_tolerance : float
        Polygon simplification in degrees (default ~80 m) to keep the file small.
    profession : str, path-like or Profession
        Whose zoning classes and labels.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ImportError
        When folium is missing.

    Examples
    --------
    >>> map_html(communes, "out/map.html", practitioners_points=gps)  # doctest: +SKIP
    PosixPath('out/map.html')
    """
    import folium
    import geopandas as gpd
    from branca.element import Element, MacroElement
    from jinja2 import Template

    prof = as_profession(profession)
    leaflet_js, leaflet_css = _leaflet_assets()
    gdf = communes if communes.crs is not None else communes.set_crs("EPSG:4326")
    gdf = gdf.to_crs("EPSG:4326")
    xmin, ymin, xmax, ymax = gdf.total_bounds

    fmap = folium.Map(location=[(ymin + ymax) / 2, (xmin + xmax) / 2], tiles=None,
                      zoom_start=8, control_scale=False, zoom_snap=0.25)
    # Nothing may come from a CDN: drop folium's default assets and inline Leaflet instead.
    fmap.default_js = []
    fmap.default_css = []
    root = fmap.get_root()
    root.header.add_child(Element(f"<style>{leaflet_css}</style>"), name="leaflet_css")
    root.header.add_child(Element(f"<script>{leaflet_js}</script>"), name="leaflet_js")
    root.header.add_child(Element(f"<style>{_MAP_CSS}</style>"), name="apl_css")

    frame = _tooltip_frame(gdf, prof)
    layer = gpd.GeoDataFrame(frame, geometry=_light_geometry(gdf.geometry, simplify_tolerance),
                             crs="EPSG:4326")
    is_points = set(layer.geometry.geom_type.dropna()) <= {"Point", "MultiPoint"}
    tooltip = folium.GeoJsonTooltip(
        fields=["nom", "code", "apl_txt", "apl_u65_txt", "pop_txt", "classe_txt"],
        aliases=["Commune", "Code INSEE", "APL", f"APL ({_younger(prof)})", "Population",
                 "Classe"],
        sticky=True, labels=True,
    )
    communes_layer = folium.FeatureGroup(name="Communes : zonage APL", show=True)
    folium.GeoJson(
        layer.__geo_interface__,
        name="communes",
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#ffffff",
                                  "weight": 0.6, "fillOpacity": 0.85},
        highlight_function=lambda f: {"weight": 3, "color": "#222222"},
        marker=folium.CircleMarker(radius=6) if is_points else None,
        tooltip=tooltip,
        zoom_on_click=False,
    ).add_to(communes_layer)
    communes_layer.add_to(fmap)

    if isochrones is not None and len(isochrones):
        _add_isochrones(fmap, isochrones, simplify_tolerance)
    n_gps = 0
    if practitioners_points is not None and len(practitioners_points):
        n_gps = _add_practitioners(fmap, practitioners_points, gdf, prof)

    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    fmap.fit_bounds([[ymin, xmin], [ymax, xmax]])

    title_text = html.escape(title or map_title(prof))
    sub = f"<p>{html.escape(subtitle)}</p>" if subtitle else ""
    gp_line = (f'<div class="apl-legend-row"><span class="apl-dot"></span>'
               f'{html.escape(prof.label.capitalize())} ({fmt_int(n_gps)})</div>') if n_gps else ""
    root.html.add_child(Element(
        f'<div id="apl-title" class="apl-panel"><h1>{title_text}</h1>{sub}'
        f'<p>Survolez une commune pour ses chiffres.</p></div>'
        f'<div id="apl-legend" class="apl-panel"><h2>Zonage APL</h2>{_legend_html(gdf, prof)}{gp_line}</div>'
    ), name="apl_panels")
    # A child of the map, so that its script runs after the map exists.
    attribution = MacroElement()
    attribution._template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});"
        "{{ this._parent.get_name() }}.attributionControl"
        f".addAttribution({json.dumps(_ATTRIBUTION_HTML)});{{% endmacro %}}"
    )
    fmap.add_child(attribution, name="apl_attribution")

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(root.render(), encoding="utf-8")
    return path


def _add_isochrones(fmap, isochrones, tolerance: float) -> None:
    import folium
    import geopandas as gpd
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    iso = isochrones[isochrones.geometry.notna() & ~isochrones.geometry.is_empty].copy()
    if iso.empty:
        return
    if iso.crs is not None:
        iso = iso.to_crs("EPSG:4326")
    minutes = sorted(pd.to_numeric(iso["minutes"]).unique(), reverse=True)
    cmap = colormaps["Blues"]
    shades = {m: to_hex(cmap(0.35 + 0.55 * (1 - i / max(len(minutes) - 1, 1))))
              for i, m in enumerate(minutes)}
    group = folium.FeatureGroup(
        name="Isochrones : " + ", ".join(fmt_dec(m, 0) for m in sorted(minutes)) + " min de route",
        show=True)
    for m in minutes:  # largest first so that the shortest times are drawn on top
        # A fresh index, or the labels would not align with the geometries below.
        part = iso[pd.to_numeric(iso["minutes"]) == m].reset_index(drop=True)
        data = gpd.GeoDataFrame(
            {"label": [f"{fmt_dec(m, 0)} min" + (f" · {s}" if "source" in part else "")
                       for s in (part["source"].astype(str) if "source" in part else [""] * len(part))]},
            geometry=_light_geometry(part.geometry, tolerance), crs="EPSG:4326")
        color = shades[m]
        folium.GeoJson(
            data.__geo_interface__,
            style_function=lambda f, c=color: {"color": c, "weight": 1, "fillColor": c,
                                               "fillOpacity": 0.25},
            zoom_on_click=False,
            # Not interactive: the isochrones lie over the communes, whose tooltips must
            # stay reachable under them.
            interactive=False,
        ).add_to(group)
    group.add_to(fmap)


def _younger(prof: Profession) -> str:
    """``"médecins généralistes ≤ 65 ans"``."""
    if prof.variant_max_age is None:
        return prof.label
    return f"{prof.label} ≤ {prof.variant_max_age:g} ans"


def _add_practitioners(fmap, points: pd.DataFrame, communes, prof: Profession) -> int:
    import folium

    pts = pd.DataFrame(points).dropna(subset=["lon", "lat"])
    if pts.empty:
        return 0
    names = {}
    if "code_commune" in pts and "code_commune" in communes and "nom" in communes:
        names = dict(zip(communes["code_commune"].astype(str), communes["nom"].astype(str),
                         strict=False))
    keys = ["lon", "lat"] + (["code_commune"] if "code_commune" in pts else [])
    grouped = pts.groupby(keys, dropna=False).size().reset_index(name="n")
    group = folium.FeatureGroup(name=prof.label.capitalize(), show=True)
    for row in grouped.itertuples(index=False):
        n = int(row.n)
        where = names.get(str(getattr(row, "code_commune", "")), "")
        text = f"{n} {prof.label if n > 1 else prof.label_singular}"
        if where:
            text += f" · {where}"
        folium.CircleMarker(
            location=[float(row.lat), float(row.lon)], radius=2.4 + 1.5 * math.sqrt(n),
            color="#ffffff", weight=1, fill=True, fill_color="#1f4e79", fill_opacity=0.9,
            tooltip=html.escape(text),
        ).add_to(group)
    group.add_to(fmap)
    return int(grouped["n"].sum())
