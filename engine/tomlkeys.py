"""Where the tables and keys of a TOML file are, so that an error can name the line.

``tomllib`` gives values, not positions; the engine's TOML files (professions, scenarios) are
flat enough for a line scan: a table's header (``[a.b]``, or the n-th ``[[a]]`` of an array of
tables), then a key below it and before the next header.
"""

from __future__ import annotations

import re

__all__ = ["KeyLines"]


class KeyLines:
    """The lines of a TOML text, searched for tables and keys.

    Parameters
    ----------
    text : str
        The file's text.

    Examples
    --------
    >>> lines = KeyLines("name = 'x'\\n[scenario]\\nhorizon = 3\\n[[installation]]\\nyear = 1\\n")
    >>> lines.line_of("scenario", "horizon"), lines.line_of("installation", "year", 0)
    (3, 5)
    >>> lines.line("scenario.start_year")  # absent key: its table's header
    2
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line_of(self, table: str | None, key: str | None = None,
                occurrence: int = 0) -> int | None:
        """1-based line of ``key`` in ``table`` (its ``occurrence``-th header for an array of
        tables; top level when ``table`` is None), else of the table's header, else None."""
        start = 0
        if table:
            header = re.compile(r"^\s*\[\[?\s*" + re.escape(table).replace(r"\.", r"\s*\.\s*")
                                + r"\s*\]\]?\s*(#.*)?$")
            found = [i for i, line in enumerate(self.lines) if header.match(line)]
            if occurrence >= len(found):
                return None
            start = found[occurrence]
            if key is None:
                return start + 1
        if key is None:
            return None
        keypat = re.compile(r"""^\s*["']?""" + re.escape(str(key)) + r"""["']?\s*=""")
        for i in range(start + (1 if table else 0), len(self.lines)):
            line = self.lines[i]
            if re.match(r"^\s*\[", line):
                break  # the next table: the key is not in this one
            if keypat.match(line):
                return i + 1
        return start + 1 if table else None

    def line(self, dotted: str) -> int | None:
        """:meth:`line_of` for ``"table.key"`` (``"key"`` at the top level)."""
        table, _, key = dotted.rpartition(".")
        return self.line_of(table or None, key)
