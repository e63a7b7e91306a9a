"""The dask executor: chunk tasks run on dask distributed workers (one machine or a cluster).

A plan too small to gain from the cluster (:func:`~engine.execute.placement.choose_placement`)
runs in-process instead. Otherwise its chunk tasks are packed into cluster tasks of a
useful size (:func:`~engine.execute.placement.pack_tasks`), each sent preferably to the
worker that read its chunks before (its Parquet footers and pages are cached there), and
their results are yielded as they arrive.

A cluster task is plain data (SQL text, in-memory tables, where to read), so it pickles
to any worker. Each worker process keeps one locked DuckDB per catalog location, opened on
first use: over local folders as the local executor configures it, or over an fsspec URL
(:mod:`engine.storage`).

Faults: a worker that dies has its tasks rerun elsewhere by the scheduler; a task that
kills workers repeatedly, a cluster left without workers for
:data:`NO_WORKER_TIMEOUT_S`, or a lost scheduler fail the query with
:class:`~engine.errors.ChunkUnavailableError` (transient: retrying may succeed). A query
never yields the rows of some tasks and then ends as if complete.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from engine.errors import ChunkUnavailableError, EngineError, QueryCancelledError
from engine.execute.base import Executor, QueryProgress
from engine.execute.placement import (
    ChunkId,
    Placement,
    choose_placement,
    chunk_rows,
    pack_tasks,
    task_rows,
)
from engine.plan import ChunkTask
from engine.storage import CatalogLocation

if TYPE_CHECKING:
    from engine.catalog import PublishedTable
    from engine.execute.duck import MemoryBudget
    from engine.execute.local import TaskCursor

WORKER_MEMORY_FRACTION = 0.5
"""Share of a dask worker's memory limit its DuckDB may use; the rest holds the task
results the worker keeps until the client fetches them."""

NO_WORKER_TIMEOUT_S = 30.0
"""A query fails (transient) when the cluster has had no worker for this long: a nanny
restarts a killed worker in a few seconds; longer means the cluster is gone or full."""

WATCH_INTERVAL_S = 0.05
"""How often a running query checks its cancel event (and, every 20th time, the workers)."""

CONNECT_TIMEOUT_S = 10.0
"""Time allowed to reach the scheduler when the engine opens."""

ReadSource = tuple[str, ...] | CatalogLocation
"""Where a worker reads chunk files: allowed local folders, or a catalog URL."""

_RUNNING: dict[str, list[TaskCursor]] = {}
"""Cursors of the cluster tasks running in this worker process, by dask key (to interrupt
them when their query is cancelled)."""
_RUNNING_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _worker_database(read_dirs: tuple[str, ...]) -> Any:
    """The worker's locked DuckDB for these directories (cached per worker process)."""
    from engine.adql.geometry import GEOMETRY_MACROS
    from engine.execute.duck import open_database

    return open_database([Path(d) for d in read_dirs], threads=1, macros=GEOMETRY_MACROS,
                         budget=_worker_budget())


@functools.lru_cache(maxsize=4)
def _worker_url_database(url: str, local_root: str, options_json: str) -> Any:
    """The worker's locked DuckDB over a catalog URL (cached per worker process)."""
    from engine.adql.geometry import GEOMETRY_MACROS
    from engine.storage import open_url_database

    location = CatalogLocation(url, Path(local_root), json.loads(options_json))
    return open_url_database(location, threads=1, macros=GEOMETRY_MACROS,
                             memory_limit_bytes=_worker_budget().limit_bytes)


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


def _database(source: ReadSource) -> Any:
    if isinstance(source, CatalogLocation):
        return _worker_url_database(source.url, str(source.local_root),
                                    json.dumps(dict(source.storage_options), sort_keys=True))
    return _worker_database(source)


