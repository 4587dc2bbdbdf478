"""Professions as data: what the APL of one kind of practitioner is made of.

A :class:`Profession` gathers everything that differs from one kind of practitioner to
another: its names and the BPE codes that count it, the activity counted per practitioner
(bounds and exceptions, the default for an unknown activity and how it was derived), the
age weights of the standardised population per year, the distance decay, the zoning
thresholds with their class codes, French labels and colours, the unit of the indicator, the
age of the "younger practitioners only" variant and the age pyramid used to impute ages.

The shipped definitions live in TOML files inside the package (``engine/apl/professions/``);
:func:`profession` returns one by name (``"gp"``, general practitioners: the DREES APL) or
reads any other file, and :meth:`Profession.from_file` reads a file given by path. The file
format is documented in ``docs/architecture.md``; ``engine/apl/professions/gp.toml`` is the
reference example, with the source of every official value.

Examples
--------
>>> gp = profession("gp")
>>> gp.bpe_codes, gp.zoning.deficit_threshold
(('D201',), 2.5)
>>> gp.zoning.codes
('sous-dense', 'intermediaire', 'hors-zone')
"""

from __future__ import annotations

import math
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from engine.apl.decay import Decay, step
from engine.errors import InputError
from engine.tomlkeys import KeyLines

__all__ = ["ActivityRule", "Profession", "Zoning", "ZoningClass", "profession", "shipped_professions"]

_SHIPPED = "professions"
_MISSING = object()


@dataclass(frozen=True)
class ZoningClass:
    """One zoning class: code (machine), French label, colour (``#rrggbb``)."""

    code: str
    label: str
    color: str


@dataclass(frozen=True)
class Zoning:
    """Thresholds and classes of a zoning, from the least to the best served.

    ``len(classes) == len(thresholds) + 1``: an APL below ``thresholds[0]`` is in
    ``classes[0]`` (the deficit class), ``thresholds[k-1] <= apl < thresholds[k]`` in
    ``classes[k]``. The computations on a zoning (classify, summaries, zones) are in
    :mod:`engine.apl.zoning`.

    Attributes
    ----------
    thresholds : tuple of float
        Increasing thresholds.
    classes : tuple of ZoningClass
    source : str
        Where the thresholds come from.
    """

    thresholds: tuple[float, ...]
    classes: tuple[ZoningClass, ...]
    source: str = ""

    @property
    def deficit_threshold(self) -> float:
        """The threshold under which a commune is in deficit (the first one)."""
        return self.thresholds[0]

    @property
    def codes(self) -> tuple[str, ...]:
        """Class codes, from the least to the best served."""
        return tuple(c.code for c in self.classes)

    @property
    def labels(self) -> tuple[str, ...]:
        """French class labels, in the same order."""
        return tuple(c.label for c in self.classes)

    @property
    def colors(self) -> tuple[str, ...]:
        """Class colours, in the same order."""
        return tuple(c.color for c in self.classes)

    @property
    def deficit(self) -> ZoningClass:
        """The deficit class (``classes[0]``)."""
        return self.classes[0]


@dataclass(frozen=True)
class ActivityRule:
    """How the activity of one practitioner is counted.

    Attributes
    ----------
    upper : tuple of float
        Inclusive upper bound of each interval but the last (``inf`` for the last).
    counted : tuple of float
        What each interval counts; ``nan`` means the activity as it is.
    no_activity_previous_year : float or None
        Activity imputed to a practitioner with no liberal activity the previous year
        (``None``: no such rule, the activity is counted as given).
    health_centre_bounds : bool
        Whether the bounds apply to health-centre practitioners.
    default : float
        Activity of a practitioner whose activity is unknown (before the bounds).
    default_status, default_derivation : str
        Whether ``default`` is official or an assumption, and how it was obtained.
    """

    upper: tuple[float, ...]
    counted: tuple[float, ...]
    no_activity_previous_year: float | None
    health_centre_bounds: bool
    default: float
    default_status: str = "assumption"
    default_derivation: str = ""


