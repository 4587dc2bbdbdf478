"""apl_communes, commune_matrix and commune_supply on a synthetic road made in code."""

from __future__ import annotations

import warnings

import naive
import numpy as np
import pandas as pd
import pytest

from engine import settings
from engine.apl import (
    DREES_DECAY,
    FarFromRoadWarning,
    UnservedSupplyWarning,
    apl_communes,
    commune_matrix,
    commune_supply,
)
from engine.errors import InputError
from engine.routing.network import RoadNetwork

DLON = 0.0121  # about 1 km at 42 degrees north


@pytest.fixture(scope="module")
def line():
    """A two-way road of 40 nodes 1 km apart, 1 minute per edge."""
    n = 40
    u = np.r_[np.arange(n - 1), np.arange(1, n)]
    v = np.r_[np.arange(1, n), np.arange(n - 1)]
    lon = 9.0 + DLON * np.arange(n)
    return RoadNetwork.from_edges(u, v, np.full(len(u), 60.0), np.full(len(u), 1000.0),
                                  lon, np.full(n, 42.0), np.arange(n) + 100)


def make_communes(nodes, pops=None):
    nodes = np.asarray(nodes)
    return pd.DataFrame({
        "code_commune": [f"2A{k:03d}" for k in range(len(nodes))],
        "lon": 9.0 + DLON * nodes, "lat": np.full(len(nodes), 42.0),
        "pop_standardisee": pops if pops is not None else np.full(len(nodes), 100.0),
        "pop_totale": pops if pops is not None else np.full(len(nodes), 100.0),
    })


def test_commune_matrix_diagonal_zero_and_shared_nodes(line):
    communes = make_communes([0, 0, 5, 30])
    m = commune_matrix(line, communes)
    d = m.to_dense()
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert d[0, 1] == 0.0 and d[1, 0] == 0.0  # same node
    assert d[0, 2] == pytest.approx(5.0, abs=1e-9)
    assert np.isinf(d[0, 3])  # 30 min > 20 min bound


def test_apl_communes_matches_naive(line):
    communes = make_communes([0, 3, 8, 12, 19, 25], [100.0, 250.0, 80.0, 0.0, 400.0, 60.0])
    gps = pd.DataFrame({"code_commune": ["2A000", "2A000", "2A002", "2A004"],
                        "activity": [5000.0, 200.0, np.nan, 7000.0]})
    res = apl_communes(line, communes, gps, default_activity=4500.0)
    supply = np.array([5000.0, 0, 4500.0, 0, 6000.0, 0])
    np.testing.assert_allclose(res["supply"], supply)
    t = commune_matrix(line, communes).to_dense()
    expected = naive.two_step_fca(communes["pop_standardisee"].to_numpy(), supply, t, DREES_DECAY)
    np.testing.assert_allclose(res["apl"], expected, rtol=1e-12)
    assert list(res.columns[:3]) == ["code_commune", "apl", "supply"]
    assert res["apl"].notna().all()


def test_max_age_variant(line):
    communes = make_communes([0, 5])
    gps = pd.DataFrame({"code_commune": ["2A000", "2A001"], "activity": [5000.0, 5000.0],
                        "age": [66, 65]})
    res = apl_communes(line, communes, gps, max_age=65)
    np.testing.assert_allclose(res["supply"], [0.0, 5000.0])
    with pytest.raises(InputError, match="age"):
        apl_communes(line, communes, gps.drop(columns="age"), max_age=65)


def test_duplicate_commune_codes(line):
    communes = make_communes([0, 5])
    communes.loc[1, "code_commune"] = "2A000"
    with pytest.raises(InputError, match="duplicate commune code '2A000'"):
        apl_communes(line, communes, pd.DataFrame({"code_commune": []}))


def test_unknown_commune_in_practitioners(line):
    with pytest.raises(InputError, match="2B999") as err:
        apl_communes(line, make_communes([0, 5]), pd.DataFrame({"code_commune": ["2B999"]}))
    assert err.value.column == "code_commune"


@pytest.mark.parametrize("bad", [-5.0, np.nan])
def test_negative_or_nan_population(line, bad):
    communes = make_communes([0, 5])
    communes.loc[1, "pop_standardisee"] = bad
    with pytest.raises(InputError, match="2A001.*pop_standardisee"):
        apl_communes(line, communes, pd.DataFrame({"code_commune": ["2A000"]}))


