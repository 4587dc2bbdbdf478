"""A string where the API expects a number is an InputError naming the argument.

Before: raw ``TypeError``/``ValueError`` from numpy or a comparison (review item).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from engine.apl import calibration, fca, inequality, measures, supply
from engine.errors import InputError
from engine.routing import matrix, surface
from engine.routing.network import RoadNetwork

X = np.array([1.0, 2.0, 3.0])
P = np.array([1.0, 1.0, 1.0])
T = np.array([[0.0, 5.0], [5.0, 0.0]])


def tiny_network() -> RoadNetwork:
    return RoadNetwork.from_edges(np.array([0, 1]), np.array([1, 0]), np.full(2, 60.0),
                                  np.full(2, 1000.0), np.array([9.0, 9.0121]),
                                  np.array([42.0, 42.0]), np.array([10, 11]))


CASES = {
    "values": lambda: inequality.gini_index(["a", "b", "c"], P),
    "population": lambda: inequality.gini_index(X, "abc"),
    "poverty_line": lambda: inequality.fgt_poverty(X, P, "low"),
    "alpha": lambda: fca.spatial_availability([1.0, 1.0], [1.0, 1.0], T, alpha="one"),
    "default_activity": lambda: supply.practitioner_activity(
        pd.DataFrame({"activity": [np.nan]}), default_activity="many"),
    "scale": lambda: calibration.fit_supply(sp.identity(2, format="csr"), [1.0, 1.0],
                                            [1.0, 1.0], scale="big", regularisation=1e-9),
    "resolution_m": lambda: surface.rasterize_travel_time(tiny_network(), np.zeros(2),
                                                          resolution_m="fine"),
    "access_speed_kmh": lambda: surface.rasterize_travel_time(tiny_network(), np.zeros(2),
                                                              access_speed_kmh="fast"),
    "chunk_size": lambda: matrix.travel_times(tiny_network(), [0], client=object(),
                                              chunk_size="big"),
    "max_cycles": lambda: measures.raam([1.0, 1.0], [1.0, 1.0], T, max_cycles="many"),
    "limit_initial": lambda: measures.raam([1.0, 1.0], [1.0, 1.0], T, limit_initial="x"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_string_argument_is_an_input_error(name):
    with pytest.raises(InputError, match=name) as err:
        CASES[name]()
    assert err.value.column == name
