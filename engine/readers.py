"""Read the tables French offices produce: communes, practitioners, official values, zones.

One generic reader, :func:`read_table`, turns a file into a pandas DataFrame with canonical
column names, driven by a declarative :class:`Schema`; four functions, one per task, add
the rules that tie columns together (:func:`read_communes`, :func:`read_practitioners`,
:func:`read_official`, :func:`read_zones`). The accepted formats, column names and aliases
are documented for users in ``scenarios/examples/README.md``.

What is read:

- CSV with ``,``, ``;`` or tab as separator (sniffed from the header: the separator that
  splits it into the most known column names), an optional ``sep=;`` first line as Excel
  writes it, quoted values that may span lines, decimal commas and thousands grouped with
  spaces or non-breaking spaces (``1 234,5``);
- UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), and the 8-bit
  encodings of French offices (cp1252 above all, also mac_roman and cp850), detected with
  charset-normalizer among those candidates only and announced with an
  :class:`InputWarning`;
- Excel workbooks (``.xlsx``, ``.xlsm``, ``.xls``) and OpenDocument sheets (``.ods``),
  read with python-calamine: the first sheet, or ``FILE.xlsx:Feuille2`` / ``sheet=``;
- GeoPackages (``.gpkg``), read with pyogrio: layer ``FILE.gpkg:layer`` / ``layer=``.

Column names are matched without regard to case, accents, spaces and punctuation
(``Code commune``, ``code_commune`` and ``CODE-COMMUNE`` are one name). Rows above the
header (title lines) are skipped; blank rows are skipped.

Every error is an :class:`engine.errors.InputError` with one line of text naming the file,
the line as the user's editor shows it (the physical CSV line, counting the header and
quoted values that span lines; the Excel row number and cell; the GeoPackage feature id),
the column as named in the file, and what was expected, with the value as written::

    gps.csv:7, column 'Centre de santé': 'peut-être' is not a yes/no value (expected ...)
    gps.xlsx:Feuille2:7, column 'Code commune' (cell C7): 'ZZ' is not an INSEE commune code ...

The returned frames carry, in the column ``line``, that location of each row, and in
``DataFrame.attrs["source"]`` a :class:`Source`; :func:`input_error` builds an error in the
same format for checks made later (e.g. a practitioner's commune unknown to the region).
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import math
import numbers
import os
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine._validate import DATA_YEARS
from engine.apl import AGE_BANDS, departement_of
from engine.errors import InputError, InputWarning, location

__all__ = [
    "COMMUNES",
    "OFFICIAL",
    "PRACTITIONERS",
    "ZONES",
    "Column",
    "InputWarning",
    "Schema",
    "Source",
    "input_error",
    "normalise_name",
    "read_communes",
    "read_official",
    "read_practitioners",
    "read_table",
    "read_zones",
]


# --------------------------------------------------------------------------- names


def normalise_name(name: object) -> str:
    """The key column names are matched on: no case, accents, spaces nor punctuation.

    Parameters
    ----------
    name : object
        A column name as written in a file.

    Returns
    -------
    str
        Lower-case ASCII letters, digits and ``+``.

    Examples
    --------
    >>> normalise_name("Centre de santé"), normalise_name("pop_90+"), normalise_name("0-4")
    ('centredesante', 'pop90+', '04')
    """
    return re.sub(r"[^0-9a-z+]", "", _fold(str(name)))


def _fold(text: str) -> str:
    """Lower case, without accents and with œ/æ spelt out."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def _key(text: str) -> str:
    """A cell value compared as a word key (``"Médecin généraliste"`` -> ``"medecin_generaliste"``)."""
    return re.sub(r"[^0-9a-z]+", "_", _fold(text)).strip("_")


# --------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class Column:
    """One column of a :class:`Schema`.

    Parameters
    ----------
    name : str
        Canonical name, the one the returned DataFrame uses.
    kind : {"code", "departement", "text", "key", "float", "int", "bool", "year"}
        ``code``: an INSEE commune code (5 characters, ``2A``/``2B`` in Corsica; a dropped
        leading zero is restored); ``departement``: a département code; ``text``: kept as
        written (stripped); ``key``: text lower-cased without accents, words joined by
        ``_`` (``Médecin généraliste`` -> ``medecin_generaliste``); ``float`` / ``int``:
        numbers (decimal comma accepted); ``bool``: oui/non, vrai/faux, true/false,
        yes/no, 1/0; ``year``: a date (``dd/mm/yyyy``, ``yyyy-mm-dd``, an Excel date, or a
        bare year), returned as its year.
    aliases : tuple of str
        Other accepted names (matched like the canonical name, see :func:`normalise_name`).
    required : bool
        The column must be in the file.
    nullable : bool
        Empty cells are allowed (NaN, or ``default``).
    minimum, maximum : float, optional
        Inclusive bounds of numbers.
    expected : str
        What a value must be, for error messages.
    default : object, optional
        Value of empty cells (booleans).
    match : tuple of str, optional
        When given, the only names matched (instead of ``name`` and ``aliases``).
    """

    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    nullable: bool = True
    minimum: float | None = None
    maximum: float | None = None
    expected: str = ""
    default: object = None
    match: tuple[str, ...] | None = None

    def names(self) -> tuple[str, ...]:
        """The names matched in a header: the canonical name and the aliases."""
        return self.match if self.match is not None else (self.name, *self.aliases)


