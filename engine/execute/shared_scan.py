"""Shared scans (Qserv's): concurrent full scans of one table read each partition once.

Each table being scanned has one *elevator*: a thread making circular passes over the
table's partition files (in a fixed order). A query whose tasks carry a
:class:`~engine.plan.ScanShare` *rides* it: it attaches at the elevator's current
position and is carried round until it has seen every partition it needs. At each step
the elevator reads the bytes of the union of its riders' columns in a run of partitions
ONCE (in file order, counted against the scan memory) and then runs every rider's SQL over
those partitions side by side, while it reads the next step: the riders' scans find the
bytes in memory, so N concurrent scans read them from storage once instead of N times.

A scan of several tasks riding alone runs its tasks' own SQL, one whole task a step, as
the unshared path would; a one-task scan alone does not ride at all. A rider's error or
cancellation detaches that rider only.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import itertools
import os
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engine.errors import ChunkUnavailableError, EngineError, QueryCancelledError
from engine.execute.base import QueryProgress
from engine.execute.local import TaskCursor, batches_of, run_sql
from engine.plan import SCAN_RELATION, ChunkTask, ScanShare
from engine.planning.split import PARTIALS

SCAN_MEMORY_FRACTION = 0.25
"""Share of the engine's memory budget that the steps of shared scans (all tables
together, a step and the one read ahead of it) may hold at once, as estimated decoded
bytes: the bytes read stay in the page cache, and the riders decode them inside DuckDB's
own limit, so this bounds what the scans keep in memory beside the queries."""

MAX_STEP_BYTES = 256 * 2**20
"""Most bytes (estimated, decoded) one shared step reads: a few partitions of a large
table, enough that starting every rider's SQL once a step costs little, small enough that
the step stays in memory until its riders have read it."""

READ_BYTES = 8 * 2**20
"""Bytes read at a time when a step reads its files (the buffer is reused)."""

HANDOFF_BATCHES = 8
"""Result batches a rider's reader may lag behind before the elevator waits for it."""

STEP_LOG = 10_000
"""Steps kept in :meth:`ScanScheduler.stats` (older ones are dropped)."""

_ADVISE = hasattr(os, "posix_fadvise")
"""Whether the kernel can be asked to read a file's ranges ahead (Linux; not macOS)."""

_DONE = object()
_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ScanStep:
    """One step of an elevator: the files it read and the queries it served."""

    table: str
    files: tuple[str, ...]
    riders: tuple[int, ...]
    """Ids of the queries that ran on these rows (one read for all of them)."""
    whole_task: bool
    """A lone rider's task run by its own SQL (not a shared read)."""


@dataclass(frozen=True, slots=True)
class ScanStats:
    """What the elevators have read so far: the instrumentation of shared scans."""

    reads: Mapping[str, int]
    """Times each partition file was read by an elevator."""
    steps: tuple[ScanStep, ...]
    """The latest steps, oldest first."""


