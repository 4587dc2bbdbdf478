"""Input validation shared by every layer (private): one place for the checks and their messages.

Each function converts a user value to what the computation needs, or raises
:class:`engine.errors.InputError` saying which argument (``column``), which entry, what was
given (as the user would write it, never a numpy repr) and what was expected.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np

from engine.errors import InputError


def show(value: object) -> str:
    """A value as a user would write it: ``3.5``, ``inf``, ``'abc'`` (no ``np.float64(...)``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return repr(v) if math.isfinite(v) else str(v)
    return repr(value) if isinstance(value, str) else str(value)


#: The years a data year, a scenario's start or an installation may be (the engine's bounds
#: on plausible inputs, not an official range).
DATA_YEARS = (1990, 2100)


def finite_vector(values, name: str, *, size: int | None = None, non_negative: bool = False,
                  allow_2d: bool = False, what: str | None = None,
                  hint: str | None = None) -> np.ndarray:
    """``values`` as a contiguous float64 array of finite numbers (1-D, or 2-D if allowed).

    Parameters
    ----------
    values : array-like
    name : str
        The argument's name, used in messages and as the error's ``column``.
    size : int, optional
        Required length of the first axis.
    non_negative : bool
        Also refuse negative values.
    allow_2d : bool
        Accept a 2-D array (rows follow the first axis).
    what : str, optional
        What the first axis follows, for the length message (``"the matrix rows"``).
    hint : str, optional
        What to do about a refused value, appended to its message.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers", column=name) from None
    if arr.ndim == 0 or arr.ndim > (2 if allow_2d else 1):
        shape = "1-D or 2-D" if allow_2d else "1-D"
        raise InputError(f"{name} must be {shape}, got shape {arr.shape}", column=name)
    if size is not None and arr.shape[0] != size:
        follows = f" ({what})" if what else ""
        raise InputError(f"{name} has {arr.shape[0]} entries, expected {size}{follows}", column=name)
    bad = ~np.isfinite(arr)
    if non_negative:
        bad |= arr < 0
    if bad.any():
        at = tuple(int(x) for x in np.argwhere(bad)[0])
        expected = "finite and non-negative" if non_negative else "finite"
        where = ", ".join(str(i) for i in at)
        then = f"; {hint}" if hint else ""
        raise InputError(f"{name}[{where}] = {show(arr[at])}; {name} must be {expected} "
                         f"({int(bad.sum())} such value(s)){then}", row=at[0], column=name)
    return np.ascontiguousarray(arr)


def node_indices(values, n_nodes: int, name: str) -> np.ndarray:
    """Node indices of a network with ``n_nodes`` nodes, as int64."""
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D sequence of node indices, got shape {arr.shape}",
                         column=name)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if (np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr))
                and np.all(arr == np.round(arr))):
            arr = arr.astype(np.int64)
        else:
            raise InputError(f"{name} must be integer node indices, got {arr.dtype} values",
                             column=name)
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= n_nodes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{name}[{i}] = {int(arr[i])} is not a node index of this network (0..{n_nodes - 1}); "
            "use network.snap(lon, lat) or network.node_of_osmid(ids) to get indices",
            column=name)
    return arr


def _minutes(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number of minutes, got {show(value)}",
                         column=name) from None
    if not v >= 0:
        raise InputError(f"{name} must be >= 0 minutes, got {show(value)}", column=name)
    return v


def minutes_bound(value, name: str = "max_minutes") -> float | None:
    """A routing bound in minutes (``None``: no bound; ``inf`` is read as no bound)."""
    if value is None:
        return None
    v = _minutes(value, name)
    return None if math.isinf(v) else v


def cutoff_minutes(value, name: str = "cutoff") -> float:
    """A decay's cutoff in minutes (``None``: no cutoff, ``inf``)."""
    return math.inf if value is None else _minutes(value, name)


def increasing_minutes(minutes, name: str = "minutes") -> np.ndarray:
    """A non-empty, strictly increasing sequence of positive minutes (isochrone bands)."""
    values = np.atleast_1d(np.asarray(minutes, dtype=object))
    if values.ndim != 1 or len(values) == 0:
        raise InputError(f"{name} must be a non-empty sequence of travel times in minutes, "
                         f"e.g. (10, 15, 20); got {minutes!r}", column=name)
    try:
        bands = values.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers of minutes, got {minutes!r}", column=name) from None
    if not np.all(np.isfinite(bands)) or np.any(bands <= 0):
        raise InputError(f"{name} must be finite and positive, got {minutes!r}", column=name)
    if np.any(np.diff(bands) <= 0):
        raise InputError(f"{name} must be strictly increasing, e.g. (10, 15, 20); got {minutes!r}",
                         column=name)
    return bands


def positive_number(value, name: str) -> float:
    """A finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {show(value)}",
                         column=name) from None
    if not (v > 0 and math.isfinite(v)):
        raise InputError(f"{name} must be a positive finite number, got {show(value)}", column=name)
    return v


def non_negative_number(value, name: str) -> float:
    """A finite number >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number >= 0, got {show(value)}", column=name) from None
    if not (v >= 0 and math.isfinite(v)):
        raise InputError(f"{name} must be a finite number >= 0, got {show(value)}", column=name)
    return v


def positive_int(value, name: str) -> int:
    """An integer >= 1 (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral,)):
        raise InputError(f"{name} must be a positive integer, got {show(value)}", column=name)
    if int(value) < 1:
        raise InputError(f"{name} must be a positive integer, got {show(value)}", column=name)
    return int(value)


def non_negative_int(value, name: str) -> int:
    """An integer >= 0 (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or int(value) < 0:
        raise InputError(f"{name} must be an integer >= 0, got {show(value)}", column=name)
    return int(value)


def unreached_value(value) -> float:
    """What a measure gives where nothing is in reach: a number, usually 0.0 or ``numpy.nan``."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"unreached must be a number (0.0 or numpy.nan), got {show(value)}",
                         column="unreached") from None


def existing_file(path: str | os.PathLike, what: str = "file", *,
                  error: type[InputError] = InputError) -> Path:
    """``path`` as a Path to an existing regular file (``error`` raised otherwise)."""
    p = Path(path)
    if not p.exists():
        raise error(f"no such {what}", path=p)
    if not p.is_file():
        raise error(f"{what} expected, but this is not a regular file", path=p)
    return p
