"""HTML views of catalogs and tables for Jupyter (``_repr_html_``), escaped throughout."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qserv_access.catalog import TableInfo

__all__ = ["catalog_html", "table_info_html"]

_STYLE = ("<style>.qsa-t td,.qsa-t th{text-align:left;padding:2px 8px;vertical-align:top}"
          ".qsa-t th{border-bottom:1px solid #999}.qsa-muted{color:#777}</style>")


def _rows(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table class='qsa-t'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _count(value: int | None) -> str:
    return "<span class='qsa-muted'>unknown</span>" if value is None else f"{value:,}"


def coverage_text(info: TableInfo) -> str:
    """Return the sky coverage of a table in words, e.g. ``41.3 % of the sky, 212 chunks``."""
    if not info.positional:
        return "not positional"
    if info.sky_fraction is None:
        return "positional"
    parts = "" if info.partitions is None else f", {info.partitions:,} chunks"
    return f"{100 * info.sky_fraction:.3g} % of the sky{parts}"


def catalog_html(title: str, infos: Sequence[TableInfo]) -> str:
    """Return a catalog's tables with row counts, positions, ids and sky coverage."""
    rows = []
    for info in infos:
        position = (f"{escape(info.ra_column or '')}, {escape(info.dec_column or '')}"
                    if info.positional else "")
        rows.append([f"<b>{escape(info.name)}</b>", _count(info.nrows), str(len(info.columns)),
                     position, escape(info.id_column or ""), escape(coverage_text(info)),
                     escape(info.description)])
    header = ["table", "rows", "columns", "position", "id", "sky coverage", "description"]
    return (f"{_STYLE}<div><b>{escape(title)}</b> · {len(infos)} tables"
            f"{_rows(header, rows)}</div>")


def table_info_html(info: TableInfo) -> str:
    """Return one table's columns with types, units, UCDs and descriptions."""
    marks = {info.ra_column: "ra", info.dec_column: "dec", info.id_column: "id"}
    rows = [[f"<b>{escape(c.name)}</b>", escape(c.datatype), escape(c.unit), escape(c.ucd),
             escape(c.description), escape(marks.get(c.name) or "")] for c in info.columns]
    summary = (f"{_count(info.nrows)} rows · {len(info.columns)} columns · "
               f"{escape(coverage_text(info))}")
    description = f"<div>{escape(info.description)}</div>" if info.description else ""
    return (f"{_STYLE}<div><b>{escape(info.name)}</b> · {summary}{description}"
            f"{_rows(['name', 'type', 'unit', 'ucd', 'description', 'role'], rows)}</div>")