class _ScanMemory:
    """Bytes held by shared steps of all tables; a step waits while others hold too much."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._used = 0
        self._cond = threading.Condition()

    def acquire(self, nbytes: int) -> int:
        """Wait until ``nbytes`` fit; return what was taken (one oversized step runs alone)."""
        nbytes = min(nbytes, self.capacity)
        with self._cond:
            self._cond.wait_for(lambda: self._used + nbytes <= self.capacity)
            self._used += nbytes
        return nbytes

    def release(self, nbytes: int) -> None:
        with self._cond:
            self._used -= nbytes
            self._cond.notify_all()


class _Rider:
    """One query on an elevator: what it still needs, where its batches go."""

    def __init__(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table],
                 cancel: threading.Event, progress: QueryProgress) -> None:
        shares = [t.scan for t in tasks]
        assert all(s is not None for s in shares)
        first = shares[0]
        assert first is not None
        self.ident = next(_IDS)
        self.tasks = tasks
        self.memory = memory
        self.cancel = cancel
        self.progress = progress
        self.share: ScanShare = first
        self.merge_sql = first.merge_sql if len(tasks) == 1 else None
        self.widths = dict(zip(first.columns, first.row_bytes, strict=True))
        self.task_of = {f: i for i, t in enumerate(tasks) for f in (t.scan.files if t.scan
                                                                     else ())}
        self.pending = [set(t.scan.files) if t.scan else set() for t in tasks]
        self.untouched = set(range(len(tasks)))
        self.partials: list[pa.RecordBatch] = []
        self.out: queue.Queue[object] = queue.Queue(maxsize=HANDOFF_BATCHES)
        self.stop = threading.Event()
        """Set when the rider leaves: its reader detached, it failed or it finished."""
        self._lock = threading.Lock()
        self._running: set[int] = set()
        self._cursors: list[TaskCursor] = []
        self._finished = False

    def stopped(self) -> bool:
        return self.stop.is_set() or self.cancel.is_set()

    def needs(self, path: str) -> bool:
        task = self.task_of.get(path)
        return task is not None and path in self.pending[task]

    def put(self, item: object) -> bool:
        """Hand ``item`` to the reader; False when the rider left meanwhile."""
        while not self.stopped():
            try:
                self.out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def begin(self, tasks: set[int]) -> None:
        with self._lock:
            for task in tasks - self._running:
                if task in self.untouched or self.pending[task]:
                    self.progress.task_started()
                    self._running.add(task)
            self.untouched -= tasks

    def done(self, paths: Sequence[str]) -> None:
        """Note that ``paths`` were read for this rider; count the tasks now complete."""
        with self._lock:
            if self.stop.is_set():
                return
            for path in paths:
                task = self.task_of[path]
                self.pending[task].discard(path)
                if not self.pending[task] and task in self._running:
                    self._running.discard(task)
                    self.progress.task_done(self.tasks[task])
                    self.progress.task_stopped()

    def complete(self) -> bool:
        return not any(self.pending)

    def finishing(self) -> bool:
        """True once, for the caller that sees the rider complete first."""
        with self._lock:
            if self._finished or any(self.pending):
                return False
            self._finished = True
            return True

    def running(self, cursor: TaskCursor, *, done: bool = False) -> None:
        """Note that ``cursor`` runs this rider's statement (or, ``done``, no longer)."""
        with self._lock:
            if done:
                self._cursors.remove(cursor)
            else:
                self._cursors.append(cursor)

    def leave(self) -> None:
        """Stop riding: interrupt its statement, stop counting its started tasks."""
        with self._lock:
            self.stop.set()
            for cursor in self._cursors:
                with contextlib.suppress(duckdb.Error):
                    cursor.interrupt()
            for _task in self._running:
                self.progress.task_stopped()
            self._running.clear()

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, duckdb.Error) and not isinstance(exc, EngineError):
            wrapped = EngineError(f"A chunk query failed: {exc}")
            wrapped.__cause__ = exc
            exc = wrapped
        elif not isinstance(exc, EngineError):
            wrapped = EngineError(f"A chunk task failed: {exc!r}")
            wrapped.__cause__ = exc
            exc = wrapped
        self.put(exc)
        self.leave()


@dataclass(frozen=True, slots=True)
class _Step:
    files: tuple[str, ...]
    riders: tuple[_Rider, ...]
    tasks: tuple[int, ...] = ()
    """A lone rider's untouched tasks to run whole (each by its own SQL, side by side)."""