@dataclass(frozen=True, eq=False)
class Profession:
    """The definition of one kind of practitioner for the APL (see the module notes).

    Build one with :func:`profession` or :meth:`from_file`; fields are read-only.

    Attributes
    ----------
    name : str
        Short identifier (``"gp"``).
    label, label_singular : str
        French names, plural and singular (``"médecins généralistes"``).
    bpe_codes : tuple of str
        INSEE BPE codes counting these practitioners (``("D201",)``).
    aliases : frozenset of str
        Normalised values accepted in a roster's ``profession`` column (see :meth:`matches`).
    indicator, unit, unit_short : str
        Name and unit of the indicator, in French.
    activity : ActivityRule
        Counted activity per practitioner.
    demand_basis : {"standardised", "total"}
        Demand is the population standardised by age (``bands`` and ``age_weights``) or the
        total population.
    bands : tuple of str
        Age-band names of the standardised population.
    age_weights : dict of int to numpy.ndarray
        Weight of each band, per data year.
    decay : Decay
        Travel time to catchment weight.
    within_commune_minutes : float
        Travel time inside a commune.
    zoning : Zoning
        Thresholds and classes.
    variant_max_age : float or None
        Age of the official "younger practitioners only" variant (65 for GPs).
    age_pyramid : tuple of (int, int, float)
        ``(first age, last age, share)`` bands used to impute ages; may be empty.
    age_pyramid_status, age_pyramid_derivation : str
    sources : dict
        Free-text sources of the definition (``profession``, ``zoning`` ...).
    source : pathlib.Path
        The file this definition was read from.
    """

    name: str
    label: str
    label_singular: str
    bpe_codes: tuple[str, ...]
    aliases: frozenset[str]
    indicator: str
    unit: str
    unit_short: str
    activity: ActivityRule
    demand_basis: str
    bands: tuple[str, ...]
    age_weights: dict[int, np.ndarray] = field(repr=False)
    decay: Decay = field(repr=False)
    within_commune_minutes: float
    zoning: Zoning
    variant_max_age: float | None
    age_pyramid: tuple[tuple[int, int, float], ...] = field(repr=False)
    age_pyramid_status: str = ""
    age_pyramid_derivation: str = ""
    sources: dict = field(default_factory=dict, repr=False)
    source: Path = field(default=Path(), repr=False)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Profession:
        """Read a profession definition (TOML).

        Parameters
        ----------
        path : path-like
            The TOML file (format: ``docs/architecture.md``, example: the shipped
            ``engine/apl/professions/gp.toml``).

        Returns
        -------
        Profession

        Raises
        ------
        InputError
            Naming the file, the line and the key at fault.

        Examples
        --------
        >>> p = Profession.from_file(profession("gp").source)
        >>> p.name
        'gp'
        """
        path = Path(path)
        if not path.is_file():
            raise InputError("no such profession file (give a shipped name such as 'gp' or a "
                             "TOML file)", path=path)
        text = path.read_bytes().decode("utf-8", errors="replace")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            raise InputError(f"not a valid TOML file ({exc})", path=path, line=line) from None
        return _build(data, path, text)

    def matches(self, value: object) -> bool:
        """Whether a roster's ``profession`` value names this profession.

        Case, accents, spaces, hyphens and underscores are ignored.

        Examples
        --------
        >>> profession("gp").matches("Médecin généraliste")
        True
        """
        return _normalise(value) in self.aliases

    def age_weights_for(self, year: int) -> np.ndarray:
        """The band weights of data ``year`` (standardised demand only).

        Raises
        ------
        InputError
            When the definition has no weights for that year (the message lists the years).
        """
        try:
            return self.age_weights[int(year)]
        except (KeyError, TypeError, ValueError):
            years = ", ".join(str(y) for y in self.data_years)
            raise InputError(f"the {self.label} definition has demand (age) weights for "
                             f"{years} only ({self.source.name}), not for {year!r}",
                             path=self.source, key="demand.weights") from None

    @property
    def data_years(self) -> tuple[int, ...]:
        """Years with age weights."""
        return tuple(sorted(self.age_weights))

    def __repr__(self) -> str:
        return (f"Profession({self.name!r}, {self.label!r}, bpe={list(self.bpe_codes)}, "
                f"thresholds={list(self.zoning.thresholds)}, source={self.source.name!r})")


def shipped_professions() -> tuple[str, ...]:
    """Names of the profession definitions shipped with the package.

    Examples
    --------
    >>> "gp" in shipped_professions()
    True
    """
    folder = resources.files("engine.apl").joinpath(_SHIPPED)
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def profession(name_or_path: str | os.PathLike | Profession = "gp") -> Profession:
    """A profession definition: a shipped one by name, or any TOML file by path.

    Parameters
    ----------
    name_or_path : str, path-like or Profession
        ``"gp"`` (general practitioners, the DREES APL; the default everywhere), the path of
        a TOML file, or a :class:`Profession` (returned as is).

    Returns
    -------
    Profession
        Cached: the same object for the same name or file.

    Raises
    ------
    InputError
        For an unknown name (listing the shipped ones) or a bad file.

    Examples
    --------
    >>> profession().label
    'médecins généralistes'
    """
    if isinstance(name_or_path, Profession):
        return name_or_path
    text = os.fspath(name_or_path)
    if text in shipped_professions():
        return _shipped(text)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".toml" or path.exists():
        return _from_file_cached(str(path.resolve()), _mtime(path))
    raise InputError(f"unknown profession {text!r}: give one of {', '.join(shipped_professions())} "
                     "or a TOML definition file", column="profession")


