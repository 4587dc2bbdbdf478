"""Fuzzing the command line with generated bad input (issue 16).

Generated communes and practitioner files (wrong types, encodings, separators, decimal
commas, huge and tiny tables, missing and extra columns, empty lines, hostile strings, quotes,
NUL bytes, very long cells), scenario TOML files (wrong types, unknown keys, out-of-range
values, broken syntax) and option values, each run through ``engine.cli.main`` on the tiny
synthetic region of tests/tiny_region.py, with ``--out`` in a fresh folder and ``--quiet``.

Whatever the input, a run must end with exit 0, 1 or 2, print no traceback, say why it failed
in exactly one line (argparse's usage line aside), warn in one line per warning, and leave no
output folder (nor staging folder) when it fails.

Bounded and reproducible: ``derandomize=True`` draws the same examples on every run, no
example database is written, and most examples fail in the readers in milliseconds. Inputs the
readers accept go on to the region (readers, roster, routing: a few milliseconds on the grid)
and, for the first ``FULL_RUNS`` of each test, to the end (tables, maps, report, about a
second each); the later ones stop once the region is built.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_region import write_inputs

from engine import cli
from engine.cli import main

#: Examples per test, and how many of them may run a whole command (the others stop once the
#: region is built). Tuned so that the file runs in about a minute on the 2-core CI machine.
EXAMPLES = {"communes": 600, "practitioners": 600, "scenario": 400, "options": 600}
FULL_RUNS = int(os.environ.get("APL_FUZZ_FULL_RUNS", "10"))
TALLY = os.environ.get("APL_FUZZ_TALLY")

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _fuzz(name: str):
    # APL_FUZZ_SCALE=20 runs twenty times as many examples (a deeper search, by hand).
    scale = float(os.environ.get("APL_FUZZ_SCALE", "1"))
    return settings(FUZZ, max_examples=max(1, round(EXAMPLES[name] * scale)))


TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    files = write_inputs(folder)
    files["official"] = folder / "official.csv"
    files["official"].write_text(
        "annee,code_commune,apl,apl_moins_65\n"
        + "".join(f"{year},1800{k},{3.0 + k / 10},{2.5 + k / 10}\n" for year in (2022, 2023)
                  for k in range(1, 6)), encoding="utf-8")
    files["zones"] = folder / "zones.csv"
    files["zones"].write_text("code_commune,zone\n18001,Z1\n18002,Z1\n18003,Z2\n18004,Z2\n",
                              encoding="utf-8")
    files["profession"] = TESTS / "data" / "test_profession.toml"
    return files


# --------------------------------------------------------------------------- running


class _Stop(BaseException):
    """Raised once the region is built, when the example may not run the whole command."""


class _Budget:
    def __init__(self) -> None:
        self.full = 0
        self.region = cli._region

    def __call__(self, args, progress):
        region = self.region(args, progress)
        if self.full >= FULL_RUNS:
            raise _Stop
        self.full += 1
        return region


def _check(argv: list[str], out: Path | None, budget: _Budget) -> tuple[int | None, str]:
    """Run ``apl ARGV --quiet``; check exit code, stderr, warnings and the output folder.

    Returns the exit code (``None`` when the run stopped after the region) and stderr.
    """
    existed = out is not None and out.exists()
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err), \
            mock.patch.object(cli, "_region", budget):
        warnings.simplefilter("always")
        try:
            code = main([*argv, "--quiet"])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        except _Stop:
            code = None
    text = err.getvalue()
    assert "Traceback" not in text, text
    assert "internal error" not in text, text  # main's one line for a fault of the engine
    assert code in (None, 0, 1, 2), (code, text)
    for w in caught:
        message = str(w.message)
        assert message.strip() and "\n" not in message.strip(), message
    lines = [line for line in text.splitlines() if line.strip()]
    if code:
        assert lines, f"exit {code} without a message"
        # Before the one message, only argparse's usage (which it wraps on indented lines).
        assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), text
        assert not lines[:-1] or lines[0].startswith("usage:"), text
        assert lines[-1].startswith("apl"), text
        assert not re.search(r"np\.(?:float|int|str_|bool_)\w*\(", lines[-1]), lines[-1]
        if out is not None and not existed:
            assert not out.exists(), f"a failed run left {out}: {text}"
    if code is None and out is not None and not existed:
        assert not out.exists()
    if out is not None:
        staging = [p.name for p in out.parent.glob(".*staging*")]
        assert not staging, staging
    if TALLY:  # APL_FUZZ_TALLY=FILE: one line per example, to count the outcomes by hand
        with open(TALLY, "a", encoding="utf-8") as f:
            f.write(f"{argv[0]}\t{'region built' if code is None else code}\t"
                    f"{len(caught)}\t{lines[-1][:160] if code else ''}\n")
    return code, text


@contextlib.contextmanager
def _folder():
    path = Path(tempfile.mkdtemp(prefix="apl-fuzz-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- table files

HOSTILE = [
    "", " ", "NA", "nan", "NaN", "inf", "-inf", "1e300", "-1e300", "1e309", "-0", "0", "00",
    "1,5", "1.5", "1 234,5", "1\u00a0234", "1.234,5", "12,34,56", "0x1F", "1_000", "٣", "½",
    "true", "oui", "peut-être", "maybe", "2A004", "20200", "2a004", "1004", "01004.0",
    "<img src=x onerror=alert(1)>", "'; DROP TABLE communes; --", "\"", "\"\"", "a\"b",
    "\"unclosed", "=HYPERLINK(\"x\")", "a\nb", "a\r\nb", "\x00", "a\x00b", "\ufeff", "\u202e",
    "é", "Ã©", "\U0001F600", "\t", ";", ",", "sep=;", "x" * 300, "9" * 400, "1" * 5000,
    "y" * 140_000, '"' + "z" * 140_000 + '"',
    "31/02/1960", "1960-13-01", "2100-01-01", "-5", "250", "19", "101", "9.45", "42.7",
    "46.5", "2.5", "95", "-91", "181", "1215432", "6181234",
]


#: Plausible extremes a reader accepts, for whole columns.
EXTREMES = ["0", "0.0", "1e-300", "1", "10000000", "9999999.5", "100000", "20", "100", "65",
            "65.5", "250", "251", "6001", "oui", "non", "", "1922", "2002", "2.52", "46.52"]


def _values():
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(max_size=12),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(-10**20, 10**20).map(str),
        st.text(alphabet="0123456789,.- eE+", max_size=10),
    )


_COMMUNE_HEADER = ["code_commune", "nom", "pop_totale", "pop_standardisee", "lon", "lat"]
_COMMUNE_ROWS = [
    ["18001", "Aubigny", "1000", "1100", "2.505", "46.505"],
    ["18002", "Bourges", "2000", "1900", "2.520", "46.515"],
    ["18003", "Culan", "500", "520", "2.535", "46.525"],
    ["18004", "Dun", "3000", "3100", "2.550", "46.535"],
    ["18005", "Épineuil", "800", "700", "2.510", "46.530"],
]
_ROSTER_HEADER = ["id", "profession", "code_commune", "lon", "lat", "age", "birth_year",
                  "activity", "active_previous_year", "health_centre"]
_ROSTER_ROWS = [
    ["G1", "médecin généraliste", "18001", "", "", "50", "", "4000", "oui", "non"],
    ["G2", "", "", "2.521", "46.514", "", "1962", "5000", "", ""],
    ["G3", "gp", "18004", "", "", "40", "1982", "", "true", "false"],
]
_OTHER_NAMES = ["Code INSEE", "Longitude", "latitude", "Population", "pop_std", "0-4", "90+",
                "departement", "âge", "Centre de santé", "annee_naissance", "date_naissance",
                "zone", "apl", "", " ", "lon", "code commune", "libellé", "x" * 80, "\x00"]


def _commune_k(row: list[str], k: int) -> None:
    """Commune ``k`` of a large table: its own code, a point on the grid."""
    row[0] = f"18{k + 1:03d}"
    row[4], row[5] = f"{2.505 + (k % 20) * 0.0025:.4f}", f"{46.505 + (k // 20 % 16) * 0.002:.4f}"


def _practitioner_k(row: list[str], k: int) -> None:
    """Practitioner ``k`` of a large roster: its own id, in one of the five communes."""
    row[0] = f"G{k}"
    if row[2]:
        row[2] = f"1800{k % 5 + 1}"


@st.composite
def tables(draw, header: list[str], rows: list[list[str]], relabel):
    """A table (header, rows) derived from a valid one by a few generated mutations."""
    header = list(header)
    rows = [list(r) for r in rows]
    size = draw(st.sampled_from(["same", "same", "same", "none", "one", "many"]))
    if size == "none":
        rows = []
    elif size == "one":
        rows = rows[:1]
    elif size == "many":  # a few hundred rows with distinct codes, on the grid
        rows = [list(rows[k % len(rows)]) for k in range(draw(st.integers(50, 400)))]
        for k, row in enumerate(rows):
            relabel(row, k)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "drop", "add", "rename", "swap",
                                   "duplicate", "short", "long", "column", "column", "move"]))
        width = len(header)
        if op == "column":  # one value down a whole column: zero populations, all aged 100...
            j = draw(st.integers(0, width - 1))
            value = draw(st.sampled_from(EXTREMES))
            for r in rows:
                if j < len(r):
                    r[j] = value
        elif op == "move" and rows and "lon" in header and "lat" in header:
            i = draw(st.integers(0, len(rows) - 1))
            a, b = header.index("lon"), header.index("lat")
            d = draw(st.sampled_from([0.0, 0.02, 0.2, 0.7, 3.0, -12.0]))
            try:
                rows[i][a] = f"{float(rows[i][a]) + d:.5f}"
                rows[i][b] = f"{float(rows[i][b]) + d / 2:.5f}"
            except (ValueError, IndexError):
                pass
        elif op == "cell" and rows:
            i = draw(st.integers(0, len(rows) - 1))
            j = draw(st.integers(0, width - 1))
            if j < len(rows[i]):
                rows[i][j] = draw(_values())
        elif op == "drop" and width > 1:
            j = draw(st.integers(0, width - 1))
            del header[j]
            for r in rows:
                if j < len(r):
                    del r[j]
        elif op == "add":
            header.append(draw(st.sampled_from(_OTHER_NAMES) | st.text(max_size=10)))
            for r in rows:
                r.append(draw(_values()))
        elif op == "rename":
            j = draw(st.integers(0, width - 1))
            header[j] = draw(st.sampled_from(_OTHER_NAMES) | st.text(max_size=10))
        elif op == "swap" and "lon" in header and "lat" in header:
            a, b = header.index("lon"), header.index("lat")
            header[a], header[b] = header[b], header[a]
        elif op == "duplicate" and rows:
            rows.insert(draw(st.integers(0, len(rows))), list(draw(st.sampled_from(rows))))
        elif op == "short" and rows:
            i = draw(st.integers(0, len(rows) - 1))
            rows[i] = rows[i][:draw(st.integers(0, max(0, len(rows[i]) - 1)))]
        elif op == "long" and rows:
            i = draw(st.integers(0, len(rows) - 1))
            rows[i] = rows[i] + [draw(_values()) for _ in range(draw(st.integers(1, 3)))]
    return header, rows


@st.composite
def csv_bytes(draw, table):
    """A table written as French offices write files, then maybe damaged."""
    header, rows = draw(table)
    sep = draw(st.sampled_from([",", ";", "\t"]))
    if sep != "," and draw(st.booleans()):  # decimal commas
        rows = [[re.sub(r"^(-?\d+)\.(\d+)$", r"\1,\2", v) for v in r] for r in rows]
    buf = io.StringIO()
    if draw(st.integers(0, 9)) == 0:
        buf.write(f"sep={sep}\r\n")
    writer = csv.writer(buf, delimiter=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
                        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    records = [header, *rows]
    for _ in range(draw(st.integers(0, 2))):  # empty lines, anywhere
        records.insert(draw(st.integers(0, len(records))), [])
    for record in records:
        writer.writerow(record)
    text = buf.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252",
                                     "latin-1"]))
    data = text.encode(encoding, errors="replace")
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "bytes", "nul", "empty"]))
    if damage == "truncate" and data:
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif damage == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif damage == "nul":
        data = data.replace(b"\n", b"\x00\n", 1)
    elif damage == "empty":
        data = b""
    return data


def _suffix():
    return st.sampled_from([".csv", ".csv", ".csv", ".txt", ".xlsx", ".gpkg", ""])


@given(data=csv_bytes(tables(_COMMUNE_HEADER, _COMMUNE_ROWS, _commune_k)), suffix=_suffix())
@_fuzz("communes")
def test_fuzz_communes_files(tiny, data, suffix, budget):
    with _folder() as tmp:
        communes = tmp / f"communes{suffix}"
        communes.write_bytes(data)
        out = tmp / "out"
        _check(["compute", "--network", str(tiny["network"]), "--communes", str(communes),
                "--practitioners", str(tiny["practitioners"]), "--no-isochrones",
                "--out", str(out)], out, budget)


@given(data=csv_bytes(tables(_ROSTER_HEADER, _ROSTER_ROWS, _practitioner_k)), suffix=_suffix(),
       command=st.sampled_from(["compute", "compute", "forecast"]))
@_fuzz("practitioners")
def test_fuzz_practitioner_files(tiny, data, suffix, command, budget):
    with _folder() as tmp:
        roster = tmp / f"practitioners{suffix}"
        roster.write_bytes(data)
        out = tmp / "out"
        extra = ["--no-isochrones"] if command == "compute" else ["--draws", "2", "--new", "0"]
        _check([command, "--network", str(tiny["network"]), "--communes", str(tiny["communes"]),
                "--practitioners", str(roster), *extra, "--out", str(out)], out, budget)


# --------------------------------------------------------------------------- scenarios


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, str):
        escaped = "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
                          if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in value)
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)  # dates and times: TOML writes them as ISO 8601


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _toml(doc: dict) -> str:
    """A TOML document: plain keys first, then tables, then arrays of tables."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in doc.items()
             if not isinstance(v, dict) and not (isinstance(v, list) and v
                                                 and all(isinstance(x, dict) for x in v))]

    def table(name: str, body: dict) -> None:
        lines.append(f"[{name}]")
        subs = []
        for k, v in body.items():
            if isinstance(v, dict):
                subs.append((f"{name}.{_toml_key(k)}", v))
            else:
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for sub_name, sub in subs:
            table(sub_name, sub)

    for k, v in doc.items():
        if isinstance(v, dict):
            table(_toml_key(k), v)
    for k, v in doc.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                lines.append(f"[[{_toml_key(k)}]]")
                lines.extend(f"{_toml_key(ik)} = {_toml_value(iv)}" for ik, iv in item.items())
    return "\n".join(lines) + "\n"


