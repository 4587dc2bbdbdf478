"""Scenario files (TOML): what a planner can ask, validated with the key and line at fault.

A scenario file holds five tables; only ``[scenario]`` is required::

    [scenario]
    name = "retire-at-65"      # short identifier
    titre = "Départ à 65 ans"  # French title, shown in the report
    description = "..."        # French description, shown in the report
    start_year = 2022          # optional: the data year (year 0, observed); refused if the
                               # data are of another year
    horizon = 10               # number of simulated years after the data year

    [retirement]
    model = "age"              # "age": leave when older than `age`; "hazard": yearly odds;
    age = 65                   # "count": the `per_year` oldest GPs leave each year;
                               # "none": nobody leaves

    [retirement.hazard]        # model = "hazard": probability of stopping during a year, by age
    "60-64" = 0.04             # band "a-b" (inclusive) or "a+" (a and over)
    "65-69" = 0.25
    "70+" = 0.40

    [replacement]              # a departing GP is replaced, in the same commune, with odds that
    rate = 0.6                 # depend on the commune's APL class the year before
    rate_intermediaire = 0.5
    rate_sous_dense = 0.3      # (replacements are rarer where access is already low)
    delay_years = 1            # vacancy before the successor starts
    age = 35                   # successor's age at installation
    activity = 4800            # successor's yearly consultations (default: the engine default)

    [[installation]]           # new GPs or an MSP: in a commune, or at a point
    commune = "2A004"          # or lon = ..., lat = ...
    gps = 3
    year = 2024
    activity = 4800            # optional, per GP
    age = 40                   # optional

    [population]
    growth_per_year = 0.003    # optional: yearly growth of the demand, all communes
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine._validate import DATA_YEARS
from engine.errors import InputError
from engine.tomlkeys import KeyLines

_SCENARIO_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Installation:
    """New GPs starting in a given year, in a commune or at a point."""

    year: int
    gps: int
    commune: str | None = None
    lon: float | None = None
    lat: float | None = None
    activity: float | None = None
    age: float = 40.0
    label: str = ""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name : str
        Short identifier.
    title : str
        French title (``titre``; the name when absent).
    start_year : int or None
        The data year the scenario is written for (year 0, the observed state); ``None``:
        whatever the data year is.
    horizon : int
        Number of simulated years after year 0.
    retirement_model : {"age", "hazard", "count", "none"}
        How GPs leave.
    retirements_per_year : int
        With ``"count"``: how many GPs leave each year, oldest first.
    retirement_age : float
        With ``"age"``: a GP is active while aged ``<= retirement_age`` (DREES counts
        "65 ans et moins" in its u65 variant, so 65 reproduces it in the first year).
    hazard : tuple of (min_age, max_age, probability)
        With ``"hazard"``: yearly probability of stopping by age band (inclusive bounds).
    replacement_rate : float
        Probability that a departure is replaced.
    replacement_rates : dict
        Overrides of ``replacement_rate`` by the zoning class of the departure's commune the
        year before, keyed by class code with ``-`` written ``_`` (``sous_dense``,
        ``intermediaire`` for GPs); see :meth:`rate_by_class`.
    replacement_delay, replacement_age, replacement_activity
        Vacancy in years, successor's age, successor's activity (``None``: default).
    installations : tuple of Installation
        New GPs.
    growth_per_year : float
        Yearly growth of every commune's demand.
    path : str
        The file the scenario came from.
    """

    name: str
    start_year: int | None
    horizon: int
    retirement_model: str = "none"
    retirement_age: float = 65.0
    hazard: tuple[tuple[float, float, float], ...] = ()
    retirements_per_year: int = 0
    replacement_rate: float = 0.0
    replacement_rates: dict = field(default_factory=dict)
    replacement_delay: int = 0
    replacement_age: float = 35.0
    replacement_activity: float | None = None
    installations: tuple[Installation, ...] = ()
    growth_per_year: float = 0.0
    description: str = ""
    title: str = ""
    path: str = "<memory>"
    where: KeyLines | None = field(default=None, repr=False, compare=False)

    def years(self, data_year: int | None = None) -> list[int]:
        """Year 0 (the data year, observed) then the simulated years.

        Parameters
        ----------
        data_year : int, optional
            The data year (default: the scenario's ``start_year``).

        Raises
        ------
        InputError
            When the scenario names a start year other than ``data_year``, or neither is
            known.
        """
        start = self.start_for(data_year)
        return list(range(start, start + self.horizon + 1))

    def start_for(self, data_year: int | None) -> int:
        """The year 0 of a run on data of ``data_year`` (see :meth:`years`)."""
        if data_year is None:
            if self.start_year is None:
                raise InputError("the scenario has no start_year: give the data year",
                                 path=self.path, key="scenario.start_year")
            return int(self.start_year)
        if self.start_year is not None and int(self.start_year) != int(data_year):
            raise self.error(
                f"the scenario starts in {self.start_year} but the data describe {data_year}: "
                f"ages and supply are those of {data_year}; set start_year = {data_year} or "
                "remove start_year", "scenario", "start_year")
        for k, inst in enumerate(self.installations):
            if not int(data_year) < inst.year <= int(data_year) + self.horizon:
                raise self.error(f"installation year {inst.year} is outside the simulated years "
                                 f"{int(data_year) + 1}-{int(data_year) + self.horizon}",
                                 "installation", "year", k)
        return int(data_year)

    def error(self, message: str, table: str | None, key: str | None = None,
              occurrence: int = 0) -> InputError:
        """An InputError about ``key`` of ``table`` in the scenario's file, with its line
        (for checks that need the data, made after parsing)."""
        return _key_error(self.path, self.where, message, table, key, occurrence)

    @property
    def label(self) -> str:
        """The French title, or the name."""
        return self.title or self.name

    def rate_by_class(self, codes) -> list[float]:
        """Replacement probability of each zoning class code (in the order given).

        Raises
        ------
        InputError
            When the scenario names a class that is not among ``codes``.
        """
        keys = {c.replace("-", "_"): c for c in codes}
        unknown = sorted(set(self.replacement_rates) - set(keys))
        if unknown:
            raise self.error(f"rate_{unknown[0]} names no zoning class of this profession; "
                             f"expected one of {', '.join('rate_' + k for k in keys)}",
                             "replacement", f"rate_{unknown[0]}")
        return [self.replacement_rates.get(k, self.replacement_rate) for k in keys]

    def hazard_at(self, ages):
        """Yearly probability of stopping at each age (0 outside every band)."""
        import numpy as np

        ages = np.asarray(ages, dtype=float)
        p = np.zeros(ages.shape)
        for lo, hi, prob in self.hazard:
            p = np.where((ages >= lo) & (ages <= hi), prob, p)
        return p


