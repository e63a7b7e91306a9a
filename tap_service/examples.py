"""The DALI 1.1 examples document, built from the tables the engine publishes."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from engine.catalog import TableKind, TableManifest


def _example(ident: str, name: str, text: str, query: str, tables: Sequence[str]) -> str:
    refs = "".join(f'<span property="table">{escape(t)}</span> ' for t in tables)
    return (
        f'<div id="{ident}" resource="#{ident}" typeof="example">\n'
        f'<h2 property="name">{escape(name)}</h2>\n<p>{escape(text)} Tables: {refs}</p>\n'
        f'<pre property="query">{escape(query)}</pre>\n</div>\n'
    )


def example_queries(manifests: Sequence[TableManifest]) -> list[tuple[str, str, str, str,
                                                                      list[str]]]:
    """Return (id, name, text, ADQL, tables) for queries that work on these tables."""
    out: list[tuple[str, str, str, str, list[str]]] = []
    positional = [m for m in manifests if m.kind == TableKind.POSITIONAL and m.ra_column
                  and m.dec_column]
    if positional:
        t = positional[0]
        ra, dec = t.ra_column, t.dec_column
        out.append((
            "cone", f"Cone search on {t.name}",
            "Rows within 1 degree of a position (ICRS, degrees).",
            f"SELECT * FROM {t.name}\nWHERE CONTAINS(POINT('ICRS', {ra}, {dec}),\n"
            f"               CIRCLE('ICRS', 190.0, 0.0, 1.0)) = 1", [t.name],
        ))
        out.append((
            "distance", f"Nearest rows to a position in {t.name}",
            "The angular distance of each row to a position, closest first.",
            f"SELECT TOP 10 {ra}, {dec},\n"
            f"       DISTANCE(POINT('ICRS', {ra}, {dec}), POINT('ICRS', 190.0, 0.0)) AS dist\n"
            f"FROM {t.name}\nWHERE CONTAINS(POINT('ICRS', {ra}, {dec}),\n"
            f"               CIRCLE('ICRS', 190.0, 0.0, 2.0)) = 1\nORDER BY dist", [t.name],
        ))
    if manifests:
        m = manifests[0]
        out.append(("top10", f"First rows of {m.name}", "A quick look at a table.",
                    f"SELECT TOP 10 * FROM {m.name}", [m.name]))
        out.append(("count", f"Number of rows in {m.name}", "A count over the whole table.",
                    f"SELECT COUNT(*) AS n FROM {m.name}", [m.name]))
    out.append((
        "columns-per-table", "Number of columns per table",
        "COUNT with GROUP BY, here over TAP_SCHEMA.",
        "SELECT table_name, COUNT(*) AS n_columns\nFROM TAP_SCHEMA.columns\n"
        "GROUP BY table_name\nORDER BY table_name", ["TAP_SCHEMA.columns"],
    ))
    out.append((
        "tap-schema", "Columns of every table",
        "TAP_SCHEMA describes the service's tables and is queryable like any table.",
        "SELECT table_name, column_name, datatype, unit, ucd\nFROM TAP_SCHEMA.columns\n"
        "ORDER BY table_name, column_index", ["TAP_SCHEMA.columns"],
    ))
    return out


def examples_xhtml(manifests: Sequence[TableManifest]) -> str:
    """Return the examples document (XHTML with RDFa, DALI 1.1 §2.3)."""
    body = "".join(_example(*e) for e in example_queries(manifests))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML+RDFa 1.1//EN" '
        '"http://www.w3.org/MarkUp/DTD/xhtml-rdfa-2.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" version="XHTML+RDFa 1.1">\n'
        "<head><title>Example queries</title></head>\n"
        '<body vocab="http://www.ivoa.net/rdf/examples#">\n<h1>Example queries</h1>\n'
        f"{body}</body>\n</html>\n"
    )
