"""The ``chunked`` shape: one partitioned table, or a director and its child joined on the key.

Each task reads a group of chunks (regular, uploaded and TAP_SCHEMA tables whole); the
partial results are merged by the query :mod:`engine.planning.split` derives. A child
lives in its director row's chunk, so a director-child join is chunk-local.
"""

from __future__ import annotations

from sqlglot import exp

from engine.catalog import Partition, TableKind
from engine.plan import SCAN_RELATION, ChunkTask, QueryPlan, ScanShare
from engine.planning import constraints
from engine.planning.analysis import Analysis, TableRef
from engine.planning.bind import (
    TableSource,
    bound_sql,
    relation,
    relation_sql,
    substitute,
    substitute_sql,
)
from engine.planning.chunks import (
    ChunkChooser,
    Ranges,
    combine_ranges,
    dec_band,
    ra_window,
    row_group_ranges,
)
from engine.planning.partition_index import index_of
from engine.planning.resolve import memory_names, table_key
from engine.planning.split import UNSPLITTABLE, split_select


def plan_chunked(analysis: Analysis, chooser: ChunkChooser) -> QueryPlan | str:
    """Return a chunked plan, or why the query is not of this shape."""
    duck = analysis.duck
    assert isinstance(duck, exp.Select)
    positional = analysis.partitioned_refs
    driver = positional[0]
    sides = [(j.side or "").upper() for j in duck.args.get("joins") or []]
    if driver is not analysis.refs[0] and any(s in ("RIGHT", "FULL", "LEFT") for s in sides):
        return ("an outer join keeps the rows of a table read whole by every task: each "
                "task would repeat them")
    if any(s in ("RIGHT", "FULL") for s in sides):
        return "a RIGHT or FULL join would repeat unmatched rows in every task"
    if len(positional) > 2:
        return "it joins more than two partitioned tables"
    partner = None
    if len(positional) == 2:
        pair = _director_pair(driver, positional[1])
        if pair is None:
            return "two partitioned tables that are not a director and its child"
        if not _joined_on_key(duck, *pair):
            return "the child is not joined to its director on the director key"
        partner = positional[1]
    parts, ranges = chooser.chunks_of(driver)
    if partner is not None:
        p_parts, p_ranges = chooser.chunks_of(partner)
        keep = {p.chunk_id for p in p_parts}
        parts = [p for p in parts if p.chunk_id in keep]
        ranges = combine_ranges(ranges, p_ranges)
    groups = chooser.groups(parts) or [[]]
    full_scan = (partner is None and ranges is None and bool(parts)
                 and _scans_whole_table(analysis, driver, len(parts)))
    assert driver.source.manifest is not None
    if len(groups) == 1:
        # One task sees every chosen chunk: it runs the query itself, with nothing to merge
        # (a full scan then costs what the same SQL costs in DuckDB, plus planning).
        whole: exp.Query = duck
        if analysis.maxrec is not None:
            whole = exp.select(exp.Star()).from_(duck.subquery("__q")).limit(
                analysis.maxrec + 1)
        task = _task(analysis, whole, driver, groups[0], ranges)
        if full_scan:
            task = _with_share(analysis, task, driver, groups[0])
        return analysis.plan(mode="chunked", merge_sql=None, tasks=(task,),
                             chunks_total=len(driver.source.manifest.partitions))
    split = split_select(duck, maxrec=analysis.maxrec)
    if split is None:
        return UNSPLITTABLE
    tasks = tuple(_task(analysis, split.partial, driver, group, ranges) for group in groups)
    if full_scan:
        template = _scan_sql(analysis, split.partial, driver.source)
        tasks = tuple(_share(t, driver.source, g, template) for t, g in zip(tasks, groups,
                                                                             strict=True))
    return analysis.plan(
        mode="chunked", tasks=tasks, row_limit=split.row_limit,
        merge_sql=split.merge.sql(dialect="duckdb") if split.merge is not None else None,
        chunks_total=len(driver.source.manifest.partitions))


def _task(analysis: Analysis, partial: exp.Query, driver: TableRef, group: list[Partition],
          ranges: Ranges | None) -> ChunkTask:
    """The partial query over one group of chunks (other tables read whole)."""
    chunk_ids = [p.chunk_id for p in group]
    if ranges is not None:
        ranges = row_group_ranges(ranges, group)

    def bind(table: exp.Table) -> str:
        source = analysis.sources[table_key(table)]
        if not source.partitioned:
            return substitute_sql(table, relation_sql(source))
        assert source.manifest is not None
        own = index_of(source.manifest).chunks(chunk_ids)
        band = dec_band(driver) if source is driver.source else None
        window = ra_window(driver) if source is driver.source else None
        return substitute_sql(table, relation_sql(source, own, ranges=ranges, bounds=band,
                                                  window=window))

    return ChunkTask(sql=bound_sql(partial, bind),
                     chunks=tuple(p.chunk_id for p in group),
                     memory_tables=memory_names(partial, analysis.sources))


