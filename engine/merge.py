"""The merge: the partial results of a plan's chunk tasks -> the query's rows.

A plan without merge SQL concatenates its tasks' rows (keeping the first ``row_limit``
for a TOP). Otherwise the partials are gathered into one in-memory table, ``__partials``,
and the merge query made by :mod:`engine.planning.split` re-aggregates, orders,
de-duplicates and limits them on the engine's own connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import duckdb
import pyarrow as pa

from engine.execute.local import batches_of, run_sql
from engine.plan import QueryPlan
from engine.planning.split import PARTIALS


def merge_partials(con: duckdb.DuckDBPyConnection, plan: QueryPlan,
                   partials: Iterator[pa.RecordBatch], *, maxrec: int | None,
                   cancel: threading.Event) -> Iterator[pa.RecordBatch]:
    """Yield the query's rows from the tasks' batches (``maxrec + 1`` at most when merged,
    so the caller can tell an overflow).

    Raises
    ------
    QueryCancelledError
        ``cancel`` was set while merging.
    """
    if plan.merge_sql is None:
        yield from first_rows(partials, plan.row_limit)
        return
    table = _gather(con, plan, partials)
    sql = plan.merge_sql
    if maxrec is not None:
        sql = f"SELECT * FROM ({sql}) LIMIT {int(maxrec) + 1}"
    cursor = run_sql(con, sql, {PARTIALS: table}, [PARTIALS])
    try:
        yield from batches_of(cursor, cancel)
    finally:
        cursor.close()


def _gather(con: duckdb.DuckDBPyConnection, plan: QueryPlan,
            partials: Iterator[pa.RecordBatch]) -> pa.Table:
    """All partial rows as one table; with none, an empty table of the partials' schema."""
    gathered = list(partials)
    if gathered:
        return pa.Table.from_batches(gathered)
    # No partial rows: run the partial of the first task for its schema only.
    first = plan.tasks[0]
    cursor = run_sql(con, f"SELECT * FROM ({first.sql}) LIMIT 0", plan.memory,
                     first.memory_tables)
    try:
        return cursor.reader().read_all()
    finally:
        cursor.close()


def first_rows(batches: Iterator[pa.RecordBatch], limit: int | None
               ) -> Iterator[pa.RecordBatch]:
    """Yield at most ``limit`` rows (all when None), then stop the source.

    Examples
    --------
    >>> batches = iter([pa.record_batch({"x": [1, 2, 3]}), pa.record_batch({"x": [4, 5]})])
    >>> [b.num_rows for b in first_rows(batches, 4)]
    [3, 1]
    """
    if limit is None:
        yield from batches
        return
    left = limit
    for batch in batches:
        if batch.num_rows >= left:
            yield batch.slice(0, left)
            break
        left -= batch.num_rows
        yield batch
