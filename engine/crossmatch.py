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
import numpy as np
import pyarrow as pa
from sqlglot import exp

from engine import constraints
from engine.adql.nodes import constant_value
from engine.bind import TableSource, relation
from engine.catalog import Partition, TableKind
from engine.errors import QueryLimitError
from engine.sky.healpix import pixel_range
from engine.split import split_select

if TYPE_CHECKING:
    from engine.plan import Planner, QueryPlan, _Ref

UNIT = "__unit"
ZONE = "__zone"


def _is_col(node: exp.Expr, alias: str, name: str) -> bool:
    return (isinstance(node, exp.Column) and node.table.lower() == alias
            and node.name.lower() == name.lower())


def _position_of(ref: _Ref, ra: exp.Expr, dec: exp.Expr) -> tuple[str, str] | None:
    """Return (ra, dec) column names when the two expressions are ``ref``'s position."""
    manifest = ref.source.manifest
    if manifest is not None:
        if _is_col(ra, ref.alias, manifest.ra_column or "") and _is_col(
                dec, ref.alias, manifest.dec_column or ""):
            return manifest.ra_column or "", manifest.dec_column or ""
        return None
    names = {c.name.lower(): c.name for c in ref.source.columns}
    if (isinstance(ra, exp.Column) and isinstance(dec, exp.Column)
            and ra.table.lower() == ref.alias and dec.table.lower() == ref.alias
            and ra.name.lower() in names and dec.name.lower() in names):
        return names[ra.name.lower()], names[dec.name.lower()]
    return None


def _pair_args(args: list[exp.Expr], a: _Ref, b: _Ref) -> tuple[str, str] | None:
    """Return b's (ra, dec) columns when ``args`` are a's then b's positions."""
    if _position_of(a, args[0], args[1]) is None:
        return None
    return _position_of(b, args[2], args[3])


def match_radius(preds: list[exp.Expr], a: _Ref,
                 b: _Ref) -> tuple[float, tuple[str, str]] | None:
    """Return the radius (deg) of a distance condition between ``a`` and ``b``, if any,
    with the names of b's position columns."""
    for pred in preds:
        candidates: list[tuple[exp.Expr, exp.Expr | None]] = []
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
            cols = _pair_args(args, a, b) or _pair_args([args[2], args[3], args[0], args[1]], a, b)
            if cols is not None:
                return radius, cols
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


def _zone(alias_free_dec: exp.Expr, height: float) -> exp.Expr:
    shifted = exp.Paren(this=exp.Add(this=alias_free_dec, expression=exp.Literal.number(90)))
    return exp.cast(exp.func("FLOOR", exp.Div(this=shifted, expression=exp.Literal.number(
        repr(height)))), "BIGINT")