def _scans_whole_table(analysis: Analysis, driver: TableRef, chosen: int) -> bool:
    """Whether every task reads its partitions of the driver, and nothing else partitioned.

    Such tasks may share their reads (:mod:`engine.execute.shared_scan`); a cone or id
    lookup reads a few partitions and gains nothing from sharing.
    """
    assert driver.source.manifest is not None
    if chosen != len(driver.source.manifest.partitions) or dec_band(driver) is not None:
        return False
    read = [analysis.sources[table_key(t)] for t in analysis.duck.find_all(exp.Table)
            if table_key(t) in analysis.sources]
    return (sum(s is driver.source for s in read) == 1
            and not any(s.partitioned and s is not driver.source for s in read))


_COLUMN_BYTES = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "halffloat": 2,
                 "int32": 4, "uint32": 4, "float": 4, "float32": 4, "date32[day]": 4}
"""In-memory bytes per value of fixed-width Arrow types narrower than 8 bytes."""

STRING_BYTES = 32
"""Bytes per value assumed for strings when sizing a shared scan's steps."""


def _columns_read(tree: exp.Expr, source: TableSource) -> list[str]:
    """The columns of ``source`` that ``tree`` may read (a superset: matched by name)."""
    if any(not isinstance(star.parent, exp.Count) for star in tree.find_all(exp.Star)):
        return [c.name for c in source.columns]
    names = {c.name.lower() for c in tree.find_all(exp.Column)}
    return [c.name for c in source.columns if c.name.lower() in names] or [
        source.columns[0].name]


def _scan_sql(analysis: Analysis, query: exp.Query, source: TableSource) -> tuple[str, ...]:
    """``query`` reading ``source`` from :data:`SCAN_RELATION`, and the columns it reads."""
    columns = _columns_read(query, source)
    rows = exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(
        exp.to_identifier(SCAN_RELATION, quoted=True))

    def bind(table: exp.Table) -> exp.Expr:
        bound = analysis.sources[table_key(table)]
        return substitute(table, rows.copy() if bound is source else relation(bound))

    return (bound_sql(query, bind), *columns)


def _share(task: ChunkTask, source: TableSource, group: list[Partition],
           template: tuple[str, ...], merge_sql: str | None = None) -> ChunkTask:
    """``task`` with the :class:`ScanShare` of its partitions (``template``: SQL, columns)."""
    assert source.published is not None
    sql, *columns = template
    types = {c.name: c.datatype for c in source.columns}
    widths = tuple(STRING_BYTES if "string" in types[c] else _COLUMN_BYTES.get(types[c], 8)
                   for c in columns)
    share = ScanShare(table=f"{source.name}@{source.published.root}",
                      files=tuple(source.files(group)), rows=tuple(p.nrows for p in group),
                      columns=tuple(columns), row_bytes=widths, sql=sql, merge_sql=merge_sql)
    return ChunkTask(sql=task.sql, chunks=task.chunks, memory_tables=task.memory_tables,
                     scan=share)


def _with_share(analysis: Analysis, task: ChunkTask, driver: TableRef,
                group: list[Partition]) -> ChunkTask:
    """The one task of a full scan, shareable when its query splits into an aggregate
    partial and a merge (the partial then runs on each part of the scan)."""
    duck = analysis.duck
    assert isinstance(duck, exp.Select)
    split = split_select(duck, maxrec=analysis.maxrec)
    if split is None or split.merge is None:
        return task
    merge: exp.Query = split.merge
    if analysis.maxrec is not None:
        merge = exp.select(exp.Star()).from_(merge.subquery("__q")).limit(analysis.maxrec + 1)
    return _share(task, driver.source, group, _scan_sql(analysis, split.partial, driver.source),
                  merge.sql(dialect="duckdb"))


def _director_pair(a: TableRef, b: TableRef) -> tuple[TableRef, TableRef] | None:
    """Return (director, child) when one is the other's child with aligned chunks."""
    for director, child in ((a, b), (b, a)):
        dm, cm = director.source.manifest, child.source.manifest
        if dm is None or cm is None or cm.kind != TableKind.CHILD:
            continue
        if cm.director != dm.name or not dm.id_column or not cm.director_key:
            continue
        if index_of(cm).within(index_of(dm)):
            return director, child
    return None


def _joined_on_key(select: exp.Select, director: TableRef, child: TableRef) -> bool:
    """Whether the director's id equals the child's key in an ON or WHERE conjunct."""
    dm, cm = director.source.manifest, child.source.manifest
    assert dm is not None and cm is not None
    where = select.args.get("where")
    preds = constraints.conjuncts(where.this if where is not None else None)
    for join in select.args.get("joins") or []:
        preds += constraints.conjuncts(join.args.get("on"))
        using = join.args.get("using") or []
        if any(u.name.lower() == (cm.director_key or "").lower() == (dm.id_column or "").lower()
               for u in using):
            return True

    def is_col(node: exp.Expr, ref: TableRef, name: str) -> bool:
        return (isinstance(node, exp.Column) and node.name.lower() == name.lower()
                and node.table.lower() in (ref.alias, ""))

    for pred in preds:
        if isinstance(pred, exp.EQ):
            for x, y in ((pred.this, pred.expression), (pred.expression, pred.this)):
                if is_col(x, director, dm.id_column or "") and is_col(
                        y, child, cm.director_key or ""):
                    return True
    return False
