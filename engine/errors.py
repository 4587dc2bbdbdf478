"""Exceptions the engine raises for bad input.

They subclass the built-in exception a caller would expect (``ValueError``,
``FileNotFoundError``) so that ``except ValueError`` keeps working, and carry the file,
row and column at fault so that the command line can print one clear line.
"""

from __future__ import annotations


def location(*, path: object | None = None, line: int | None = None, row: object | None = None,
             column: str | None = None, key: str | None = None, part: str | None = None,
             part_kind: str = "sheet", cell: str | None = None) -> str:
    """Where an input problem is, in the one format every message uses.

    ``gps.csv:7, column 'Code commune'`` (a text file and its line as an editor shows it),
    ``gps.xlsx:Feuille2:7, column 'Âge' (cell D7)`` (a workbook, its sheet and row),
    ``communes.gpkg:communes, feature 12`` (a GeoPackage layer), ``s.toml:8, key
    'retirement.age'`` (a TOML key), ``row 3, column 'age'`` (a table in memory).

    Examples
    --------
    >>> location(path="gps.csv", line=7, column="age")
    "gps.csv:7, column 'age'"
    """
    text = "" if path is None else str(path)
    if part is not None and path is not None:
        text += f":{part}"
    if line is not None:
        if part_kind == "layer" and part is not None:
            text += f", feature {line}"
        else:
            text += f":{line}" if text else f"line {line}"
    elif row is not None:
        text += (", " if text else "") + f"row {row}"
    if key is not None:
        text += (", " if text else "") + f"key {key!r}"
    elif column is not None:
        text += (", " if text else "") + f"column {column!r}"
        if cell is not None:
            text += f" (cell {cell})"
    return text


class InputError(ValueError):
    """Input data that cannot be used as it is.

    The message reads ``FILE:LINE, column 'C': what is wrong and what was expected`` (see
    :func:`location` for workbooks, GeoPackages, TOML keys and tables in memory), naming
    only what is known.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    path : str, optional
        The file at fault.
    row : int or str, optional
        The row at fault, for in-memory tables (a label of the DataFrame's index).
    column : str, optional
        The column (as named in the file) or argument at fault.
    line : int, optional
        The line of the file at fault as the user's editor shows it (the row number of
        a workbook, the feature id of a GeoPackage layer).
    key : str, optional
        The key at fault in a TOML file (``retirement.age``).
    part : str, optional
        The sheet of a workbook or the layer of a GeoPackage.
    part_kind : {"sheet", "layer"}
        What ``part`` is.
    cell : str, optional
        The workbook cell (``D7``).
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
        part: str | None = None,
        part_kind: str = "sheet",
        cell: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        self.line = line
        self.key = key
        self.sheet = part
        self.part_kind = part_kind
        self.cell = cell
        self.message = message
        where = location(path=path, line=line, row=row, column=column, key=key, part=part,
                         part_kind=part_kind, cell=cell)
        super().__init__(f"{where}: {message}" if where else message)


class NetworkError(InputError):
    """A road network that cannot be read or routed on."""


class InputWarning(UserWarning):
    """Input that was used, but only after an assumption the user should know about."""


class FarFromRoadWarning(InputWarning):
    """A point farther than ``settings.max_snap_distance_m`` from any road node."""