_TOP_KEYS = {"scenario", "retirement", "replacement", "installation", "population"}
_SCENARIO_KEYS = {"name", "titre", "description", "start_year", "horizon"}
_RETIREMENT_KEYS = {"model", "age", "hazard", "per_year"}
_REPLACEMENT_KEYS = {"rate", "delay_years", "age", "activity"}
_INSTALL_KEYS = {"commune", "lon", "lat", "gps", "year", "activity", "age", "label"}
_POPULATION_KEYS = {"growth_per_year"}


class _Ctx:
    """The file being parsed, so that errors can name a line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.where = KeyLines(text)

    def error(self, message: str, table: str | None, key: str | None = None,
              occurrence: int = 0) -> InputError:
        return _key_error(self.path, self.where, message, table, key, occurrence)


def _key_error(path: str, where: KeyLines | None, message: str, table: str | None,
               key: str | None, occurrence: int) -> InputError:
    full = ".".join(p for p in (table, key) if p)
    if table == "installation":
        full = f"installation[{occurrence}]" + (f".{key}" if key else "")
    line = None if where is None else where.line_of(table, key, occurrence)
    return InputError(message, path=path, line=line, key=full or None)


def _short(value: object) -> str:
    """A value as TOML gave it, cut to fit a one-line message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown(ctx: _Ctx, table: dict, allowed: set, where: str, occurrence: int = 0) -> None:
    for key in table:
        if key not in allowed and not (where == "replacement" and key.startswith("rate_")):
            raise ctx.error(f"unknown key {_short(key)}; expected one of {sorted(allowed)}", where or None,
                            key, occurrence)


def _number(ctx, table, key, where, *, default=None, lo=-math.inf, hi=math.inf, integer=False,
            occurrence=0, required=False):
    if key not in table:
        if required:
            raise ctx.error(f"missing required key {_short(key)}", where, None, occurrence)
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        kind = "an integer" if integer else "a number"
        raise ctx.error(f"expected {kind}, got {_short(value)}", where, key, occurrence)
    if not (lo <= value <= hi) or (isinstance(value, float) and math.isnan(value)):
        raise ctx.error(f"{_short(value)} is out of range; expected a value in [{lo}, {hi}]", where, key, occurrence)
    return value