@dataclass(frozen=True)
class Schema:
    """The columns of one kind of table.

    Parameters
    ----------
    name : str
        What one row is, for messages (``"communes"``).
    columns : tuple of Column
        The columns, in the order of the returned DataFrame.
    unique : tuple of tuple of str
        Column groups whose values may not repeat (empty values excepted).
    """

    name: str
    columns: tuple[Column, ...]
    unique: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for col in self.columns:
            for alias in col.names():
                key = normalise_name(alias)
                if seen.setdefault(key, col.name) != col.name:
                    raise ValueError(f"alias {alias!r} of {col.name!r} is also a name of "
                                     f"{seen[key]!r}")

    def column(self, name: str) -> Column:
        """The column called ``name`` (canonical)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def lookup(self) -> dict[str, str]:
        """Normalised accepted name -> canonical name."""
        return {normalise_name(a): c.name for c in self.columns for a in c.names()}


# Bounds catch unit mistakes and corrupt numbers, not unusual communes: see
# scenarios/examples/README.md ("Bounds") for the reasons of each.
_POP_MAX = 10_000_000.0       # Paris, the largest commune, has 2.19 million inhabitants
_ACTIVITY_MAX = 100_000.0     # consultations in a year: ~270 a day, every day
_APL_MAX = 200.0              # 5 times the highest official APL of 2022-2023 (40.0)
# The age bounds are those the forecast applies (scenarios.ages.ages_from_roster): the reader
# refuses first, so that the message names the file and line.
_AGE_MIN, _AGE_MAX = 20.0, 100.0
# Metropolitan France with Corsica, in WGS84 degrees (Ouessant -5.1, Corsica 9.6; Corsica's
# southern tip 41.3, Dunkerque 51.1). No French territory lies where these swapped land
# (longitude 41 to 51.5, latitude -5.5 to 10: the Horn of Africa), so a point there is a
# metropolitan point with lon and lat swapped.
_METRO_LON, _METRO_LAT = (-5.5, 10.0), (41.0, 51.5)

_CODE_EXPECTED = "an INSEE commune code of 5 characters such as '01004' or '2A004'"
_POP_EXPECTED = f"a number of inhabitants from 0 to {_POP_MAX:,.0f}"

_CODE = Column("code_commune", "code", (
    "code_insee", "code_commune_insee", "insee", "code_insee_commune", "codgeo", "code_geo",
    "depcom", "com", "code_com", "cog", "commune_code", "insee_code",
), required=True, nullable=False, expected=_CODE_EXPECTED)
_NAME = Column("nom", "text", ("nom_commune", "libelle", "libelle_commune", "libgeo", "commune",
                               "nom_de_la_commune", "name"))
_LON = Column("lon", "float", ("longitude", "lng", "long"), nullable=False, minimum=-180.0,
              maximum=180.0, expected="a WGS84 longitude in degrees, from -180 to 180")
_LAT = Column("lat", "float", ("latitude",), nullable=False, minimum=-90.0, maximum=90.0,
              expected="a WGS84 latitude in degrees, from -90 to 90")
_POP_TOTAL = Column("pop_totale", "float", ("population_totale", "pop_tot", "ptot", "population",
                                             "pop", "total_population"),
                    nullable=False, minimum=0.0, maximum=_POP_MAX, expected=_POP_EXPECTED)
_POP_STD = Column("pop_standardisee", "float", ("population_standardisee", "pop_std",
                                                 "pop_standardised", "standardised_population"),
                  nullable=False, minimum=0.0, maximum=_POP_MAX,
                  expected=f"a standardised population from 0 to {_POP_MAX:,.0f}")


def _band_aliases(band: str) -> tuple[str, ...]:
    if band.endswith("+"):
        a = band[:-1]
        return (f"{a}_plus", f"pop_{a}_plus", f"pop_{a}+", f"{a}_ans_et_plus", f"{a}_ans_ou_plus",
                f"{a}_et_plus", f"pop_{a}_et_plus", f"pop_{a}_ans_et_plus")
    a, b = band.split("-")
    return (f"pop_{a}_{b}", f"{a}_{b}_ans", f"pop_{a}_{b}_ans", f"{a}_a_{b}_ans",
            f"de_{a}_a_{b}_ans", f"age_{a}_{b}")


_BANDS = tuple(Column(b, "float", _band_aliases(b), nullable=False, minimum=0.0, maximum=_POP_MAX,
                      expected=_POP_EXPECTED) for b in AGE_BANDS)

#: Communes: one row per commune (see :func:`read_communes`).
COMMUNES = Schema("communes", (
    _CODE,
    _NAME,
    Column("departement", "departement", ("dep", "code_departement", "code_dep", "dept",
                                          "departement_code"),
           expected="a département code such as '01', '2A' or '971'"),
    _POP_TOTAL,
    _POP_STD,
    *_BANDS,
    _LON,
    _LAT,
), unique=(("code_commune",),))

#: Practitioners: one row per practitioner (see :func:`read_practitioners`).
PRACTITIONERS = Schema("practitioners", (
    Column("id", "text", ("identifiant", "rpps", "numero_rpps", "n_rpps", "num_rpps", "adeli",
                          "identifier")),
    Column("profession", "key", ("libelle_profession", "code_profession", "specialite",
                                 "metier")),
    replace(_CODE, required=False, nullable=True),
    replace(_LON, nullable=True),
    replace(_LAT, nullable=True),
    Column("age", "float", ("age_ans",), minimum=_AGE_MIN, maximum=_AGE_MAX,
           expected=f"an age from {_AGE_MIN:.0f} to {_AGE_MAX:.0f}"),
    Column("birth_year", "int", ("annee_naissance", "annee_de_naissance", "annee_naiss",
                                 "year_of_birth"),
           minimum=1800, maximum=2100, expected="a year of birth such as 1962"),
    Column("date_naissance", "year", ("date_de_naissance", "birth_date", "date_of_birth", "ddn",
                                      "ne_le", "nee_le", "naissance"),
           expected="a date of birth (dd/mm/yyyy or yyyy-mm-dd)"),
    Column("activity", "float", ("activite", "activite_annuelle", "nb_actes", "actes",
                                 "consultations", "nombre_actes", "nombre_de_consultations"),
           minimum=0.0, maximum=_ACTIVITY_MAX,
           expected=f"a number of consultations and visits in the year, 0 to {_ACTIVITY_MAX:,.0f}"),
    Column("active_previous_year", "bool", ("actif_annee_precedente", "activite_annee_precedente",
                                            "actif_l_annee_precedente",
                                            "activite_l_annee_precedente",
                                            "actif_n_1", "actif_annee_n_1", "active_last_year"),
           default=True),
    Column("health_centre", "bool", ("centre_de_sante", "centre_sante", "cds", "health_center",
                                     "en_centre_de_sante", "salarie_centre_de_sante"),
           default=False),
    # Written by `apl data export` for ages drawn by the engine: read back as unknown ages.
    Column("age_imputed", "bool", ("age_impute", "age_estime", "age_estimated"), default=False),
), unique=(("id",),))

#: Official values per commune, e.g. the DREES APL file (see :func:`read_official`).
OFFICIAL = Schema("official values", (
    _CODE,
    _NAME,
    Column("apl", "float", ("apl_medecins_generalistes", "apl_aux_medecins_generalistes",
                            "apl_mg", "apl_tous_ages"),
           required=True, nullable=False, minimum=0.0, maximum=_APL_MAX,
           expected=f"an APL from 0 to {_APL_MAX:.0f}"),
    Column("apl_moins_65", "float", ("apl_65", "apl_u65", "apl_65_ans_et_moins",
                                     "apl_moins_de_65_ans",
                                     "apl_aux_medecins_generalistes_de_65_ans_et_moins",
                                     "apl_medecins_generalistes_65_ans_et_moins"),
           required=True, nullable=False, minimum=0.0, maximum=_APL_MAX,
           expected=f"an APL from 0 to {_APL_MAX:.0f}"),
    _POP_STD,
    _POP_TOTAL,
    Column("annee", "int", ("year", "annee_de_reference", "millesime"), nullable=False,
           minimum=DATA_YEARS[0], maximum=DATA_YEARS[1], expected="a year such as 2022"),
), unique=(("code_commune", "annee"),))

#: Zones: commune -> zone, e.g. EPCI, territoires de vie-santé (see :func:`read_zones`).
ZONES = Schema("zones", (
    _CODE,
    Column("zone", "text", ("code_zone", "zone_code", "epci", "epci_code", "code_epci",
                            "siren_epci", "tvs", "code_tvs", "territoire", "territoire_de_vie_sante",
                            "bassin_de_vie", "bv", "code_bv", "cpts", "code_cpts", "zonage"),
           required=True),
    Column("zone_nom", "text", ("nom_zone", "libelle_zone", "zone_libelle", "zone_name",
                                "epci_nom", "nom_epci", "libelle_epci", "nom_tvs", "libelle_tvs",
                                "nom_bv", "libelle_bv", "nom_cpts", "libelle_cpts")),
), unique=(("code_commune",),))


# --------------------------------------------------------------------------- where


@dataclass(frozen=True)
class Source:
    """Where a table was read from, for error messages.

    Attributes
    ----------
    path : str
        The file.
    kind : {"csv", "excel", "geopackage"}
    part : str or None
        The sheet (Excel) or layer (GeoPackage).
    encoding : str or None
        The text encoding used (CSV).
    separator : str or None
        The separator used (CSV).
    header_line : int
        Line (CSV) or row (Excel) of the header.
    columns : dict
        Canonical name -> the column's name as written in the file.
    letters : dict
        Canonical name -> Excel column letter (Excel only).
    """

    path: str
    kind: str
    part: str | None = None
    encoding: str | None = None
    separator: str | None = None
    header_line: int = 1
    columns: dict = field(default_factory=dict)
    letters: dict = field(default_factory=dict)

    def where(self, line: int | None = None, column: str | None = None) -> str:
        """``file:line, column 'as in the file'`` for a canonical ``column``."""
        return location(**self._place(line, column))

    def error(self, message: str, line: int | None = None,
              column: str | None = None) -> InputError:
        """An :class:`~engine.errors.InputError` at ``line`` and canonical ``column`` of this
        file (what layers that cannot import this module use, through a table's
        ``attrs["source"]``)."""
        return InputError(message, **self._place(line, column))

    def _place(self, line: int | None, column: str | None) -> dict:
        shown = self.columns.get(column, column) if column is not None else None
        cell = (f"{self.letters[column]}{line}"
                if self.kind == "excel" and line is not None and column in self.letters else None)
        part = self.part if self.kind in ("excel", "geopackage") else None
        return {"path": self.path, "line": line, "column": shown, "part": part,
                "part_kind": "layer" if self.kind == "geopackage" else "sheet", "cell": cell}


def _error(message: str, source: Source | str, line: int | None = None,
           column: str | None = None) -> InputError:
    """An InputError about ``source`` at ``line`` and ``column`` (canonical name)."""
    if isinstance(source, str):
        source = Source(source, "csv")
    return source.error(message, line, column)


def input_error(table: pd.DataFrame, message: str, *, line: int | None = None,
                column: str | None = None) -> InputError:
    """An :class:`~engine.errors.InputError` about a row of a table read by this module.

    Parameters
    ----------
    table : pandas.DataFrame
        A table returned by a reader of this module (its ``attrs["source"]`` says where it
        was read from).
    message : str
        What is wrong and what was expected.
    line : int, optional
        The row's ``line`` value (not its position).
    column : str, optional
        The canonical column; the message names it as written in the file.

    Returns
    -------
    InputError
        To raise; its text is ``file:line, column 'Name': message``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"code_commune": ["01004"], "line": [7]})
    >>> t.attrs["source"] = Source("gps.csv", "csv", columns={"code_commune": "Code commune"})
    >>> str(input_error(t, "unknown commune '01004'", line=7, column="code_commune"))
    "gps.csv:7, column 'Code commune': unknown commune '01004'"
    """
    source = table.attrs.get("source")
    if not isinstance(source, Source):
        source = Source("<table>", "csv")
    return _error(message, source, line, column)


def _show(value: object) -> str:
    """A value quoted as written, on one line, for messages."""
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    return f"'{text}'"


# --------------------------------------------------------------------------- loading


@dataclass
class _Raw:
    """A table as cells of text, before conversion."""

    source: Source
    header: list[str]
    lines: np.ndarray
    rows: list[list[str]] | None = None    # CSV and Excel: the data rows, as text
    columns: list[list[str | None]] | None = None   # GeoPackage: cells by column
    geometry: object = None                # GeoSeries of a GeoPackage layer

    def cells(self, j: int) -> list[str | None]:
        """Column ``j`` stripped, None where empty."""
        if self.columns is None:
            width = len(self.header)
            padded = [r if len(r) == width else (r + [""] * width)[:width] for r in self.rows]
            columns = zip(*padded, strict=True) if padded else [()] * width
            self.columns = [[v.strip() or None for v in col] for col in columns]
        return self.columns[j]


_EXCEL = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
_PART = re.compile(r"^(.*\.(?:xlsx|xlsm|xls|xlsb|ods|gpkg)):([^:\\/]+)$", re.IGNORECASE)


def _split_part(path: str | os.PathLike) -> tuple[Path, str | None]:
    """``FILE.xlsx:Feuille2`` -> (FILE.xlsx, "Feuille2"), unless the whole name is a file."""
    text = os.fspath(path)
    if Path(text).exists():
        return Path(text), None
    m = _PART.match(text)
    if m:  # a missing FILE.xlsx:Feuille is reported as the missing FILE.xlsx
        return Path(m.group(1)), m.group(2)
    return Path(text), None


def _kind_of(path: Path, head: bytes) -> str:
    if head.startswith(b"SQLite format 3\x00"):
        return "geopackage"
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
        return "excel"
    if path.suffix.lower() in _EXCEL or path.suffix.lower() == ".gpkg":
        return "excel" if path.suffix.lower() in _EXCEL else "geopackage"
    return "csv"


def _check_magic(file: Path, shown: str, head: bytes, kind: str) -> None:
    """A file named as a workbook or a GeoPackage must start like one."""
    if kind == "csv":
        return
    if kind == "excel" and head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
        return
    if kind == "geopackage" and head.startswith(b"SQLite format 3\x00"):
        return
    what = "an Excel or OpenDocument workbook" if kind == "excel" else "a GeoPackage"
    try:
        with open(file, "rb") as fh:
            sample = fh.read(4096)
    except OSError as exc:
        raise _error(f"cannot be read ({exc.strerror or exc})", shown) from None
    if not sample:
        raise _error(f"is empty: expected {what}", shown)
    text = sample.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        b"\x00" not in sample and not _looks_binary(sample.decode("latin-1")))
    if text:
        raise _error(f"is named {file.suffix} but holds text, not {what}: if it is a CSV, "
                     "rename it .csv", shown)
    raise _error(f"is named {file.suffix} but is not {what} (its first bytes are not those of "
                 "one): a damaged or renamed file?", shown)


def _load(path: str | os.PathLike, schema: Schema, *, sheet: str | None, layer: str | None,
          encoding: str | None) -> _Raw:
    file, part = _split_part(path)
    shown = str(file)
    if not file.exists():
        raise _error("no such file", shown)
    if file.is_dir():
        raise _error("is a folder, not a file", shown)
    try:
        with open(file, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise _error(f"cannot be read ({exc.strerror or exc})", shown) from None
    kind = _kind_of(file, head)
    _check_magic(file, shown, head, kind)
    if kind == "excel":
        if layer is not None:
            raise _error(f"layer {layer!r} given for a workbook: use sheet=", shown)
        return _excel(file, shown, sheet if sheet is not None else part, schema)
    if kind == "geopackage":
        if sheet is not None:
            raise _error(f"sheet {sheet!r} given for a GeoPackage: use layer=", shown)
        return _geopackage(file, shown, layer if layer is not None else part, schema)
    if sheet is not None or part is not None:
        raise _error(f"sheet {(sheet or part)!r} given, but this is a text (CSV) file, not an "
                     "Excel workbook", shown)
    return _csv(file, shown, schema, encoding)


# ----------------------------------------------------------------- text and CSV


# 8-bit encodings French offices write: Windows (Excel "CSV"), ISO Latin-9, Excel for Mac
# ("CSV Macintosh") and DOS ("CSV MS-DOS"). Letting charset-normalizer choose among all
# code pages makes it call short French cp1252 files cp1250 (measured), so it chooses
# among these only.
_CANDIDATES = ["cp1252", "iso8859_15", "mac_roman", "cp850"]


def _decode(data: bytes, shown: str, encoding: str | None) -> tuple[str, str]:
    """Text of a CSV file and the encoding used; warns when it was detected, not UTF-8."""
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise _error(f"unknown encoding {encoding!r}", shown) from None
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise _error(f"byte 0x{data[exc.start]:02X} cannot be read as {encoding}; is the "
                         "file in another encoding?", shown, line) from None
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                line = data[:exc.start].count(b"\n") + 1
                raise _error(f"starts with a {name} byte-order mark but byte "
                             f"0x{data[exc.start]:02X} is not {name}: the file mixes encodings",
                             shown, line) from None
    if b"\x00" in data[:65536]:
        raise _error("is a binary file, not a table: expected a CSV, an Excel workbook "
                     "(.xlsx) or a GeoPackage (.gpkg)", shown)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if re.search("[^\x00-\x7f\ufffd]", data.decode("utf-8", errors="replace")):
        line = data[:first_bad].count(b"\n") + 1
        raise _error(f"mixes encodings: UTF-8 accents elsewhere, but byte "
                     f"0x{data[first_bad]:02X} here is not UTF-8; save the file again as UTF-8",
                     shown, line)
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_CANDIDATES).best()
    if best is None:
        raise _error("is neither UTF-8 nor a Windows/Mac/DOS Western encoding (cp1252, "
                     "iso8859-15, mac_roman, cp850): a binary file? Expected a CSV, an Excel "
                     "workbook (.xlsx) or a GeoPackage (.gpkg)", shown)
    name = best.encoding
    warnings.warn(f"{shown}: not UTF-8; read as {name} (detected by charset-normalizer). If "
                  "accents look wrong, save the file as UTF-8 or give the encoding.",
                  InputWarning, stacklevel=5)
    return str(best), name


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\r\n\x0c\x1a")
    return controls > max(2, len(sample) // 200)


def _recognised(record: Sequence[str], lookup: dict[str, str]) -> int:
    return len({lookup[k] for k in (normalise_name(v) for v in record) if k in lookup})


_SEPARATORS = (";", ",", "\t")


def _sniff(sample: str, lookup: dict[str, str]) -> str:
    """The separator that splits the first lines into the most known column names."""
    best, best_score = ",", (-1, -1.0, -1)
    for sep in _SEPARATORS:
        try:
            records = []
            for rec in csv.reader(io.StringIO(sample, newline=""), delimiter=sep):
                if any(v.strip() for v in rec):
                    records.append(rec)
                if len(records) >= 30:
                    break
        except csv.Error:
            continue
        if not records:
            continue
        counts = [_recognised(r, lookup) for r in records[:10]]
        top = max(counts)
        header = records[counts.index(top)]
        width = len(_trim(header))
        rest = records[counts.index(top) + 1:]
        steady = (sum(len(_trim(r)) == width for r in rest) / len(rest)) if rest else 1.0
        score = (top, steady if width > 1 else 0.0, width)
        if score > best_score:
            best, best_score = sep, score
    return best


def _trim(record: list[str]) -> list[str]:
    """A record without its trailing empty fields."""
    end = len(record)
    while end and not record[end - 1].strip():
        end -= 1
    return record[:end]


def _csv(file: Path, shown: str, schema: Schema, encoding: str | None) -> _Raw:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _error(f"cannot be read ({exc.strerror or exc})", shown) from None
    if data.startswith((b"%PDF", b"\x1f\x8b")):
        what = "a PDF" if data.startswith(b"%PDF") else "gzip-compressed"
        raise _error(f"is {what}, not a table: expected a CSV, an Excel workbook (.xlsx) or a "
                     "GeoPackage (.gpkg)", shown)
    text, used = _decode(data, shown, encoding)
    text = text.lstrip("\ufeff").rstrip("\x1a")
    if not text.strip():
        raise _error("is empty: expected a header line naming the columns, then one row per "
                     f"{_one(schema)}", shown)
    if _looks_binary(text):
        raise _error("is a binary file, not a table: expected a CSV, an Excel workbook (.xlsx) "
                     "or a GeoPackage (.gpkg)", shown)
    lookup = schema.lookup()
    skip = 0
    first = re.match(r"sep=([^\r\n])[ \t]*(?:\r\n|\n|\r|$)", text, re.IGNORECASE)
    if first:
        sep, skip = first.group(1), 1
    else:
        sep = _sniff(text[:65536], lookup)
    try:
        records = _csv_records(text, sep, skip)
    except csv.Error as exc:
        start = _failing_line(text, sep)
        rest = "".join(text.splitlines(keepends=True)[start - 1:])
        if "field larger" in str(exc) and rest.count('"') % 2 == 0:
            why = (f"a value on this line is longer than {csv.field_size_limit():,} characters, "
                   "more than any cell of a table holds: a damaged file?")
        elif "field larger" in str(exc) or "unexpected end" in str(exc):
            why = "a quoted value opened on this line is never closed (check the quotes)"
        elif "expected after" in str(exc):
            why = ("a quote ends a quoted value but is followed by other characters; a quote "
                   "inside a quoted value must be doubled (\"\")")
        else:
            why = f"cannot be read as CSV ({exc})"
        raise _error(why, Source(shown, "csv", encoding=used, separator=sep), start) from None
    source = Source(shown, "csv", encoding=used, separator=sep)
    return _records_to_raw(records, source, schema, sep)


def _csv_records(text: str, sep: str, skip: int) -> list[tuple[int, list[str]]]:
    """The non-blank records after the first ``skip`` lines, with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    everything = list(reader)
    if len(everything) == reader.line_num:
        # One record per physical line (no value spans lines): line = position + 1.
        return [(i + 1, rec) for i, rec in enumerate(everything)
                if i >= skip and any(rec)]
    records = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    previous = 0
    for rec in reader:
        start, previous = previous + 1, reader.line_num
        if start > skip and any(rec):
            records.append((start, rec))
    return records


