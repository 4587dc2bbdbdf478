"""Road routing: OSM loading, speed model, CSR networks, shortest paths, isochrones."""

from engine.routing.matrix import TravelTimeMatrix, nearest_travel_times, travel_times
from engine.routing.network import RoadNetwork
from engine.routing.speeds import SpeedModel, legal_speeds

__all__ = ["RoadNetwork", "SpeedModel", "TravelTimeMatrix", "legal_speeds", "nearest_travel_times",
           "travel_times"]