def _scenario() -> dict:
    return {
        "scenario": {"name": "fuzz", "titre": "Essai", "description": "généré", "horizon": 3},
        "retirement": {"model": "hazard", "hazard": {"60-64": 0.05, "65-69": 0.3, "70+": 0.5}},
        "replacement": {"rate": 0.5, "rate_sous_dense": 0.3, "delay_years": 1, "age": 35,
                        "activity": 4000},
        "installation": [{"commune": "18003", "year": 2023, "gps": 2},
                         {"lon": 2.52, "lat": 46.52, "year": 2024, "label": "MSP"}],
        "population": {"growth_per_year": 0.01},
    }


_PATHS = [("scenario", "name"), ("scenario", "horizon"), ("scenario", "start_year"),
          ("scenario", "titre"), ("retirement", "model"), ("retirement", "age"),
          ("retirement", "per_year"), ("retirement", "hazard"), ("replacement", "rate"),
          ("replacement", "delay_years"), ("replacement", "rate_hors_zone"),
          ("replacement", "age"), ("population", "growth_per_year"), ("installation",),
          ("retirement",), ("replacement",), ("population",), ("scenario",), ("other",),
          ("scenario", "other")]


def _toml_values():
    import datetime as dt

    return st.one_of(
        st.integers(-10**6, 10**6), st.integers(-2**63, 2**63 - 1),
        st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=20),
        st.sampled_from(["age", "hazard", "count", "none", "18001", "99999", "65+", "60-64",
                         "<script>alert(1)</script>", "", "x" * 500]),
        st.lists(st.integers(-5, 5), max_size=3),
        st.dictionaries(st.sampled_from(["60-64", "65+", "70+", "x", "64-60", "1-2"]),
                        st.floats(-1, 2) | st.text(max_size=3), max_size=3),
        st.just(dt.date(2024, 1, 1)), st.just([{"commune": "18001"}]),
        st.just([{"year": 2023, "commune": "18002", "gps": 10**9}]),
    )


