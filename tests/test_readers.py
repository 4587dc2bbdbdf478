"""engine.readers: the same table in every format French offices write gives the same frame,
and every bad input gives one line naming the file, the line and the column."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.apl import AGE_BANDS
from engine.errors import InputError
from engine.readers import (
    COMMUNES,
    OFFICIAL,
    PRACTITIONERS,
    ZONES,
    InputWarning,
    Source,
    input_error,
    normalise_name,
    read_communes,
    read_official,
    read_practitioners,
    read_table,
    read_zones,
)

NBSP = "\u00a0"

# --------------------------------------------------------------------------- one roster

# id, profession, code, lon, lat, birth year, activity, active previous year, health centre
ROSTER = [
    ("GP001", "Médecin généraliste", "2B033", None, None, 1956, 5200.5, True, False),
    ("GP002", "Médecin généraliste", "2A004", None, None, 1971, 12400.0, False, False),
    ("GP003", "Médecin généraliste", "01004", None, None, 1988, None, True, True),
    ("GP004", "Médecin généraliste", None, 9.418, 42.548, 1979, 3100.25, True, False),
    ("NUR01", "Infirmière", "2B120", None, None, 1980, None, True, False),
]
EN = ["id", "profession", "code_commune", "lon", "lat", "birth_year", "activity",
      "active_previous_year", "health_centre"]
FR = ["Identifiant", "Profession", "Code commune", "Longitude", "Latitude", "Année de naissance",
      "Activité", "Actif l'année précédente", "Centre de santé"]


def _plain(v, *, decimal=".", thousands=""):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "oui" if v else "non"
    if isinstance(v, float):
        whole, _, frac = repr(v).partition(".")
        if thousands and len(whole) > 3:
            whole = whole[:-3] + thousands + whole[-3:]
        return whole + (decimal + frac if frac != "0" else "")
    return str(v)


def _write_roster(path, *, sep, header, encoding, decimal=".", thousands="", newline="\n",
                  bools=None):
    lines = [sep.join(header)]
    for row in ROSTER:
        cells = []
        for v in row:
            if isinstance(v, bool) and bools:
                cells.append(bools[v])
            else:
                cells.append(_plain(v, decimal=decimal, thousands=thousands))
        lines.append(sep.join(cells))
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def _write_xlsx(path, rows, header, *, sheet=None, junk_first=False):
    wb = openpyxl.Workbook()
    ws = wb.active
    if junk_first:
        ws.title = "Feuille1"
        ws.append(["Liste des médecins, 2024"])
        ws = wb.create_sheet(sheet or "Feuille2")
    elif sheet:
        ws.title = sheet
    ws.append(header)
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


@pytest.fixture
def roster_files(tmp_path):
    """The same roster as UTF-8 ',', cp1252 ';' (French Excel), UTF-8 BOM ';', tab, .xlsx."""
    files = {
        "utf8_comma": _write_roster(tmp_path / "gps.csv", sep=",", header=EN, encoding="utf-8",
                                    bools={True: "true", False: "false"}),
        "cp1252_semicolon": _write_roster(tmp_path / "gps_excel.csv", sep=";", header=FR,
                                          encoding="cp1252", decimal=",", thousands=NBSP,
                                          newline="\r\n"),
        "utf8_bom_semicolon": _write_roster(tmp_path / "gps_bom.csv", sep=";", header=FR,
                                            encoding="utf-8-sig", decimal=",",
                                            thousands="\u202f",
                                            bools={True: "Vrai", False: "Faux"}),
        "tab": _write_roster(tmp_path / "gps.tsv", sep="\t", header=[h.upper() for h in FR],
                             encoding="utf-8", bools={True: "1", False: "0"}),
    }
    # Excel: numbers as numbers, booleans as booleans; the code of 01004 typed as a number
    # (what Excel does to it), so its leading zero comes back with a warning.
    rows = [tuple(1004 if v == "01004" else v for v in r) for r in ROSTER]
    files["xlsx"] = _write_xlsx(tmp_path / "gps.xlsx", rows, FR)
    files["xlsx_second_sheet"] = str(_write_xlsx(tmp_path / "gps2.xlsx", rows, FR,
                                                 junk_first=True)) + ":Feuille2"
    return files


def _read_quietly(reader, path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        return reader(path, **kw)


def test_same_roster_in_every_format_gives_the_same_frame(roster_files):
    frames = {k: _read_quietly(read_practitioners, p, year=2024) for k, p in roster_files.items()}
    ref = frames.pop("utf8_comma")
    assert ref["code_commune"].tolist()[:3] == ["2B033", "2A004", "01004"]
    assert pd.isna(ref.loc[3, "code_commune"]) and ref.loc[3, "lon"] == 9.418
    assert ref["age"].tolist() == [68.0, 53.0, 36.0, 45.0, 44.0]
    assert ref["activity"].iloc[0] == 5200.5 and np.isnan(ref["activity"].iloc[2])
    assert ref["active_previous_year"].tolist() == [True, False, True, True, True]
    assert ref["health_centre"].tolist() == [False, False, True, False, False]
    assert ref["profession"].tolist()[0] == "medecin_generaliste"
    assert ref["line"].tolist() == [2, 3, 4, 5, 6]
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, ref, obj=name)


def test_french_excel_csv_says_which_encoding_was_used(roster_files):
    with pytest.warns(InputWarning, match=r"gps_excel\.csv: not UTF-8; read as cp1252"):
        read_practitioners(roster_files["cp1252_semicolon"], year=2024)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        read_practitioners(roster_files["utf8_bom_semicolon"], year=2024)


def test_excel_numbers_codes_get_their_leading_zero_back_with_a_warning(roster_files):
    with pytest.warns(InputWarning, match=r"gps\.xlsx:Praticiens|gps\.xlsx:Sheet") as rec:
        read_practitioners(roster_files["xlsx"], year=2024)
    text = " ".join(str(w.message) for w in rec)
    assert "restored the leading zero of 1 code(s)" in text and "'1004' -> '01004'" in text


def test_leading_zero_restoration_counts_the_codes(tmp_path):
    f = tmp_path / "communes.csv"
    f.write_text("code_commune,pop_totale,pop_standardisee,lon,lat\n"
                 "1004,1,1,5,46\n1005,1,1,5,46\n01006,1,1,5,46\n1007,1,1,5,46\n2A004,1,1,8,41\n")
    with pytest.warns(InputWarning) as rec:
        t = read_communes(f)
    assert t["code_commune"].tolist() == ["01004", "01005", "01006", "01007", "2A004"]
    assert t["departement"].tolist() == ["01", "01", "01", "01", "2A"]
    (w,) = [w for w in rec if "leading zero" in str(w.message)]
    assert str(w.message).startswith(f"{f}:2, column 'code_commune': restored the leading zero "
                                     "of 3 code(s)")


def test_communes_french_excel_csv_and_xlsx_equal_the_plain_csv(tmp_path):
    ref = read_communes(EXAMPLES / "communes.csv")
    with pytest.warns(InputWarning, match="cp1252"):
        fr = read_communes(EXAMPLES / "communes_excel_fr.csv")
    pd.testing.assert_frame_equal(fr, ref)
    assert fr.attrs["source"].columns["pop_standardisee"] == "Population standardisée"
    header = ["Code INSEE", "Nom de la commune", "Dép", "Population", "Pop std", "Lon", "Lat"]
    rows = [(c, n, d, int(p), s, x, y) for c, n, d, p, s, x, y in
            ref[["code_commune", "nom", "departement", "pop_totale", "pop_standardisee", "lon",
                 "lat"]].itertuples(index=False)]
    xlsx = _write_xlsx(tmp_path / "communes.xlsx", rows, header, sheet="Communes")
    pd.testing.assert_frame_equal(read_communes(xlsx), ref)


def test_age_bands_under_the_drees_names(tmp_path):
    ref = read_communes(EXAMPLES / "communes_age_bands.csv")
    assert list(ref.columns[5:24]) == list(AGE_BANDS) and ref["pop_standardisee"].isna().all()
    text = (EXAMPLES / "communes_age_bands.csv").read_text().splitlines()
    aliases = [f"pop_{b.replace('-', '_')}" if b != "90+" else "pop_90_plus" for b in AGE_BANDS]
    text[0] = "code_commune,nom,pop_totale,lon,lat," + ",".join(aliases)
    f = tmp_path / "bands.csv"
    f.write_text("\n".join(text) + "\n")
    pd.testing.assert_frame_equal(read_communes(f), ref)


def test_birth_dates_ages_and_years_agree(tmp_path):
    f = tmp_path / "gps.csv"
    f.write_text("id,code_commune,date_naissance,age\n"
                 "a,2B033,12/03/1956,68\nb,2B033,1971-01-31,\nc,2B033,,40.5\nd,2B033,,\n")
    t = read_practitioners(f, year=2024)
    assert t["age"].tolist()[:3] == [68.0, 53.0, 40.5] and np.isnan(t["age"].iloc[3])
    x = _write_xlsx(tmp_path / "gps.xlsx", [("a", "2B033", dt.date(1956, 3, 12))],
                    ["id", "code commune", "Date de naissance"])
    assert read_practitioners(x, year=2024)["age"].tolist() == [68.0]


def test_column_names_ignore_case_accents_and_spaces():
    assert {normalise_name(n) for n in ("code_commune", "Code Commune", "CODE-COMMUNE",
                                        "code commune ")} == {"codecommune"}
    assert normalise_name("Centre de Santé") == normalise_name("centre_de_sante")
    for schema in (COMMUNES, PRACTITIONERS, OFFICIAL, ZONES):  # no alias means two columns
        assert len(schema.lookup()) == sum(len(c.names()) for c in schema.columns)


# --------------------------------------------------------------------------- errors


def _error_of(reader, path, **kw) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        with pytest.raises(InputError) as exc:
            reader(path, **kw)
    text = str(exc.value)
    assert "\n" not in text and "np." not in text and "numpy" not in text
    return text


COMMUNE_HEADER = "code_commune,nom,pop_totale,pop_standardisee,lon,lat\n"
GOOD_COMMUNE = "2B033,Bastia,48296,48462.371,9.45,42.70\n"
BAD_COMMUNES = [
    ("2B033,Bastia,48296,48462,9.45,42.70\nZZ,X,1,1,9,42\n", 3, "code_commune",
     "'ZZ' is not an INSEE commune code"),
    (",X,1,1,9,42\n", 2, "code_commune", "empty value: expected an INSEE commune code"),
    ("20200,Bastia,1,1,9,42\n", 2, "code_commune", "looks like a Corsican postal code"),
    (GOOD_COMMUNE + "2B120,Furiani,1e300,1,9,42\n", 3, "pop_totale",
     "'1e300' is out of range: expected a number of inhabitants from 0 to 10,000,000"),
    (GOOD_COMMUNE + "2B120,Furiani,1,inf,9,42\n", 3, "pop_standardisee",
     "'inf' is not a finite number"),
    ("2B120,Furiani,-5,1,9,42\n", 2, "pop_totale", "'-5' is out of range"),
    ("2B120,Furiani,\"1.234,5\",1,9,42\n", 2, "pop_totale", "mixes '.' and ','"),
    ("2B120,Furiani,1,1,9,142\n", 2, "lat", "'142' is out of range: expected a WGS84 latitude"),
    ("2B120,Furiani,1,1,1215432,6181234\n", 2, "lon", "Lambert-93"),
    ("2B120,Furiani,1,1,42.6,142\n", 2, "lat", "are lon and lat swapped?"),
    (GOOD_COMMUNE + "2B033,Bastia bis,1,1,9,42\n", 3, "code_commune",
     "repeated commune code '2B033' (first on line 2)"),
]


@pytest.mark.parametrize(("rows", "line", "column", "what"), BAD_COMMUNES)
def test_bad_commune_rows_name_file_line_and_column(tmp_path, rows, line, column, what):
    f = tmp_path / "communes.csv"
    f.write_text(COMMUNE_HEADER + rows)
    text = _error_of(read_communes, f)
    assert text.startswith(f"{f}:{line}, column '{column}': "), text
    assert what in text


def test_line_counts_quoted_values_spanning_lines(tmp_path):
    f = tmp_path / "communes.csv"
    f.write_text("Code commune;Nom;Population;Pop std;Lon;Lat\n"
                 '2B033;"Bastia\n(préfecture\nde Haute-Corse)";48296;48462,371;9,45;42,70\n'
                 "\n"
                 "2B120;Furiani;cinq mille;5820,241;9,41;42,65\n")
    assert _error_of(read_communes, f) == (
        f"{f}:6, column 'Population': 'cinq mille' is not a number (expected a number of "
        "inhabitants from 0 to 10,000,000)")


BAD_PRACTITIONERS = [
    ("id,code_commune,health_centre\na,2B033,peut-être\n", 2, "health_centre",
     "'peut-être' is not a yes/no value (expected oui/non, vrai/faux"),
    ("id,code_commune,Centre de santé\na,2B033,oui\nb,2B033,maybe\n", 3, "Centre de santé",
     "'maybe' is not a yes/no value"),
    ("id,code_commune,age,birth_year\na,2B033,52,1956\n", 2, "age",
     "age 52 contradicts birth_year (1956, aged 68 in 2024)"),
    ("id,code_commune,birth_year,date_naissance\na,2B033,1956,01/02/1957\n", 2, "birth_year",
     "contradicts the date of birth"),
    ("id,code_commune,age\na,2B033,250\n", 2, "age",
     "'250' is out of range: expected an age from 18 to 100"),
    ("id,code_commune,birth_year\na,2B033,1856\n", 2, "birth_year", "aged 168 in 2024"),
    ("id,code_commune,birth_year\na,2B033,1956.5\n", 2, "birth_year", "not a whole number"),
    ("id,code_commune,date_naissance\na,2B033,31/02/1956\n", 2, "date_naissance",
     "'31/02/1956' is not a date"),
    ("id,code_commune,activity\na,2B033,-3\n", 2, "activity", "out of range"),
    ("id,code_commune,lon,lat\na,,,\n", 2, "code_commune",
     "expected the commune code or the lon/lat"),
    ("id,code_commune,lon,lat\na,,9.4,\n", 2, "lat", "a point needs both lon and lat"),
    ("id,code_commune\na,2B033\na,2B120\n", 3, "id", "repeated id 'a' (first on line 2)"),
]


@pytest.mark.parametrize(("content", "line", "column", "what"), BAD_PRACTITIONERS)
def test_bad_practitioner_rows_name_file_line_and_column(tmp_path, content, line, column, what):
    f = tmp_path / "gps.csv"
    f.write_text(content, encoding="utf-8")
    text = _error_of(read_practitioners, f, year=2024)
    assert text.startswith(f"{f}:{line}, column '{column}': "), text
    assert what in text


def test_excel_errors_name_sheet_row_and_cell(tmp_path):
    x = _write_xlsx(tmp_path / "gps.xlsx", [("a", "2B033", 1956), ("b", "ZZ", 1960)],
                    ["Identifiant", "Code commune", "Année de naissance"], junk_first=True)
    assert _error_of(read_practitioners, f"{x}:Feuille2", year=2024) == (
        f"{x}:Feuille2:3, column 'Code commune' (cell B3): 'ZZ' is not an INSEE commune code "
        "of 5 characters such as '01004' or '2A004'")
    text = _error_of(read_practitioners, f"{x}:Médecins", year=2024)
    assert text == (f"{x}: no sheet 'Médecins'; the sheets are 'Feuille1', 'Feuille2' (name one "
                    f"as '{x}:Feuille1')")
    assert "no sheet 'Nope'" in _error_of(read_practitioners, x, year=2024, sheet="Nope")
    # a sheet name differing only by case is found
    assert "'ZZ'" in _error_of(read_practitioners, x, year=2024, sheet="feuille2")


FILE_ERRORS = [
    (b"", "is empty"),
    (b"  \r\n\r\n", "is empty"),
    (b"id,code_commune\n", "no data rows: only the header (line 1)"),
    (b"\x00\x01\x02PK garbage\x00" * 20, "is a binary file"),
    (bytes(range(256)) * 4, "binary file"),
    (b"%PDF-1.4\n%\xe2\xe3", "is a PDF"),
    (b"\x1f\x8b\x08\x00rest", "gzip-compressed"),
    (b"PK\x03\x04not really a workbook", "cannot be read as an Excel or OpenDocument workbook"),
    (b"id,nom\na,Bastia \xc3\xa9\nb,Furiani\xe9\n", "mixes encodings"),
    (b"id;nom\na;b\n", "needs a 'code_commune' column"),
    (b"id,code_commune,lon\na,2B033,9\n", "no 'lat' column"),
    (b'id,code_commune\na,2B033\nb,"2B120\nc,2B148\n', "never closed"),
    (b"code_commune;code INSEE\n2B033;2B033\n", "columns 'code_commune' and 'code INSEE' both"),
]


@pytest.mark.parametrize(("content", "what"), FILE_ERRORS)
def test_bad_files_get_a_clear_error(tmp_path, content, what):
    f = tmp_path / "gps.csv"
    f.write_bytes(content)
    text = _error_of(read_practitioners, f, year=2024)
    assert text.startswith(str(f)) and what in text, text


def test_header_only_and_missing_files(tmp_path):
    f = tmp_path / "communes.csv"
    f.write_text(COMMUNE_HEADER)
    assert _error_of(read_communes, f) == (
        f"{f}: no data rows: only the header (line 1); expected one row per commune")
    assert _error_of(read_zones, tmp_path / "nope.xlsx:Feuille2") == (
        f"{tmp_path / 'nope.xlsx'}: no such file")
    assert "is a folder" in _error_of(read_zones, tmp_path)
    assert "text (CSV) file, not an Excel workbook" in _error_of(read_zones, f, sheet="x")


def test_real_causes_separator_quotes_encoding(tmp_path):
    f = tmp_path / "gps.csv"
    f.write_text("id;code_commune;nom\na;2B033;Bastia\nb;2B120;Furiani; Biguglia\n")
    assert _error_of(read_practitioners, f, year=2024) == (
        f"{f}:3: 4 values where the header (line 1) names 3 columns: a ';' separator inside a "
        "value that is not in quotes?")
    f.write_text('id,code_commune\na,2B033\nb,"2B120\nc,2B148\n')
    assert _error_of(read_practitioners, f, year=2024).startswith(
        f"{f}:3: a quoted value opened on this line is never closed")
    f.write_text('id,code_commune\na,2B033\n"b"x,2B120\n')
    assert _error_of(read_practitioners, f, year=2024).startswith(
        f"{f}:3: a quote ends a quoted value but is followed by other characters")
    f.write_bytes(b"id,code_commune,nom\na,2B033,Bast\xe9a\n")
    assert _error_of(read_practitioners, f, year=2024, encoding="utf-8") == (
        f"{f}:2: byte 0xE9 cannot be read as utf-8; is the file in another encoding?")
    f.write_text("code_commune|zone\n2B033|X\n")
    assert "the header has 'code_commune|zone'" in _error_of(read_zones, f)


def test_title_lines_and_sep_line_are_skipped(tmp_path):
    f = tmp_path / "zones.csv"
    f.write_text("sep=;\nCode commune;Zone\n2B033;A\n")
    assert read_zones(f)["line"].tolist() == [3]
    f.write_text("Zonage ARS Corse 2024\n\nCode commune;Zone\n2B033;A\n")
    t = read_zones(f)
    assert t["line"].tolist() == [4] and t.attrs["source"].header_line == 3


def test_input_error_for_later_checks(tmp_path):
    f = tmp_path / "gps.csv"
    f.write_text("Identifiant;Code commune\na;2B033\nb;01004\n")
    t = read_practitioners(f, year=2024)
    row = t[t["code_commune"] == "01004"].iloc[0]
    err = input_error(t, "unknown commune '01004'", line=int(row["line"]), column="code_commune")
    assert str(err) == f"{f}:3, column 'Code commune': unknown commune '01004'"
    assert (err.path, err.line, err.column) == (str(f), 3, "Code commune")
    assert isinstance(t.attrs["source"], Source)


def test_official_values_and_year(tmp_path):
    t = read_official(EXAMPLES / "official.csv", year=2023)
    assert len(t) == 5 and (t["annee"] == 2023).all() and t["nom"].iloc[0] == "Bastia"
    assert len(read_official(EXAMPLES / "official.csv")) == 10
    assert "no row for year 2021; the file holds 2022, 2023" in _error_of(
        read_official, EXAMPLES / "official.csv", year=2021)
    f = tmp_path / "official.csv"
    f.write_text("annee,code_commune,apl,apl_moins_65\n2022,2B033,4.4,4\n2022,2B033,4.5,4\n")
    assert "repeated commune code '2B033' for annee 2022 (first on line 2)" in _error_of(
        read_official, f)


def test_zones_examples_and_column_choice(tmp_path):
    t = read_zones(EXAMPLES / "zones.csv")
    assert t["zone"].tolist()[:2] == ["242000354", "242000354"]
    f = tmp_path / "zones.csv"
    f.write_text("code_commune,epci_code,tvs\n2B033,242000354,T1\n")
    assert "columns 'epci_code' and 'tvs' both mean 'zone'" in _error_of(read_zones, f)
    assert read_zones(f, column="TVS")["zone"].tolist() == ["T1"]


def test_partial_bands_and_contradicting_departement(tmp_path):
    f = tmp_path / "communes.csv"
    f.write_text("code_commune,pop_totale,lon,lat,0-4,5-9\n2B033,1,9,42,1,1\n")
    assert "has 2 of the 19 age bands; missing 10-14" in _error_of(read_communes, f)
    f.write_text("code_commune,pop_totale,lon,lat\n2B033,1,9,42\n")
    assert "needs 'pop_standardisee' or the 19 age-band columns" in _error_of(read_communes, f)
    f.write_text("code_commune,departement,pop_totale,pop_standardisee,lon,lat\n"
                 "2B033,2A,1,1,9,42\n")
    assert _error_of(read_communes, f).startswith(
        f"{f}:2, column 'departement': département '2A' does not match the commune code '2B033'")


def test_schema_rejects_an_alias_of_two_columns():
    from engine.readers import Column, Schema

    with pytest.raises(ValueError, match="also a name of"):
        Schema("x", (Column("a", "text", ("b",)), Column("b", "text")))


# --------------------------------------------------------------------------- examples


def test_shipped_examples_read():
    assert len(read_communes(EXAMPLES / "communes.csv")) == 5
    gps = read_practitioners(EXAMPLES / "practitioners.csv", year=2024)
    assert gps["code_commune"].isna().sum() == 1 and gps.loc[4, "lon"] == 9.418
    xlsx = read_practitioners(EXAMPLES / "practitioners.xlsx", year=2024)
    expected = gps.assign(profession=gps["profession"].replace({"infirmier": "infirmier"}))
    pd.testing.assert_frame_equal(xlsx, expected)


# --------------------------------------------------------------------------- robustness

_READERS = [
    lambda p: read_practitioners(p, year=2024),
    read_communes,
    read_official,
    read_zones,
]


def _never_anything_but_input_error(path):
    for reader in _READERS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InputWarning)
                reader(path)
        except InputError:
            pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_random_bytes_raise_only_input_errors(tmp_path, data):
    f = tmp_path / "random.csv"
    f.write_bytes(data)
    _never_anything_but_input_error(f)


_HEADERS = ["code_commune", "Code commune", "zone", "id", "lon", "lat", "pop_totale", "apl",
            "apl_moins_65", "pop_standardisee", "age", "birth_year", "health_centre", "annee",
            "date_naissance", "activity", "0-4", "departement", "nom"]
_CELL = st.one_of(
    st.sampled_from(["", "2B033", "01004", "1004", "2A", "ZZ", "oui", "non", "maybe", "1,5",
                     "1.234,5", "1e300", "inf", "nan", "12/03/1956", "1956", "-1", "42.7",
                     "9,45", '"', '"a\nb"', "48\u00a0296", "2022"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.sampled_from(_HEADERS), min_size=1, max_size=6),
       rows=st.lists(st.lists(_CELL, max_size=7), max_size=5),
       sep=st.sampled_from([",", ";", "\t"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
def test_random_csv_text_raises_only_input_errors(tmp_path, header, rows, sep, encoding):
    text = sep.join(header) + "\n" + "\n".join(sep.join(r) for r in rows) + "\n"
    f = tmp_path / "random.csv"
    f.write_bytes(text.encode(encoding, errors="replace"))
    _never_anything_but_input_error(f)


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_epci_file_read_as_zones(mirror):
    t = read_zones(mirror / "insee" / "epci_communes.csv")
    assert len(t) == 34_920 and t["code_commune"].is_unique
    assert int(t["zone"].isna().sum()) == 49
    corse = t[t["code_commune"].str[:2].isin(["2A", "2B"])]
    assert corse["zone"].nunique() == 19 and len(corse) == 360
    assert t.loc[t["code_commune"] == "2B033", "zone_nom"].item() == (
        "Communauté d'agglomération de Bastia")


@pytest.mark.realdata
def test_drees_file_read_as_official_values(mirror):
    path = mirror / "drees" / "apl_medecins_generalistes_2022_2023.csv"
    t = read_official(path, year=2022)
    assert len(t) == 34_964 and t["code_commune"].is_unique
    assert t.loc[t["code_commune"] == "2B033", "apl"].item() == 4.491


@pytest.mark.realdata
def test_corsica_geopackage_read_as_communes(mirror):
    import geopandas as gpd

    path = mirror / "insee" / "communes_corse.gpkg"
    with pytest.warns(InputWarning, match="using a point inside each of the 360 polygons") as rec:
        t = read_communes(path, require_population=False)
    assert sum("inside" in str(w.message) for w in rec) == 1
    assert isinstance(t, gpd.GeoDataFrame) and t.crs == "EPSG:4326" and len(t) == 360
    assert t.geometry.geom_type.eq("MultiPolygon").all()
    points = gpd.GeoSeries(gpd.points_from_xy(t["lon"], t["lat"]), crs="EPSG:4326", index=t.index)
    inside = t.geometry.contains(points)
    assert inside.all() and t["line"].tolist() == list(range(1, 361))
    assert set(t["departement"]) == {"2A", "2B"}
    text = _error_of(read_communes, f"{path}:communes_2024", require_population=False)
    assert text == (f"{path}: no layer 'communes_2024'; the layers are 'communes' (MultiPolygon) "
                    f"(name one as '{path}:communes' or with layer=)")
    assert "no layer 'x'" in _error_of(read_communes, path, layer="x")
    # populations are required unless the caller takes them from another table
    assert "no 'pop_totale' column" in _error_of(read_communes, path)


@pytest.mark.realdata
def test_read_table_on_the_insee_communes_file(mirror):
    t = read_table(mirror / "insee" / "communes_france.csv", COMMUNES)
    assert len(t) == 34_920 and t["code_commune"].is_unique
    assert {"code_commune", "nom", "departement", "line"} <= set(t.columns)


def test_utf16_with_bom_as_excel_unicode_text(tmp_path):
    f = tmp_path / "zones.txt"
    f.write_bytes("Code commune\tZone\tNom de la zone\r\n2B033\t242000354\tCA de Bastia\r\n"
                  .encode("utf-16"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        t = read_zones(f)
    assert t["zone"].tolist() == ["242000354"] and t.attrs["source"].encoding == "utf-16"


def test_first_bad_value_in_reading_order(tmp_path):
    f = tmp_path / "communes.csv"
    f.write_text(COMMUNE_HEADER + "2B033,Bastia,1,1,9,420\n2B120,Furiani,x,1,9,42\n")
    assert _error_of(read_communes, f).startswith(f"{f}:2, column 'lat'")
    f.write_text(COMMUNE_HEADER + "2B033,Bastia,y,1,9,420\n")
    assert _error_of(read_communes, f).startswith(f"{f}:2, column 'pop_totale'")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_geopackage_of_points_and_without_crs(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    pts = gpd.GeoDataFrame({"code_commune": ["2B033", "2B120"], "pop_totale": [1.0, 2.0],
                            "pop_standardisee": [1.0, 2.0]},
                           geometry=[Point(9.45, 42.70), Point(9.41, 42.65)], crs="EPSG:4326")
    f = tmp_path / "points.gpkg"
    pts.to_file(f, layer="communes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        t = read_communes(f)
    assert t["lon"].tolist() == [9.45, 9.41] and t["lat"].tolist() == [42.70, 42.65]
    lambert = pts.to_crs("EPSG:2154")
    lambert.to_file(tmp_path / "l93.gpkg", layer="communes")
    t93 = read_communes(tmp_path / "l93.gpkg")
    assert np.allclose(t93["lon"], [9.45, 9.41]) and np.allclose(t93["lat"], [42.70, 42.65])
    pts.set_crs(None, allow_override=True).to_file(tmp_path / "nocrs.gpkg", layer="communes")
    assert "no coordinate reference system" in _error_of(read_communes, tmp_path / "nocrs.gpkg")


def test_readme_documents_every_column_and_alias():
    text = normalise_name((EXAMPLES / "README.md").read_text(encoding="utf-8"))
    for schema in (COMMUNES, PRACTITIONERS, OFFICIAL, ZONES):
        for col in schema.columns:
            if col.name[0].isdigit() and col.name not in ("0-4", "90+"):
                continue  # the bands are documented by their first and last
            for name in col.names():
                assert normalise_name(name) in text, (schema.name, name)


def test_typo_in_a_column_name_warns(tmp_path):
    f = tmp_path / "gps.csv"
    f.write_text("id,code_commune,centre_de_sant\na,2B033,oui\n")
    with pytest.warns(InputWarning, match="column 'centre_de_sant' is not used; did you mean "
                                          "'health_centre'"):
        read_practitioners(f, year=2024)


def test_official_values_without_a_year_column(tmp_path):
    f = tmp_path / "official.csv"
    f.write_text("Code INSEE;APL aux médecins généralistes;APL aux médecins généralistes de 65 "
                 "ans et moins\n2B033;4,491;4,024\n")
    t = read_official(f, year=2022)
    assert t["annee"].tolist() == [2022] and t[["apl", "apl_moins_65"]].values.tolist() == [
        [4.491, 4.024]]
    assert read_official(f)["annee"].isna().all()
