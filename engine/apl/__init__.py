"""Floating-catchment accessibility and the official French APL (DREES).

- Professions (:mod:`engine.apl.profession`): :func:`profession` (``"gp"``, general
  practitioners, by default everywhere) and :class:`Profession`, read from TOML definitions.
- Decays (:mod:`engine.apl.decay`): :func:`step`, :func:`gaussian`, :func:`exponential`,
  :func:`gravity`, :func:`cumulative`, :func:`linear`, :func:`logistic`;
  :data:`DREES_DECAY` is the GPs' decay.
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
- Demand and supply (:mod:`engine.apl.demand`, :mod:`engine.apl.supply`):
  :func:`standardised_population`, :func:`bounded_activity`,
  :func:`practitioner_activity`, :func:`attach_practitioners`, :func:`supply_by_commune`,
  :func:`commune_supply`.
- Communes (:mod:`engine.apl.communes`): :func:`commune_matrix`, :func:`apl_communes`.
- Zoning (:mod:`engine.apl.zoning`): :func:`classify`, :func:`class_index`,
  :func:`zoning_summary`, :func:`zone_table`, :func:`select_under_cap`.

Examples
--------
>>> import numpy as np
>>> from engine.apl import two_step_fca
>>> t = np.array([[0.0, 12.0], [12.0, 0.0]])    # minutes, demand rows x supply columns
>>> two_step_fca([100.0, 50.0], [3600.0, 0.0], t).round(3)
array([27., 18.])
"""

from engine.apl.communes import apl_communes, commune_matrix
from engine.apl.decay import (
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
from engine.apl.demand import AGE_BANDS, commune_demand, standardised_population
from engine.apl.fca import (
    DREES_DECAY,
    Catchment,
    UnservedSupplyWarning,
    balanced_fca,
    catchment_weights,
    fca_from_weights,
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
from engine.apl.profession import Profession, Zoning, ZoningClass, profession, shipped_professions
from engine.apl.supply import (
    attach_practitioners,
    bounded_activity,
    commune_supply,
    practitioner_activity,
    select_profession,
    supply_by_commune,
)
from engine.apl.zoning import (
    class_index,
    classify,
    departement_of,
    select_under_cap,
    zone_apl,
    zone_indicator,
    zone_table,
    zoning_summary,
)
from engine.errors import FarFromRoadWarning

__all__ = [
    "AGE_BANDS",
    "Catchment",
    "ConvergenceWarning",
    "DREES_DECAY",
    "Decay",
    "DoublyConstrained",
    "FarFromRoadWarning",
    "Profession",
    "TheilDecomposition",
    "UnservedSupplyWarning",
    "Zoning",
    "ZoningClass",
    "apl_communes",
    "as_decay",
    "attach_practitioners",
    "balanced_fca",
    "bounded_activity",
    "catchment_weights",
    "class_index",
    "classify",
    "commune_demand",
    "commune_matrix",
    "commune_supply",
    "concentration_index",
    "cost_to_closest",
    "cumulative",
    "cumulative_cutoff",
    "cumulative_interval",
    "departement_of",
    "doubly_constrained",
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
    "practitioner_activity",
    "profession",
    "raam",
    "select_profession",
    "select_under_cap",
    "shipped_professions",
    "singly_constrained",
    "spatial_availability",
    "standardised_population",
    "step",
    "supply_by_commune",
    "theil_t",
    "three_step_fca",
    "total_constrained",
    "travel_minutes",
    "two_step_fca",
    "weighted_quantile",
    "zone_apl",
    "zone_indicator",
    "zone_table",
    "zoning_summary",
]
