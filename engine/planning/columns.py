"""The select list of the top SELECT: ``*`` expanded, result column metadata, units."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlglot import exp

from engine.adql.nodes import value_metadata
from engine.adql.walk import find_all
from engine.catalog import ColumnInfo
from engine.plan import ResultColumn
from engine.planning.resolve import Sources, table_key
from engine.planning.split import has_star, output_name

if TYPE_CHECKING:
    from engine.planning.analysis import TableRef


def expand_stars(select: exp.Select, refs: Sequence[TableRef]) -> None:
    """Replace ``*`` and ``t.*`` in the top select list by the tables' columns (in place)."""
    if not has_star(select):
        return
    joins = select.args.get("joins") or []
    if any(j.args.get("using") or j.args.get("method") == "NATURAL" or
           (j.kind or "").upper() == "NATURAL" for j in joins):
        return
    n_items = 1 + len(joins)
    if len(refs) != n_items:
        return
    items: list[exp.Expr] = []
    for item in select.expressions:
        if isinstance(item, exp.Star):
            targets = list(refs)
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            targets = [r for r in refs if r.alias == item.table.lower()]
        else:
            items.append(item)
            continue
        items.extend(exp.column(col.name, table=ref.node.alias or ref.node.name, quoted=True)
                     for ref in targets for col in ref.source.columns)
    select.set("expressions", items)


def result_columns(tree: exp.Expr, refs: Sequence[TableRef]) -> tuple[ResultColumn, ...]:
    """Return the metadata of each output column (empty when ``*`` could not be expanded)."""
    if not isinstance(tree, exp.Select) or has_star(tree):
        return ()
    out = []
    for index, item in enumerate(tree.expressions):
        name = output_name(item, index)
        body = item.this if isinstance(item, exp.Alias) else item
        info = _column_info(body, refs) if isinstance(body, exp.Column) else None
        if info is not None:
            out.append(ResultColumn(name=name, datatype=info.datatype, unit=info.unit,
                                    ucd=info.ucd, description=info.description))
        else:
            meta = value_metadata(body)
            out.append(ResultColumn(name=name, unit=meta.unit, ucd=meta.ucd, xtype=meta.xtype))
    return tuple(out)


def _column_info(col: exp.Column, refs: Sequence[TableRef]) -> ColumnInfo | None:
    for ref in refs:
        if col.table and col.table.lower() != ref.alias:
            continue
        for info in ref.source.columns:
            if info.name.lower() == col.name.lower():
                return info
    return None


def unit_lookup(tree: exp.Expr, sources: Sources) -> Callable[[exp.Column], str | None]:
    """Return the function giving a column's unit (for ``IN_UNIT``)."""
    aliases = {(table.alias or table.name).lower(): sources[table_key(table)]
               for table in find_all(tree, exp.Table) if table_key(table) in sources}

    def unit(col: exp.Column) -> str | None:
        candidates = [aliases[col.table.lower()]] if col.table.lower() in aliases else list(
            aliases.values())
        for source in candidates:
            for info in source.columns:
                if info.name.lower() == col.name.lower() and info.unit:
                    return info.unit
        return None

    return unit


def strip_schema_qualifiers(tree: exp.Expr) -> None:
    """``schema.table.col`` -> ``table.col`` (bindings alias tables by their bare name)."""
    for col in find_all(tree, exp.Column):
        if col.args.get("db"):
            col.set("db", None)
        if col.args.get("catalog"):
            col.set("catalog", None)
