"""Declination zones: how a cross-match task joins its two sides with a hash join.

Rows get a unit key (the chunk they are matched in) and a zone key ``floor((dec + 90) / h)``
with ``h`` the match radius; one side is tripled onto zones z-1, z, z+1, so every pair
within the radius shares exactly one (unit, zone) key and is found once.
"""

from __future__ import annotations

from sqlglot import exp

from engine.catalog import Partition
from engine.planning.analysis import TableRef
from engine.planning.bind import TableSource, bound_sql, relation

UNIT = "__unit"
ZONE = "__zone"


def zone_key(dec: exp.Expr, height: float) -> exp.Expr:
    """``CAST(FLOOR((dec + 90) / height) AS BIGINT)``: the zone of a declination."""
    shifted = exp.Paren(this=exp.Add(this=dec, expression=exp.Literal.number(90)))
    return exp.cast(exp.func("FLOOR", exp.Div(this=shifted, expression=exp.Literal.number(
        repr(height)))), "BIGINT")


def side_rows(source: TableSource, units: list[tuple[int, list[Partition], bool]],
              ranges: list[tuple[int, int]] | None, dec: str, height: float,
              explode: bool) -> exp.Expr:
    """UNION ALL over units of the rows one side contributes, with unit and zone keys."""
    selects: list[exp.Expr] = []
    dec_col = exp.column(dec, quoted=True)
    for unit, parts, margins in units:
        base = relation(source, parts, ranges=ranges, margins=margins)
        cols = [exp.column(c.name, quoted=True) for c in source.columns]
        unit_item = exp.alias_(exp.Literal.number(unit), UNIT, quoted=True)
        if explode:
            # the zone of the row's own dec, plus the offset of its copy
            zone = exp.Add(this=zone_key(exp.column(dec, table="__r", quoted=True), height),
                           expression=exp.column("__d", table="__o", quoted=True))
            sel = exp.select(*[exp.column(c.name, table="__r", quoted=True)
                               for c in source.columns], unit_item,
                             exp.alias_(zone, ZONE, quoted=True)).from_(
                base.subquery("__r")).join(zone_offsets(), join_type="CROSS")
        else:
            sel = exp.select(*cols, unit_item, exp.alias_(zone_key(dec_col.copy(), height), ZONE,
                                                          quoted=True)).from_(base.subquery("__r"))
        selects.append(sel)
    if not selects:
        return relation(source, [], extra=[])
    union: exp.Expr = selects[0]
    for part in selects[1:]:
        union = exp.union(union, part, distinct=False)
    return union


def with_unit_keys(partial: exp.Select, a: TableRef, b: TableRef) -> exp.Select:
    """Add ``a.__unit = b.__unit AND a.__zone = b.__zone`` to the join (or WHERE)."""
    key_eq = exp.and_(
        exp.EQ(this=exp.column(UNIT, table=a.node.alias or a.node.name, quoted=True),
               expression=exp.column(UNIT, table=b.node.alias or b.node.name, quoted=True)),
        exp.EQ(this=exp.column(ZONE, table=a.node.alias or a.node.name, quoted=True),
               expression=exp.column(ZONE, table=b.node.alias or b.node.name, quoted=True)))
    partial = partial.copy()
    pjoin = partial.args["joins"][0]
    if pjoin.args.get("on") is not None:
        pjoin.set("on", exp.and_(pjoin.args["on"], key_eq))
    else:
        partial.where(key_eq, copy=False)
    return partial


def zone_offsets() -> exp.Values:
    """``(VALUES (-1), (0), (1)) AS __o(__d)``: the three zones a tripled row goes to."""
    return exp.Values(
        expressions=[exp.Tuple(expressions=[exp.Literal.number(d)]) for d in (-1, 0, 1)],
        alias=exp.TableAlias(this=exp.to_identifier("__o", quoted=True),
                             columns=[exp.to_identifier("__d", quoted=True)]))


def task_sql(partial: exp.Select, a: TableRef, a_rel: exp.Expr, b_rel: exp.Expr) -> str:
    """The partial query with table ``a`` read from ``a_rel`` and the other from ``b_rel``."""

    def bind(table: exp.Table) -> exp.Expr:
        chosen = a_rel if (table.alias or table.name).lower() == a.alias else b_rel
        return exp.Subquery(this=chosen.copy(), alias=exp.TableAlias(
            this=exp.to_identifier(table.alias or table.name, quoted=True)))

    return bound_sql(partial, bind)


def numbered_groups(groups: list[list[Partition]]) -> list[tuple[int, list[Partition]]]:
    """Pair each task group with the unit number of its first chunk (units are unique)."""
    out, base = [], 0
    for group in groups:
        out.append((base, group))
        base += len(group)
    return out
