"""The ``single`` shape: one task runs the whole query over the chosen files of every table.

Always correct; slower only where chunking helps. Used when no other shape applies (set
operations, partitioned tables in subqueries, joins chunks would duplicate...), with the
reason recorded in the plan. Constrained top-level tables still read only their chosen
chunks.
"""

from __future__ import annotations

from sqlglot import exp

from engine.catalog import Partition
from engine.plan import ChunkTask, QueryPlan
from engine.planning.analysis import Analysis
from engine.planning.bind import bind_tables, relation, substitute
from engine.planning.chunks import ChunkChooser, Ranges, dec_band
from engine.planning.resolve import TableKey, memory_names, table_key


def plan_single(analysis: Analysis, chooser: ChunkChooser, *, fallback: str) -> QueryPlan:
    """Return the one-task plan of ``analysis``, saying why it was not split (``fallback``)."""
    by_key = {table_key(r.node): r for r in analysis.refs if r.source.partitioned}
    chosen: dict[TableKey, tuple[list[Partition], Ranges | None]] = {
        k: chooser.chunks_of(r) for k, r in by_key.items() if r.region or r.id_lookups}
    duck = analysis.duck
    chunks: list[tuple[int, int]] = []

    def bind(table: exp.Table) -> exp.Expr:
        # refs come from the ADQL tree; they meet the DuckDB tree's tables by key. Only
        # the top FROM's tables (``table`` is in bind_tables' copy of ``duck``, whose root
        # is that copy) are the refs: the same table in a subquery reads every partition.
        source = analysis.sources[table_key(table)]
        top = isinstance(duck, exp.Select) and table.parent_select is table.root()
        if top and table_key(table) in chosen:
            parts, ranges = chosen[table_key(table)]
            chunks.extend(p.chunk_id for p in parts)
            return substitute(table, relation(source, parts, ranges=ranges,
                                              bounds=dec_band(by_key[table_key(table)])))
        return substitute(table, relation(source))

    bound = bind_tables(duck, bind)
    if analysis.maxrec is not None and isinstance(bound, exp.Query):
        bound = exp.select(exp.Star()).from_(bound.subquery("__q")).limit(analysis.maxrec + 1)
    task = ChunkTask(sql=bound.sql(dialect="duckdb", copy=False), chunks=tuple(chunks),
                     memory_tables=memory_names(duck, analysis.sources))
    total = sum(len(s.manifest.partitions) for s in analysis.sources.values()
                if s.partitioned and s.manifest is not None)
    return analysis.plan(mode="single", tasks=(task,), merge_sql=None, chunks_total=total,
                         fallback=fallback)