def _failing_line(text: str, sep: str) -> int:
    """The line where the record that csv cannot read starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    previous = 0
    try:
        for _ in reader:
            previous = reader.line_num
    except csv.Error:
        pass
    return previous + 1


def _header(source: Source) -> int | None:
    """The header's line, for messages about the header (None for a GeoPackage)."""
    return None if source.kind == "geopackage" else source.header_line


def _one(schema: Schema) -> str:
    return {"communes": "commune", "practitioners": "practitioner",
            "zones": "commune"}.get(schema.name, "commune")


_SEP_NAME = {";": "';'", ",": "','", "\t": "tab"}


def _records_to_raw(records: list[tuple[int, list]], source: Source, schema: Schema,
                    sep: str | None) -> _Raw:
    """Find the header among the first rows; check widths; cells by column."""
    if not records:
        raise _error("is empty: expected a header naming the columns, then one row per "
                     f"{_one(schema)}", source)
    lookup = schema.lookup()
    counts = [_recognised([str(v) for v in r] if r else [], lookup) for _, r in records[:10]]
    h = counts.index(max(counts))
    header_line, header = records[h]
    header = [("" if v is None else str(v)).strip() for v in header]
    source = replace(source, header_line=header_line)
    rows = records[h + 1:]
    width = len(header)
    if sep is not None:
        for line, rec in rows:
            if len(rec) > width and any(v.strip() for v in rec[width:]):
                raise _error(f"{len(_trim(rec))} values where the header (line {header_line}) "
                             f"names {width} columns: a {_SEP_NAME.get(sep, repr(sep))} "
                             "separator inside a value that is not in quotes?", source, line)
    lines = np.fromiter((line for line, _ in rows), dtype=np.int64, count=len(rows))
    return _Raw(source, header, lines, rows=[rec for _, rec in rows])


