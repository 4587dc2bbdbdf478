"""Exceptions the engine raises for bad input.

They subclass the built-in exception a caller would expect (``ValueError``,
``FileNotFoundError``) so that ``except ValueError`` keeps working, and carry the file,
row and column at fault so that the command line can print one clear line.
"""

from __future__ import annotations


class InputError(ValueError):
    """Input data that cannot be used as it is.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    path : str, optional
        The file at fault.
    row : int or str, optional
        The row (1-based line, or an identifier) at fault.
    column : str, optional
        The column or key at fault.
    line : int, optional
        The line of a text file (TOML, CSV) at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        path: object | None = None,
        row: object | None = None,
        column: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        self.line = line
        where = []
        if self.path is not None:
            where.append(self.path + (f":{line}" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"key {column!r}" if line is not None else f"column {column!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class NetworkError(InputError):
    """A road network that cannot be read or routed on."""
