"""Floating-catchment accessibility and the official French APL (DREES).

- Decays (:mod:`engine.apl.decay`): :func:`step` (with :data:`DREES_DECAY`),
  :func:`gaussian`, :func:`exponential`, :func:`gravity`, :func:`cumulative`,
  :func:`linear`, :func:`logistic`.
- Floating catchment (:mod:`engine.apl.fca`): :func:`two_step_fca`,
  :func:`three_step_fca`, :func:`balanced_fca`, :func:`spatial_availability`,
  :func:`catchment_weights`, :func:`fca_from_weights` and :class:`Catchment` for many
  supply scenarios on a fixed matrix.
- Other measures (:mod:`engine.apl.measures`): :func:`gravity_accessibility`,
  :func:`cumulative_cutoff`, :func:`cumulative_interval`, :func:`cost_to_closest`,
  :func:`total_constrained`, :func:`singly_constrained`, :func:`doubly_constrained`,
  :func:`raam`.
- Inequality and poverty (:mod:`engine.apl.inequality`): :func:`gini_index`,
  :func:`palma_ratio`, :func:`theil_t`, :func:`concentration_index`, :func:`fgt_poverty`,
  :func:`weighted_quantile`.
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
    linear,
    logistic,
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
    quantities,
    spatial_availability,
    three_step_fca,
    travel_minutes,
    two_step_fca,
)
from engine.apl.inequality import (
    TheilDecomposition,
    concentration_index,
    fgt_poverty,
    gini_index,
    palma_ratio,
    theil_t,
    weighted_quantile,
)
from engine.apl.measures import (
    ConvergenceWarning,
    DoublyConstrained,
    cost_to_closest,
    cumulative_cutoff,
    cumulative_interval,
    doubly_constrained,
    gravity_accessibility,
    raam,
    singly_constrained,
    total_constrained,
)
from engine.apl.zoning import CLASSES, classify, departement_of, select_under_cap, zoning_summary

__all__ = [
    "AGE_BANDS",
    "CLASSES",
    "Catchment",
    "ConvergenceWarning",
    "DEFAULT_ACTIVITY",
    "DREES_DECAY",
    "Decay",
    "DoublyConstrained",
    "FarFromRoadWarning",
    "TheilDecomposition",
    "UnservedSupplyWarning",
    "apl_communes",
    "as_decay",
    "balanced_fca",
    "bounded_activity",
    "catchment_weights",
    "classify",
    "commune_matrix",
    "commune_supply",
    "concentration_index",
    "cost_to_closest",
    "cumulative",
    "cumulative_cutoff",
    "cumulative_interval",
    "departement_of",
    "doubly_constrained",
    "drees_parameters",
    "exponential",
    "fca_from_weights",
    "fgt_poverty",
    "gaussian",
    "gini_index",
    "gravity",
    "gravity_accessibility",
    "linear",
    "logistic",
    "palma_ratio",
    "quantities",
    "raam",
    "select_under_cap",
    "singly_constrained",
    "spatial_availability",
    "standardised_population",
    "step",
    "theil_t",
    "three_step_fca",
    "total_constrained",
    "travel_minutes",
    "two_step_fca",
    "weighted_quantile",
    "zoning_summary",
]
