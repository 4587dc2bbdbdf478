"""apl-engine: road accessibility to health care and the French APL indicator.

The public API:

- :func:`load_network` and :class:`RoadNetwork`: OSM road networks as CSR arrays.
- :func:`travel_times` and :class:`TravelTimeMatrix`: bounded sparse travel-time matrices;
  :func:`nearest_travel_times`: time to the nearest of many sources in one search.
- :func:`isochrones`: travel-time polygons around sources.
- :mod:`engine.apl`: floating-catchment measures, professions and the official DREES APL.
- :class:`engine.region.Region`, :func:`engine.mirror.load_region`: study areas.

Names are imported on first use, so ``import engine`` stays fast (the routing kernels, numba
and pandas load only when a function needs them).
"""

from __future__ import annotations

from importlib import import_module, metadata

try:
    __version__ = metadata.version("apl-engine")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0+unknown"

_EXPORTS = {
    "InputError": "engine.errors",
    "NetworkError": "engine.errors",
    "RoadNetwork": "engine.routing.network",
    "SpeedModel": "engine.routing.speeds",
    "TravelTimeMatrix": "engine.routing.matrix",
    "isochrones": "engine.routing.isochrones",
    "legal_speeds": "engine.routing.speeds",
    "load_network": "engine.routing.loaders",
    "nearest_travel_times": "engine.routing.matrix",
    "travel_times": "engine.routing.matrix",
}

__all__ = sorted([*_EXPORTS, "settings", "__version__"])


def __getattr__(name: str):
    if name == "settings":
        return import_module("engine.settings")
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
