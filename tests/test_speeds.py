"""Speed model: maxspeed parsing, validation, highway lists, winding penalty, overrides."""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
from engine.routing.speeds import (
    FRENCH_DEFAULT_SPEEDS_KMH,
    SpeedModel,
    edge_speeds_kmh,
    legal_speeds,
    parse_maxspeed,
    resolve_speed_model,
)


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0), (" 90 ", 90.0), ("50 km/h", 50.0), ("70kmh", 70.0), ("12,5", 12.5),
        (30, 30.0), (45.0, 45.0), ("30 mph", 30 * 1.609344), ("20mph", 20 * 1.609344),
        ("FR:urban", 50.0), ("FR:rural", 80.0), ("fr:motorway", 130.0), ("FR:zone30", 30.0),
        ("FR:trunk", 110.0), ("walk", 6.0),
        ("50;70", 60.0), ("50|70", 60.0), (["50", "70"], 60.0), ("['50', '70']", 60.0),
        (["50", "none"], 50.0), ("30;FR:urban", 40.0),
    ],
)
def test_parse_maxspeed(value, kmh):
    assert parse_maxspeed(value) == pytest.approx(kmh, rel=1e-12)


@pytest.mark.parametrize("value", ["none", "signals", "", "fast", "-30", "0", None, math.nan,
                                   0, -5, ["none", "variable"], "50 knots"])
def test_parse_maxspeed_unusable_is_nan(value):
    assert math.isnan(parse_maxspeed(value))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"highway_kmh": {"primary": 0}}, "highway='primary' must be a positive"),
        ({"highway_kmh": {"primary": math.nan}}, "positive number"),
        ({"highway_kmh": {"primary": "fast"}}, "positive number"),
        ({"fallback_kmh": 0}, "fallback_kmh"),
        ({"maxspeed_factor": 0}, "maxspeed_factor"),
        ({"maxspeed_factor": 2}, "maxspeed_factor"),
        ({"winding_penalty": -1}, "winding_penalty"),
        ({"winding_floor": 0}, "winding_floor"),
        ({"winding_floor": 1.5}, "winding_floor"),
    ],
)
def test_speed_model_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SpeedModel(**kwargs)


def test_with_speeds_and_resolve():
    model = SpeedModel().with_speeds({"residential": 30})
    assert model.highway_kmh["residential"] == 30.0
    assert SpeedModel().highway_kmh["residential"] == FRENCH_DEFAULT_SPEEDS_KMH["residential"]
    assert resolve_speed_model(None) == SpeedModel()
    assert resolve_speed_model(model) is model
    assert resolve_speed_model({"primary": 70}).highway_kmh["primary"] == 70.0
    with pytest.raises(TypeError, match="speeds must be"):
        resolve_speed_model(50)
    with pytest.raises(ValueError):
        SpeedModel().with_speeds({"primary": -1})
    assert legal_speeds().highway_kmh["motorway"] == 130.0


def _speeds(model, highway, maxspeed=None, length=None, straight=None):
    n = len(highway)
    length = np.full(n, 100.0) if length is None else np.asarray(length, float)
    straight = length if straight is None else np.asarray(straight, float)
    return edge_speeds_kmh(model, highway, maxspeed, length, straight)


def test_highway_classes_lists_and_fallback():
    model = SpeedModel()
    out = _speeds(model, ["primary", ["primary", "secondary"], "['primary', 'secondary']",
                          "footway_unknown", None, ""])
    d = FRENCH_DEFAULT_SPEEDS_KMH
    mean = (d["primary"] + d["secondary"]) / 2
    assert out.tolist() == [d["primary"], mean, mean, model.fallback_kmh, model.fallback_kmh,
                            model.fallback_kmh]


def test_maxspeed_overrides_class_at_factor():
    model = SpeedModel()
    out = _speeds(model, ["primary"] * 4, ["50", None, math.nan, "none"])
    assert out.tolist() == [50 * 0.8, 65.0, 65.0, 65.0]
    off = _speeds(SpeedModel(use_maxspeed=False), ["primary"], ["50"])
    assert off.tolist() == [65.0]


def test_winding_penalty_monotone_and_floored():
    straight = np.full(50, 100.0)
    length = np.linspace(100, 1000, 50)  # sinuosity 1 .. 10
    model = SpeedModel(winding_penalty=0.5, winding_floor=0.4)
    out = _speeds(model, ["primary"] * 50, None, length, straight)
    assert out[0] == 65.0
    assert np.all(np.diff(out) <= 0)
    assert out.min() == pytest.approx(65.0 * 0.4)
    assert np.all(out >= 65.0 * 0.4 - 1e-12)
    # No penalty by default, and none for degenerate (closed loop) edges.
    assert np.all(_speeds(SpeedModel(), ["primary"] * 50, None, length, straight) == 65.0)
    assert _speeds(model, ["primary"], None, [500.0], [0.0])[0] == 65.0
    stronger = _speeds(SpeedModel(winding_penalty=1.0, winding_floor=0.4), ["primary"] * 50, None,
                       length, straight)
    assert np.all(stronger <= out)


_GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
<key id="d0" for="node" attr.name="y" attr.type="string"/>
<key id="d1" for="node" attr.name="x" attr.type="string"/>
<key id="d2" for="edge" attr.name="highway" attr.type="string"/>
<key id="d3" for="edge" attr.name="length" attr.type="string"/>
<key id="d4" for="edge" attr.name="maxspeed" attr.type="string"/>
<graph edgedefault="directed">
<node id="1"><data key="d0">42.0</data><data key="d1">9.0</data></node>
<node id="2"><data key="d0">42.0</data><data key="d1">9.01</data></node>
<node id="3"><data key="d0">42.01</data><data key="d1">9.01</data></node>
<edge source="1" target="2"><data key="d2">residential</data><data key="d3">1000</data></edge>
<edge source="2" target="1"><data key="d2">residential</data><data key="d3">1000</data></edge>
<edge source="2" target="3"><data key="d2">primary</data><data key="d3">1500</data></edge>
<edge source="3" target="2"><data key="d2">primary</data><data key="d3">1500</data><data key="d4">FR:urban</data></edge>
</graph></graphml>
"""


def test_speed_override_through_load_network(tmp_path):
    path = tmp_path / "tiny.graphml"
    path.write_text(_GRAPHML)

    def times(net):
        tails = net.osmid[net.edge_tails()]
        heads = net.osmid[net.indices]
        return {(int(a), int(b)): t for a, b, t in zip(tails, heads, net.travel_time_s, strict=True)}

    base = times(engine.load_network(path))
    assert base[(1, 2)] == 1000 / (25 / 3.6)
    assert base[(2, 3)] == 1500 / (65 / 3.6)
    assert base[(3, 2)] == 1500 / (50 * 0.8 / 3.6)
    faster = times(engine.load_network(path, speeds={"residential": 50}))
    assert faster[(1, 2)] == 1000 / (50 / 3.6)
    assert faster[(2, 3)] == base[(2, 3)]
    legal = engine.load_network(path, speeds=legal_speeds())
    assert times(legal)[(3, 2)] == 1500 / (50 / 3.6)
    assert legal.meta["speed_model"]["maxspeed_factor"] == 1.0