@lru_cache(maxsize=8)
def _shipped(name: str) -> Profession:
    ref = resources.files("engine.apl").joinpath(_SHIPPED, f"{name}.toml")
    with resources.as_file(ref) as path:
        return Profession.from_file(path)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@lru_cache(maxsize=16)
def _from_file_cached(path: str, mtime: float) -> Profession:
    return Profession.from_file(path)


# --------------------------------------------------------------------------- parsing


def _normalise(value: object) -> str:
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


class _Doc:
    """Typed access to the TOML tables, with the line of each key for error messages."""

    def __init__(self, data: dict, path: Path, text: str) -> None:
        self.data = data
        self.path = path
        self.where = KeyLines(text)

    def error(self, dotted: str, message: str) -> InputError:
        return InputError(message, path=self.path, line=self.where.line(dotted), key=dotted)

    def get(self, dotted: str, kind: type | tuple[type, ...], *, default: Any = _MISSING) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is not _MISSING:
                    return default
                raise self.error(dotted, "missing key")
            node = node[part]
        kinds = _as_tuple(kind)
        if not isinstance(node, kinds) or (isinstance(node, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.error(dotted, f"expected {names}, got {node!r}")
        return node

    def number(self, dotted: str, *, default: Any = _MISSING) -> Any:
        value = self.get(dotted, (int, float), default=_MISSING if default is _MISSING else None)
        if value is None:
            return default
        v = float(value)
        if not (math.isfinite(v) and v >= 0):
            raise self.error(dotted, f"expected a finite number >= 0, got {value!r}")
        return v


def _as_tuple(kind) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _build(data: dict, path: Path, text: str) -> Profession:
    doc = _Doc(data, path, text)
    name = doc.get("profession.name", str).strip()
    if not re.fullmatch(r"[a-z][a-z0-9_\-]*", name):
        raise doc.error("profession.name", f"expected a short lower-case identifier, got {name!r}")
    label = doc.get("profession.label", str)
    codes = doc.get("profession.bpe_codes", list, default=[])
    if not all(isinstance(c, str) and c for c in codes):
        raise doc.error("profession.bpe_codes", f"expected a list of BPE codes, got {codes!r}")
    aliases = doc.get("profession.aliases", list, default=[])
    alias_set = frozenset(_normalise(a) for a in [name, label, *aliases, *codes])

    activity = _activity(doc)
    basis = doc.get("demand.population", str, default="standardised")
    if basis not in ("standardised", "total"):
        raise doc.error("demand.population", f"expected \"standardised\" or \"total\", got {basis!r}")
    standardised = basis == "standardised"
    bands = tuple(doc.get("demand.bands", list, default=[] if not standardised else _MISSING))
    weights: dict[int, np.ndarray] = {}
    for year, values in doc.get("demand.weights", dict, default={}).items():
        key = f"demand.weights.{year}"
        if not re.fullmatch(r"\d{4}", str(year)):
            raise doc.error(key, f"expected a year such as 2022, got {year!r}")
        if (not isinstance(values, list) or len(values) != len(bands)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
            raise doc.error(key, f"expected {len(bands)} numbers (one per band of demand.bands)")
        arr = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(arr)) or (arr < 0).any():
            raise doc.error(key, "weights must be finite and non-negative")
        weights[int(year)] = arr
    if standardised and not weights:
        raise doc.error("demand.weights", "expected the weights of at least one year")

    breaks = doc.get("decay.breaks", list)
    dweights = doc.get("decay.weights", list)
    try:
        decay = step(breaks, dweights)
    except InputError as exc:
        raise doc.error("decay.breaks", str(exc)) from None
    within = doc.number("decay.within_commune_minutes", default=0.0)

    thresholds = doc.get("zoning.thresholds", list)
    if (not thresholds or not all(isinstance(t, (int, float)) for t in thresholds)
            or any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False))):
        raise doc.error("zoning.thresholds", f"expected increasing numbers, got {thresholds!r}")
    classes = []
    for k, entry in enumerate(doc.get("zoning.classes", list)):
        if not isinstance(entry, dict) or not {"code", "label", "color"} <= set(entry):
            raise doc.error("zoning.classes", f"class {k + 1}: expected code, label and color")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", str(entry["color"])):
            raise doc.error("zoning.classes", f"class {k + 1}: color must be #rrggbb, got "
                                              f"{entry['color']!r}")
        classes.append(ZoningClass(str(entry["code"]), str(entry["label"]), str(entry["color"])))
    if len(classes) != len(thresholds) + 1:
        raise doc.error("zoning.classes", f"expected {len(thresholds) + 1} classes for "
                                          f"{len(thresholds)} thresholds, got {len(classes)}")
    if len({c.code for c in classes}) != len(classes):
        raise doc.error("zoning.classes", "class codes must be distinct")
    zoning = Zoning(tuple(float(t) for t in thresholds), tuple(classes),
                    doc.get("zoning.source", str, default=""))

    max_age = doc.number("variants.max_age", default=None)
    pyramid = []
    for k, row in enumerate(doc.get("ages.pyramid", list, default=[])):
        if (not isinstance(row, list) or len(row) != 3 or not all(isinstance(v, (int, float))
                                                                  for v in row)):
            raise doc.error("ages.pyramid", f"band {k + 1}: expected [first age, last age, share]")
        lo, hi, share = int(row[0]), int(row[1]), float(row[2])
        if not (0 <= lo <= hi <= 120 and 0 <= share <= 1):
            raise doc.error("ages.pyramid", f"band {k + 1}: expected 0 <= first <= last <= 120 "
                                            f"and a share in [0, 1], got {row!r}")
        pyramid.append((lo, hi, share))
    if pyramid and abs(sum(p[2] for p in pyramid) - 1.0) > 1e-6:
        raise doc.error("ages.pyramid", f"shares must sum to 1, got {sum(p[2] for p in pyramid):g}")

    prof = data.get("profession", {})
    return Profession(
        name=name, label=label,
        label_singular=doc.get("profession.label_singular", str, default=label),
        bpe_codes=tuple(codes), aliases=alias_set,
        indicator=doc.get("profession.indicator", str, default=f"APL ({label})"),
        unit=doc.get("profession.unit", str, default=""),
        unit_short=doc.get("profession.unit_short", str, default=""),
        activity=activity, demand_basis=basis, bands=bands, age_weights=weights, decay=decay,
        within_commune_minutes=within, zoning=zoning, variant_max_age=max_age,
        age_pyramid=tuple(pyramid),
        age_pyramid_status=doc.get("ages.status", str, default=""),
        age_pyramid_derivation=doc.get("ages.derivation", str, default=""),
        sources={"profession": prof.get("source", ""), "zoning": zoning.source},
        source=path,
    )