class _Elevator:
    """The circular pass over one table's partitions, and the queries riding it."""

    def __init__(self, scheduler: ScanScheduler, table: str) -> None:
        self.scheduler = scheduler
        self.table = table
        self.riders: list[_Rider] = []
        self.order: list[str] = []
        self.rows: dict[str, int] = {}
        self.last: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"qsa-scan-{table.split('@')[0]}")

    def add(self, rider: _Rider) -> None:
        """Attach ``rider`` (under the scheduler's lock)."""
        for task in rider.tasks:
            assert task.scan is not None
            for path, rows in zip(task.scan.files, task.scan.rows, strict=True):
                if path not in self.rows:
                    bisect.insort(self.order, path)
                    self.rows[path] = rows
        self.riders.append(rider)

    def _next(self, exclude: set[str] | None = None) -> _Step | None:
        """The next step from the current position (under the scheduler's lock), leaving
        out the files of ``exclude`` (a step running now)."""
        skip = exclude or set()
        active = [r for r in self.riders if not r.stopped() and not r.complete()]
        if not active:
            return None
        n = len(self.order)
        start = bisect.bisect_right(self.order, self.last) if self.last is not None else 0
        ring = (self.order[(start + k) % n] for k in range(n))
        cap = min(self.scheduler.step_bytes, self.scheduler.memory.capacity)
        if len(active) == 1 and active[0].untouched and len(active[0].tasks) > 1:
            rider = active[0]
            # As many untouched tasks as the unshared path runs at once, from the position
            # on; only tasks no larger than a step, so that a query arriving meanwhile waits
            # a step at most before it rides (at 1e8 rows, two tasks of 25M rows ran alone
            # for half the scan, and the others then read that half again).
            row_bytes = sum(rider.widths.values())
            chosen: dict[int, str] = {}
            for path in ring:
                task = rider.task_of.get(path)
                if (task is not None and task in rider.untouched and task not in chosen
                        and self._task_bytes(rider, task, row_bytes) <= cap):
                    chosen[task] = path
                    if len(chosen) == self.scheduler.workers:
                        break
            if chosen:
                return _Step(tuple(chosen.values()), (rider,), tuple(chosen))
        for k in range(n):
            first = self.order[(start + k) % n]
            riders = tuple(r for r in active if r.needs(first))
            if riders and first not in skip:
                break
        else:
            return None
        columns = set().union(*(r.widths for r in riders))
        row_bytes = sum(max(r.widths.get(c, 0) for r in riders) for c in columns)
        files, size = [first], self.rows[first] * row_bytes
        # A run of following files needed by exactly the same riders, up to the step size
        # (not across the end of the order: a step reads files in order).
        for path in self.order[(start + k) % n + 1:]:
            more = self.rows[path] * row_bytes
            if (size + more > cap or path in skip
                    or tuple(r for r in active if r.needs(path)) != riders):
                break
            files.append(path)
            size += more
        return _Step(tuple(files), riders)

    def _task_bytes(self, rider: _Rider, task: int, row_bytes: int) -> int:
        scan = rider.tasks[task].scan
        assert scan is not None
        return sum(scan.rows) * row_bytes

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 -- thread boundary: its riders fail, not hang
            with self.scheduler.cond:
                riders = list(self.riders)
                self.scheduler.elevators.pop(self.table, None)
            for rider in riders:
                rider.fail(exc)

    def _loop(self) -> None:
        """Step until no rider is left; a shared step's successor is read while it runs."""
        scheduler = self.scheduler
        ahead: tuple[_Step, Future[int | None]] | None = None
        step: _Step | None
        read: Future[int | None] | None
        while True:
            with scheduler.cond:
                scheduler.cond.wait_for(lambda: not scheduler.held())
                self.riders = [r for r in self.riders if not r.stop.is_set()]
                if ahead is not None:
                    step, read = ahead[0], ahead[1]
                    ahead = None
                else:
                    step, read = self._next(), None
                if step is None:
                    for rider in self.riders:  # stopped by a cancel its reader has not seen
                        rider.leave()
                    del scheduler.elevators[self.table]
                    return
            with scheduler.cond:
                scheduler.record(self.table, step)  # the riders not stopped meanwhile
            if step.tasks:
                self._run_whole(step.riders[0], step.tasks)
            else:
                held = read.result() if read is not None else self._read(step)
                if held is not None:
                    with scheduler.cond:
                        self.last = step.files[-1]
                        following = self._next(exclude=set(step.files))
                    if following is not None and not following.tasks:
                        ahead = (following, scheduler.reader.submit(self._read, following))
                    try:
                        self._serve(step)
                    finally:
                        scheduler.memory.release(held)
            with scheduler.cond:
                self.last = step.files[-1]
                scheduler.cond.notify_all()

    def _run_whole(self, rider: _Rider, tasks: tuple[int, ...]) -> None:
        """A lone rider's untouched tasks, by their own SQL (as the unshared path runs them,
        side by side)."""
        others = [self.scheduler.pool.submit(self._run_task, rider, t) for t in tasks[1:]]
        self._run_task(rider, tasks[0])  # one here: a thread hand-off less a step
        for done in others:
            done.result()

    def _run_task(self, rider: _Rider, task_index: int) -> None:
        task = rider.tasks[task_index]
        assert task.scan is not None
        rider.begin({task_index})
        if self._stream(rider, lambda: run_sql(self.scheduler.con, task.sql, rider.memory,
                                                task.memory_tables), task.scan.files):
            self.scheduler.count_reads(task.scan.files)
            self._finish(rider)

    def _stream(self, rider: _Rider, start: Callable[[], TaskCursor], files: Sequence[str],
                *, partial: bool = False) -> bool:
        """The rider boundary: run the statement ``start`` binds for ``rider`` and hand its
        batches to the reader (``partial``: keep them as parts to merge), then note
        ``files`` done. An error fails that query alone; the cursor is always closed.
        Return whether the statement ran to its end for a rider still riding."""
        cursor = None
        try:
            cursor = start()
            rider.running(cursor)
            for batch in batches_of(cursor, rider.cancel):
                if partial:
                    rider.partials.append(batch)
                elif not rider.put(batch):
                    return False
            rider.done(files)
            return True
        except Exception as exc:  # noqa: BLE001 -- rider boundary: that query fails alone
            rider.fail(exc)
            return False
        finally:
            if cursor is not None:
                rider.running(cursor, done=True)
                cursor.close()

    def _read(self, step: _Step) -> int | None:
        """Read the union of the step's riders' columns of its files, once; return the
        bytes taken from the scan memory (None: the read failed, and every rider of the
        step with it)."""
        columns = sorted(set().union(*(r.widths for r in step.riders)))
        row_bytes = sum(max(r.widths.get(c, 0) for r in step.riders) for c in columns)
        held = self.scheduler.memory.acquire(sum(self.rows[f] for f in step.files) * row_bytes)
        try:
            self.scheduler.read(step.files, columns)
            return held
        except Exception as exc:  # noqa: BLE001 -- every rider of these files fails
            self.scheduler.memory.release(held)
            for rider in step.riders:
                rider.fail(exc)
            return None

    def _serve(self, step: _Step) -> None:
        """Run every rider's SQL over the step's files (just read), side by side."""
        riders = [r for r in step.riders
                  if not r.stopped() and all(r.needs(f) for f in step.files)]

        def ride(rider: _Rider) -> None:
            self._ride(rider, step.files)
            self._finish(rider)

        others = [self.scheduler.pool.submit(ride, r) for r in riders[1:]]
        if riders:
            ride(riders[0])  # one here: a thread hand-off less a step
        for done in others:
            done.result()

    def _ride(self, rider: _Rider, files: tuple[str, ...]) -> None:
        rider.begin({rider.task_of[f] for f in files})
        self._stream(rider, lambda: ScanCursor(self.scheduler.con, rider.share.sql, files,
                                               rider.memory, self._memory_names(rider)),
                     files, partial=rider.merge_sql is not None)

    @staticmethod
    def _memory_names(rider: _Rider) -> tuple[str, ...]:
        return tuple(sorted({n for t in rider.tasks for n in t.memory_tables}))

    def _finish(self, rider: _Rider) -> None:
        """When ``rider`` has seen every partition: merge its parts if it must, then end."""
        if rider.stopped() or not rider.finishing():
            return
        if rider.merge_sql is not None and rider.partials and not self._merge(rider):
            return
        rider.put(_DONE)
        rider.stop.set()

    def _merge(self, rider: _Rider) -> bool:
        """The task's own result from its parts' results (a one-task plan's query); False
        when it failed or the rider left."""
        assert rider.merge_sql is not None
        merge_sql = rider.merge_sql
        try:
            table = pa.Table.from_batches(rider.partials)
        except Exception as exc:  # noqa: BLE001 -- rider boundary: that query fails alone
            rider.fail(exc)
            return False
        rider.partials = []
        return self._stream(rider, lambda: run_sql(self.scheduler.con, merge_sql,
                                                   {PARTIALS: table}, [PARTIALS]), ())