@st.composite
def scenario_texts(draw):
    doc = _scenario()
    if draw(st.booleans()):
        doc["retirement"] = draw(st.sampled_from([
            {"model": "age", "age": 65}, {"model": "count", "per_year": 1}, {"model": "none"}]))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_PATHS))
        target = doc
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if draw(st.integers(0, 4)) == 0:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = draw(_toml_values())
    text = _toml(doc)
    damage = draw(st.sampled_from(["none"] * 5 + ["cut", "insert", "line", "bytes"]))
    if damage == "cut" and text:
        a = draw(st.integers(0, len(text) - 1))
        text = text[:a] + text[a + draw(st.integers(1, 20)):]
    elif damage == "insert":
        a = draw(st.integers(0, len(text)))
        text = text[:a] + draw(st.text(alphabet="[]{}=\"'#\n.,\\ \x00", min_size=1,
                                       max_size=4)) + text[a:]
    elif damage == "line":
        lines = text.splitlines()
        k = draw(st.integers(0, len(lines) - 1))
        lines.insert(k, lines[k])  # a repeated key or table
        text = "\n".join(lines) + "\n"
    data = text.encode("utf-8")
    if damage == "bytes":
        data = data + draw(st.binary(min_size=1, max_size=6))
    return data


@given(data=scenario_texts())
@_fuzz("scenario")
def test_fuzz_scenario_files(tiny, data, budget):
    with _folder() as tmp:
        scenario = tmp / "scenario.toml"
        scenario.write_bytes(data)
        out = tmp / "out"
        _check(["forecast", "--network", str(tiny["network"]), "--communes",
                str(tiny["communes"]), "--practitioners", str(tiny["practitioners"]),
                "--scenario", str(scenario), "--draws", "2", "--new", "0", "--out", str(out)],
               out, budget)


