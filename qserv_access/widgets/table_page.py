"""One page of an astropy Table as HTML, with units in the headers, and error boxes."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["column_header", "error_html", "page_html", "page_text"]

FLOAT_FORMATS = {8: "{:.10g}", 4: "{:.7g}", 2: "{:.4g}"}
"""Floats without a format of their own, by size in bytes: a float64 to 10 significant
digits (a position in degrees to about 0.4 mas at RA 150), not the 17 of its repr; a
float32 to the 7 it holds (not ``-1.087599993`` for -1.0876)."""

_STYLE = ("<style>.qsa-page td,.qsa-page th{text-align:right;padding:2px 8px}"
          ".qsa-page th{border-bottom:1px solid #999}.qsa-page .qsa-unit{color:#777;"
          "font-weight:normal}</style>")


def column_header(table: Table, name: str) -> tuple[str, str]:
    """Return a column's ``(name, unit)``; the unit is ``""`` when it has none."""
    unit = table[name].unit
    return name, ("" if unit is None else unit.to_string())


def _cells(table: Table, name: str, start: int, stop: int) -> list[str]:
    column = table[name][start:stop]
    kind = getattr(column.dtype, "kind", "O")
    if kind == "f" and not column.info.format:
        mask = np.ma.getmaskarray(column)
        values = np.asarray(np.ma.getdata(column), dtype=float)
        fmt = FLOAT_FORMATS.get(column.dtype.itemsize, FLOAT_FORMATS[8])
        return ["--" if masked else fmt.format(v) for v, masked in zip(values, mask,
                                                                       strict=True)]
    lines = column.pformat(max_lines=-1, show_name=False, show_unit=False, show_dtype=False)
    return [line.strip() for line in lines]


def page_rows(table: Table, start: int, stop: int) -> list[list[str]]:
    """Return the formatted cells of rows ``start`` to ``stop`` (exclusive), row by row."""
    stop = min(stop, len(table))
    if stop <= start:
        return []
    columns = [_cells(table, name, start, stop) for name in table.colnames]
    return [list(row) for row in zip(*columns, strict=True)]


def page_html(table: Table, start: int, stop: int) -> str:
    """Return rows ``start`` to ``stop`` of ``table`` as an HTML table, units under names."""
    head = "".join(
        f"<th>{escape(name)}" + (f"<br><span class='qsa-unit'>[{escape(unit)}]</span>"
                                 if unit else "") + "</th>"
        for name, unit in (column_header(table, n) for n in table.colnames))
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in page_rows(table, start, stop))
    return (f"{_STYLE}<table class='qsa-page'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def page_text(table: Table, start: int, stop: int) -> str:
    """Return rows ``start`` to ``stop`` as aligned plain text, ``name [unit]`` headers."""
    header = [f"{n} [{u}]" if u else n for n, u in (column_header(table, c)
                                                    for c in table.colnames)]
    rows = [header, *page_rows(table, start, stop)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
                     for row in rows)


def error_html(kind: str, message: str) -> str:
    """Return an error's class name and message (no traceback) in a red box."""
    return ("<div class='qsa-error' style='border-left:4px solid #c62828;padding:4px 8px;"
            "background:#fdecea'><b style='color:#c62828'>" + escape(kind) + "</b>"
            "<pre style='white-space:pre-wrap;margin:4px 0 0 0'>" + escape(message)
            + "</pre></div>")
