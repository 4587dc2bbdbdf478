"""Road routing: OSM loading, speed model, CSR networks, shortest paths, isochrones."""

from engine.routing.matrix import TravelTimeMatrix, travel_times
from engine.routing.network import RoadNetwork
from engine.routing.speeds import SpeedModel, legal_speeds

__all__ = ["RoadNetwork", "SpeedModel", "TravelTimeMatrix", "legal_speeds", "travel_times"]
