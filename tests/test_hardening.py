"""Bad inputs through the ``apl`` command line (issue 16): each fault the test campaign found,
as the planner meets it. A bad file or value ends in one line naming the file, the line as an
editor shows it, the column as named in the file and what was expected (exit 1); an option
value that cannot be right is a usage error (exit 2); an assumption is a loud warning naming
the file; a failed run writes nothing.

The runs use the tiny synthetic region of tests/tiny_region.py (a 4.5 km road grid, five
communes): no data mirror, except where the test is about the mirror.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from tiny_region import COMMUNES_CSV, write_inputs

from engine.cli import main
from engine.errors import FarFromRoadWarning, InputError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("tiny"))


def _run(capsys, *argv):
    """Exit code and the last stderr line; checks what every failing run must keep."""
    code = main([*map(str, argv), "--quiet"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    if code:
        assert len(lines) == 1 or (len(lines) == 2 and lines[0].startswith("usage:")), err
        assert not re.search(r"np\.(float|int)\d*\(", lines[-1]), lines[-1]
    return code, (lines[-1] if lines else "")


def _compute(capsys, tiny, tmp_path, *, communes=None, practitioners=None, extra=()):
    out = tmp_path / "out"
    code, line = _run(capsys, "compute", "--network", tiny["network"],
                      "--communes", communes or tiny["communes"],
                      "--practitioners", practitioners or tiny["practitioners"],
                      "--no-isochrones", "--out", out, *extra)
    if code:
        assert not out.exists(), "a failed run left an output folder"
    return code, line


def _file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _communes_with(tmp_path, old, new, name="communes.csv"):
    assert old in COMMUNES_CSV
    return _file(tmp_path, name, COMMUNES_CSV.replace(old, new))


# --------------------------------------------------------------------------- reference run


def test_the_tiny_region_runs(capsys, tiny, tmp_path):
    code, _ = _compute(capsys, tiny, tmp_path)
    assert code == 0 and (tmp_path / "out" / "communes.csv").is_file()


# --------------------------------------------------------------------------- coordinates


def _swapped_communes(tmp_path):
    rows = [line.split(",") for line in COMMUNES_CSV.strip().splitlines()]
    rows[0][4], rows[0][5] = "lat", "lon"  # the header names the columns the other way round
    return _file(tmp_path, "swapped.csv", "\n".join(",".join(r) for r in rows) + "\n")


@pytest.mark.parametrize("roster", ["practitioners", "points"])
def test_swapped_communes_blame_the_communes_file(capsys, tiny, tmp_path, roster):
    # Before: by points, "more than 50 km from every commune" blamed the roster; by code,
    # exit 0 with only a FarFromRoadWarning.
    swapped = _swapped_communes(tmp_path)
    code, line = _compute(capsys, tiny, tmp_path, communes=swapped, practitioners=tiny[roster])
    assert code == 1
    assert line.startswith(f"apl compute: {swapped}:2, column 'lat': "), line
    assert "lon and lat are swapped" in line and "5 such row(s)" in line


def test_swapped_points_in_a_roster_name_the_roster(capsys, tiny, tmp_path):
    roster = _file(tmp_path, "gps.csv", "id,lon,lat\nG1,2.506,46.506\nG2,46.52,2.52\n")
    code, line = _compute(capsys, tiny, tmp_path, practitioners=roster)
    assert code == 1
    assert f"{roster}:3, column 'lat': lon and lat are swapped" in line


def test_swapped_points_found_by_the_network(capsys, tiny, tmp_path):
    # An overseas code (no France box applies): the network tells that the swapped point is on it.
    communes = _communes_with(tmp_path, "18003,Culan,500,520,2.535,46.525",
                              "97103,Culan,500,520,46.525,2.535")
    code, line = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 1
    assert f"{communes}:4, column 'lat': lon and lat are swapped" in line and "is on it" in line


def test_swapped_points_fail_before_any_routing(capsys, tiny, tmp_path, monkeypatch):
    # Review: the check ran after the whole commune matrix was routed (minutes on a big region).
    import engine.region

    def no_routing(*args, **kwargs):
        raise AssertionError("the commune matrix was routed before the points were checked")

    monkeypatch.setattr(engine.region, "commune_matrix", no_routing)
    communes = _communes_with(tmp_path, "18003,Culan,500,520,2.535,46.525",
                              "97103,Culan,500,520,46.525,2.535")
    code, line = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 1 and "lon and lat are swapped" in line


@pytest.mark.parametrize(("lon", "lat", "column", "what"), [
    ("200", "46.5", "lon", "expected a WGS84 longitude in degrees, from -180 to 180"),
    ("2.53", "95", "lat", "expected a WGS84 latitude in degrees, from -90 to 90"),
    ("2.53", "-91", "lat", "expected a WGS84 latitude"),
])
def test_coordinates_out_of_range(capsys, tiny, tmp_path, lon, lat, column, what):
    # Before (latitude 95): "ValueError: figure size must be positive finite".
    communes = _communes_with(tmp_path, "2.535,46.525", f"{lon},{lat}")
    code, line = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 1
    assert f"{communes}:4, column '{column}': " in line and what in line


def test_points_far_from_the_network_name_their_file(capsys, tiny, tmp_path):
    communes = _communes_with(tmp_path, "2.535,46.525", "2.535,47.2")  # 75 km north
    with pytest.warns(FarFromRoadWarning) as caught:
        code, _ = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 0
    far = [str(w.message) for w in caught if issubclass(w.category, FarFromRoadWarning)]
    assert len(far) == 1 and "\n" not in far[0]
    assert far[0].startswith(f"{communes}:4, column 'lon': 1 commune point(s) are more than")
    assert "18003" in far[0] and "the network spans lon" in far[0]


# --------------------------------------------------------------------------- roster values


FILE_CASES = [
    # (role, file text, line shown, what the message says)
    ("practitioners", "id,code_commune,age,health_centre\nG1,18001,50,maybe\n",
     ":2, column 'health_centre'", "'maybe' is not a yes/no value"),
    ("practitioners", "id,code_commune,age,birth_year\nG1,18001,50,1950\n",
     ":2, column 'age'", "age 50 contradicts birth_year (1950"),
    ("communes", COMMUNES_CSV.splitlines()[0] + "\n", "", "no data rows: only the header (line 1)"),
    ("practitioners", "id,code_commune,age\n\n\n", "", "no data rows"),
]


@pytest.mark.parametrize(("role", "text", "where", "what"), FILE_CASES,
                         ids=["boolean", "age-vs-birth-year", "header-only", "no-rows"])
def test_bad_files_are_one_line(capsys, tiny, tmp_path, role, text, where, what):
    # The readers already refused these (checked, kept as tests).
    bad = _file(tmp_path, f"{role}.csv", text)
    code, line = _compute(capsys, tiny, tmp_path, **{role: bad})
    assert code == 1
    assert f"{bad}{where}: {what}" in line


@pytest.mark.parametrize(("age", "what"), [
    ("250", "'250' is out of range: expected an age from 20 to 100"),
    ("19", "'19' is out of range: expected an age from 20 to 100"),
])
def test_ages_out_of_range_count_file_lines(capsys, tiny, tmp_path, age, what):
    # Before: "value np.int64(250)"; an age of 19 passed the reader and the forecast said
    # "row 1, column 'age'" (a 0-based data row, no file).
    roster = _file(tmp_path, "gps.csv", f"id,code_commune,age\nG1,18001,50\nG2,18002,{age}\n")
    out = tmp_path / "fc"
    code, line = _run(capsys, "forecast", "--network", tiny["network"], "--communes",
                      tiny["communes"], "--practitioners", roster, "--draws", 2, "--new", 0,
                      "--out", out)
    assert code == 1 and not out.exists()
    assert f"{roster}:3, column 'age': {what}" in line


# --------------------------------------------------------------------------- populations


@pytest.mark.parametrize(("column", "value", "what"), [
    ("pop_totale", "1e300", "'1e300' is out of range: expected a number of inhabitants"),
    ("pop_totale", "inf", "'inf' is not a finite number"),
    ("pop_standardisee", "inf", "'inf' is not a finite number (expected a standardised "
                                "population from 0 to 10,000,000)"),
    ("pop_standardisee", "1e309", "'1e309' is too large to be a number"),
    ("pop_standardisee", "-3", "'-3' is out of range"),
])
def test_absurd_populations_are_reader_errors(capsys, tiny, tmp_path, column, value, what):
    # Before: "row 0, column 'demand': demand[0] = np.float64(inf)".
    old = "18002,Bourges,2000,1900"
    new = f"18002,Bourges,{value},1900" if column == "pop_totale" else f"18002,Bourges,2000,{value}"
    communes = _communes_with(tmp_path, old, new)
    code, line = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 1
    assert f"{communes}:3, column '{column}': {what}" in line
    assert "demand" not in line and "row 0" not in line


def test_all_populations_zero_fail_and_keep_the_previous_outputs(capsys, tiny, tmp_path):
    # Before: two UnservedSupplyWarning blocks, a ZeroDivisionError traceback, exit 1, after
    # all outputs were written (APL 0 everywhere); later, exit 0 with APL 0 everywhere.
    out = tmp_path / "out"
    code, _ = _run(capsys, "compute", "--network", tiny["network"], "--communes",
                   tiny["communes"], "--practitioners", tiny["practitioners"],
                   "--no-isochrones", "--out", out)
    assert code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    text = COMMUNES_CSV
    for old in (",1000,1100,", ",2000,1900,", ",500,520,", ",3000,3100,", ",800,700,"):
        text = text.replace(old, ",0,0,")
    zero = _file(tmp_path, "zero.csv", text)
    for command in ("compute", "forecast"):
        code, line = _run(capsys, command, "--network", tiny["network"], "--communes", zero,
                          "--practitioners", tiny["practitioners"], "--out", out)
        assert code == 1
        assert f"{zero}:1, column 'pop_totale': every commune has 0 inhabitants" in line
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    only_std = _file(tmp_path, "zero_std.csv", COMMUNES_CSV.replace(",1100,", ",0,").replace(
        ",1900,", ",0,").replace(",520,", ",0,").replace(",3100,", ",0,").replace(",700,", ",0,"))
    code, line = _compute(capsys, tiny, tmp_path / "std", communes=only_std)
    assert code == 1 and "column 'pop_standardisee': every commune has 0 standardised" in line


# --------------------------------------------------------------------------- empty tables


def test_roster_without_the_profession(capsys, tiny, tmp_path):
    # Before: "ValueError: Found array with 0 sample(s) (shape=(0, 2))".
    roster = _file(tmp_path, "gps.csv", "id,profession,code_commune\nN1,infirmier,18001\n"
                                        "N2,Infirmière,18002\n")
    code, line = _compute(capsys, tiny, tmp_path, practitioners=roster)
    assert code == 1
    assert line.startswith(f"apl compute: {roster}, column 'profession': no médecin "
                           "généraliste among the 2 row(s)"), line
    assert "'infirmier'" in line and "--profession" in line


# --------------------------------------------------------------------------- option values


def test_data_year_without_weights(capsys, tiny, tmp_path):
    # Before: --data-year 2019 ran with the given files (exit 0).
    code, line = _compute(capsys, tiny, tmp_path, extra=("--data-year", 2019))
    assert code == 2
    assert "--data-year 2019" in line and "2022, 2023" in line
    code, line = _compute(capsys, tiny, tmp_path, extra=("--data-year", 0))
    assert code == 2 and "--data-year 0: expected a year from 1990 to 2100" in line


def test_data_year_without_data(capsys, tiny, tmp_path):
    # The profession has weights for 2023 but the official file has no value that year: data.
    official = _file(tmp_path, "official.csv", "annee,code_commune,apl,apl_moins_65\n"
                                               "2022,18001,3.0,2.9\n")
    code, line = _compute(capsys, tiny, tmp_path, extra=("--official", official,
                                                          "--data-year", 2023))
    assert code == 1
    assert f"{official}, column 'annee': no row for year 2023; the file holds 2022" in line


def test_empty_out_is_refused(capsys, tiny, tmp_path, monkeypatch):
    # Before: --out '' wrote every output into the current folder.
    monkeypatch.chdir(tmp_path)
    code, line = _run(capsys, "compute", "--network", tiny["network"], "--communes",
                      tiny["communes"], "--practitioners", tiny["practitioners"],
                      "--no-isochrones", "--out", "")
    assert code == 2 and "--out: the output folder is empty" in line
    assert list(tmp_path.iterdir()) == []
    code, line = _run(capsys, "compute", "--network", tiny["network"], "--communes",
                      tiny["communes"], "--practitioners", tiny["practitioners"],
                      "--out", tiny["communes"])
    assert code == 2 and "exists and is not a folder" in line


def test_a_mount_point_is_refused_before_any_work(capsys, tiny, tmp_path, monkeypatch):
    # Before: the whole computation ran, then "OSError: [Errno 18] Invalid cross-device link".
    import os

    mount = tmp_path / "usb"
    mount.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(mount) or real(p))
    code, line = _run(capsys, "compute", "--network", tiny["network"], "--communes",
                      tiny["communes"], "--practitioners", tiny["practitioners"],
                      "--no-isochrones", "--out", mount)
    assert code == 2 and "is a mount point" in line and "give a folder inside it" in line
    assert list(mount.iterdir()) == []


def test_out_under_a_file_is_refused(capsys, tiny, tmp_path):
    # Found by the fuzz suite: "FileExistsError: [Errno 17] File exists" (exit 1); now
    # refused by engine.outputs.prepare_output before any work.
    code, line = _run(capsys, "compute", "--network", tiny["network"], "--communes",
                      tiny["communes"], "--practitioners", tiny["practitioners"],
                      "--out", tiny["communes"] / "out")
    assert code == 2 and "cannot create the folder holding it" in line


OPTION_CASES = [
    (["isochrones", "--minutes", "-5"], "--minutes must be positive"),
    (["isochrones", "--minutes", "inf"], "--minutes must be positive"),
    (["isochrones", "--minutes", "20,10"], "--minutes must be increasing"),
    (["isochrones", "--minutes", ""], "--minutes must be comma-separated numbers"),
    (["optimize", "--new", "1", "--gps-per-site", "0"], "--gps-per-site must be from 1 to 1000"),
    (["optimize", "--new", "1", "--gps-per-site", "100000"], "--gps-per-site must be from 1"),
    (["compute", "--scheduler", "local:0"], "--scheduler 'local:0': expected local, local:N"),
    (["compute", "--scheduler", "local:x"], "--scheduler 'local:x'"),
    (["compute", "--scheduler", "foo"], "--scheduler 'foo'"),
    (["forecast", "--new", "-3"], "--new must be 0 (no proposals) or more"),
    (["optimize", "--new", "-3"], "--new must be at least 1"),
    (["optimize", "--new", "1", "--year", "3000"], "--year 3000: expected a year from 1990"),
    (["forecast", "--draws", "0"], "--draws must be at least 1"),
    (["backtest", "--draws", "0"], "--draws must be at least 1"),
    (["backtest", "--from", "2023", "--to", "2022"], "--to (2022) must come after --from (2023)"),
    (["backtest", "--from", "2019"], "--from 2019: the médecins généralistes definition has"),
    (["forecast", "--seed", "-1"], "--seed must be 0 or more"),
    (["data", "export", "--year", "2019", "--out", "x"], "--year 2019: the médecins"),
    # Found by the fuzz suite: empty names were read as the current folder.
    (["compute", "--profession", ""], "--profession is empty: give a profession name or file"),
    (["forecast", "--scenario", " "], "--scenario is empty"),
    (["compute", "--communes", ""], "--communes is empty: give a file"),
    (["compare", "", "x"], "a FOLDER is empty"),
]


@pytest.mark.parametrize(("argv", "what"), OPTION_CASES, ids=[" ".join(a) for a, _ in OPTION_CASES])
def test_bad_option_values_exit_2(capsys, tmp_path, argv, what):
    # Before: --scheduler local:0 / foo, --seed -1 (forecast), --minutes inf or 20,10 exited 1
    # (foo and --seed -1 with a library's message); --gps-per-site 100000 and --year 3000 ran.
    out = tmp_path / "out"
    if argv[0] == "data":
        argv = [a if a != "x" else str(out) for a in argv]
        code, line = _run(capsys, *argv)
    else:
        code, line = _run(capsys, *argv, "--out", out)
    assert code == 2, line
    assert line.startswith(f"apl {argv[0]}: error: ") and what in line, line
    assert not out.exists()


def test_data_check_without_mirror(capsys, tmp_path, monkeypatch):
    empty = tmp_path / "mirror"
    empty.mkdir()
    monkeypatch.setenv("APL_DATA_MIRROR", str(empty))
    assert main(["data", "check"]) == 1
    captured = capsys.readouterr()
    assert "MISSING" in captured.out and "data missing" in captured.err
    monkeypatch.setenv("APL_DATA_MIRROR", str(tmp_path / "nowhere"))
    assert main(["data", "check"]) == 1
    captured = capsys.readouterr()
    assert "MISSING data mirror" in captured.out and "Traceback" not in captured.err


# --------------------------------------------------------------------------- found by fuzzing


def test_control_characters_in_names(capsys, tiny, tmp_path):
    # Found by the fuzz suite: a NUL in a commune name (a UTF-16 file) passed the readers and
    # ended in openpyxl's IllegalCharacterError traceback while writing communes.xlsx.
    communes = tmp_path / "communes.csv"
    communes.write_bytes(COMMUNES_CSV.replace("Culan", "Cu\x00lan").encode("utf-16"))
    code, line = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 1
    assert f"{communes}:4, column 'nom': 'Cu\\x00lan' holds the control character U+0000" in line


@pytest.mark.parametrize("quote", ["", '"'])
def test_very_long_cell(capsys, tiny, tmp_path, quote):
    # Found by the fuzz suite: a cell over csv's 131,072-character limit was reported as "a
    # quoted value opened on this line is never closed", quoted or not.
    communes = _file(tmp_path, "communes.csv",
                     COMMUNES_CSV.replace("Bourges", quote + "B" * 200_000 + quote))
    code, line = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 1
    assert f"{communes}:3: a value on this line is longer than 131,072 characters" in line


@pytest.mark.parametrize("suffix", [".xlsx", ".gpkg"])
def test_text_named_as_a_workbook_or_geopackage(capsys, tiny, tmp_path, suffix):
    # Found by the fuzz suite: "invalid Zip archive: Could not find EOCD", or GDAL's "not
    # recognized as being in a supported file format; It might help to specify the driver".
    communes = _file(tmp_path, f"communes{suffix}", COMMUNES_CSV)
    code, line = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 1
    assert line.endswith(f"{communes}: is named {suffix} but holds text, not "
                         f"{'an Excel or OpenDocument workbook' if suffix == '.xlsx' else 'a GeoPackage'}"
                         ": if it is a CSV, rename it .csv"), line
    damaged = tmp_path / f"damaged{suffix}"
    damaged.write_bytes(bytes(range(256)) * 8)
    code, line = _compute(capsys, tiny, tmp_path, communes=damaged)
    assert code == 1 and "a damaged or renamed file?" in line


# --------------------------------------------------------------------------- the mirror's readers


def test_mirror_messages_count_file_lines(tmp_path):
    from engine.mirror import read_bpe

    bpe = _file(tmp_path, "bpe.csv", "code_commune,D201\n2A004,3\n2B033,1.5\n")
    with pytest.raises(InputError) as err:
        read_bpe(bpe)
    assert str(err.value) == f"{bpe}:3, column 'D201': count 1.5 is not an integer"


# --------------------------------------------------------------------------- scenarios


def _forecast(capsys, tiny, tmp_path, scenario_text):
    scenario = _file(tmp_path, "s.toml", scenario_text)
    out = tmp_path / "fc"
    code, line = _run(capsys, "forecast", "--network", tiny["network"], "--communes",
                      tiny["communes"], "--practitioners", tiny["practitioners"],
                      "--scenario", scenario, "--draws", 2, "--new", 0, "--out", out)
    if code:
        assert not out.exists()
    return code, line, scenario


def test_scenario_for_another_start_year(capsys, tiny, tmp_path):
    code, line, scenario = _forecast(capsys, tiny, tmp_path,
                                     "[scenario]\nname = 'x'\nstart_year = 2023\nhorizon = 2\n")
    assert code == 1
    assert f"{scenario}:3, key 'scenario.start_year': the scenario starts in 2023 but the data " \
           "describe 2022" in line


@pytest.mark.parametrize(("text", "where", "what"), [
    ("replacement = 3\n[scenario]\nname = 'x'\nhorizon = 2\n", ":1, key 'replacement'",
     "expected a [replacement] table, got 3"),
    ("population = 'a'\n[scenario]\nname = 'x'\nhorizon = 2\n", ":1, key 'population'",
     "expected a [population] table, got 'a'"),
    ("installation = [1, 2]\n[scenario]\nname = 'x'\nhorizon = 2\n", ":1, key 'installation'",
     "use [[installation]] tables"),
    ("[scenario]\nname = 'x'\nhorizon = 2\n[[installation]]\ncommune = '18001'\nyear = 2023\n"
     "label = [1]\n", ":7, key 'installation[0].label'", "expected a string, got [1]"),
])
def test_scenario_sections_of_the_wrong_type(capsys, tiny, tmp_path, text, where, what):
    # Before: TypeError tracebacks ('int' object is not iterable), "unknown key 'a'" for a
    # string, and a list taken as a label.
    code, line, scenario = _forecast(capsys, tiny, tmp_path, text)
    assert code == 1
    assert f"{scenario}{where}: {what}" in line


def test_the_apl_program_prints_each_warning_on_one_line(tiny, tmp_path):
    # Before: Python's format, with the engine's file, line and source text on a second line.
    import subprocess
    import sys
    from pathlib import Path

    communes = _communes_with(tmp_path, "2.535,46.525", "2.535,47.2")
    apl = Path(sys.executable).with_name("apl")
    done = subprocess.run([str(apl), "compute", "--network", str(tiny["network"]),
                           "--communes", str(communes), "--practitioners",
                           str(tiny["practitioners"]), "--no-isochrones", "--quiet",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("apl compute: warning: ") for line in lines), lines
    assert f"{communes}:4, column 'lon'" in lines[0]
    assert "engine/" not in done.stderr and "Warning:" not in done.stderr


def test_no_warning_spans_lines(tiny, tmp_path, capsys):
    """What a warning says fits on one line (the command line prints one per line)."""
    communes = _communes_with(tmp_path, "2.535,46.525", "2.535,47.2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _ = _compute(capsys, tiny, tmp_path, communes=communes)
    assert code == 0 and caught
    assert all("\n" not in str(w.message) for w in caught)
    assert np.all([str(w.message).strip() for w in caught])


def test_a_roster_warning_is_said_once(capsys, tiny, tmp_path):
    # Review: Region selected the profession again at every supply() call, warning each time.
    roster = _file(tmp_path, "mix.csv", "id,profession,code_commune,age\nG1,,18001,50\n"
                                        "G2,gp,18002,60\nG3,infirmier,18004,40\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _ = _compute(capsys, tiny, tmp_path, practitioners=roster)
    assert code == 0
    said = [w for w in caught if "have no profession" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in caught]
