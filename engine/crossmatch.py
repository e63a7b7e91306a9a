"""Plan neighbour joins and cross-matches between two positional tables, chunk by chunk.

For ``A JOIN B ON DISTANCE(A, B) < r`` (or ``CONTAINS(POINT(A), CIRCLE(B, r)) = 1``),
each chunk of A is a *unit*: its A rows meet the B rows of the B partition holding it
plus that partition's margin (every B row within the margin radius), so no pair at a
chunk edge is lost and none is counted twice (each A row lives in one unit). When B's
partitioning is finer than A's there, the unit reads every B partition touching the
chunk or its neighbours instead (no margin needed, still each row once).

Inside a unit the join is a hash join on declination zones of height ``r``: B rows are
tripled onto zones z-1, z, z+1, so every pair within ``r`` shares exactly one zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import healpy as hp
from sqlglot import exp

from engine import constraints
from engine.adql.nodes import constant_value
from engine.bind import TableSource, relation
from engine.catalog import Partition, TableKind
from engine.errors import QueryLimitError
from engine.split import split_select

if TYPE_CHECKING:
    from engine.plan import Planner, QueryPlan, _Ref

UNIT = "__unit"
ZONE = "__zone"


def _is_col(node: exp.Expression, alias: str, name: str) -> bool:
    return (isinstance(node, exp.Column) and node.table.lower() == alias
            and node.name.lower() == name.lower())


def _pair_args(args: list[exp.Expression], a: _Ref, b: _Ref) -> bool:
    ma, mb = a.source.manifest, b.source.manifest
    assert ma is not None and mb is not None
    first = _is_col(args[0], a.alias, ma.ra_column or "") and _is_col(
        args[1], a.alias, ma.dec_column or "")
    second = _is_col(args[2], b.alias, mb.ra_column or "") and _is_col(
        args[3], b.alias, mb.dec_column or "")
    return first and second


def match_radius(preds: list[exp.Expression], a: _Ref, b: _Ref) -> float | None:
    """Return the radius (deg) of a distance condition between ``a`` and ``b``, if any."""
    for pred in preds:
        candidates: list[tuple[exp.Expression, exp.Expression | None]] = []
        if isinstance(pred, exp.Anonymous) and pred.name.lower() == "adql_in_circle":
            args = list(pred.expressions)
            if len(args) == 5:
                candidates.append((pred, args[4]))
        elif isinstance(pred, exp.LT | exp.LTE):
            candidates.append((pred.this, pred.expression))
        elif isinstance(pred, exp.GT | exp.GTE):
            candidates.append((pred.expression, pred.this))
        for fn, bound in candidates:
            if not isinstance(fn, exp.Anonymous) or fn.name.lower() not in (
                    "adql_in_circle", "adql_dist"):
                continue
            args = list(fn.expressions)[:4]
            radius = constant_value(bound)
            if radius is None or len(args) != 4:
                continue
            if _pair_args(args, a, b) or _pair_args([args[2], args[3], args[0], args[1]], a, b):
                return radius
    return None


def _covering(b_parts: list[Partition], part: Partition) -> Partition | None:
    for q in b_parts:
        if q.order <= part.order and part.ipix >> (2 * (part.order - q.order)) == q.ipix:
            return q
    return None


def _touching(b_parts: list[Partition], part: Partition) -> list[Partition]:
    nside = 1 << part.order
    pixels = {part.ipix, *(int(p) for p in hp.get_all_neighbours(nside, part.ipix, nest=True)
                           if p >= 0)}
    out = []
    for q in b_parts:
        for pix in pixels:
            if q.order <= part.order:
                hit = pix >> (2 * (part.order - q.order)) == q.ipix
            else:
                hit = q.ipix >> (2 * (q.order - part.order)) == pix
            if hit:
                out.append(q)
                break
    return out


def _zone(alias_free_dec: exp.Expression, height: float) -> exp.Expression:
    shifted = exp.Add(this=alias_free_dec, expression=exp.Literal.number(90))
    return exp.cast(exp.func("FLOOR", exp.Div(this=shifted, expression=exp.Literal.number(
        repr(height)))), "BIGINT")


def _side(source: TableSource, units: list[tuple[int, list[Partition], bool]],
          ranges: list[tuple[int, int]] | None, dec: str, height: float,
          explode: bool) -> exp.Expression:
    """UNION ALL over units of the rows one side contributes, with unit and zone keys."""
    selects: list[exp.Expression] = []
    dec_col = exp.column(dec, quoted=True)
    for unit, parts, margins in units:
        base = relation(source, parts, ranges=ranges, margins=margins)
        cols = [exp.column(c.name, quoted=True) for c in source.columns]
        unit_item = exp.alias_(exp.Literal.number(unit), UNIT, quoted=True)
        if explode:
            zone = exp.Add(this=_zone(dec_col.copy(), height),
                           expression=exp.column("__d", table="__o", quoted=True))
            offsets = exp.Values(expressions=[exp.Tuple(expressions=[exp.Literal.number(d)])
                                              for d in (-1, 0, 1)],
                                 alias=exp.TableAlias(this=exp.to_identifier("__o", quoted=True),
                                                      columns=[exp.to_identifier("__d",
                                                                                 quoted=True)]))
            sel = exp.select(*[exp.column(c.name, table="__r", quoted=True)
                               for c in source.columns], unit_item,
                             exp.alias_(zone, ZONE, quoted=True)).from_(
                base.subquery("__r")).join(offsets, join_type="CROSS")
            # the zone uses the row's own dec
            sel.find(exp.Cast).find(exp.Column).set("table", exp.to_identifier("__r",
                                                                                  quoted=True))
        else:
            sel = exp.select(*cols, unit_item, exp.alias_(_zone(dec_col.copy(), height), ZONE,
                                                          quoted=True)).from_(base.subquery("__r"))
        selects.append(sel)
    if not selects:
        return relation(source, [], extra=[])
    union = selects[0]
    for sel in selects[1:]:
        union = exp.union(union, sel, distinct=False)
    return union


def plan_crossmatch(planner: Planner, duck: exp.Select, refs: list[_Ref],
                    sources: Mapping[tuple[str, str, str], TableSource],
                    maxrec: int | None, plan_args: dict[str, object]) -> QueryPlan | None:
    """Return a crossmatch plan, None when the query is not of that shape."""
    from engine.plan import ChunkTask, QueryPlan, bind_tables

    joins = duck.args.get("joins") or []
    if len(refs) != 2 or len(joins) != 1:
        return None
    a, b = refs
    ma, mb = a.source.manifest, b.source.manifest
    if ma is None or mb is None or TableKind.CHILD in (ma.kind, mb.kind):
        return None
    join = joins[0]
    side = (join.side or "").upper()
    if side in ("RIGHT", "FULL") or join.args.get("using"):
        return None
    preds = constraints.conjuncts(join.args.get("on"))
    if side != "LEFT":
        preds += constraints.conjuncts(duck.args.get("where") and duck.args["where"].this)
    radius = match_radius(preds, a, b)
    if radius is None:
        return None
    if radius * 3600 > mb.margin_arcsec + 1e-9:
        raise QueryLimitError(
            f"Match radius {radius * 3600:g} arcsec exceeds the {mb.margin_arcsec:g} arcsec "
            f"margin of table '{mb.name}'; use a radius of at most {mb.margin_arcsec:g} arcsec "
            "or re-ingest the table with a larger --margin-arcsec.")
    split = split_select(duck, maxrec=maxrec)
    if split is None:
        return None
    height = max(radius, 1e-9)
    a_parts, a_ranges = planner._chunks_of(a)
    b_parts, b_ranges = planner._chunks_of(b)
    partial = split.partial
    key_eq = exp.and_(
        exp.EQ(this=exp.column(UNIT, table=a.node.alias or a.node.name, quoted=True),
               expression=exp.column(UNIT, table=b.node.alias or b.node.name, quoted=True)),
        exp.EQ(this=exp.column(ZONE, table=a.node.alias or a.node.name, quoted=True),
               expression=exp.column(ZONE, table=b.node.alias or b.node.name, quoted=True)))
    pjoin = partial.args["joins"][0]
    if pjoin.args.get("on") is not None:
        pjoin.set("on", exp.and_(pjoin.args["on"], key_eq))
    else:
        partial.where(key_eq, copy=False)
    tasks = []
    for unit_base, group in _numbered_groups(planner._groups(a_parts) or [[]]):
        a_units, b_units = [], []
        for offset, part in enumerate(group):
            unit = unit_base + offset
            a_units.append((unit, [part], False))
            cover = _covering(b_parts, part)
            if cover is not None:
                b_units.append((unit, [cover], True))
            else:
                b_units.append((unit, _touching(b_parts, part), False))
        a_rel = _side(a.source, a_units, a_ranges, ma.dec_column or "dec", height, False)
        b_rel = _side(b.source, b_units, b_ranges, mb.dec_column or "dec", height, True)

        def bind(table: exp.Table, a_rel: exp.Expression = a_rel,
                 b_rel: exp.Expression = b_rel) -> exp.Expression:
            alias = (table.alias or table.name).lower()
            chosen = a_rel if alias == a.alias else b_rel
            return exp.Subquery(this=chosen.copy(), alias=exp.TableAlias(
                this=exp.to_identifier(table.alias or table.name, quoted=True)))

        sql = bind_tables(partial, bind).sql(dialect="duckdb")
        tasks.append(ChunkTask(sql=sql, chunks=tuple(p.chunk_id for p in group)))
    merge_sql = split.merge.sql(dialect="duckdb") if split.merge is not None else None
    return QueryPlan(mode="crossmatch", tasks=tuple(tasks), merge_sql=merge_sql,
                     chunks_total=len(ma.partitions), **plan_args)  # type: ignore[arg-type]


def _numbered_groups(groups: list[list[Partition]]) -> list[tuple[int, list[Partition]]]:
    out, base = [], 0
    for group in groups:
        out.append((base, group))
        base += len(group)
    return out