def _side(source: TableSource, units: list[tuple[int, list[Partition], bool]],
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
            zone = exp.Add(this=_zone(exp.column(dec, table="__r", quoted=True), height),
                           expression=exp.column("__d", table="__o", quoted=True))
            sel = exp.select(*[exp.column(c.name, table="__r", quoted=True)
                               for c in source.columns], unit_item,
                             exp.alias_(zone, ZONE, quoted=True)).from_(
                base.subquery("__r")).join(_zone_offsets(), join_type="CROSS")
        else:
            sel = exp.select(*cols, unit_item, exp.alias_(_zone(dec_col.copy(), height), ZONE,
                                                          quoted=True)).from_(base.subquery("__r"))
        selects.append(sel)
    if not selects:
        return relation(source, [], extra=[])
    union: exp.Expr = selects[0]
    for part in selects[1:]:
        union = exp.union(union, part, distinct=False)
    return union


def plan_crossmatch(planner: Planner, duck: exp.Select, refs: list[_Ref],
                    sources: Mapping[tuple[str, str, str], TableSource],
                    maxrec: int | None, plan_args: dict[str, object]) -> QueryPlan | None:
    """Return a crossmatch plan, None when the query is not of that shape."""
    from engine.plan import ChunkTask, QueryPlan

    joins = duck.args.get("joins") or []
    if len(refs) != 2 or len(joins) != 1:
        return None
    a, b = refs
    join = joins[0]
    side = (join.side or "").upper()
    if side in ("RIGHT", "FULL") or join.args.get("using"):
        return None
    if not a.source.partitioned and b.source.partitioned and b.source.memory is not None:
        return None
    if not a.source.partitioned:
        if side == "LEFT":
            return None  # the broadcast side is preserved: chunks would repeat its rows
        a, b = b, a
    ma, mb = a.source.manifest, b.source.manifest
    if ma is None or ma.kind == TableKind.CHILD:
        return None
    if mb is not None and mb.kind == TableKind.CHILD:
        return None
    if mb is None and b.source.memory is None:
        return None
    preds = constraints.conjuncts(join.args.get("on"))
    if side != "LEFT":
        preds += constraints.conjuncts(duck.args.get("where") and duck.args["where"].this)
    found = match_radius(preds, a, b)
    if found is None:
        return None
    radius, (b_ra, b_dec) = found
    if mb is None:
        return _plan_broadcast(planner, duck, a, b, (b_ra, b_dec), radius, maxrec, plan_args)
    if (side != "LEFT" and len(mb.partitions) > len(ma.partitions)
            and radius * 3600 <= ma.margin_arcsec + 1e-9):
        # An inner join is symmetric: drive it by the finer partitioning, so that each
        # of its chunks lies inside one chunk of the other table, whose margin covers it.
        a, b, ma, mb = b, a, mb, ma
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
    partial = _with_unit_keys(split.partial, a, b)
    # Triple the smaller side onto neighbouring zones (the hash join builds on it); an
    # outer join must triple its padded side, or a preserved row would come out 3 times.
    explode_a = side != "LEFT" and ma.nrows < mb.nrows
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
        a_rel = _side(a.source, a_units, a_ranges, ma.dec_column or "dec", height, explode_a)
        b_rel = _side(b.source, b_units, b_ranges, mb.dec_column or "dec", height,
                      not explode_a)
        tasks.append(ChunkTask(sql=_task_sql(partial, a, a_rel, b_rel),
                               chunks=tuple(p.chunk_id for p in group)))
    merge_sql = split.merge.sql(dialect="duckdb") if split.merge is not None else None
    return QueryPlan(mode="crossmatch", tasks=tuple(tasks), merge_sql=merge_sql,
                     chunks_total=len(ma.partitions), row_limit=split.row_limit,
                     **plan_args)  # type: ignore[arg-type]


def _with_unit_keys(partial: exp.Select, a: _Ref, b: _Ref) -> exp.Select:
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


def _units_of_rows(parts: list[Partition], ra: np.ndarray, dec: np.ndarray,
                   radius_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (row, partition index) pairs: the partitions within ``radius_deg`` of each row."""
    if not parts or len(ra) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = max(p.order for p in parts)
    while order > 0 and hp.nside2resol(1 << order, arcmin=False) * 180 / np.pi < 2 * radius_deg:
        order -= 1
    nside = 1 << order
    own = hp.ang2pix(nside, ra, dec, nest=True, lonlat=True)
    neighbours = hp.get_all_neighbours(nside, ra, dec, nest=True, lonlat=True)
    pixels = np.vstack([own[None, :], neighbours]).astype(np.int64)  # (9, n)
    rows = np.broadcast_to(np.arange(len(ra)), pixels.shape)
    keep = pixels >= 0
    pixels, rows = pixels[keep], rows[keep]
    shift = 2 * (29 - order)
    lo, hi = pixels << shift, (pixels + 1) << shift
    ranges = [pixel_range(p.order, p.ipix) for p in parts]
    order_idx = np.argsort([r[0] for r in ranges])
    starts = np.array([ranges[i][0] for i in order_idx], dtype=np.int64)
    ends = np.array([ranges[i][1] for i in order_idx], dtype=np.int64)
    out_rows, out_parts = [], []
    first = np.searchsorted(ends, lo, side="right")
    for step in range(4 ** max(0, max(p.order for p in parts) - order) + 1):
        idx = first + step
        valid = idx < len(starts)
        idx_c = np.minimum(idx, len(starts) - 1)
        hit = valid & (starts[idx_c] < hi) & (ends[idx_c] > lo)
        if not hit.any():
            break
        out_rows.append(rows[hit])
        out_parts.append(order_idx[idx_c[hit]])
    if not out_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([np.concatenate(out_rows), np.concatenate(out_parts)]), axis=1)
    return pairs[0], pairs[1]


def _plan_broadcast(planner: Planner, duck: exp.Select, a: _Ref, b: _Ref,
                    b_pos: tuple[str, str], radius: float, maxrec: int | None,
                    plan_args: dict[str, object]) -> QueryPlan | None:
    """Cross-match a partitioned table with an uploaded one, chunk by chunk.

    Each upload row goes to the chunks within the radius of it; a chunk's task sees only
    those rows (a table of its own), zone-joined as above. Chunks no row is near are
    not read at all.
    """
    from engine.plan import ChunkTask, QueryPlan

    split = split_select(duck, maxrec=maxrec)
    upload = b.source.memory
    if split is None or upload is None:
        return None
    ma = a.source.manifest
    assert ma is not None
    a_parts, a_ranges = planner._chunks_of(a)
    ra = np.asarray(upload.column(b_pos[0]).to_numpy(zero_copy_only=False), dtype=np.float64)
    dec = np.asarray(upload.column(b_pos[1]).to_numpy(zero_copy_only=False), dtype=np.float64)
    finite = np.isfinite(ra) & np.isfinite(dec)
    rows, part_idx = _units_of_rows(a_parts, np.where(finite, ra % 360, 0.0),
                                    np.where(finite, np.clip(dec, -90, 90), 0.0), radius)
    keep = finite[rows]
    rows, part_idx = rows[keep], part_idx[keep]
    used = sorted(set(part_idx.tolist()))
    parts = [a_parts[i] for i in used]
    height = max(radius, 1e-9)
    partial = _with_unit_keys(split.partial, a, b)
    memory = dict(plan_args.get("memory") or {})  # type: ignore[call-overload]
    tasks = []
    for task_no, (unit_base, group) in enumerate(_numbered_groups(planner._groups(parts)
                                                                   or [[]])):
        unit_of = {p.chunk_id: unit_base + k for k, p in enumerate(group)}
        sel = np.isin(part_idx, [a_parts.index(p) for p in group])
        units = np.array([unit_of[a_parts[i].chunk_id] for i in part_idx[sel]], dtype=np.int64)
        table = upload.take(pa.array(rows[sel])).append_column(UNIT, pa.array(units))
        name = f"{b.source.memory_name}__t{task_no}"
        memory[name] = table
        a_rel = _side(a.source, [(unit_of[p.chunk_id], [p], False) for p in group], a_ranges,
                      ma.dec_column or "dec", height, False)
        b_rel = _memory_side(b.source, name, b_pos[1], height)
        tasks.append(ChunkTask(sql=_task_sql(partial, a, a_rel, b_rel),
                               chunks=tuple(p.chunk_id for p in group),
                               memory_tables=(name,)))
    merge_sql = split.merge.sql(dialect="duckdb") if split.merge is not None else None
    args = {**plan_args, "memory": memory}
    return QueryPlan(mode="crossmatch", tasks=tuple(tasks), merge_sql=merge_sql,
                     chunks_total=len(ma.partitions), row_limit=split.row_limit,
                     **args)  # type: ignore[arg-type]


def _memory_side(source: TableSource, name: str, dec: str, height: float) -> exp.Expr:
    """The upload rows of one task (with their unit), tripled onto declination zones."""
    cols = [exp.column(c.name, table="__r", quoted=True) for c in source.columns]
    zone = exp.Add(this=_zone(exp.column(dec, table="__r", quoted=True), height),
                   expression=exp.column("__d", table="__o", quoted=True))
    return exp.select(*cols, exp.column(UNIT, table="__r", quoted=True),
                      exp.alias_(zone, ZONE, quoted=True)).from_(
        exp.Table(this=exp.to_identifier(name, quoted=True),
                  alias=exp.TableAlias(this=exp.to_identifier("__r", quoted=True)))).join(
        _zone_offsets(), join_type="CROSS")


def _zone_offsets() -> exp.Values:
    """``(VALUES (-1), (0), (1)) AS __o(__d)``: the three zones a tripled row goes to."""
    return exp.Values(
        expressions=[exp.Tuple(expressions=[exp.Literal.number(d)]) for d in (-1, 0, 1)],
        alias=exp.TableAlias(this=exp.to_identifier("__o", quoted=True),
                             columns=[exp.to_identifier("__d", quoted=True)]))


def _task_sql(partial: exp.Select, a: _Ref, a_rel: exp.Expr,
              b_rel: exp.Expr) -> str:
    """The partial query with table ``a`` read from ``a_rel`` and the other from ``b_rel``."""
    from engine.plan import bind_tables

    def bind(table: exp.Table) -> exp.Expr:
        chosen = a_rel if (table.alias or table.name).lower() == a.alias else b_rel
        return exp.Subquery(this=chosen.copy(), alias=exp.TableAlias(
            this=exp.to_identifier(table.alias or table.name, quoted=True)))

    return bind_tables(partial, bind).sql(dialect="duckdb", copy=False)


def _numbered_groups(groups: list[list[Partition]]) -> list[tuple[int, list[Partition]]]:
    out, base = [], 0
    for group in groups:
        out.append((base, group))
        base += len(group)
    return out
