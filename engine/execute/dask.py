"""The dask executor: chunk tasks run on dask distributed workers (one machine or a cluster).

A task is plain data (SQL text, in-memory tables, the directories it may read), so it
pickles to any worker. Each worker process keeps one locked DuckDB per set of readable
directories, opened on first use, exactly as the local executor configures it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from engine.errors import QueryCancelledError
from engine.execute.base import QueryProgress
from engine.plan import ChunkTask

if TYPE_CHECKING:
    from engine.execute.duck import MemoryBudget


WORKER_MEMORY_FRACTION = 0.5
"""Share of a dask worker's memory limit its DuckDB may use; the rest holds the task
results the worker keeps until the client fetches them."""


@functools.lru_cache(maxsize=4)
def _worker_database(read_dirs: tuple[str, ...]) -> Any:
    """The worker's locked DuckDB for these directories (cached per worker process)."""
    from engine.adql.geometry import GEOMETRY_MACROS
    from engine.execute.duck import open_database

    return open_database([Path(d) for d in read_dirs], threads=1, macros=GEOMETRY_MACROS,
                         budget=_worker_budget())


def _worker_budget() -> MemoryBudget:
    """Memory of the worker's DuckDB: bounded by the worker's own limit, spilling locally."""
    from distributed import get_worker

    from engine.execute.duck import MemoryBudget, default_memory_budget

    limit = default_memory_budget()
    try:
        worker = get_worker()
    except ValueError:  # not inside a worker (a task run directly)
        return MemoryBudget(limit)
    worker_limit = getattr(worker.memory_manager, "memory_limit", None)
    if worker_limit:
        limit = min(limit, int(worker_limit * WORKER_MEMORY_FRACTION))
    spill = Path(worker.local_directory) / "qserv-access-spill"
    return MemoryBudget(limit, spill_dir=spill)


def run_task(task: ChunkTask, memory: Mapping[str, pa.Table],
             read_dirs: tuple[str, ...]) -> pa.Table:
    """Run one chunk task on a worker and return its rows (picklable entry point)."""
    from engine.execute.local import run_sql

    cursor = run_sql(_worker_database(read_dirs), task.sql, memory, task.memory_tables)
    try:
        return cursor.reader().read_all()
    finally:
        cursor.close()


class DaskExecutor:
    """Ships chunk tasks to a dask distributed cluster and yields their results."""

    def __init__(self, client: Any, read_dirs: Sequence[Path]) -> None:
        self.client = client
        self.read_dirs = tuple(str(Path(d).resolve()) for d in read_dirs)

    @classmethod
    def connect(cls, address: str, read_dirs: Sequence[Path]) -> DaskExecutor:
        """Connect to a scheduler at ``address`` (e.g. ``tcp://127.0.0.1:8786``)."""
        try:
            from distributed import Client
        except ImportError as exc:
            raise ImportError(
                "The dask executor needs dask distributed: pip install 'qserv-access[dask]'"
            ) from exc
        return cls(Client(address), read_dirs)

    def run(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table], *,
            cancel: threading.Event,
            progress: QueryProgress | None = None) -> Iterator[pa.RecordBatch]:
        """Submit every task, yield batches as tasks finish; cancel the rest on stop.

        Setting ``cancel`` cancels the tasks not yet finished at once (queued ones never
        start on a worker), even while no task finishes to wake this generator up.
        """
        from distributed import as_completed

        progress = progress or QueryProgress(tasks)
        futures = [
            self.client.submit(run_task, task, {n: memory[n] for n in task.memory_tables},
                               self.read_dirs, pure=False)
            for task in tasks
        ]
        by_key = {f.key: task for f, task in zip(futures, tasks, strict=True)}
        for _ in futures:
            progress.task_started()
        pending = set(by_key)
        finished = threading.Event()

        def stop_on_cancel() -> None:
            while not finished.is_set():
                if cancel.wait(0.05):
                    self.client.cancel([f for f in futures if not f.done()])
                    return

        watcher = threading.Thread(target=stop_on_cancel, daemon=True, name="qsa-dask-cancel")
        watcher.start()
        try:
            for future in as_completed(futures):
                if cancel.is_set() or future.cancelled():
                    raise QueryCancelledError("The query was cancelled.")
                table = future.result()
                pending.discard(future.key)
                progress.task_done(by_key[future.key])
                progress.task_stopped()
                yield from table.to_batches() or [
                    pa.RecordBatch.from_pylist([], schema=table.schema)]
        finally:
            finished.set()
            self.client.cancel([f for f in futures if not f.done()])
            for _ in pending:
                progress.task_stopped()

    def close(self) -> None:
        """Leave the cluster running (it is shared); drop our client."""
        self.client.close()
