"""Speed model: from OSM tags to edge travel times.

OpenStreetMap rarely carries a usable speed, and the Corsica network carries none, so speeds
are imputed from the ``highway`` class, refined by ``maxspeed`` where it is tagged and, on
request, slowed down on winding roads.

The default table follows the car profile of OSRM, the router INSEE's *Metric* distancier
(and so the official APL travel times) is computed with: the speeds are free-flow *driven*
speeds, lower than French legal limits (130 motorway, 110 expressway, 80 two-way rural
road since 2018, 50 in built-up areas). Posted limits (``maxspeed``) are honoured at
``maxspeed_factor`` of their value, as OSRM does (0.8), because nobody drives a winding
mountain road at its limit. French implicit limits such as ``FR:rural`` are understood.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

#: Default driven speed (km/h) per OSM ``highway`` class, from OSRM's car profile
#: (``profiles/car.lua``), the router INSEE uses for its Metric distancier.
FRENCH_DEFAULT_SPEEDS_KMH: Mapping[str, float] = {
    "motorway": 90.0,
    "motorway_link": 45.0,
    "trunk": 85.0,
    "trunk_link": 40.0,
    "primary": 65.0,
    "primary_link": 30.0,
    "secondary": 55.0,
    "secondary_link": 25.0,
    "tertiary": 40.0,
    "tertiary_link": 20.0,
    "unclassified": 25.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
    "track": 5.0,
    "busway": 25.0,
}

#: French legal limits (km/h) for the implicit ``maxspeed`` values (``FR:*``) and for
#: ``legal_speeds()``: Code de la route, with the 80 km/h rural limit of 1 July 2018.
FRENCH_IMPLICIT_MAXSPEED_KMH: Mapping[str, float] = {
    "fr:urban": 50.0,
    "fr:rural": 80.0,
    "fr:trunk": 110.0,
    "fr:motorway": 130.0,
    "fr:zone30": 30.0,
    "fr:zone20": 20.0,
    "fr:walk": 6.0,
    "fr:living_street": 20.0,
    "walk": 6.0,
}

_MPH = 1.609344


@dataclass(frozen=True)
class SpeedModel:
    """How edge travel times are derived from OSM tags.

    Parameters
    ----------
    highway_kmh : Mapping[str, float]
        Driven speed per ``highway`` class when no ``maxspeed`` is tagged.
    fallback_kmh : float
        Speed for a class absent from ``highway_kmh``.
    use_maxspeed : bool
        Honour ``maxspeed`` tags where present.
    maxspeed_factor : float
        Share of a posted limit actually driven (OSRM uses 0.8).
    winding_penalty : float
        Slow-down on winding roads: the speed is divided by
        ``1 + winding_penalty * (sinuosity - 1)``, where sinuosity is the edge ``length``
        over the straight line between its ends. 0 (the default) disables it.
    winding_floor : float
        The winding penalty never slows an edge below this share of its speed.

    Examples
    --------
    >>> model = SpeedModel().with_speeds({"residential": 30})
    >>> model.highway_kmh["residential"]
    30.0
    """

    highway_kmh: Mapping[str, float] = field(
        default_factory=lambda: dict(FRENCH_DEFAULT_SPEEDS_KMH)
    )
    fallback_kmh: float = 25.0
    use_maxspeed: bool = True
    maxspeed_factor: float = 0.8
    winding_penalty: float = 0.0
    winding_floor: float = 0.5

    def __post_init__(self) -> None:
        for key, value in self.highway_kmh.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"speed for highway={key!r} must be a positive number of km/h, got {value!r}")
        if not self.fallback_kmh > 0:
            raise ValueError(f"fallback_kmh must be positive, got {self.fallback_kmh!r}")
        if not 0 < self.maxspeed_factor <= 1.5:
            raise ValueError(f"maxspeed_factor must be in (0, 1.5], got {self.maxspeed_factor!r}")
        if self.winding_penalty < 0:
            raise ValueError(f"winding_penalty must be >= 0, got {self.winding_penalty!r}")
        if not 0 < self.winding_floor <= 1:
            raise ValueError(f"winding_floor must be in (0, 1], got {self.winding_floor!r}")

    def with_speeds(self, overrides: Mapping[str, float]) -> SpeedModel:
        """Return a copy whose table has ``overrides`` merged in (km/h per class)."""
        table = dict(self.highway_kmh)
        table.update({k: float(v) for k, v in overrides.items()})
        return replace(self, highway_kmh=table)


def legal_speeds() -> SpeedModel:
    """A speed model at French legal limits, posted limits taken at face value.

    Returns
    -------
    SpeedModel
        Motorway 130, trunk 110, primary/secondary/tertiary 80 (rural two-way roads),
        urban classes 50, residential 30, living street 20, service 20 km/h.

    Examples
    --------
    >>> legal_speeds().highway_kmh["motorway"]
    130.0
    """
    table = {
        "motorway": 130.0, "motorway_link": 70.0, "trunk": 110.0, "trunk_link": 70.0,
        "primary": 80.0, "primary_link": 50.0, "secondary": 80.0, "secondary_link": 50.0,
        "tertiary": 80.0, "tertiary_link": 50.0, "unclassified": 50.0, "residential": 30.0,
        "living_street": 20.0, "service": 20.0, "road": 50.0, "track": 10.0, "busway": 50.0,
    }
    return SpeedModel(highway_kmh=table, maxspeed_factor=1.0)


def resolve_speed_model(speeds: SpeedModel | Mapping[str, float] | None) -> SpeedModel:
    """Turn the ``speeds=`` argument of the public API into a :class:`SpeedModel`."""
    if speeds is None:
        return SpeedModel()
    if isinstance(speeds, SpeedModel):
        return speeds
    if isinstance(speeds, Mapping):
        return SpeedModel().with_speeds(speeds)
    raise TypeError(
        f"speeds must be a SpeedModel, a mapping of highway class to km/h, or None; got {type(speeds).__name__}"
    )


_NUM = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)


def parse_maxspeed(value: object) -> float:
    """Parse an OSM ``maxspeed`` value to km/h.

    Parameters
    ----------
    value : object
        A tag value such as ``"50"``, ``"30 mph"``, ``"FR:rural"``, ``"50;70"``, or a list
        of such values (osmnx keeps lists when simplification merged ways).

    Returns
    -------
    float
        The speed in km/h, or ``nan`` when the value gives no usable speed (``none``,
        ``signals``, missing, garbage). Several values give their mean.

    Examples
    --------
    >>> parse_maxspeed("FR:rural")
    80.0
    >>> parse_maxspeed("30 mph")
    48.28032
    >>> parse_maxspeed("50;70")
    60.0
    """
    if value is None:
        return math.nan
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value > 0 else math.nan
    if isinstance(value, (list, tuple)):
        parts = [parse_maxspeed(v) for v in value]
    else:
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1].replace("'", "").replace('"', "")
            pieces = text.split(",")
        else:
            pieces = text.split(";") if ";" in text else text.split("|")
        if len(pieces) > 1:
            parts = [parse_maxspeed(p) for p in pieces]
        else:
            text = pieces[0].strip()
            implicit = FRENCH_IMPLICIT_MAXSPEED_KMH.get(text.lower())
            if implicit is not None:
                return implicit
            match = _NUM.match(text)
            if not match:
                return math.nan
            speed = float(match.group(1).replace(",", "."))
            if match.group(2) and match.group(2).lower() == "mph":
                speed *= _MPH
            return speed if speed > 0 else math.nan
    good = [p for p in parts if math.isfinite(p)]
    return float(np.mean(good)) if good else math.nan


def _classes(highway: object) -> list[str]:
    if isinstance(highway, (list, tuple)):
        return [str(h) for h in highway if str(h)]
    text = "" if highway is None or (isinstance(highway, float) and math.isnan(highway)) \
        else str(highway)
    if text.startswith("[") and text.endswith("]"):
        return [c.strip(" '\"") for c in text[1:-1].split(",") if c.strip(" '\"")]
    return [text] if text else []


def _highway_speed(model: SpeedModel, highway: object) -> float:
    speeds = [model.highway_kmh.get(c, model.fallback_kmh) for c in _classes(highway)]
    return float(np.mean(speeds)) if speeds else model.fallback_kmh


def edge_speeds_kmh(
    model: SpeedModel,
    highway: np.ndarray | list,
    maxspeed: np.ndarray | list | None,
    length_m: np.ndarray,
    straight_m: np.ndarray,
    *,
    return_fallback: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Driven speed (km/h) of each edge under ``model``.

    Parameters
    ----------
    model : SpeedModel
        The speed model.
    highway, maxspeed : array-like
        Per-edge tag values (``maxspeed`` may be ``None`` when no edge has one).
    length_m, straight_m : numpy.ndarray
        Road length and straight-line distance between the edge ends, in metres.
    return_fallback : bool
        Also return which edges drive at the model's fallback speed: no ``highway`` class
        the model knows and no usable ``maxspeed`` (default False).

    Returns
    -------
    speed : numpy.ndarray
        Speeds in km/h, all finite and positive.
    fallback : numpy.ndarray of bool
        Only with ``return_fallback``.

    Examples
    --------
    >>> kmh, fallback = edge_speeds_kmh(
    ...     SpeedModel(), ["primary", "", "['track', 'service']", "footway"], [None, "50", None, None],
    ...     np.ones(4), np.ones(4), return_fallback=True)
    >>> fallback.tolist()
    [False, False, False, True]
    """
    n = len(length_m)
    # Few distinct tag values: parse each once.
    cache_hw: dict[object, tuple[float, bool]] = {}
    speed = np.empty(n, dtype=np.float64)
    known = np.empty(n, dtype=bool)
    for i, hw in enumerate(highway):
        key = hw if not isinstance(hw, list) else tuple(hw)
        hit = cache_hw.get(key)
        if hit is None:
            classes = _classes(hw)
            hit = (_highway_speed(model, hw), any(c in model.highway_kmh for c in classes))
            cache_hw[key] = hit
        speed[i], known[i] = hit
    if model.use_maxspeed and maxspeed is not None:
        cache_ms: dict[object, float] = {}
        for i, ms in enumerate(maxspeed):
            if ms is None or (isinstance(ms, float) and math.isnan(ms)):
                continue
            key = ms if not isinstance(ms, list) else tuple(ms)
            v = cache_ms.get(key)
            if v is None:
                v = parse_maxspeed(ms)
                cache_ms[key] = v
            if math.isfinite(v):
                speed[i] = v * model.maxspeed_factor
                known[i] = True
    if model.winding_penalty > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            sinuosity = np.where(straight_m > 1.0, length_m / straight_m, 1.0)
        sinuosity = np.maximum(sinuosity, 1.0)
        factor = 1.0 / (1.0 + model.winding_penalty * (sinuosity - 1.0))
        speed *= np.maximum(factor, model.winding_floor)
    return (speed, ~known) if return_fallback else speed