def test_practitioner_point_far_from_every_commune_is_an_error(line):
    communes = make_communes([0, 5])
    gps = pd.DataFrame({"lon": [9.0 + DLON * 5, 9.0], "lat": [42.0, 42.5]})  # 2nd: 55 km away
    with pytest.raises(InputError, match="swapped") as err:
        commune_supply(communes, gps)
    assert err.value.row == 1 and err.value.column == "lon"
    supply, detail = commune_supply(communes, gps.iloc[:1], return_practitioners=True)
    np.testing.assert_allclose(supply, [0.0, bounded_default()])
    assert detail["commune_index"].tolist() == [1]


def test_attach_distance_is_haversine_as_snap(line):
    """The distance checked against the limit is the one snap reports (haversine metres)."""
    from engine.apl.supply import attach_practitioners
    from engine.routing.network import haversine_m

    communes = make_communes([0, 5])
    point = (9.0, 42.3)
    metres = float(haversine_m(point[0], point[1], communes["lon"][0], communes["lat"][0]))
    gps = pd.DataFrame({"lon": [point[0]], "lat": [point[1]]})
    assert attach_practitioners(gps, communes, max_distance_m=metres).tolist() == [0]
    with pytest.raises(InputError, match=f"{metres / 1000:,.1f} km"):
        attach_practitioners(gps, communes, max_distance_m=np.nextafter(metres, 0.0))


def bounded_default():
    from engine.apl import bounded_activity, profession

    return float(bounded_activity([profession("gp").activity.default])[0])


def test_commune_far_from_road_is_isolated_with_warning(line, monkeypatch):
    communes = make_communes([0, 5])
    communes.loc[1, "lat"] = 42.2  # 22 km north of the road
    with pytest.warns(FarFromRoadWarning, match="2A001"):
        m = commune_matrix(line, communes)
    d = m.to_dense()
    assert d[1, 1] == 0 and np.isinf(d[0, 1]) and np.isinf(d[1, 0])
    monkeypatch.setattr(settings, "max_snap_distance_m", 50_000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FarFromRoadWarning)
        commune_matrix(line, communes)


def test_commune_with_gps_and_zero_demand_in_reach(line):
    communes = make_communes([0, 35], [100.0, 0.0])  # 35 min apart: out of each other's reach
    gps = pd.DataFrame({"code_commune": ["2A000", "2A001"]})
    with pytest.warns(UnservedSupplyWarning, match="2A001"):
        res = apl_communes(line, communes, gps)
    assert res["apl"].notna().all()
    assert res.loc[1, "apl"] == 0.0 and res.loc[1, "ratio"] == 0.0
    assert res.loc[1, "supply_unserved"] == res.loc[1, "supply"] > 0


def test_missing_coordinates_named(line):
    communes = make_communes([0, 5])
    communes.loc[0, "lon"] = np.nan
    with pytest.raises(InputError, match="2A000"):
        apl_communes(line, communes, pd.DataFrame({"code_commune": []}))


def test_age_bands_instead_of_standardised_population(line):
    from engine.apl import AGE_BANDS, standardised_population

    communes = make_communes([0, 5]).drop(columns="pop_standardisee")
    bands = pd.DataFrame(np.full((2, 19), 10.0), columns=list(AGE_BANDS))
    communes = pd.concat([communes, bands], axis=1)
    res = apl_communes(line, communes, pd.DataFrame({"code_commune": ["2A000"]}), year=2023)
    np.testing.assert_allclose(res["pop_standardisee"], standardised_population(bands, 2023))


def test_precomputed_matrix_reused(line):
    communes = make_communes([0, 4, 9])
    gps = pd.DataFrame({"code_commune": ["2A001"]})
    m = commune_matrix(line, communes)
    a = apl_communes(line, communes, gps, matrix=m)
    b = apl_communes(line, communes, gps)
    np.testing.assert_allclose(a["apl"], b["apl"])
    with pytest.raises(InputError, match="shape"):
        apl_communes(line, communes.iloc[:2], gps, matrix=m)
