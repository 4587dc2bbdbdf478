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

import pandas as pd

__all__ = ["fmt_dec", "fmt_int", "fmt_pct", "fmt_threshold", "plural"]

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
