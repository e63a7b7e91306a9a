"""What a planned query is: chunk tasks, the merge, result columns (frozen value types).

:mod:`engine.planning` makes a :class:`QueryPlan` from ADQL; :mod:`engine.execute` runs
its tasks, :mod:`engine.merge` merges their partial results and :mod:`engine.result`
gives them their schema. Nothing here knows how a plan was chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """Metadata of one result column (the source of a VOTable FIELD)."""

    name: str
    datatype: str = ""
    unit: str = ""
    ucd: str = ""
    description: str = ""
    xtype: str | None = None


SCAN_RELATION = "__scan"
"""Name under which a :class:`ScanShare` SQL reads the rows of the partitions it is given."""


@dataclass(frozen=True, slots=True)
class ScanShare:
    """How a task of a full scan can ride a shared scan of its table (Qserv's shared scan).

    :mod:`engine.execute.shared_scan` reads each partition's ``columns`` once for all the
    queries scanning the table at the time, and runs ``sql`` over them.
    """

    table: str
    """The table version scanned (its name and root): queries of one version share reads."""
    files: tuple[str, ...]
    """The task's partition files (absolute paths)."""
    rows: tuple[int, ...]
    """Rows of each file (sizes the steps of the scan)."""
    columns: tuple[str, ...]
    """The table's columns the SQL reads."""
    row_bytes: tuple[int, ...]
    """Estimated in-memory bytes per row of each column."""
    sql: str
    """The task's query over any subset of its partitions, read from :data:`SCAN_RELATION`
    (a partial result the plan's merge, or ``merge_sql``, completes)."""
    merge_sql: str | None = None
    """Combines the results of ``sql`` over parts of the task into the task's own result
    (a one-task plan, whose task runs the query itself); None: they need only
    concatenating."""


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """One unit of work: a self-contained SQL statement over some chunks' files."""

    sql: str
    chunks: tuple[tuple[int, int], ...] = ()
    memory_tables: tuple[str, ...] = ()
    """Names of in-memory tables (uploads, TAP_SCHEMA) the SQL reads."""
    scan: ScanShare | None = None
    """Set when the task is part of a full scan that may share its reads with other
    queries; ``sql`` alone always gives the same result."""


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """Everything needed to run a query: tasks, merge and result metadata."""

    adql: str
    mode: str
    """The plan shape: ``metadata``, ``chunked``, ``crossmatch`` or ``single``."""
    tasks: tuple[ChunkTask, ...]
    merge_sql: str | None
    columns: tuple[ResultColumn, ...]
    chunks_total: int = 0
    memory: Mapping[str, pa.Table] = field(default_factory=dict)
    row_limit: int | None = None
    """Rows to keep of the concatenated task results when there is no merge (TOP)."""
    fallback: str | None = None
    """Why a ``single`` plan was not split into chunk tasks (None for other shapes)."""
    placement: str = ""
    """Where the tasks run and why (in-process or a dask cluster); set by the engine."""

    def explain(self) -> str:
        """Return a readable summary: mode, why single, chunks, the SQL of the first task
        and of the merge."""
        lines = [f"mode: {self.mode}"]
        if self.fallback:
            lines.append(f"why single: {self.fallback}")
        lines += [f"tasks: {len(self.tasks)}",
                  f"chunks: {sum(len(t.chunks) for t in self.tasks)} of {self.chunks_total}"]
        if self.placement:
            lines.append(f"runs: {self.placement}")
        if self.tasks:
            lines.append(f"task[0]: {self.tasks[0].sql}")
        if self.merge_sql:
            lines.append(f"merge: {self.merge_sql}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """Knobs of the planner."""

    rows_per_task: int = 5_000_000
    """Chunks are grouped so that a task reads about this many rows."""
    max_tasks: int = 64