def _current() -> tuple[str, str]:
    """This worker's address and the running task's key ('' outside a worker)."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return "", ""
    return worker.address, str(worker.get_current_task() or "")


def run_tasks(tasks: tuple[ChunkTask, ...], memory: Mapping[str, pa.Table],
              source: ReadSource) -> tuple[str, list[pa.Table]]:
    """Run chunk tasks one after the other on a worker (picklable entry point).

    Returns the worker's address (for locality) and each task's rows.
    """
    from engine.execute.local import run_sql

    address, key = _current()
    con = _database(source)
    tables = []
    for task in tasks:
        sql = source.to_url(task.sql) if isinstance(source, CatalogLocation) else task.sql
        cursor = run_sql(con, sql, memory, task.memory_tables)
        with _RUNNING_LOCK:
            _RUNNING.setdefault(key, []).append(cursor)
        try:
            tables.append(cursor.reader().read_all())
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(key, None)
            cursor.close()
    return address, tables


def interrupt_tasks(keys: Sequence[str]) -> int:
    """Interrupt the DuckDB statements of these cluster tasks in this worker (run there)."""
    with _RUNNING_LOCK:
        cursors = [c for k in keys for c in _RUNNING.get(k, ())]
    for cursor in cursors:
        cursor.interrupt()
    return len(cursors)


class DaskExecutor:
    """Ships chunk tasks to a dask distributed cluster and yields their results.

    Parameters
    ----------
    client
        A ``distributed.Client`` (the executor closes it).
    source
        Where workers read: the allowed local folders, or a catalog URL.
    inline
        Runs the plans too small for the cluster, in this process.
    tables
        Returns the catalog's current tables (row estimates come from their partitions).
    inline_max_tasks, inline_max_rows
        The in-process rule (see :func:`~engine.execute.placement.choose_placement`).
    """

    def __init__(self, client: Any, source: ReadSource | Sequence[Path], *,
                 inline: Executor | None = None,
                 tables: Callable[[], Mapping[str, PublishedTable]] | None = None,
                 inline_max_tasks: int = 8, inline_max_rows: int = 500_000) -> None:
        self.client = client
        self.source: ReadSource = (source if isinstance(source, CatalogLocation)
                                   else tuple(str(Path(d).resolve()) for d in source))
        self.inline = inline
        self._tables = tables
        self.inline_max_tasks = inline_max_tasks
        self.inline_max_rows = inline_max_rows
        self._rows_of: tuple[object, dict[ChunkId, int], int] = (None, {}, 0)
        self._chunk_workers: dict[ChunkId, str] = {}
        """Worker that last read each chunk (tasks prefer it)."""

    @classmethod
    def connect(cls, address: str, source: ReadSource | Sequence[Path],
                **kwargs: Any) -> DaskExecutor:
        """Connect to a scheduler at ``address`` (e.g. ``tcp://127.0.0.1:8786``)."""
        try:
            from distributed import Client
        except ImportError as exc:
            raise ImportError(
                "The dask executor needs dask distributed: pip install 'qserv-access[dask]'"
            ) from exc
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except OSError as exc:
            raise ChunkUnavailableError(
                f"Cannot reach the dask scheduler at {address} within {CONNECT_TIMEOUT_S:g} s "
                f"({exc}); check the address (--dask) and that the scheduler runs.") from exc
        return cls(client, source, **kwargs)

    # -- placement ------------------------------------------------------------------
    def _estimates(self, tasks: Sequence[ChunkTask]) -> list[int]:
        tables = self._tables() if self._tables is not None else {}
        if self._rows_of[0] is not tables:
            rows = chunk_rows(tables)
            self._rows_of = (tables, rows, sum(rows.values()))
        _, rows, total = self._rows_of
        return [task_rows(t, rows, total) for t in tasks]

    def placement(self, tasks: Sequence[ChunkTask]) -> Placement:
        """Say whether these tasks would run in-process or on the cluster, and why."""
        if self.inline is None:
            return Placement(False, "dask cluster (no in-process executor)")
        return choose_placement(tasks, self._estimates(tasks), max_tasks=self.inline_max_tasks,
                                max_rows=self.inline_max_rows)

    def _preferred(self, task: ChunkTask) -> str | None:
        for chunk in task.chunks:
            if chunk in self._chunk_workers:
                return self._chunk_workers[chunk]
        return None

    # -- running --------------------------------------------------------------------
    def run(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table], *,
            cancel: threading.Event,
            progress: QueryProgress | None = None) -> Iterator[pa.RecordBatch]:
        """Run small plans in-process; submit the others, yield batches as tasks finish.

        Setting ``cancel`` (or closing this generator) cancels the cluster tasks not yet
        finished at once and interrupts those running, even while no task finishes to
        wake this generator up.
        """
        progress = progress or QueryProgress(tasks)
        if self.inline is not None and self.placement(tasks).inline:
            yield from self.inline.run(tasks, memory, cancel=cancel, progress=progress)
            return
        if cancel.is_set():
            raise QueryCancelledError("The query was cancelled before it started.")
        yield from self._run_on_cluster(tasks, memory, cancel, progress)

    def _submit(self, tasks: Sequence[ChunkTask],
                memory: Mapping[str, pa.Table]) -> list[tuple[Any, tuple[ChunkTask, ...]]]:
        workers = set(self.client.scheduler_info(n_workers=-1)["workers"])
        preferred = [self._preferred(t) for t in tasks]
        preferred = [w if w in workers else None for w in preferred]
        submitted = []
        for group in pack_tasks(self._estimates(tasks), preferred, len(workers)):
            chunk_tasks = tuple(tasks[i] for i in group)
            names = {n for t in chunk_tasks for n in t.memory_tables}
            where = preferred[group[0]]
            extra: dict[str, Any] = ({"workers": [where], "allow_other_workers": True}
                                     if where else {})
            future = self.client.submit(run_tasks, chunk_tasks, {n: memory[n] for n in names},
                                        self.source, pure=False, **extra)
            submitted.append((future, chunk_tasks))
        return submitted

    def _run_on_cluster(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table],
                        cancel: threading.Event,
                        progress: QueryProgress) -> Iterator[pa.RecordBatch]:
        from distributed import as_completed

        submitted = self._submit(tasks, memory)
        futures = [f for f, _ in submitted]
        groups = {f.key: group for f, group in submitted}
        for _ in tasks:
            progress.task_started()
        pending = set(groups)
        watch = _ClusterWatch(self.client, futures, cancel)
        try:
            for future in as_completed(futures, loop=self.client.loop):
                if cancel.is_set():
                    raise QueryCancelledError("The query was cancelled.")
                if watch.failure is not None:
                    raise watch.failure
                address, tables = _result(future)
                pending.discard(future.key)
                for task in groups[future.key]:
                    for chunk in task.chunks:
                        self._chunk_workers[chunk] = address
                    progress.task_done(task)
                    progress.task_stopped()
                for table in tables:
                    yield from table.to_batches() or [
                        pa.RecordBatch.from_pylist([], schema=table.schema)]
        finally:
            watch.stop()
            left = [f for f in futures if f.key in pending]
            if left:
                self._cancel(left)
            for key in pending:
                for _ in groups[key]:
                    progress.task_stopped()

    def _cancel(self, futures: Sequence[Any]) -> None:
        """Forget the tasks on the scheduler and interrupt those running on workers."""
        keys = [str(f.key) for f in futures]
        try:
            self.client.cancel(list(futures), force=True)
            self.client.run(interrupt_tasks, keys, on_error="ignore")
        except (OSError, TimeoutError):  # the cluster is gone: nothing left to cancel
            pass

    def close(self) -> None:
        """Leave the cluster running (it is shared); drop our client."""
        if self.inline is not None:
            self.inline.close()
        self.client.close()


