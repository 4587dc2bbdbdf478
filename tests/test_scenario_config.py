"""Scenario files: shipped ones parse; bad ones give the file, line and key."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.errors import InputError
from scenarios import load_scenario, parse_scenario

BASE = """[scenario]
name = "t"
start_year = 2022
horizon = 5
"""


@pytest.mark.parametrize("name", ["retire-at-65", "retirement-hazard", "new-msp"])
def test_shipped_scenarios_parse(name):
    s = load_scenario(name)
    # No start year: the data year is year 0 (observed), then 10 simulated years.
    assert s.start_year is None and s.horizon == 10
    assert s.years(2022) == list(range(2022, 2033))
    if not s.installations:
        assert s.years(2023)[0] == 2023
    assert s.title and s.description and " " in s.title  # French title for the report


def test_start_year_other_than_the_data_year_is_refused():
    s = parse_scenario(BASE)
    assert s.years(2022)[0] == 2022
    with pytest.raises(InputError, match="starts in 2022 but the data describe 2023") as err:
        s.years(2023)
    assert err.value.key == "scenario.start_year"


def test_retire_at_65_is_the_u65_rule():
    s = load_scenario("retire-at-65")
    assert s.retirement_model == "age" and s.retirement_age == 65
    assert not any(s.rate_by_class(("sous-dense", "intermediaire", "hors-zone")))


def test_hazard_lookup_by_band():
    s = load_scenario("retirement-hazard")
    assert s.hazard_at([50, 57, 62, 65, 68, 72, 90]).tolist() == [0, 0.01, 0.04, 0.20, 0.25, 0.35, 0.60]
    # Replacement is lower where access is already low.
    r = s.rate_by_class(("sous-dense", "intermediaire", "hors-zone"))
    assert r[0] < r[1] < r[2]


def test_installations_shipped():
    s = load_scenario("new-msp")
    assert [i.gps for i in s.installations] == [3, 1, 1]
    assert s.installations[2].commune is None and s.installations[2].lon == pytest.approx(9.405)


def _err(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        parse_scenario(text, "bad.toml")
    return info.value


def test_unknown_key_names_file_line_and_key():
    e = _err(BASE + "\n[retirement]\nmodel = \"age\"\nagee = 64\n")
    assert e.path == "bad.toml" and e.line == 8 and e.key == "retirement.agee"
    assert re.search(r"bad\.toml:8, key .retirement\.agee.", str(e))


def test_unknown_top_level_table():
    e = _err(BASE + "\n[retirements]\nmodel = \"age\"\n")
    assert "retirements" in str(e)


@pytest.mark.parametrize("bad", ["-0.1", "1.5", "\"high\""])
def test_hazard_outside_unit_interval(bad):
    e = _err(BASE + f"\n[retirement]\nmodel = \"hazard\"\n[retirement.hazard]\n\"60-64\" = {bad}\n")
    assert e.key == "retirement.hazard.60-64" and e.line == 9


def test_bad_band_and_overlap():
    assert "look like" in str(_err(BASE + "[retirement]\nmodel='hazard'\n[retirement.hazard]\n'sixty' = 0.1\n"))
    e = _err(BASE + "[retirement]\nmodel='hazard'\n[retirement.hazard]\n'60-66' = 0.1\n'65+' = 0.3\n")
    assert "overlap" in str(e)


def test_installation_year_out_of_order():
    e = _err(BASE + "[[installation]]\ncommune = '2A004'\nyear = 2030\n")
    assert "outside" in str(e) and e.key == "installation[0].year" and e.line == 7


def test_installation_place_required_and_exclusive():
    assert "commune" in str(_err(BASE + "[[installation]]\nyear = 2023\n"))
    e = _err(BASE + "[[installation]]\nyear = 2023\ncommune='2A004'\nlon=9.0\nlat=42.0\n")
    assert "not both" in str(e)


def test_second_installation_is_located():
    text = BASE + "[[installation]]\ncommune='2A004'\nyear=2023\n\n[[installation]]\ncommune='2A004'\nyear=2023\ngps=0\n"
    e = _err(text)
    assert e.key == "installation[1].gps" and e.line == 12


def test_missing_required_and_bad_toml():
    assert "horizon" in str(_err("[scenario]\nname='x'\nstart_year=2022\n"))
    e = _err("[scenario\nname=1\n")
    assert "TOML" in str(e)


def test_scenario_not_in_utf8_names_the_line(tmp_path):
    # Found by the fuzz suite: the codec's own text ("'utf-8' codec can't decode byte 0xe9
    # in position 31: invalid continuation byte").
    path = tmp_path / "latin1.toml"
    path.write_bytes("[scenario]\nname = 'x'\nlabel = 'Scénario'\n".encode("latin-1"))
    with pytest.raises(InputError) as e:
        load_scenario(path)
    assert str(e.value) == (f"{path}:3: byte 0xE9 is not UTF-8 text: a scenario is a TOML "
                            "file, which must be saved as UTF-8")


def test_missing_file_lists_shipped(tmp_path):
    with pytest.raises(InputError, match="retire-at-65"):
        load_scenario(tmp_path / "nope.toml")


def test_hazard_at_vectorised():
    s = parse_scenario(BASE + "[retirement]\nmodel='hazard'\n[retirement.hazard]\n'70+' = 1.0\n")
    assert np.array_equal(s.hazard_at(np.array([[69, 70], [71, 120]])), [[0, 1], [1, 1]])
