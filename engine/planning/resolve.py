"""Resolve the tables an ADQL tree names: published, uploaded or TAP_SCHEMA tables."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
from sqlglot import exp

from engine.adql.analyze import table_refs
from engine.adql.walk import find_all
from engine.catalog import ColumnInfo, PublishedTable
from engine.errors import UnknownTableError, suggest
from engine.planning.bind import TableSource

TableKey = tuple[str, str, str]
"""``(schema, table, alias)`` in lower case: one table reference of a query."""

Sources = Mapping[TableKey, TableSource]


def table_key(table: exp.Table) -> TableKey:
    """Return the key of a table reference (the same in the ADQL and the DuckDB tree).

    Examples
    --------
    >>> from engine.adql.parse import parse_adql
    >>> table_key(parse_adql("SELECT * FROM dp1.Object AS O").find(exp.Table))
    ('dp1', 'object', 'o')
    """
    return (table.db.lower(), table.name.lower(), (table.alias or table.name).lower())


def resolve_tables(tree: exp.Expr, tables: Mapping[str, PublishedTable],
                   memory_tables: Mapping[str, tuple[pa.Table, tuple[ColumnInfo, ...]]],
                   uploads: Mapping[str, pa.Table]) -> dict[TableKey, TableSource]:
    """Return the source of every table reference of ``tree``.

    Raises
    ------
    UnknownTableError
        A name is neither published, uploaded nor in TAP_SCHEMA (with close names).
    """
    sources: dict[TableKey, TableSource] = {}
    for table in table_refs(tree):
        name = f"{table.db}.{table.name}".lower() if table.db else table.name.lower()
        sources[table_key(table)] = _source(name, tables, memory_tables, uploads)
    return sources


def _source(name: str, tables: Mapping[str, PublishedTable],
            memory_tables: Mapping[str, tuple[pa.Table, tuple[ColumnInfo, ...]]],
            uploads: Mapping[str, pa.Table]) -> TableSource:
    if name in tables:
        published = tables[name]
        return TableSource(name, published.manifest.columns, published=published)
    if name.startswith("tap_upload."):
        upload = {k.lower(): v for k, v in uploads.items()}.get(name.split(".", 1)[1])
        if upload is not None:
            return TableSource(name, arrow_columns(upload.schema), memory=upload)
    if name in memory_tables:
        data, columns = memory_tables[name]
        return TableSource(name, columns, memory=data)
    known = [*tables, *memory_tables, *(f"tap_upload.{k}" for k in uploads)]
    hint = suggest(name, known)
    if not hint and "." not in name:
        hint = " Table names are qualified by their schema, e.g. " + (
            f"'{next(iter(tables))}'." if tables else "'schema.table'.")
    raise UnknownTableError(f"Unknown table '{name}'.{hint}")


def memory_names(tree: exp.Expr, sources: Sources) -> tuple[str, ...]:
    """Return the names of the in-memory tables (uploads, TAP_SCHEMA) ``tree`` reads."""
    names = {sources[table_key(t)].memory_name for t in find_all(tree, exp.Table)
             if table_key(t) in sources and sources[table_key(t)].memory is not None}
    return tuple(sorted(names))


def arrow_columns(schema: pa.Schema) -> tuple[ColumnInfo, ...]:
    """Return column metadata of an uploaded table (units etc. from its field metadata)."""
    out = []
    for f in schema:
        meta = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        out.append(ColumnInfo(name=f.name, datatype=str(f.type), unit=meta.get("unit", ""),
                              ucd=meta.get("ucd", ""), description=meta.get("description", "")))
    return tuple(out)


def data_dirs(tables: Mapping[str, PublishedTable]) -> list[Path]:
    """Return every directory a query may need to read (for the DuckDB allow-list)."""
    dirs: set[Path] = set()
    for table in tables.values():
        dirs.add(table.root)
        for p in table.manifest.partitions:
            path = Path(p.path)
            if path.is_absolute():
                dirs.add(path.parent.parent.parent)
    return sorted(dirs)
