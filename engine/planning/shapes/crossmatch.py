"""The ``crossmatch`` shape: two tables joined by the distance between their positions.

For ``A JOIN B ON DISTANCE(A, B) < r`` (or ``CONTAINS(POINT(A), CIRCLE(B, r)) = 1``, as
found by the analysis), each chunk of A is a *unit*: its A rows meet the B rows of the B
partition holding it plus that partition's margin (every B row within the margin
radius), so no pair at a chunk edge is lost and none is counted twice (each A row lives
in one unit). When B's partitioning is finer than A's there, the unit reads every B
partition touching the chunk or its neighbours instead (no margin needed, still each
row once). Inside a unit the join is a hash join on declination zones
(:mod:`engine.planning.zones`). An uploaded B goes to :mod:`.upload_match`.
"""

from __future__ import annotations

import healpy as hp
from sqlglot import exp

from engine.catalog import Partition, TableKind
from engine.errors import QueryLimitError
from engine.plan import ChunkTask, QueryPlan
from engine.planning.analysis import Analysis, TableRef
from engine.planning.chunks import ChunkChooser
from engine.planning.partition_index import PartitionIndex
from engine.planning.shapes.upload_match import plan_upload_match
from engine.planning.split import UNSPLITTABLE, split_select
from engine.planning.zones import numbered_groups, side_rows, task_sql, with_unit_keys


def plan_crossmatch(analysis: Analysis, chooser: ChunkChooser) -> QueryPlan | str:
    """Return a cross-match plan, or why the query is not of this shape.

    Raises
    ------
    QueryLimitError
        The radius exceeds the margin of the table whose margin the match reads.
    """
    duck = analysis.duck
    joins = duck.args.get("joins") or []
    if len(analysis.refs) != 2 or len(joins) != 1:
        return "not a join of two tables"
    side = (joins[0].side or "").upper()
    if side in ("RIGHT", "FULL") or joins[0].args.get("using"):
        return "a RIGHT, FULL or USING join"
    match = analysis.match
    a, b = analysis.refs
    b_pos = match.second if match is not None else None
    if not a.source.partitioned:
        if side == "LEFT":
            return "the table every task would read whole is kept whole by a LEFT join"
        a, b = b, a
        b_pos = match.first if match is not None else None
    ma, mb = a.source.manifest, b.source.manifest
    if ma is None or ma.kind == TableKind.CHILD or (mb is not None
                                                    and mb.kind == TableKind.CHILD):
        return "a child table is placed with its director and has no margin to match in"
    if match is None or b_pos is None:
        return "no DISTANCE or CONTAINS condition with a constant radius joins the positions"
    if mb is None:
        return plan_upload_match(analysis, chooser, a, b, b_pos, match.radius_deg)
    radius = match.radius_deg
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
    split = split_select(duck, maxrec=analysis.maxrec) if isinstance(duck, exp.Select) else None
    if split is None:
        return UNSPLITTABLE
    # Triple the smaller side onto neighbouring zones (the hash join builds on it); an
    # outer join must triple its padded side, or a preserved row would come out 3 times.
    explode_a = side != "LEFT" and ma.nrows < mb.nrows
    tasks = _tasks(with_unit_keys(split.partial, a, b), chooser, a, b, radius, explode_a)
    return analysis.plan(
        mode="crossmatch", tasks=tasks, row_limit=split.row_limit,
        merge_sql=split.merge.sql(dialect="duckdb") if split.merge is not None else None,
        chunks_total=len(ma.partitions))


def _tasks(partial: exp.Select, chooser: ChunkChooser, a: TableRef, b: TableRef,
           radius: float, explode_a: bool) -> tuple[ChunkTask, ...]:
    """One task per group of A's chunks, each chunk a unit with the B rows it needs."""
    ma, mb = a.source.manifest, b.source.manifest
    assert ma is not None and mb is not None
    height = max(radius, 1e-9)
    a_parts, a_ranges = chooser.chunks_of(a)
    b_parts, b_ranges = chooser.chunks_of(b)
    b_index = PartitionIndex(b_parts)  # searched once per A chunk: O(log N), not O(N)
    tasks = []
    for unit_base, group in numbered_groups(chooser.groups(a_parts) or [[]]):
        a_units, b_units = [], []
        for offset, part in enumerate(group):
            unit = unit_base + offset
            a_units.append((unit, [part], False))
            cover = _covering(b_index, part)
            if cover is not None:
                b_units.append((unit, [cover], True))
            else:
                b_units.append((unit, _touching(b_index, part), False))
        a_rel = side_rows(a.source, a_units, a_ranges, ma.dec_column or "dec", height,
                          explode_a)
        b_rel = side_rows(b.source, b_units, b_ranges, mb.dec_column or "dec", height,
                          not explode_a)
        tasks.append(ChunkTask(sql=task_sql(partial, a, a_rel, b_rel),
                               chunks=tuple(p.chunk_id for p in group)))
    return tuple(tasks)


def _covering(b_index: PartitionIndex, part: Partition) -> Partition | None:
    """The B partition holding all of ``part`` (same or coarser order), if any."""
    start = part.ipix << (2 * (29 - part.order))
    for q in b_index.holding([start]):
        if q.order <= part.order:
            return q
    return None


def _touching(b_index: PartitionIndex, part: Partition) -> list[Partition]:
    """The B partitions meeting ``part`` or one of its neighbours."""
    nside = 1 << part.order
    pixels = {part.ipix, *(int(p) for p in hp.get_all_neighbours(nside, part.ipix, nest=True)
                           if p >= 0)}
    return b_index.meeting(part.order, sorted(pixels))
