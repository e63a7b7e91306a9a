"""Where a plan runs and how its chunk tasks are packed into cluster tasks.

Shipping a task to a dask worker has a cost of its own that does not shrink with the
data (serialising the task and its result, two scheduler hops, the worker's thread
switch). Measured with ``python -m bench.bench_dask --rows 1000000`` on a 2-worker
LocalCluster of this project's 2-core machine under a load average of 8 to 11 (so an
upper bound): an empty task 10 to 22 ms from submit to result, one chunk task
(``SELECT 1`` on the worker's DuckDB) about 30 ms, 200 tasks at once about 12 ms each.
On the 16-core machine of issue 10 dask added about 25 ms to a 1' cone. DuckDB reads
about 10^7 rows a second a thread, so a round trip costs as much as reading 10^5 to
3 * 10^5 rows: a plan smaller than a few hundred thousand rows cannot gain from more
machines, and a cluster task smaller than that spends more time travelling than reading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.catalog import PublishedTable
from engine.plan import ChunkTask

INLINE_MAX_TASKS = 8
"""Plans of at most this many tasks may run in-process (a cone reads 1 to 4 chunks, an id
lookup one per id group); more tasks than that are work a cluster spreads."""

INLINE_MAX_ROWS = 500_000
"""... and only if they read at most this many rows (from the partition metadata):
about 50 ms of one DuckDB thread, twice what the cluster's round trip costs, so a plan
this small gains nothing from the cluster."""

MIN_ROWS_PER_CLUSTER_TASK = 250_000
"""Chunk tasks smaller than this are packed together into one cluster task (read one
after the other on one worker): one task's fixed cost is worth about this many rows."""

TASKS_PER_WORKER = 2
"""Packing never leaves fewer than this many cluster tasks a worker (when the plan has
that many chunk tasks), so a slow worker cannot hold up the end of a scan alone."""

ChunkId = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one plan runs, and why (shown by ``explain``)."""

    inline: bool
    reason: str


def chunk_rows(tables: Mapping[str, PublishedTable]) -> dict[ChunkId, int]:
    """Return the rows (with margins) each chunk id holds over all partitioned tables."""
    rows: dict[ChunkId, int] = {}
    for table in tables.values():
        for part in table.manifest.partitions:
            rows[part.chunk_id] = rows.get(part.chunk_id, 0) + part.nrows + part.margin_nrows
    return rows


def task_rows(task: ChunkTask, rows: Mapping[ChunkId, int], total: int) -> int:
    """Estimate the rows a task reads: its chunks' rows; ``total`` when it names no chunk
    but reads files; 0 for a task over in-memory tables only.

    Examples
    --------
    >>> task_rows(ChunkTask("SELECT 1", chunks=((3, 1), (3, 2))), {(3, 1): 10, (3, 2): 5}, 99)
    15
    >>> task_rows(ChunkTask("SELECT 1"), {}, 99)
    0
    """
    if task.chunks:
        return sum(rows.get(c, 0) for c in task.chunks)
    return total if "read_parquet" in task.sql.lower() else 0


def choose_placement(tasks: Sequence[ChunkTask], estimates: Sequence[int], *,
                     max_tasks: int = INLINE_MAX_TASKS,
                     max_rows: int = INLINE_MAX_ROWS) -> Placement:
    """Decide whether a plan runs in-process or on the cluster.

    Examples
    --------
    >>> choose_placement([ChunkTask("SELECT 1")], [1200]).inline
    True
    >>> choose_placement([ChunkTask("SELECT 1")] * 20, [10**6] * 20).reason
    'dask cluster: 20 tasks, ~20,000,000 rows (in-process below 8 tasks and 500,000 rows)'
    """
    rows = sum(estimates)
    limits = f"in-process below {max_tasks:,} tasks and {max_rows:,} rows"
    if len(tasks) <= max_tasks and rows <= max_rows:
        return Placement(True, f"in-process: {len(tasks)} tasks, ~{rows:,} rows ({limits})")
    return Placement(False, f"dask cluster: {len(tasks)} tasks, ~{rows:,} rows ({limits})")


def pack_tasks(estimates: Sequence[int], preferred: Sequence[str | None], workers: int, *,
               min_rows: int = MIN_ROWS_PER_CLUSTER_TASK) -> list[list[int]]:
    """Group task indexes into cluster tasks of at least ``min_rows`` rows each.

    Tasks that prefer the same worker are packed together (so a group keeps its
    locality), and there are never fewer than ``TASKS_PER_WORKER * workers`` groups when
    the tasks allow it.

    Examples
    --------
    >>> pack_tasks([100] * 8, [None] * 8, workers=1, min_rows=300)
    [[0, 1, 2], [3, 4, 5], [6, 7]]
    >>> pack_tasks([100] * 8, [None] * 8, workers=2, min_rows=10_000)
    [[0, 1], [2, 3], [4, 5], [6, 7]]
    >>> pack_tasks([10**6] * 3, ["a", None, "a"], workers=1)
    [[0], [2], [1]]
    """
    total = sum(estimates)
    wanted_groups = min(len(estimates), TASKS_PER_WORKER * max(1, workers))
    target = min(min_rows, total // max(1, wanted_groups)) if wanted_groups else min_rows
    by_worker: dict[str | None, list[int]] = {}
    for index, worker in enumerate(preferred):
        by_worker.setdefault(worker, []).append(index)
    groups: list[list[int]] = []
    for indexes in by_worker.values():
        group: list[int] = []
        rows = 0
        for index in indexes:
            group.append(index)
            rows += estimates[index]
            if rows >= target:
                groups.append(group)
                group, rows = [], 0
        if group:
            groups.append(group)
    return groups