def _parse_band(ctx, band: str) -> tuple[float, float]:
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)|(\+))\s*", band)
    if not m:
        raise ctx.error(f"age band {_short(band)} must look like '60-64' or '70+'", "retirement.hazard", band)
    lo = float(m.group(1))
    hi = math.inf if m.group(3) else float(m.group(2))
    if hi < lo:
        raise ctx.error(f"age band {_short(band)} ends before it starts", "retirement.hazard", band)
    return lo, hi


def parse_scenario(text: str, path: str = "<memory>") -> Scenario:
    """Validate scenario TOML text.

    Parameters
    ----------
    text : str
        The TOML document.
    path : str
        Its file name, used in error messages.

    Returns
    -------
    Scenario

    Raises
    ------
    InputError
        Naming the file, the line and the key: unknown keys, years out of order, hazards
        outside [0, 1], installations without a place or with both a commune and a point.

    Examples
    --------
    >>> s = parse_scenario('[scenario]\\nname = "x"\\nhorizon = 3\\n')
    >>> s.years(2022)
    [2022, 2023, 2024, 2025]
    """
    ctx = _Ctx(path, text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise InputError(f"not valid TOML ({exc})", path=path,
                         line=int(line.group(1)) if line else None) from None
    _unknown(ctx, doc, _TOP_KEYS, "")
    if "scenario" not in doc or not isinstance(doc["scenario"], dict):
        raise InputError("missing the [scenario] table (name, horizon)", path=path)
    sc = doc["scenario"]
    _unknown(ctx, sc, _SCENARIO_KEYS, "scenario")
    name = sc.get("name", Path(path).stem)
    if not isinstance(name, str):
        raise ctx.error("expected a string", "scenario", "name")
    start = _number(ctx, sc, "start_year", "scenario", integer=True, lo=DATA_YEARS[0], hi=DATA_YEARS[1])
    horizon = _number(ctx, sc, "horizon", "scenario", integer=True, lo=1, hi=100, required=True)
    for text_key in ("titre", "description"):
        if text_key in sc and not isinstance(sc[text_key], str):
            raise ctx.error("expected a string", "scenario", text_key)

    ret = doc.get("retirement", {"model": "none"})
    if not isinstance(ret, dict):
        raise ctx.error(f"expected a [retirement] table, got {_short(ret)}", None, "retirement")
    _unknown(ctx, ret, _RETIREMENT_KEYS, "retirement")
    model = ret.get("model", "none")
    if model not in ("age", "hazard", "count", "none"):
        raise ctx.error(f"unknown retirement model {_short(model)}; expected 'age', 'hazard', 'count' or "
                        "'none'", "retirement", "model")
    per_year = _number(ctx, ret, "per_year", "retirement", default=0, integer=True, lo=0, hi=1_000_000)
    if model == "count" and "per_year" not in ret:
        raise ctx.error("model = 'count' needs per_year (GPs leaving each year)", "retirement", "model")
    age = _number(ctx, ret, "age", "retirement", default=65, lo=40, hi=100)
    hazard: list[tuple[float, float, float]] = []
    if model == "hazard":
        table = ret.get("hazard")
        if not isinstance(table, dict) or not table:
            raise ctx.error("model = 'hazard' needs a [retirement.hazard] table of age bands", "retirement", "model")
        for band in table:
            lo, hi = _parse_band(ctx, band)
            p = _number(ctx, table, band, "retirement.hazard", lo=0.0, hi=1.0)
            hazard.append((lo, hi, float(p)))
        hazard.sort()
        for (a_lo, a_hi, _), (b_lo, _b_hi, _) in zip(hazard, hazard[1:], strict=False):
            if b_lo <= a_hi:
                raise ctx.error(f"age bands overlap ({a_lo:g}-{a_hi:g} and {b_lo:g}-...)", "retirement.hazard", None)
    elif "hazard" in ret:
        raise ctx.error("a hazard table is only read with model = 'hazard'", "retirement", "hazard")

    rep = doc.get("replacement", {})
    if not isinstance(rep, dict):
        raise ctx.error(f"expected a [replacement] table, got {_short(rep)}", None, "replacement")
    _unknown(ctx, rep, _REPLACEMENT_KEYS, "replacement")
    rate = _number(ctx, rep, "rate", "replacement", default=0.0, lo=0.0, hi=1.0)
    # rate_<class> overrides the rate for one zoning class of the profession (its code with
    # "-" written "_": rate_sous_dense); the codes are checked against the profession when
    # the scenario runs, since a scenario file does not name one.
    rates = {key[len("rate_"):]: float(_number(ctx, rep, key, "replacement", lo=0.0, hi=1.0))
             for key in rep if key.startswith("rate_")}
    delay = _number(ctx, rep, "delay_years", "replacement", default=0, integer=True, lo=0, hi=horizon)
    rep_age = _number(ctx, rep, "age", "replacement", default=35, lo=25, hi=80)
    rep_act = _number(ctx, rep, "activity", "replacement", default=None, lo=0, hi=20_000)

    installs = []
    raw = doc.get("installation", [])
    if not isinstance(raw, list) or not all(isinstance(inst, dict) for inst in raw):
        raise ctx.error("use [[installation]] tables (an array of tables), one per "
                        "installation", None, "installation")
    for k, inst in enumerate(raw):
        _unknown(ctx, inst, _INSTALL_KEYS, "installation", k)
        year = _number(ctx, inst, "year", "installation", integer=True, lo=DATA_YEARS[0], hi=DATA_YEARS[1], occurrence=k,
                       required=True)
        gps = _number(ctx, inst, "gps", "installation", default=1, integer=True, lo=1, hi=1000, occurrence=k)
        commune = inst.get("commune")
        has_point = "lon" in inst or "lat" in inst
        if commune is None and not has_point:
            raise ctx.error("an installation needs a commune (INSEE code) or lon/lat", "installation", None, k)
        if commune is not None and has_point:
            raise ctx.error("give either commune or lon/lat, not both", "installation", "commune", k)
        if commune is not None and not isinstance(commune, str):
            raise ctx.error(f"commune must be an INSEE code string like \"2A004\", got {_short(commune)}",
                            "installation", "commune", k)
        if "label" in inst and not isinstance(inst["label"], str):
            raise ctx.error(f"expected a string, got {_short(inst['label'])}", "installation", "label", k)
        lon = lat = None
        if has_point:
            lon = _number(ctx, inst, "lon", "installation", lo=-180, hi=180, occurrence=k, required=True)
            lat = _number(ctx, inst, "lat", "installation", lo=-90, hi=90, occurrence=k, required=True)
        installs.append(Installation(
            year=int(year), gps=int(gps), commune=commune, lon=lon, lat=lat,
            activity=_number(ctx, inst, "activity", "installation", lo=0, hi=20_000, occurrence=k),
            age=float(_number(ctx, inst, "age", "installation", default=40, lo=25, hi=80, occurrence=k)),
            label=str(inst.get("label", commune or f"({lon:.4f}, {lat:.4f})")),
        ))

    pop = doc.get("population", {})
    if not isinstance(pop, dict):
        raise ctx.error(f"expected a [population] table, got {_short(pop)}", None, "population")
    _unknown(ctx, pop, _POPULATION_KEYS, "population")
    growth = _number(ctx, pop, "growth_per_year", "population", default=0.0, lo=-0.2, hi=0.2)

    scenario = Scenario(
        name=name, description=str(sc.get("description", "")), title=str(sc.get("titre", "")),
        start_year=None if start is None else int(start),
        horizon=int(horizon), retirement_model=model, retirement_age=float(age),
        hazard=tuple(hazard), retirements_per_year=int(per_year), replacement_rate=float(rate), replacement_rates=rates,
        replacement_delay=int(delay),
        replacement_age=float(rep_age), replacement_activity=None if rep_act is None else float(rep_act),
        installations=tuple(installs), growth_per_year=float(growth), path=path,
        where=ctx.where,
    )
    if start is not None:
        scenario.start_for(start)  # installation years within the simulated years
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path : str or path-like
        A TOML file, or the name of a shipped scenario (``"retire-at-65"``,
        ``"retirement-hazard"``, ``"new-msp"``).

    Returns
    -------
    Scenario

    Raises
    ------
    InputError
        When the file is missing or invalid (the message names the file, line and key).

    Examples
    --------
    >>> load_scenario("retire-at-65").retirement_model
    'age'
    """
    p = Path(path)
    if not p.exists() and not p.suffix:
        shipped = _SCENARIO_DIR / f"{p.name}.toml"
        if shipped.is_file():
            p = shipped
    if not p.is_file():
        raise InputError("no such scenario file; shipped ones are " +
                         ", ".join(sorted(f.stem for f in _SCENARIO_DIR.glob("*.toml"))), path=p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the scenario ({exc.strerror})", path=p) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # TOML files are UTF-8 by definition (toml.io, "Spec"): say where, not the codec's text.
        raise InputError(f"byte 0x{data[exc.start]:02X} is not UTF-8 text: a scenario is a "
                         "TOML file, which must be saved as UTF-8", path=p,
                         line=data[:exc.start].count(b"\n") + 1) from None
    return parse_scenario(text, str(p))