# ----------------------------------------------------------------- Excel


def _letters(j: int) -> str:
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def _cell_text(v: object) -> str | None:
    """A cell (Excel, GeoPackage) as the text the CSV reader would see."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        x = float(v)
        if math.isnan(x):
            return None
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return repr(x)
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time() else v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    text = str(v).strip()
    return text or None


def _excel(file: Path, shown: str, sheet: str | None, schema: Schema) -> _Raw:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(file))
        names = list(book.sheet_names)
    except Exception as exc:  # calamine raises its own types for every kind of bad file
        raise _error(f"cannot be read as an Excel or OpenDocument workbook ({exc})",
                     shown) from None
    if not names:
        raise _error("is a workbook without sheets", shown)
    if sheet is None:
        name = names[0]
    elif sheet in names:
        name = sheet
    else:
        close = [n for n in names if normalise_name(n) == normalise_name(sheet)]
        if len(close) != 1:
            listed = ", ".join(repr(n) for n in names)
            raise _error(f"no sheet {sheet!r}; the sheets are {listed} (name one as "
                         f"'{shown}:{names[0]}')", shown)
        name = close[0]
    source = Source(shown, "excel", part=name)
    try:
        rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except Exception as exc:
        raise _error(f"cannot read the sheet ({exc})", source) from None
    records = []
    for i, row in enumerate(rows):
        cells = [_cell_text(v) or "" for v in row]
        if "".join(cells):
            records.append((i + 1, cells))
    if not records:
        raise _error(f"the sheet is empty: expected a header row naming the columns, then one "
                     f"row per {_one(schema)}", source)
    return _records_to_raw(records, source, schema, None)


# ----------------------------------------------------------------- GeoPackage


def _geopackage(file: Path, shown: str, layer: str | None, schema: Schema) -> _Raw:
    import pyogrio

    try:
        layers = [(str(n), str(g)) for n, g in pyogrio.list_layers(file)]
    except Exception as exc:  # pyogrio/GDAL errors for a damaged or non-GeoPackage file
        raise _error(f"cannot be read as a GeoPackage ({exc})", shown) from None
    names = [n for n, _ in layers]
    if not names:
        raise _error("is a GeoPackage without layers", shown)
    if layer is None:
        layer = names[0] if len(names) == 1 else None
    if layer not in names:
        listed = ", ".join(f"{n!r} ({g})" for n, g in layers)
        raise _error(f"no layer {layer!r}; the layers are {listed} (name one as "
                     f"'{shown}:{names[0]}' or with layer=)", shown)
    source = Source(shown, "geopackage", part=layer)
    try:
        gdf = pyogrio.read_dataframe(file, layer=layer, fid_as_index=True)
    except Exception as exc:
        raise _error(f"cannot read the layer ({exc})", source) from None
    if len(gdf) == 0:
        raise _error(f"the layer has no features: expected one per {_one(schema)}", source)
    geometry = gdf.geometry if "geometry" in gdf and hasattr(gdf, "geometry") else None
    attrs = [c for c in gdf.columns if c != "geometry"]
    lines = np.asarray(gdf.index, dtype=np.int64)
    cells = [[_cell_text(v) for v in gdf[c].tolist()] for c in attrs]
    return _Raw(source, [str(c) for c in attrs], lines, columns=cells, geometry=geometry)


# --------------------------------------------------------------------------- conversion


_PLAIN = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:[ \u00a0\u202f\u2009][0-9]{3})+(?:[.,][0-9]*)?"
                      r"(?:[eE][+-]?[0-9]+)?")
_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "-nan",
               "+nan", "infini", "-infini"}


def _number(text: str) -> float | str:
    """A float, or the reason ``text`` is not one."""
    t = text.replace("\u2212", "-")
    if _GROUPED.fullmatch(t):
        t = re.sub(r"[ \u00a0\u202f\u2009]", "", t)
    if "," in t:
        if "." in t:
            return "mixes '.' and ',': write the decimal separator only (3325,284 or 3325.284)"
        if t.count(",") > 1:
            return "has several commas: write the decimal separator only"
        t = t.replace(",", ".")
    if not _PLAIN.fullmatch(t):
        if t.casefold() in _NON_FINITE:
            return "is not a finite number"
        return "is not a number"
    x = float(t)
    if not math.isfinite(x):
        return "is too large to be a number"
    return x


def _numbers(raw: list[str | None]) -> tuple[np.ndarray, int | None, str]:
    """Floats (NaN where empty), and the position and reason of the first bad cell."""
    s = pd.Series(raw, dtype=object)
    fast = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    out = fast.copy()
    retry = np.flatnonzero(~np.isfinite(fast) & s.notna().to_numpy())
    comma, rest = _COMMA.fullmatch, []
    for i in retry.tolist():
        # The common French case, a plain decimal comma, without the full parser.
        x = float(raw[i].replace(",", ".")) if comma(raw[i]) else math.inf
        if math.isfinite(x):
            out[i] = x
        else:
            rest.append(i)
    retry = rest
    for i in retry:
        x = _number(raw[i])
        if isinstance(x, str):
            return out, int(i), x
        out[i] = x
    return out, None, ""


# Control characters other than tab and line breaks: no spreadsheet cell may hold them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_TRUE = {"true", "vrai", "oui", "yes"}
_FALSE = {"false", "faux", "non", "no"}
_ONE_ZERO = re.compile(r"([01])(?:\.0*)?")
_BOOL_EXPECTED = "oui/non, vrai/faux, true/false, yes/no or 1/0"
_CODE_RE = re.compile(r"(?:[0-9]{5}|2[AB][0-9]{3})")
_DEP_RE = re.compile(r"(?:[0-9]{2}|2[AB]|97[0-9])")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[T ][0-9:.]+)?")
_FR_DATE = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})(?: [0-9:.]+)?")


@dataclass
class _Converted:
    values: object
    bad: int | None = None
    reason: str = ""
    restored: int = 0
    example: tuple = ()


def _convert(col: Column, raw: list[str | None]) -> _Converted:
    """Cells of one column -> typed values, or the first bad cell and why."""
    n = len(raw)
    empty = np.equal(np.asarray(raw, dtype=object), None)
    if not col.nullable and col.default is None and empty.any():
        i = int(np.flatnonzero(empty)[0])
        return _Converted(None, i, f"empty value: expected {col.expected or col.kind}")
    kind = col.kind
    if kind == "text":
        for i, v in enumerate(raw):
            if v is not None and _CONTROL.search(v):
                c = _CONTROL.search(v).group()
                return _Converted(None, i, f"{_show(v)} holds the control character "
                                           f"U+{ord(c):04X}, which no name or code holds (a "
                                           "damaged file, or one saved in another encoding?)")
    if kind in ("text", "key"):
        vals = [v if v is None or kind == "text" else (_key(v) or None) for v in raw]
        return _Converted(np.array(vals, dtype=object))
    if kind in ("code", "departement"):
        return _codes(col, raw)
    if kind == "bool":
        out = np.empty(n, dtype=bool)
        for i, v in enumerate(raw):
            if v is None:
                out[i] = bool(col.default)
                continue
            k = _key(v)
            digit = _ONE_ZERO.fullmatch(v)
            if k in _TRUE or (digit and digit.group(1) == "1"):
                out[i] = True
            elif k in _FALSE or digit:
                out[i] = False
            else:
                return _Converted(out, i, f"{_show(v)} is not a yes/no value (expected "
                                          f"{_BOOL_EXPECTED}; empty means "
                                          f"{'oui' if col.default else 'non'})")
        return _Converted(out)
    if kind == "year":
        out = np.full(n, np.nan)
        for i, v in enumerate(raw):
            if v is None:
                continue
            y = _year_of_date(v)
            if y is None:
                return _Converted(out, i, f"{_show(v)} is not a date (expected {col.expected})")
            out[i] = y
        return _Converted(out)
    values, bad, why = _numbers(raw)
    if bad is not None:
        return _Converted(values, bad, f"{_show(raw[bad])} {why}"
                          + (f" (expected {col.expected})" if col.expected else ""))
    if kind == "int":
        frac = np.flatnonzero(np.isfinite(values) & (values != np.round(values)))
        if len(frac):
            i = int(frac[0])
            return _Converted(values, i, f"{_show(raw[i])} is not a whole number (expected "
                                         f"{col.expected})")
    with np.errstate(invalid="ignore"):
        out_of = np.zeros(n, dtype=bool)
        if col.minimum is not None:
            out_of |= values < col.minimum
        if col.maximum is not None:
            out_of |= values > col.maximum
    if out_of.any():
        i = int(np.flatnonzero(out_of)[0])
        return _Converted(values, i, f"{_show(raw[i])} is out of range: expected "
                                     f"{col.expected}{_coordinate_hint(col, values[i])}")
    if kind == "int" and not np.isnan(values).any():
        return _Converted(values.astype(np.int64))
    return _Converted(values)


def _coordinate_hint(col: Column, value: float) -> str:
    if col.name not in ("lon", "lat"):
        return ""
    if abs(value) > 1000:
        return (" (this looks like metres, e.g. Lambert-93: convert the points to WGS84 "
                "longitude/latitude, EPSG:4326)")
    if col.name == "lat" and abs(value) <= 180:
        return " (are lon and lat swapped?)"
    return ""


def _year_of_date(text: str) -> int | None:
    m = _ISO_DATE.fullmatch(text)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = _FR_DATE.fullmatch(text)
        if m:
            d, mo, y = (int(g) for g in m.groups())
        elif re.fullmatch(r"[0-9]{4}", text):
            return int(text)
        else:
            return None
    try:
        return _dt.date(y, mo, d).year
    except ValueError:
        return None


def _codes(col: Column, raw: list[str | None]) -> _Converted:
    """INSEE commune or département codes, with dropped leading zeros restored."""
    out = np.empty(len(raw), dtype=object)
    restored, example = 0, ()
    five = col.kind == "code"
    pattern = _CODE_RE if five else _DEP_RE
    short = 4 if five else 1
    for i, v in enumerate(raw):
        if v is None:
            out[i] = None
            continue
        t = v.upper()
        if pattern.fullmatch(t):
            if five and t.startswith("20"):
                return _Converted(out, i, f"{_show(v)} looks like a Corsican postal code: INSEE "
                                          "commune codes in Corsica start with 2A or 2B "
                                          "(Bastia is '2B033')")
            out[i] = t
            continue
        m = re.fullmatch(r"([0-9]+)(?:\.0*)?", t)
        if m and len(m.group(1)) == short:
            fixed = "0" + m.group(1)
            if not example:
                example = (v, fixed, i)
            restored += 1
            out[i] = fixed
            continue
        if m and pattern.fullmatch(m.group(1)):
            out[i] = m.group(1)
            continue
        return _Converted(out, i, f"{_show(v)} is not {col.expected}")
    return _Converted(out, restored=restored, example=example)


# --------------------------------------------------------------------------- the table


def read_table(path: str | os.PathLike, schema: Schema, *, sheet: str | None = None,
               layer: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV, Excel sheet or GeoPackage layer into the columns of ``schema``.

    Parameters
    ----------
    path : str or path-like
        The file; ``FILE.xlsx:Feuille2`` names a sheet and ``FILE.gpkg:layer`` a layer.
    schema : Schema
        The columns to find (:data:`COMMUNES`, :data:`PRACTITIONERS`, :data:`OFFICIAL`,
        :data:`ZONES` or your own).
    sheet : str, optional
        Excel sheet (default: the first, or the one in ``path``).
    layer : str, optional
        GeoPackage layer (default: the one in ``path``, or the only one).
    encoding : str, optional
        Text encoding of a CSV (default: detected; see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per data row, with the schema's columns found in the file, under their
        canonical names and converted (text, float64 with NaN where empty, bool, int64
        years), then ``line``: the row's line in the file (CSV line where the row starts,
        Excel row number, GeoPackage feature id). Columns the schema does not know are
        dropped. ``attrs["source"]`` is the :class:`Source`; ``attrs["geometry"]`` the
        layer's GeoSeries for a GeoPackage.

    Raises
    ------
    InputError
        On a missing, empty, binary or unreadable file, a missing sheet or layer, a missing
        required column, two columns meaning the same, a header without data rows, a bad
        value or a repeated key: naming the file, line and column.

    Warns
    -----
    InputWarning
        When the encoding was detected (not UTF-8), or leading zeros of codes restored.

    Examples
    --------
    >>> t = read_table("scenarios/examples/zones.csv", ZONES)  # doctest: +SKIP
    >>> t.columns.tolist()  # doctest: +SKIP
    ['code_commune', 'zone', 'zone_nom', 'line']
    """
    raw = _load(path, schema, sheet=sheet, layer=layer, encoding=encoding)
    return _frame(raw, schema)


