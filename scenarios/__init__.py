"""Scenarios: retirements, replacements and new installations, forecast year by year.

- :func:`load_scenario` reads and validates a TOML scenario (shipped: ``retire-at-65``,
  ``retirement-hazard``, ``new-msp``).
- :func:`forecast` runs the Monte Carlo forecast on a region.
- :func:`optimize_installations` proposes where to install new practitioners.
- :mod:`scenarios.ages` imputes practitioner ages when the roster has none.
"""

from scenarios.config import Installation, Scenario, load_scenario, parse_scenario
from scenarios.forecast import Forecast, forecast
from scenarios.optimize import greedy_placement, optimize_installations

__all__ = [
    "Forecast",
    "Installation",
    "Scenario",
    "forecast",
    "greedy_placement",
    "load_scenario",
    "optimize_installations",
    "parse_scenario",
]