class ScanScheduler:
    """The elevators of one engine's database: one per table being scanned.

    Parameters
    ----------
    con
        The engine's (locked-down) database; every read and query runs on a cursor of it.
    memory_bytes
        The engine's memory budget; :data:`SCAN_MEMORY_FRACTION` of it bounds the rows
        that shared steps hold at once.
    workers
        Riders of one step that run at once.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, *, memory_bytes: int,
                 workers: int = 2) -> None:
        self.con = con
        self.workers = max(1, workers)
        self.pool = ThreadPoolExecutor(max(1, self.workers - 1),
                                       thread_name_prefix="qsa-scan-ride")
        """Runs the riders of a step side by side, beside the one the elevator's own thread
        runs: ``workers`` statements at once, as many as the unshared pool runs."""
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="qsa-scan-read")
        """Reads the next step while the riders of one run."""
        self.memory = _ScanMemory(int(memory_bytes * SCAN_MEMORY_FRACTION))
        self.cond = threading.Condition()
        self.elevators: dict[str, _Elevator] = {}
        self.step_bytes = MAX_STEP_BYTES
        """Most bytes (estimated) one shared step reads; a step reads one file at least."""
        self._reads: Counter[str] = Counter()
        self._alone: Counter[str] = Counter()
        self._steps: deque[ScanStep] = deque(maxlen=STEP_LOG)
        self._hold_at: int | None = None
        self._step_count = 0

    @staticmethod
    def shareable(tasks: Sequence[ChunkTask]) -> bool:
        """Whether ``tasks`` (one query's) can ride an elevator: all carry one scan SQL."""
        shares = [t.scan for t in tasks]
        first = shares[0] if shares else None
        return first is not None and all(
            s is not None and s.table == first.table and s.sql == first.sql
            and s.columns == first.columns for s in shares)

    def claim(self, tasks: Sequence[ChunkTask]) -> bool:
        """Whether shareable ``tasks`` should ride (True), or run alone (False: call
        :meth:`unclaim` when they end).

        A scan of several tasks (a table larger than one task) always rides. A one-task
        scan runs alone, as unshared, in the caller's thread (handing it to an elevator
        thread cost up to 15 % of a small scan's time on a busy machine), unless a scan of
        its table is running: then it rides, so the queries that come while one runs
        share their reads.
        """
        scan = tasks[0].scan
        assert scan is not None
        with self.cond:
            if len(tasks) > 1 or scan.table in self.elevators or self._alone[scan.table]:
                return True
            self._alone[scan.table] += 1
            return False

    def unclaim(self, tasks: Sequence[ChunkTask]) -> None:
        """A scan that :meth:`claim` let run alone ended."""
        scan = tasks[0].scan
        assert scan is not None
        with self.cond:
            self._alone[scan.table] -= 1
            if not self._alone[scan.table]:
                del self._alone[scan.table]

    def run(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table], *,
            cancel: threading.Event, progress: QueryProgress) -> Iterator[pa.RecordBatch]:
        """Ride the elevator of the tasks' table; yield the query's batches as they come.

        Raises
        ------
        QueryCancelledError
            ``cancel`` was set (the query detaches; the others ride on).
        EngineError
            This query's SQL failed on some partition (it alone fails).
        """
        rider = _Rider(tasks, memory, cancel, progress)
        table = rider.share.table
        with self.cond:
            elevator = self.elevators.get(table)
            if elevator is None:
                elevator = self.elevators[table] = _Elevator(self, table)
                elevator.add(rider)
                elevator.thread.start()
            else:
                elevator.add(rider)
            self.cond.notify_all()
        try:
            while True:
                if cancel.is_set():
                    raise QueryCancelledError("The query was cancelled.")
                try:
                    item = rider.out.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, pa.RecordBatch)
                yield item
        finally:
            rider.leave()
            with self.cond:
                self.cond.notify_all()

    def close(self) -> None:
        """Stop the threads (riders still attached fail as their statements stop)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.reader.shutdown(wait=False, cancel_futures=True)

    def read(self, files: Sequence[str], columns: Sequence[str]) -> int:
        """Read the bytes of ``columns`` in ``files`` once, in file order, into the page
        cache; return how many.

        The riders' scans of these files then find them in memory, as Qserv's shared scans
        do. Where the system allows, the kernel is asked to read them (``posix_fadvise``
        WILLNEED: it reads them in the background, and a rider reaching a page still being
        read waits for that one read) instead of copying them through a buffer here, which
        cost 0.2 CPU seconds per 650 MB read, 5-7 % of four aggregates over them.
        Decoding them once for all riders instead (into Arrow, which each rider's SQL then
        scans) cost more than it saved: see ``bench/results/shared_scan.md``.

        Raises
        ------
        ChunkUnavailableError
            A file cannot be read.
        """
        total = 0
        buffer = bytearray(0 if _ADVISE else READ_BYTES)
        for path in files:
            try:
                with io.FileIO(path, "rb") as handle:
                    for start, size in column_ranges(path, columns):
                        if _ADVISE:
                            os.posix_fadvise(handle.fileno(), start, size,
                                             os.POSIX_FADV_WILLNEED)
                            total += size
                        else:
                            total += _read_range(handle, buffer, start, size)
            except (OSError, pa.ArrowException) as exc:
                raise ChunkUnavailableError(f"A chunk file could not be read: {exc}") from exc
        self.count_reads(files)
        return total

    def count_reads(self, files: Sequence[str]) -> None:
        with self.cond:
            self._reads.update(files)

    def record(self, table: str, step: _Step) -> None:
        """Log ``step`` (under :attr:`cond`)."""
        self._step_count += 1
        self._steps.append(ScanStep(table, step.files,
                                    tuple(r.ident for r in step.riders if not r.stopped()),
                                    bool(step.tasks)))

    # -- instrumentation and control --------------------------------------------------
    def stats(self) -> ScanStats:
        """Return how often each file was read and the latest steps."""
        with self.cond:
            return ScanStats(dict(self._reads), tuple(self._steps))

    def riders(self, table: str | None = None) -> int:
        """Queries attached now (to ``table``'s elevator, or to any)."""
        with self.cond:
            elevators = [self.elevators[table]] if table in self.elevators else (
                [] if table is not None else list(self.elevators.values()))
            return sum(not r.stop.is_set() for e in elevators for r in e.riders)

    def hold(self, after_steps: int = 0) -> None:
        """Stop every elevator before its next step once ``after_steps`` more steps ran
        (queries attach meanwhile); :meth:`release` lets them go on."""
        with self.cond:
            self._hold_at = self._step_count + after_steps
            self.cond.notify_all()

    def release(self) -> None:
        """Undo :meth:`hold`."""
        with self.cond:
            self._hold_at = None
            self.cond.notify_all()

    def held(self) -> bool:
        """Whether elevators wait before their next step (under :attr:`cond`)."""
        return self._hold_at is not None and self._step_count >= self._hold_at


class ScanCursor(TaskCursor):
    """A cursor running a :class:`~engine.plan.ScanShare` SQL over some of its files."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str, files: Sequence[str],
                 memory: Mapping[str, pa.Table], names: Sequence[str]) -> None:
        self.files = list(files)
        super().__init__(con, sql, memory, names)

    def _prepare(self) -> None:
        """Bind the SQL over the files, read as ``__scan``."""
        relation = self.cursor.read_parquet(self.files).query(SCAN_RELATION, self.sql)
        assert relation is not None  # a SELECT always has a result relation
        self.relation = relation

    def _start(self, batch_rows: int) -> pa.RecordBatchReader:
        return self.relation.to_arrow_reader(batch_rows)


def column_ranges(path: str, columns: Sequence[str]) -> list[tuple[int, int]]:
    """Byte ranges ``(start, size)`` of the chunks of ``columns`` in a Parquet file, and
    its footer, adjacent ranges joined, in file order."""
    meta = pq.ParquetFile(path).metadata
    wanted = {c.lower() for c in columns}
    schema = meta.schema
    indices = [i for i in range(meta.num_columns)
               if schema.column(i).path.split(".")[0].lower() in wanted]
    ranges = []
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for i in indices:
            chunk = group.column(i)
            start = chunk.data_page_offset
            if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                start = min(start, chunk.dictionary_page_offset)
            ranges.append((start, chunk.total_compressed_size))
    ranges.sort()
    joined: list[tuple[int, int]] = []
    for start, size in ranges:
        if joined and start <= joined[-1][0] + joined[-1][1]:
            last_start, last_size = joined[-1]
            joined[-1] = (last_start, max(last_size, start + size - last_start))
        else:
            joined.append((start, size))
    return joined


def _read_range(handle: io.FileIO, buffer: bytearray, start: int, size: int) -> int:
    """Read ``size`` bytes at ``start`` (into ``buffer``, over and over); return bytes read."""
    done = 0
    view = memoryview(buffer)
    handle.seek(start)
    while done < size:
        got = handle.readinto(view[:min(len(buffer), size - done)])
        if not got:
            break
        done += got
    return done