def _frame(raw: _Raw, schema: Schema) -> pd.DataFrame:
    source = raw.source
    lookup = schema.lookup()
    found: dict[str, int] = {}
    for j, name in enumerate(raw.header):
        canonical = lookup.get(normalise_name(name))
        if canonical is None:
            continue
        if canonical in found:
            other = raw.header[found[canonical]]
            raise _error(f"columns {other!r} and {name!r} both mean {canonical!r}; keep one",
                         source, _header(source))
        found[canonical] = j
    _warn_near_misses(raw.header, found, schema, source)
    source = replace(source, columns={c: raw.header[j] for c, j in found.items()},
                     letters={c: _letters(j) for c, j in found.items()}
                     if source.kind == "excel" else {})
    missing = [c for c in schema.columns if c.required and c.name not in found]
    if missing:
        raise _missing_column(raw, schema, source, missing[0])
    if len(raw.lines) == 0:
        where = f"line {source.header_line}" if source.kind == "csv" else "the header"
        raise _error(f"no data rows: only the header ({where}); expected one row per "
                     f"{_one(schema)}", source)
    data: dict[str, object] = {}
    bad: tuple[int, int, str, str] | None = None
    for col in schema.columns:
        if col.name not in found:
            continue
        conv = _convert(col, raw.cells(found[col.name]))
        if conv.bad is not None:
            key = (int(raw.lines[conv.bad]), found[col.name], col.name, conv.reason)
            bad = key if bad is None or key[:2] < bad[:2] else bad
            continue
        data[col.name] = conv.values
        if conv.restored:
            written, fixed, i = conv.example
            warnings.warn(f"{source.where(int(raw.lines[i]), col.name)}: restored the leading "
                          f"zero of {conv.restored} code(s) written without it (e.g. "
                          f"'{written}' -> '{fixed}'), as a spreadsheet does to codes stored as "
                          "numbers", InputWarning, stacklevel=3)
    if bad is not None:
        line, _, name, reason = bad
        raise _error(reason, source, line, name)
    frame = pd.DataFrame(data)
    frame["line"] = raw.lines
    for group in schema.unique:
        _check_unique(frame, group, source)
    frame.attrs["source"] = source
    if raw.geometry is not None:
        frame.attrs["geometry"] = raw.geometry
    return frame