def _activity(doc: _Doc) -> ActivityRule:
    upper, counted = [], []
    entries = doc.get("activity.bounds", list, default=[])
    previous = -math.inf
    for k, entry in enumerate(entries):
        last = k == len(entries) - 1
        if not isinstance(entry, dict) or "counted" not in entry:
            raise doc.error("activity.bounds", f"interval {k + 1}: expected from, to and counted")
        to = entry.get("to")
        if last and to is not None:
            raise doc.error("activity.bounds", "the last interval must have no 'to' (open above)")
        if not last and not isinstance(to, (int, float)):
            raise doc.error("activity.bounds", f"interval {k + 1}: expected a number 'to'")
        hi = math.inf if last else float(to)
        if hi <= previous:
            raise doc.error("activity.bounds", f"interval {k + 1}: bounds must increase")
        previous = hi
        value = entry["counted"]
        if value == "actual":
            counted.append(math.nan)
        elif isinstance(value, (int, float)) and value >= 0:
            counted.append(float(value))
        else:
            raise doc.error("activity.bounds", f"interval {k + 1}: counted must be a number >= 0 "
                                               f"or \"actual\", got {value!r}")
        upper.append(hi)
    if not entries:
        upper, counted = [math.inf], [math.nan]
    return ActivityRule(
        upper=tuple(upper), counted=tuple(counted),
        no_activity_previous_year=doc.number("activity.no_activity_previous_year", default=None),
        health_centre_bounds=doc.get("activity.health_centre_bounds", bool, default=True),
        default=doc.number("activity.default.value"),
        default_status=doc.get("activity.default.status", str, default="assumption"),
        default_derivation=doc.get("activity.default.derivation", str, default=""),
    )