# --------------------------------------------------------------------------- option values


def _ints():
    return st.one_of(st.integers(-3, 12), st.integers(-10**12, 10**12), st.sampled_from(
        ["", "x", "1.5", "1e3", "0x10", "٣", " 2", "--", "-0", "99999999999999999999999"]))


def _years():
    return st.one_of(st.sampled_from([2022, 2023, 2019, 0, -1, 1989, 2101, 3000]),
                     st.integers(-10**6, 10**6), st.sampled_from(["", "deux mille", "2022.0"]))


def _minutes():
    return st.one_of(st.lists(st.sampled_from(["5", "10", "15", "20", "0", "-5", "inf", "nan",
                                               "1e308", "x", "", " 10", "1,5"]),
                              min_size=0, max_size=4).map(",".join),
                     st.text(max_size=8))


_SCHEDULERS = ["local:0", "local:-1", "local:x", "local:", "foo", "tcp://", "tcp://host",
               "host:port", "local:1.5", "", " ", "tcp://a b:1", "LOCAL"]


@st.composite
def option_runs(draw, files):
    command = draw(st.sampled_from(["compute", "forecast", "optimize", "isochrones", "backtest",
                                    "compare", "nope"]))
    argv = [command]
    if command == "compare":
        return argv + draw(st.lists(st.sampled_from(
            [str(files["communes"]), str(files["communes"].parent), "/nonexistent", ""]),
            min_size=0, max_size=3)), "fresh"
    argv += ["--network", str(files["network"]), "--communes", str(files["communes"]),
             "--practitioners", str(files["practitioners"])]
    options = {
        "--data-year": _years(), "--seed": _ints(), "--scheduler": st.sampled_from(_SCHEDULERS),
        "--baseline": st.sampled_from(["official", "model", "", "OFFICIAL", "x"]),
        "--profession": st.sampled_from(["gp", "nope", "", str(files["profession"]),
                                         str(files["communes"])]),
        "--official": st.sampled_from([str(files["official"]), str(files["communes"]), "/no"]),
        "--zones": st.sampled_from([str(files["zones"]), str(files["communes"]), "/no"]),
        "--region": st.sampled_from(["corse", "nope", ""]),
    }
    if command == "forecast":
        options.update({"--draws": _ints(), "--new": _ints(), "--scenario": st.sampled_from(
            ["retire-at-65", "retirement-hazard", "new-msp", "nope", ""])})
        argv += ["--no-backtest"]
    elif command == "optimize":
        options.update({"--new": _ints(), "--gps-per-site": _ints(), "--year": _years(),
                        "--objective": st.sampled_from(["population_in_deficit", "deficit_gap",
                                                        "x"])})
    elif command == "backtest":
        options.update({"--draws": _ints(), "--from": _years(), "--to": _years()})
    elif command == "isochrones":
        options.update({"--minutes": _minutes()})
    elif command == "compute":
        argv += ["--no-isochrones"]
    chosen = draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True))
    for name in chosen:
        argv += [name, str(draw(options[name]))]
    if command == "optimize" and "--new" not in chosen:
        argv += ["--new", "1"]
    if command in ("forecast", "backtest") and "--draws" not in chosen:
        argv += ["--draws", "2"]
    if command == "forecast" and "--new" not in chosen:
        argv += ["--new", "0"]
    out = draw(st.sampled_from(["fresh", "fresh", "fresh", "empty", "file", "under-file"]))
    return argv, out


@given(data=st.data())
@_fuzz("options")
def test_fuzz_option_values(tiny, data, budget):
    argv, where = data.draw(option_runs(tiny))
    with _folder() as tmp:
        out = None
        if where is not None:
            out = {"fresh": tmp / "out", "empty": Path(""), "file": tiny["communes"],
                   "under-file": tiny["communes"] / "out"}[where]
            argv = [*argv, "--out", str(out) if where != "empty" else ""]
        code, text = _check(argv, out if where == "fresh" else None, budget)
        if where in ("empty", "file", "under-file"):  # refused (exit 2, or 1 when another
            assert code in (1, 2), text                # option names a missing file first)


# --------------------------------------------------------------------------- budgets


@pytest.fixture(scope="module")
def budgets():
    return {}


@pytest.fixture
def budget(request, budgets):
    """One budget of whole runs per test, shared by its examples."""
    return budgets.setdefault(request.node.name, _Budget())
