"""Exceptions the engine raises for bad input.

They subclass the built-in exception a caller would expect (``ValueError``,
``FileNotFoundError``) so that ``except ValueError`` keeps working, and carry the file,
row and column at fault so that the command line can print one clear line.
"""

from __future__ import annotations


class InputError(ValueError):
    """Input data that cannot be used as it is.

    The message reads ``FILE, line N, column 'C': what is wrong and what was expected``
    (``key 'K'`` for a TOML key), naming only what is known.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    path : str, optional
        The file at fault.
    row : int or str, optional
        The row at fault, for in-memory tables (a label of the DataFrame's index; the
        engine's readers label rows with their file line).
    column : str, optional
        The column (as named in the file) or argument at fault.
    line : int, optional
        The line of the file at fault, as the user's editor shows it.
    key : str, optional
        The key at fault in a TOML file (``retirement.age``).
    """

    def __init__(
        self,
        message: str,
        *,
        path: object | None = None,
        row: object | None = None,
        column: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        self.line = line
        self.key = key
        self.message = message
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        elif row is not None:
            where.append(f"row {row}")
        if key is not None:
            where.append(f"key {key!r}")
        elif column is not None:
            where.append(f"column {column!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class NetworkError(InputError):
    """A road network that cannot be read or routed on."""


class InputWarning(UserWarning):
    """Input that was used, but only after an assumption the user should know about."""


class FarFromRoadWarning(InputWarning):
    """A point farther than ``settings.max_snap_distance_m`` from any road node."""
