"""Planning: ADQL text -> :class:`~engine.plan.QueryPlan`, as named passes in order.

1. :mod:`~engine.planning.analysis` parses and resolves the query and, on the ADQL tree,
   finds the tables of the top SELECT, their regions and id values
   (:mod:`~engine.planning.constraints`), a distance join between two tables, the result
   columns (:mod:`~engine.planning.columns`), and whether chunking can apply at all.
2. :func:`~engine.planning.shapes.metadata.plan_metadata` answers a bare ``COUNT(*)`` of
   one table from its recorded row count (no task reads a file), whatever else applies.
3. :mod:`~engine.planning.chunks` chooses each table's partitions and groups them.
4. The plan shapes in :data:`SHAPES` are tried in order, as sqlglot's optimizer rules
   are; the first that takes the query makes its plan. Each binds tables to chunk files
   (:mod:`~engine.planning.bind`) and splits the query into partials and a merge
   (:mod:`~engine.planning.split`).
5. Otherwise :func:`~engine.planning.shapes.single.plan_single` makes one task, and the
   plan records why (``QueryPlan.fallback``, shown by ``--explain``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa

from engine.catalog import ColumnInfo, PublishedTable
from engine.plan import PlanOptions, QueryPlan
from engine.planning.analysis import Analysis, analyse
from engine.planning.chunks import ChunkChooser, IdLookup
from engine.planning.resolve import data_dirs
from engine.planning.shapes.chunked import plan_chunked
from engine.planning.shapes.crossmatch import plan_crossmatch
from engine.planning.shapes.metadata import plan_metadata
from engine.planning.shapes.single import plan_single

__all__ = ["SHAPES", "PlanShape", "Planner", "data_dirs"]

PlanShape = Callable[[Analysis, ChunkChooser], QueryPlan | str]
"""A plan shape: the plan of a query, or why the query is not of that shape."""

SHAPES: tuple[tuple[str, PlanShape], ...] = (
    ("crossmatch", plan_crossmatch),  # two tables joined by distance, within the margin
    ("chunked", plan_chunked),        # one partitioned table (and its child on the key)
)
"""The shapes tried in order, by name; a query none of them takes runs as one task."""


class Planner:
    """Turns ADQL into a :class:`QueryPlan` for the tables of one data directory."""

    def __init__(self, tables: Mapping[str, PublishedTable],
                 memory_tables: Mapping[str, tuple[pa.Table, tuple[ColumnInfo, ...]]],
                 id_lookup: IdLookup, options: PlanOptions | None = None) -> None:
        self.tables = tables
        self.memory_tables = memory_tables
        self.chooser = ChunkChooser(id_lookup, options or PlanOptions())

    def plan(self, adql: str, *, maxrec: int | None = None,
             uploads: Mapping[str, pa.Table] | None = None) -> QueryPlan:
        """Return the plan for ``adql``.

        Raises
        ------
        AdqlError
            The query is not valid ADQL, names unknown tables or columns, or is refused.
        """
        analysis = analyse(adql, self.tables, self.memory_tables, uploads or {},
                           maxrec=maxrec)
        counted = plan_metadata(analysis)
        if isinstance(counted, QueryPlan):
            return counted
        if analysis.blocker is not None:
            return plan_single(analysis, self.chooser, fallback=analysis.blocker)
        reasons = []
        for name, shape in SHAPES:
            planned = shape(analysis, self.chooser)
            if isinstance(planned, QueryPlan):
                return planned
            reasons.append(f"not {name}: {planned}")
        return plan_single(analysis, self.chooser, fallback="; ".join(reasons))