def _warn_near_misses(header: list[str], found: dict[str, int], schema: Schema,
                      source: Source) -> None:
    """Warn about unused columns whose name is close to a column not found (a typo?)."""
    import difflib

    wanted = {normalise_name(a): c.name for c in schema.columns if c.name not in found
              for a in c.names()}
    used = set(found.values())
    for j, name in enumerate(header):
        key = normalise_name(name)
        if j in used or len(key) < 4:
            continue
        close = difflib.get_close_matches(key, list(wanted), n=1, cutoff=0.85)
        if close:
            warnings.warn(f"{source.where(_header(source))}: column {name!r} is not used; did "
                          f"you mean {wanted[close[0]]!r}? (accepted names: see "
                          "scenarios/examples/README.md)", InputWarning, stacklevel=4)


def _missing_column(raw: _Raw, schema: Schema, source: Source, col: Column) -> InputError:
    names = ", ".join(repr(n) for n in col.names()[:6])
    shown = [h for h in raw.header if h]
    header = ", ".join(repr(h) for h in shown[:8]) + (", ..." if len(shown) > 8 else "")
    hint = ""
    if source.kind == "csv" and len(shown) == 1:
        others = [s for s in _SEPARATORS if s in shown[0] and s != source.separator]
        if others:
            hint = (f"; the header is one column: is the separator "
                    f"{_SEP_NAME[others[0]]}?")
    line = _header(source)
    return _error(f"no {col.name!r} column (accepted names: {names}, any case or accents); "
                  f"the header has {header or 'no names'}{hint}", source, line)


def _check_unique(frame: pd.DataFrame, group: tuple[str, ...], source: Source) -> None:
    """The first row whose key (non-empty) repeats an earlier row's is an error."""
    cols = [c for c in group if c in frame]
    if not cols or cols[0] != group[0]:
        return
    keys = frame[cols][frame[cols].notna().all(axis=1)]
    again = keys.duplicated(keep="first").to_numpy()
    if not again.any():
        return
    second = keys.index[int(np.flatnonzero(again)[0])]
    same = (keys == keys.loc[second]).all(axis=1).to_numpy()
    first = keys.index[int(np.flatnonzero(same)[0])]
    what = {"code_commune": "commune code", "id": "id"}.get(cols[0], cols[0])
    extra = f" for {cols[1]} {keys.at[second, cols[1]]}" if len(cols) > 1 else ""
    raise _error(f"repeated {what} {_show(keys.at[second, cols[0]])}{extra} (first on line "
                 f"{frame.at[first, 'line']})", source, int(frame.at[second, "line"]), cols[0])


# --------------------------------------------------------------------------- tasks


def read_communes(path: str | os.PathLike, *, layer: str = "communes", sheet: str | None = None,
                  encoding: str | None = None, require_population: bool = True
                  ) -> pd.DataFrame:
    """Read a communes table: CSV, Excel sheet or GeoPackage layer.

    Parameters
    ----------
    path : str or path-like
        The file (``FILE.xlsx:Feuille``, ``FILE.gpkg:layer`` name a sheet or a layer).
    layer : str
        GeoPackage layer; when it is missing the error lists the layers present.
    sheet, encoding : str, optional
        Excel sheet and CSV text encoding, as in :func:`read_table`.
    require_population : bool
        Require ``pop_totale`` and either ``pop_standardisee`` or the 19 age bands. Set it
        to False when the populations come from another table (e.g. the official values).

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        One row per commune: ``code_commune`` (str, unique), ``nom`` (the code where the
        file has no name), ``departement`` (str, from the code where absent),
        ``pop_totale``, ``pop_standardisee`` (float, NaN when not in the file), the age
        bands :data:`engine.apl.AGE_BANDS` (``0-4`` ... ``90+``, float) when the file has
        them, ``lon``, ``lat`` (float, WGS84), ``line``. Standardising the age bands is
        left to the caller. From a GeoPackage of polygons: a GeoDataFrame in EPSG:4326
        whose geometry is the polygons.

    Raises
    ------
    InputError
        Naming the file, line and column; also when the layer is missing (listing the
        layers), when ``lon``/``lat`` are missing outside a GeoPackage, when only some of the
        age bands are given, when a ``departement`` contradicts the commune code, or when
        ``lon`` and ``lat`` are plainly swapped (a point of metropolitan France written
        ``lat, lon``: it lands off the Horn of Africa, where no French commune is).

    Warns
    -----
    InputWarning
        Once, when points are taken inside the polygons because the GeoPackage has no
        ``lon``/``lat``; and see :func:`read_table`.

    Examples
    --------
    >>> communes = read_communes("scenarios/examples/communes.csv")  # doctest: +SKIP
    >>> communes[["code_commune", "pop_standardisee"]].head(2)  # doctest: +SKIP
      code_commune  pop_standardisee
    0        2B033         48462.371
    1        2B120          5820.241
    """
    file, part = _split_part(path)
    is_gpkg = file.suffix.lower() == ".gpkg" or _is_sqlite(file)
    raw = _load(path, COMMUNES, sheet=sheet, layer=(part or layer) if is_gpkg else None,
                encoding=encoding)
    table = _frame(raw, COMMUNES)
    source = table.attrs["source"]
    geometry = table.attrs.pop("geometry", None)
    bands = [b for b in AGE_BANDS if b in table]
    if bands and len(bands) < len(AGE_BANDS):
        missing = [b for b in AGE_BANDS if b not in table]
        raise _error(f"has {len(bands)} of the 19 age bands; missing {', '.join(missing[:4])}"
                     + (", ..." if len(missing) > 4 else ""), source, _header(source))
    if require_population:
        if "pop_totale" not in table:
            raise _missing_column(raw, COMMUNES, source, _POP_TOTAL)
        if "pop_standardisee" not in table and not bands:
            raise _error("needs 'pop_standardisee' or the 19 age-band columns (0-4, 5-9, ..., "
                         "85-89, 90+, or pop_0_4 ... pop_90_plus); the file has neither",
                         source, _header(source))
    if require_population and len(table):
        _check_someone_lives_here(table, bands, source)
    for name in ("pop_totale", "pop_standardisee"):
        if name not in table:
            table[name] = np.nan
    has_point = "lon" in table and "lat" in table
    if ("lon" in table) != ("lat" in table):
        other = _LAT if "lon" in table else _LON
        raise _missing_column(raw, COMMUNES, source, other)
    polygons = None
    if geometry is not None and not has_point:
        table["lon"], table["lat"], polygons = _points_of(geometry, table, source)
    elif geometry is not None:
        polygons = _to_wgs84(geometry, source)
    elif not has_point:
        raise _missing_column(raw, COMMUNES, source, _LON)
    codes = table["code_commune"]
    if "departement" in table:
        dep = table["departement"]
        given = dep.notna().to_numpy()
        wrong = given & ~np.array([c.startswith(d) if isinstance(d, str) else True
                                   for c, d in zip(codes, dep, strict=True)])
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise _error(f"département {_show(dep.iloc[i])} does not match the commune code "
                         f"{_show(codes.iloc[i])}", source, int(table["line"].iloc[i]),
                         "departement")
        table["departement"] = np.where(given, dep.to_numpy(dtype=object),
                                        departement_of(codes))
    else:
        table["departement"] = departement_of(codes)
    _check_swapped(table["lon"].to_numpy(np.float64), table["lat"].to_numpy(np.float64),
                   codes.to_numpy(dtype=object), table["line"].to_numpy(), source)
    if "nom" in table:
        table["nom"] = np.where(table["nom"].notna(), table["nom"].to_numpy(dtype=object),
                                codes.to_numpy(dtype=object))
    else:
        table["nom"] = codes.to_numpy(dtype=object)
    order = ["code_commune", "nom", "departement", "pop_totale", "pop_standardisee", *bands,
             "lon", "lat", "line"]
    out = table[order].copy()
    out.attrs["source"] = source
    if polygons is not None:
        import geopandas as gpd

        out = gpd.GeoDataFrame(out, geometry=polygons.reset_index(drop=True), crs="EPSG:4326")
        out.attrs["source"] = source
    return out