def _result(future: Any) -> tuple[str, list[pa.Table]]:
    """A finished cluster task's result, its failures said in engine terms."""
    from distributed.scheduler import KilledWorker

    if future.cancelled():
        raise QueryCancelledError("The query's cluster tasks were cancelled.")
    try:
        address, tables = future.result()
    except EngineError:
        raise
    except KilledWorker as exc:
        raise ChunkUnavailableError(
            f"Dask workers died while running a chunk task ({exc}); the task may need more "
            "memory than a worker has. The query was stopped; retry it, or run it with "
            "more constraints.") from exc
    except (OSError, TimeoutError) as exc:
        raise ChunkUnavailableError(
            f"Lost contact with the dask cluster while running a chunk task ({exc!r}); "
            "retry the query.") from exc
    except Exception as exc:
        raise EngineError(f"A chunk task failed on a dask worker: {exc!r}") from exc
    return str(address), list(tables)


class _ClusterWatch:
    """A thread that cancels a query's cluster tasks when it is cancelled or has no workers.

    A generator waiting in ``as_completed`` wakes up only when a task ends; this makes
    sure one does (cancelled) when the caller stops or the cluster is left without workers.
    """

    def __init__(self, client: Any, futures: list[Any], cancel: threading.Event) -> None:
        self.client = client
        self.futures = futures
        self.cancel = cancel
        self.failure: ChunkUnavailableError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="qsa-dask-watch")
        self._thread.start()

    def _workers(self) -> int:
        try:
            return len(self.client.scheduler_info(n_workers=-1)["workers"])
        except (OSError, TimeoutError):
            return 0

    def _run(self) -> None:
        ticks = 0
        workerless_since: float | None = None
        while not self._stop.wait(WATCH_INTERVAL_S):
            if self.cancel.is_set():
                break
            ticks += 1
            if ticks % 20:
                continue
            if self._workers():
                workerless_since = None
                continue
            workerless_since = workerless_since or time.monotonic()
            if time.monotonic() - workerless_since >= NO_WORKER_TIMEOUT_S:
                self.failure = ChunkUnavailableError(
                    f"The dask cluster has had no worker for {NO_WORKER_TIMEOUT_S:g} s; the "
                    "query was stopped. Retry it once workers are back.")
                break
        else:
            return
        with contextlib.suppress(OSError, TimeoutError):
            self.client.cancel([f for f in self.futures if not f.done()], force=True)

    def stop(self) -> None:
        self._stop.set()
