"""apl-engine: road accessibility to health care and the French APL indicator.

The public API:

- :func:`load_network` and :class:`RoadNetwork`: OSM road networks as CSR arrays.
- :func:`travel_times` and :class:`TravelTimeMatrix`: bounded sparse travel-time matrices;
  :func:`nearest_travel_times`: time to the nearest of many sources in one search.
- :func:`isochrones`: travel-time polygons around sources.
- :mod:`engine.apl`: floating-catchment measures and the official DREES APL.
"""

from engine import settings
from engine.errors import InputError, NetworkError
from engine.routing.loaders import load_network
from engine.routing.matrix import TravelTimeMatrix, nearest_travel_times, travel_times
from engine.routing.network import RoadNetwork
from engine.routing.speeds import SpeedModel, legal_speeds

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "NetworkError",
    "RoadNetwork",
    "SpeedModel",
    "TravelTimeMatrix",
    "isochrones",
    "legal_speeds",
    "load_network",
    "nearest_travel_times",
    "settings",
    "travel_times",
]


def __getattr__(name):
    # Isochrones pull in geopandas/shapely; import them only when asked for.
    if name == "isochrones":
        from engine.routing.isochrones import isochrones

        return isochrones
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