def _check_someone_lives_here(table: pd.DataFrame, bands: list[str], source: Source) -> None:
    """Refuse a communes file whose populations are all 0.

    Every APL would then be 0 (no demand takes up the supply) and shares of population in
    deficit would divide by zero: a wrong column or an empty export, never a territory to
    measure.
    """
    groups = [("pop_totale", ["pop_totale"], "inhabitants")]
    if "pop_standardisee" in table:
        groups.append(("pop_standardisee", ["pop_standardisee"], "standardised inhabitants"))
    elif bands:
        groups.append((bands[0], bands, "inhabitants in any age band"))
    for column, names, what in groups:
        if not np.nansum(table[names].to_numpy(np.float64)) > 0:
            raise _error(f"every commune has 0 {what}: there is no one whose access to "
                         "measure; expected the communes' populations (a wrong column or an "
                         "empty export?)", source, _header(source), column)


def _check_swapped(lon: np.ndarray, lat: np.ndarray, codes, lines: np.ndarray,
                   source: Source) -> None:
    """Refuse points of metropolitan France whose lon and lat are plainly swapped.

    A row is refused when its point lies where a metropolitan point lands once swapped
    (see ``_METRO_LON``/``_METRO_LAT``) and its commune code, when it has one, is not an
    overseas one (97x, 98x).
    """
    with np.errstate(invalid="ignore"):
        swapped = ((lat >= _METRO_LON[0]) & (lat <= _METRO_LON[1])
                   & (lon >= _METRO_LAT[0]) & (lon <= _METRO_LAT[1]))
    if codes is not None:
        overseas = np.array([isinstance(c, str) and c.startswith(("97", "98")) for c in codes],
                            dtype=bool)
        swapped &= ~overseas
    if swapped.any():
        i = int(np.flatnonzero(swapped)[0])
        raise _error(f"lon and lat are swapped: the point (lon {lon[i]:g}, lat {lat[i]:g}) lies "
                     f"in the Horn of Africa, (lon {lat[i]:g}, lat {lon[i]:g}) in France; "
                     f"expected the longitude ({_METRO_LON[0]:g} to {_METRO_LON[1]:g} in "
                     f"metropolitan France) under lon and the latitude ({_METRO_LAT[0]:g} to "
                     f"{_METRO_LAT[1]:g}) under lat ({int(swapped.sum())} such row(s))",
                     source, int(lines[i]), "lat")


