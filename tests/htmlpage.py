"""A small HTML reader for the report tests: text by element id, images, tables' cells."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """Text by element id, the images' sources and the tables' cells, of the report."""

    _VOID = {"img", "br", "meta", "link", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.images, self.tables = [], {}, {}, {}
        self.table, self.row = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and "id" in a:
            self.images[a["id"]] = a.get("src", "")
        if tag == "table":
            self.table = a.get("id")
            self.tables.setdefault(self.table, [])
        if tag == "tr" and self.table is not None:
            self.row = []
            self.tables[self.table].append(self.row)
        if tag in ("td", "th") and self.row is not None:
            self.row.append("")
        if tag not in self._VOID:
            self.stack.append(a.get("id"))

    def handle_endtag(self, tag):
        if tag == "table":
            self.table, self.row = None, None
        if tag not in self._VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for ident in self.stack:
            if ident:
                self.text[ident] = self.text.get(ident, "") + data
        if self.row:
            self.row[-1] += data


def read_page(path) -> Page:
    """Parse an HTML file."""
    from pathlib import Path

    page = Page()
    page.feed(Path(path).read_text("utf-8"))
    return page
