"""Road routing: OSM loading, speed model, CSR networks, shortest paths, isochrones.

It knows nothing of the APL. Names are imported on first use.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "RoadNetwork": "engine.routing.network",
    "SpeedModel": "engine.routing.speeds",
    "TravelTimeMatrix": "engine.routing.matrix",
    "compile_kernels": "engine.routing.matrix",
    "kernels_cached": "engine.routing.matrix",
    "legal_speeds": "engine.routing.speeds",
    "load_network": "engine.routing.loaders",
    "nearest_travel_times": "engine.routing.matrix",
    "travel_times": "engine.routing.matrix",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine.routing' has no attribute {name!r}")
