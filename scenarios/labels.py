"""Labels of a region's places for the scenario tables."""

from __future__ import annotations

import numpy as np


def commune_names(region) -> np.ndarray:
    """Name of each commune of ``region``: its ``nom`` column, or its INSEE code without one.

    Parameters
    ----------
    region : engine.region.Region

    Returns
    -------
    numpy.ndarray
        One label per commune, in the region's order.
    """
    return region.communes["nom"].to_numpy() if "nom" in region.communes else region.codes