def _is_sqlite(file: Path) -> bool:
    try:
        with open(file, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _to_wgs84(geometry, source: Source):
    if geometry.crs is None:
        raise _error("the layer has no coordinate reference system; set one (EPSG:4326 for "
                     "longitude/latitude)", source)
    return geometry.to_crs("EPSG:4326")


def _points_of(geometry, table: pd.DataFrame, source: Source):
    """lon, lat of a point per feature (inside it, for polygons) and the WGS84 geometry."""
    empty = (geometry.isna() | geometry.is_empty).to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise _error("the feature has no geometry and the layer no lon/lat columns", source,
                     int(table["line"].iloc[i]))
    is_point = (geometry.geom_type == "Point").to_numpy()
    wgs = _to_wgs84(geometry, source)
    if is_point.all():
        return wgs.x.to_numpy(), wgs.y.to_numpy(), wgs
    # Inside each polygon in its own CRS (the one it was drawn in), then to WGS84; a point
    # is its own representative point.
    inner = geometry.representative_point().to_crs("EPSG:4326")
    warnings.warn(f"{source.path}:{source.part}: no lon/lat columns; using a point inside each "
                  f"of the {int((~is_point).sum())} polygons. The official APL uses town halls: "
                  "add lon/lat columns to use them.", InputWarning, stacklevel=3)
    return inner.x.to_numpy(), inner.y.to_numpy(), wgs


def read_practitioners(path: str | os.PathLike, *, year: int, sheet: str | None = None,
                       encoding: str | None = None) -> pd.DataFrame:
    """Read a practitioners roster (one row per practitioner): CSV or Excel sheet.

    Parameters
    ----------
    path : str or path-like
        The file (``FILE.xlsx:Feuille`` names a sheet).
    year : int
        Reference year: ``birth_year`` and ``date_naissance`` become the age reached in
        it.
    sheet, encoding : str, optional
        Excel sheet and CSV text encoding, as in :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        One row per practitioner, in file order: ``id`` (str or NaN), ``profession`` (as a
        key: ``Médecin généraliste`` -> ``medecin_generaliste``; NaN when absent; no row is
        dropped), ``code_commune`` (str, NaN for a practitioner given by a point),
        ``lon``, ``lat`` (float, NaN unless given), ``age`` (float, in ``year``; NaN when
        unknown), ``activity`` (float, NaN when empty), ``active_previous_year`` (bool,
        true when empty), ``health_centre`` (bool, false when empty), ``age_imputed`` (bool:
        an age the engine drew, as ``apl data export`` writes it; read as unknown), ``line``. Points are
        not attached to communes here.

    Raises
    ------
    InputError
        Naming the file, line and column: neither ``code_commune`` nor ``lon``/``lat``
        (as columns, or in a row), only one of ``lon``/``lat``, swapped ``lon`` and ``lat``
        (see :func:`read_communes`), an age outside 20-100, an
        ``age``, ``birth_year`` and ``date_naissance`` that contradict each other (more
        than one year apart), a repeated ``id``, and every error of :func:`read_table`.

    Examples
    --------
    >>> gps = read_practitioners("scenarios/examples/practitioners.csv", year=2024)  # doctest: +SKIP
    >>> gps.loc[0, ["id", "code_commune", "age"]].tolist()  # doctest: +SKIP
    ['GP001', '2B033', 68.0]
    """
    year = _year(year)
    raw = _load(path, PRACTITIONERS, sheet=sheet, layer=None, encoding=encoding)
    table = _frame(raw, PRACTITIONERS)
    source = table.attrs["source"]
    if ("lon" in table) != ("lat" in table):
        raise _missing_column(raw, PRACTITIONERS, source,
                              PRACTITIONERS.column("lat" if "lon" in table else "lon"))
    if "code_commune" not in table and "lon" not in table:
        raise _error("needs a 'code_commune' column (or code_insee, code commune, ...) or "
                     "'lon' and 'lat' columns: where each practitioner works", source,
                     _header(source))
    n = len(table)
    code = table["code_commune"] if "code_commune" in table else pd.Series([None] * n)
    lon = table["lon"].to_numpy() if "lon" in table else np.full(n, np.nan)
    lat = table["lat"].to_numpy() if "lat" in table else np.full(n, np.nan)
    lines = table["line"].to_numpy()
    no_code = code.isna().to_numpy()
    half = np.isnan(lon) != np.isnan(lat)
    if half.any():
        i = int(np.flatnonzero(half)[0])
        raise _error("empty value: a point needs both lon and lat", source, int(lines[i]),
                     "lat" if np.isnan(lat[i]) else "lon")
    nowhere = no_code & np.isnan(lon)
    if nowhere.any():
        i = int(np.flatnonzero(nowhere)[0])
        col = "code_commune" if "code_commune" in table else "lon"
        raise _error("empty value: expected the commune code or the lon/lat of the practice",
                     source, int(lines[i]), col)
    _check_swapped(lon, lat, code.to_numpy(dtype=object), lines, source)
    age = _ages(table, year, source)
    out = pd.DataFrame({
        "id": table["id"] if "id" in table else np.full(n, None, dtype=object),
        "profession": table["profession"] if "profession" in table
        else np.full(n, None, dtype=object),
        "code_commune": code.to_numpy(dtype=object),
        "lon": lon.astype(np.float64),
        "lat": lat.astype(np.float64),
        "age": age,
        "activity": table["activity"] if "activity" in table else np.full(n, np.nan),
        "active_previous_year": table["active_previous_year"]
        if "active_previous_year" in table else np.ones(n, dtype=bool),
        "health_centre": table["health_centre"] if "health_centre" in table
        else np.zeros(n, dtype=bool),
        "age_imputed": table["age_imputed"] if "age_imputed" in table
        else np.zeros(n, dtype=bool),
        "line": lines,
    })
    out.attrs["source"] = source
    return out


def _year(year) -> int:
    if isinstance(year, bool) or not isinstance(year, numbers.Integral) or not DATA_YEARS[0] <= year <= DATA_YEARS[1]:
        raise InputError(f"year must be a year such as 2024, got {year!r}")
    return int(year)


def _ages(table: pd.DataFrame, year: int, source: Source) -> np.ndarray:
    """Age in ``year`` from age, birth_year and date_naissance; they must agree."""
    n = len(table)
    lines = table["line"].to_numpy()
    given = {c: table[c].to_numpy(dtype=np.float64) for c in ("age", "birth_year",
                                                               "date_naissance") if c in table}
    if "birth_year" in given and "date_naissance" in given:
        by, dy = given["birth_year"], given["date_naissance"]
        clash = ~np.isnan(by) & ~np.isnan(dy) & (by != dy)
        if clash.any():
            i = int(np.flatnonzero(clash)[0])
            raise _error(f"birth year {by[i]:.0f} contradicts the date of birth (year "
                         f"{dy[i]:.0f}) on the same row", source, int(lines[i]), "birth_year")
    born = np.full(n, np.nan)
    born_col = np.full(n, None, dtype=object)
    for c in ("date_naissance", "birth_year"):
        if c in given:
            has = np.isnan(born) & ~np.isnan(given[c])
            born[has] = given[c][has]
            born_col[has] = c
    from_birth = year - born
    out_of = ~np.isnan(from_birth) & ((from_birth < _AGE_MIN) | (from_birth > _AGE_MAX))
    if out_of.any():
        i = int(np.flatnonzero(out_of)[0])
        raise _error(f"born in {born[i]:.0f}, aged {from_birth[i]:.0f} in {year}: expected an "
                     f"age from {_AGE_MIN:.0f} to {_AGE_MAX:.0f} (is the reference year right?)",
                     source, int(lines[i]), born_col[i])
    if "age" in given:
        age = given["age"]
        clash = ~np.isnan(age) & ~np.isnan(from_birth) & (np.abs(age - from_birth) > 1)
        if clash.any():
            i = int(np.flatnonzero(clash)[0])
            raise _error(f"age {age[i]:g} contradicts {born_col[i]} ({born[i]:.0f}, aged "
                         f"{from_birth[i]:.0f} in {year}); give one of them or make them agree",
                         source, int(lines[i]), "age")
        return np.where(np.isnan(from_birth), age, from_birth)
    return from_birth


def read_official(path: str | os.PathLike, *, year: int | None = None, sheet: str | None = None,
                  encoding: str | None = None) -> pd.DataFrame:
    """Read official values per commune, such as the DREES APL file.

    Parameters
    ----------
    path : str or path-like
        The file (``FILE.xlsx:Feuille`` names a sheet).
    year : int, optional
        Keep the rows of this ``annee`` (an error lists the years present when it has
        none). Without it, every row is kept.
    sheet, encoding : str, optional
        Excel sheet and CSV text encoding, as in :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        ``code_commune`` (str), ``nom`` (NaN when absent; ``commune`` in the DREES file),
        ``apl``, ``apl_moins_65``, ``pop_standardisee``, ``pop_totale`` (float, NaN when
        absent), ``annee`` (nullable Int64: ``year``, or <NA>, when the file has none),
        ``line``. One row per commune and year.

    Raises
    ------
    InputError
        Naming the file, line and column; also when ``year`` has no row.

    Examples
    --------
    >>> drees = read_official("../shared/data/drees/apl_medecins_generalistes_2022_2023.csv",
    ...                       year=2022)  # doctest: +SKIP
    >>> len(drees)  # doctest: +SKIP
    34964
    """
    if year is not None:
        year = _year(year)
    table = read_table(path, OFFICIAL, sheet=sheet, encoding=encoding)
    source = table.attrs["source"]
    if "annee" in table:
        if year is not None:
            keep = (table["annee"] == year).to_numpy()
            if not keep.any():
                years = ", ".join(str(int(y)) for y in sorted(table["annee"].unique()))
                raise _error(f"no row for year {year}; the file holds {years}", source,
                             column="annee")
            table = table[keep].reset_index(drop=True)
        table["annee"] = table["annee"].astype("Int64")
    else:
        table["annee"] = pd.array([year] * len(table), dtype="Int64")
    for name in ("nom", "pop_standardisee", "pop_totale"):
        if name not in table:
            table[name] = None if name == "nom" else np.nan
    cols = ["code_commune", "nom", "apl", "apl_moins_65", "pop_standardisee", "pop_totale",
            "annee", "line"]
    out = table[cols].copy()
    out.attrs["source"] = source
    return out


def read_zones(path: str | os.PathLike, *, column: str | None = None,
               sheet: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a zoning: which zone (EPCI, territoire de vie-santé, bassin de vie...) each commune is in.

    Parameters
    ----------
    path : str or path-like
        The file (``FILE.xlsx:Feuille`` names a sheet).
    column : str, optional
        The file's column that holds the zone, when several could (e.g. ``epci_code`` and
        ``tvs``); matched like every column name.
    sheet, encoding : str, optional
        Excel sheet and CSV text encoding, as in :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        ``code_commune`` (str, unique), ``zone`` (str, NaN for a commune in no zone),
        ``zone_nom`` (str, NaN when absent), ``line``.

    Raises
    ------
    InputError
        Naming the file, line and column; also when ``column`` is not in the file.

    Examples
    --------
    >>> zones = read_zones("../shared/data/insee/epci_communes.csv")  # doctest: +SKIP
    >>> zones["zone"].nunique()  # doctest: +SKIP
    1254
    """
    schema = ZONES
    if column is not None:
        zone = schema.column("zone")
        others = tuple(c for c in schema.columns if c.name != "zone")
        taken = {normalise_name(a) for c in others for a in c.names()}
        if normalise_name(column) in taken:
            raise InputError(f"column {column!r} is not a zone column (it means another "
                             "column of the zones table)")
        schema = Schema(schema.name, (others[0], replace(zone, match=(column,)),
                                      *others[1:]), schema.unique)
    table = read_table(path, schema, sheet=sheet, encoding=encoding)
    if "zone_nom" not in table:
        table["zone_nom"] = None
    out = table[["code_commune", "zone", "zone_nom", "line"]].copy()
    out.attrs["source"] = table.attrs["source"]
    return out
