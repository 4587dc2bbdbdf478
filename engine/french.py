"""French number formatting for every output (maps, report, spreadsheets, messages).

Thousands are separated by a narrow no-break space, decimals by a comma, as French
typography and French Excel expect.

Examples
--------
>>> fmt_int(334938.0), fmt_dec(2.456), fmt_pct(0.1804)
('334\u202f938', '2,46', '18,0\u202f%')
"""

from __future__ import annotations

import math
import re

import pandas as pd

__all__ = ["COLUMN_LABELS", "column_label", "departement_name", "fmt_dec", "fmt_int", "fmt_pct", "fmt_threshold",
           "plural"]

#: Narrow no-break space (thousands separator and before %).
NNBSP = "\u202f"


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_int(value) -> str:
    """A whole number with French thousands separators; NaN gives ``"–"``.

    Examples
    --------
    >>> fmt_int(1234567)
    '1\u202f234\u202f567'
    """
    if _missing(value) or (isinstance(value, float) and math.isinf(value)):
        return "–"
    return f"{round(float(value)):,d}".replace(",", NNBSP)


def fmt_dec(value, digits: int = 2) -> str:
    """A decimal number in French notation (decimal comma, thousands separators).

    Examples
    --------
    >>> fmt_dec(12345.678, 1)
    '12\u202f345,7'
    """
    if _missing(value) or (isinstance(value, float) and math.isinf(value)):
        return "–"
    text = f"{float(value):,.{digits}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def fmt_pct(share, digits: int = 1) -> str:
    """A share (0-1) as a French percentage: ``0.1804 -> '18,0 %'``.

    Examples
    --------
    >>> fmt_pct(0.5)
    '50,0\u202f%'
    """
    if _missing(share):
        return "–"
    return f"{fmt_dec(100.0 * float(share), digits)}{NNBSP}%"


def fmt_threshold(value) -> str:
    """A threshold as short as exact: ``2.5 -> '2,5'``, ``4.0 -> '4'``.

    Examples
    --------
    >>> fmt_threshold(2.5), fmt_threshold(4.0)
    ('2,5', '4')
    """
    return f"{float(value):g}".replace(".", ",")


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 commune"``, ``"2 communes"`` (French: 0 and 1 are singular).

    Examples
    --------
    >>> plural(0, "commune"), plural(3, "commune")
    ('0 commune', '3 communes')
    """
    word = singular if abs(n) < 2 else (plural_form or singular + "s")
    return f"{fmt_int(n)} {word}"


#: French headers of the columns the engine writes (report tables and spreadsheets).
COLUMN_LABELS = {
    "classe": "Classe", "classe_u65": "Classe (≤ 65 ans)", "classe_modele": "Classe (recalcul)",
    "departement": "Département", "communes": "Communes", "n_communes": "Communes",
    "population": "Population", "pop_totale": "Population",
    "pop_standardisee": "Population standardisée", "apl": "APL", "apl_u65": "APL (≤ 65 ans)",
    "apl_modele": "APL recalculé", "apl_officiel": "APL officiel",
    "apl_u65_officiel": "APL officiel (≤ 65 ans)", "apl_moyen": "APL moyen",
    "apl_mean": "APL moyen", "apl_median": "APL médian", "apl_p10": "APL P10",
    "apl_p90": "APL P90", "share": "Part", "part": "Part",
    "share_population": "Part de la population", "code_commune": "Code INSEE",
    "nom": "Commune", "year": "Année", "annee": "Année", "rang": "Rang", "rank": "Rang",
    "p_deficit": "Probabilité de sous-densité", "gps": "Médecins ajoutés",
    "practitioners": "Praticiens listés", "unlisted": "Praticiens non listés (calibrage)",
    "supply": "Offre (consultations par an)",
    "population_lifted": "Habitants sortis de la sous-densité",
    "gap_closed": "Consultations ajoutées sous le seuil (par an)",
    "apl_before": "APL avant installation",
    "population_in_deficit": "Habitants encore en sous-densité",
    "communes_lifted": "Communes sorties de la sous-densité",
    "n_communes_lifted": "Nombre de communes sorties",
    "pop_deficit_mean": "Population en déficit", "pop_deficit_p10": "P10",
    "pop_deficit_p90": "P90", "share_deficit_mean": "Part en déficit",
    "communes_deficit": "Communes en déficit",
    "communes_new_deficit": "Nouvelles communes en déficit",
    "active_practitioners_mean": "Praticiens actifs", "mean_apl": "APL moyen",
    "apl_forecast": "APL médian projeté", "apl_forecast_p10": "APL projeté P10",
    "apl_forecast_p90": "APL projeté P90", "p_deficit_forecast": "Probabilité de sous-densité",
    "annee_deficit": "Passage sous le seuil", "zone": "Code du territoire",
    "zone_nom": "Territoire", "pop_deficit": "Habitants en commune en déficit",
    "share_deficit": "Part en déficit", "apl_year0": "APL année 0",
    "population_covered": "Population couverte", "optimal": "Optimal",
}

_PER_YEAR = re.compile(r"(?P<stem>[a-z_0-9]+?)_(?P<year>(19|20)\d\d)")


def column_label(col: str) -> str:
    """The French header of a column: ``"apl_median_2027"`` → ``"APL médian 2027"``.

    Examples
    --------
    >>> column_label("p_deficit"), column_label("apl_p90_2032")
    ('Probabilité de sous-densité', 'APL P90 2032')
    """
    name = str(col)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    m = _PER_YEAR.fullmatch(name)
    if m and m.group("stem") in COLUMN_LABELS:
        return f"{COLUMN_LABELS[m.group('stem')]} {m.group('year')}"
    if "_" not in name:
        return name  # already a header ("APL médian 2032")
    return name.replace("_", " ").capitalize()


_DEPARTEMENTS: dict[str, str] | None = None


def departement_name(code: str) -> str | None:
    """The name of a French département (INSEE code officiel géographique), or ``None``.

    Examples
    --------
    >>> departement_name("2A"), departement_name("974"), departement_name("99")
    ('Corse-du-Sud', 'La Réunion', None)
    """
    global _DEPARTEMENTS
    if _DEPARTEMENTS is None:
        import csv
        from importlib import resources

        text = resources.files("engine").joinpath("data", "departements.csv").read_text("utf-8")
        _DEPARTEMENTS = {row["code"]: row["nom"] for row in csv.DictReader(text.splitlines())}
    return _DEPARTEMENTS.get(str(code))
