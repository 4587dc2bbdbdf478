"""Floating-catchment accessibility and the official French APL (DREES).

- Decays (:mod:`engine.apl.decay`): :func:`step` (with :data:`DREES_DECAY`),
  :func:`gaussian`, :func:`exponential`, :func:`gravity`, :func:`cumulative`.
- Floating catchment (:mod:`engine.apl.fca`): :func:`two_step_fca`,
  :func:`three_step_fca`, :func:`balanced_fca`, :func:`spatial_availability`,
  :func:`catchment_weights`, :func:`fca_from_weights` and :class:`Catchment` for many
  supply scenarios on a fixed matrix.
- DREES rules (:mod:`engine.apl.drees`): :func:`bounded_activity`,
  :func:`standardised_population`, :func:`commune_matrix`, :func:`commune_supply`,
  :func:`apl_communes`.
- Zoning (:mod:`engine.apl.zoning`): :func:`classify`, :func:`zoning_summary`,
  :func:`select_under_cap`.

Examples
--------
>>> import numpy as np
>>> from engine.apl import two_step_fca
>>> t = np.array([[0.0, 12.0], [12.0, 0.0]])    # minutes, demand rows x supply columns
>>> two_step_fca([100.0, 50.0], [3600.0, 0.0], t).round(3)
array([27., 18.])
"""

from engine.apl.decay import (
    DREES_DECAY,
    Decay,
    as_decay,
    cumulative,
    exponential,
    gaussian,
    gravity,
    step,
)
from engine.apl.drees import (
    AGE_BANDS,
    DEFAULT_ACTIVITY,
    FarFromRoadWarning,
    apl_communes,
    bounded_activity,
    commune_matrix,
    commune_supply,
    drees_parameters,
    standardised_population,
)
from engine.apl.fca import (
    Catchment,
    UnservedSupplyWarning,
    balanced_fca,
    catchment_weights,
    fca_from_weights,
    spatial_availability,
    three_step_fca,
    two_step_fca,
)
from engine.apl.zoning import CLASSES, classify, departement_of, select_under_cap, zoning_summary

__all__ = [
    "AGE_BANDS",
    "CLASSES",
    "DEFAULT_ACTIVITY",
    "DREES_DECAY",
    "Catchment",
    "Decay",
    "FarFromRoadWarning",
    "UnservedSupplyWarning",
    "apl_communes",
    "as_decay",
    "balanced_fca",
    "bounded_activity",
    "catchment_weights",
    "classify",
    "commune_matrix",
    "commune_supply",
    "cumulative",
    "departement_of",
    "drees_parameters",
    "exponential",
    "fca_from_weights",
    "gaussian",
    "gravity",
    "select_under_cap",
    "spatial_availability",
    "standardised_population",
    "step",
    "three_step_fca",
    "two_step_fca",
    "zoning_summary",
]
