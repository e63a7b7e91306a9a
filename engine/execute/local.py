"""The in-process executor: chunk tasks on a thread pool over one locked DuckDB."""

from __future__ import annotations

import contextlib
import difflib
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from engine.errors import (
    AdqlError,
    ChunkUnavailableError,
    EngineError,
    QueryCancelledError,
    QueryLimitError,
    UnknownColumnError,
)
from engine.execute.base import QueryProgress
from engine.execute.duck import check_single_select, stream_select
from engine.plan import ChunkTask

if TYPE_CHECKING:
    from engine.execute.shared_scan import ScanScheduler

BATCH_ROWS = 65_536
"""Rows per Arrow batch fetched from DuckDB: small enough to stream, big enough to be fast."""

_DONE = object()


class TaskCursor:
    """A fresh cursor of the shared database with one task's statement, run by :meth:`reader`.

    The statement is checked here (one SELECT) and bound when it starts: binding it here
    too would bind it twice (:func:`~engine.execute.duck.stream_select`).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str,
                 memory: Mapping[str, pa.Table], names: Sequence[str]) -> None:
        self.cursor = con.cursor()
        for name in names:
            self.cursor.register(name, memory[name])
        check_single_select(self.cursor, sql)
        self.sql = sql
        with translated_errors(self.cursor):
            self._prepare()

    def _prepare(self) -> None:
        """Make what :meth:`_start` needs before any row is read (nothing here)."""

    def _start(self, batch_rows: int) -> pa.RecordBatchReader:
        """Run the statement; its rows stream from the returned reader."""
        return stream_select(self.cursor, self.sql, batch_rows)

    def reader(self, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """Start executing; return a streaming reader of the result."""
        with translated_errors(self.cursor):
            return self._start(batch_rows)

    def interrupt(self) -> None:
        """Ask DuckDB to stop the running statement."""
        self.cursor.interrupt()

    def close(self) -> None:
        """Release the cursor."""
        self.cursor.close()


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, memory: Mapping[str, pa.Table],
            names: Sequence[str]) -> TaskCursor:
    """One task's SQL on a fresh cursor of ``con``, checked; it runs when read."""
    return TaskCursor(con, sql, memory, names)


@contextlib.contextmanager
def translated_errors(con: duckdb.DuckDBPyConnection | None = None) -> Iterator[None]:
    """Turn DuckDB's exceptions into engine errors that say whose fault it is."""
    try:
        yield
    except duckdb.BinderException as exc:
        message, name = binder_message(exc)
        raise UnknownColumnError(message, name=name) from exc
    except (duckdb.ConversionException, duckdb.InvalidInputException,
            duckdb.OutOfRangeException) as exc:
        raise AdqlError(_clean(exc)) from exc
    except duckdb.InterruptException as exc:
        raise QueryCancelledError("The query was cancelled.") from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryLimitError(_memory_message(con, exc)) from exc
    except duckdb.IOException as exc:
        raise ChunkUnavailableError(f"A chunk file could not be read: {exc}") from exc


def _memory_message(con: duckdb.DuckDBPyConnection | None, exc: Exception) -> str:
    """Say which budget a query ran out of, and what to do about it."""
    memory = spill = "?"
    if con is not None:
        with contextlib.suppress(duckdb.Error), con.cursor() as probe:
            memory, spill = probe.execute(
                "SELECT current_setting('memory_limit'), "
                "current_setting('max_temp_directory_size')").fetchone() or ("?", "?")
    # DuckDB names the spill limit when that is what ran out; otherwise memory did.
    spilled = ""
    if "max_temp_directory" in str(exc):
        spilled = (" (spilling to disk is off)" if spill == "0 bytes"
                   else f" and the {spill} it may spill to disk")
    return (f"The query needs more than its memory budget of {memory}{spilled}, shared by the "
            "queries running at once. Add constraints (a smaller region, fewer columns, TOP, "
            "no DISTINCT over a join) or raise the budget (QSA_TAP_QUERY_MEMORY_MB for the TAP "
            "service).")


_MISSING_COLUMN = re.compile(r'Referenced column "([^"]+)" not found|Column "([^"]+)" not found')
_TABLE_COLUMN = re.compile(
    r'(?:Table|Values list) "([^"]+)" does not have a column named "([^"]+)"')
_MISSING_TABLE = re.compile(r'Referenced table "([^"]+)" not found')
_CANDIDATES = re.compile(r'Candidate bindings:[\s:]*(.*)')


def binder_message(exc: Exception) -> tuple[str, str | None]:
    r"""Say which name a query used that its tables do not have, in ADQL terms.

    DuckDB words it with its own internals ("Values list", "Candidate bindings", the SQL we
    generated); the user wrote ADQL. Returns the message and the name, so the caller can
    point at it in the query.

    Examples
    --------
    >>> binder_message(Exception('Binder Error: Referenced column "rra" not found in FROM '
    ...                          'clause!\nCandidate bindings: "pmra", "ra"'))
    ("Unknown column 'rra'. Did you mean 'ra'?", 'rra')
    """
    text = str(exc)
    near = _suggestions(text)
    if found := _MISSING_COLUMN.search(text):
        name = found.group(1) or found.group(2)
        return f"Unknown column '{name}'.{near(name)}", name
    if found := _TABLE_COLUMN.search(text):
        table, name = found.groups()
        return f"Table '{table}' has no column '{name}'.{near(name)}", name
    if found := _MISSING_TABLE.search(text):
        name = found.group(1)
        return (f"Unknown table or alias '{name}': name a table of the FROM clause or its "
                "alias."), name
    return _clean(exc), None


def _suggestions(text: str) -> Callable[[str], str]:
    found = _CANDIDATES.search(text)
    names = [n.split(".")[-1] for n in re.findall(r'"([^"]+)"', found.group(1))] if found else []
    names = [n for n in names if not n.startswith("_")]

    def near(name: str) -> str:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        return (" Did you mean " + " or ".join(f"'{c}'" for c in close) + "?") if close else ""

    return near


def _clean(exc: Exception) -> str:
    """DuckDB's message without internal names, as a user can act on it."""
    text = str(exc).split("\n\nLINE")[0].replace("Binder Error: ", "")
    return text.replace("Referenced column", "Column").replace(" in FROM clause", "")


def batches_of(cursor: TaskCursor, cancel: threading.Event) -> Iterator[pa.RecordBatch]:
    """Yield the cursor's result as record batches until done or cancelled."""
    try:
        if cancel.is_set():
            raise QueryCancelledError("The query was cancelled.")
        reader = cursor.reader(BATCH_ROWS)
        sent = False
        with translated_errors(cursor.cursor):  # most of the work happens while reading
            for batch in reader:
                if cancel.is_set():
                    raise QueryCancelledError("The query was cancelled.")
                if batch.num_rows:
                    sent = True
                    yield batch
        if not sent:
            # An empty result still tells its columns and their types.
            yield pa.RecordBatch.from_pylist([], schema=reader.schema)
    except duckdb.InterruptException as exc:
        raise QueryCancelledError("The query was cancelled.") from exc


class LocalExecutor:
    """Runs tasks on threads; each gets its own cursor of the shared locked database.

    With ``shared_scans``, the tasks of a full scan ride the table's shared scan
    (:class:`~engine.execute.shared_scan.ScanScheduler`): concurrent scans of one table
    read each partition once. ``memory_bytes`` is the engine's memory budget (a share of
    it bounds the rows a shared scan holds).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, *, workers: int = 2,
                 shared_scans: bool = False, memory_bytes: int | None = None) -> None:
        self.con = con
        self.workers = max(1, workers)
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="qsa-chunk")
        self.scans: ScanScheduler | None = None
        if shared_scans:
            from engine.execute.duck import default_memory_budget
            from engine.execute.shared_scan import ScanScheduler

            self.scans = ScanScheduler(con, memory_bytes=memory_bytes or default_memory_budget(),
                                       workers=self.workers)

    def run(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table], *,
            cancel: threading.Event,
            progress: QueryProgress | None = None) -> Iterator[pa.RecordBatch]:
        """Yield batches from all tasks as they arrive (bounded queue: memory stays flat)."""
        if cancel.is_set():
            raise QueryCancelledError("The query was cancelled before it started.")
        progress = progress or QueryProgress(tasks)
        if self.scans is None or not self.scans.shareable(tasks):
            yield from self._run_tasks(tasks, memory, cancel=cancel, progress=progress)
        elif self.scans.claim(tasks):
            yield from self.scans.run(tasks, memory, cancel=cancel, progress=progress)
        else:
            try:
                yield from self._run_tasks(tasks, memory, cancel=cancel, progress=progress)
            finally:
                self.scans.unclaim(tasks)

    def _run_tasks(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table], *,
                   cancel: threading.Event,
                   progress: QueryProgress) -> Iterator[pa.RecordBatch]:
        """Run each task on its own: one in this thread, several on the pool."""
        if len(tasks) == 1:
            cursor = run_sql(self.con, tasks[0].sql, memory, tasks[0].memory_tables)
            watcher = _interrupt_on(cancel, [cursor])
            progress.task_started()
            try:
                yield from batches_of(cursor, cancel)
                progress.task_done(tasks[0])
            finally:
                progress.task_stopped()
                watcher.set()
                cursor.close()
            return
        out: queue.Queue[object] = queue.Queue(maxsize=4 * self.workers)
        stop = threading.Event()
        cursors: list[TaskCursor] = []

        def work(task: ChunkTask) -> None:
            started = False
            try:
                if stop.is_set() or cancel.is_set():
                    return
                progress.task_started()
                started = True
                cursor = run_sql(self.con, task.sql, memory, task.memory_tables)
                cursors.append(cursor)
                for batch in batches_of(cursor, cancel):
                    while not stop.is_set():
                        try:
                            out.put(batch, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                progress.task_done(task)
            except (EngineError, duckdb.Error) as exc:
                out.put(exc)
            except Exception as exc:  # noqa: BLE001 -- worker boundary: convert, keep the cause
                wrapped = EngineError(f"A chunk task failed: {exc!r}")
                wrapped.__cause__ = exc
                out.put(wrapped)
            finally:
                if started:
                    progress.task_stopped()
                out.put(_DONE)

        for task in tasks:
            self.pool.submit(work, task)
        remaining = len(tasks)
        try:
            while remaining:
                if cancel.is_set():
                    raise QueryCancelledError("The query was cancelled.")
                try:
                    item = out.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _DONE:
                    remaining -= 1
                elif isinstance(item, EngineError):
                    raise item
                elif isinstance(item, duckdb.Error):
                    raise EngineError(f"A chunk query failed: {item}") from item
                else:
                    yield item  # type: ignore[misc]
        finally:
            stop.set()
            for cursor in cursors:
                with contextlib.suppress(duckdb.Error):
                    cursor.interrupt()
            while remaining:
                try:
                    if out.get(timeout=1.0) is _DONE:
                        remaining -= 1
                except queue.Empty:
                    break

    def close(self) -> None:
        """Stop the pool (and the shared scans' threads)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.scans is not None:
            self.scans.close()


def _interrupt_on(cancel: threading.Event,
                  cursors: list[TaskCursor]) -> threading.Event:
    """Interrupt the cursors when ``cancel`` is set; set the returned event to stop watching.

    One thread watches every running query (:data:`_WATCHER`): starting a thread per query
    cost milliseconds on a busy machine, as much as a small query itself.
    """
    return _WATCHER.watch(cancel, cursors)


class _CancelWatcher:
    """A daemon thread polling the cancel events of running queries (started on first use)."""

    POLL_S = 0.05

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._watched: dict[threading.Event, tuple[threading.Event, list[TaskCursor]]] = {}
        self._thread: threading.Thread | None = None

    def watch(self, cancel: threading.Event, cursors: list[TaskCursor]) -> threading.Event:
        done = threading.Event()
        with self._lock:
            self._watched[done] = (cancel, cursors)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="qsa-cancel")
                self._thread.start()
            self._lock.notify()
        return done

    def _run(self) -> None:
        while True:
            with self._lock:
                for done in [d for d in self._watched if d.is_set()]:
                    del self._watched[done]
                if not self._watched:
                    self._lock.wait()  # until a query is watched
                    continue
                fired = [(d, c) for d, (e, c) in self._watched.items() if e.is_set()]
                for done, _cursors in fired:
                    del self._watched[done]
            for _done, cursors in fired:
                for cursor in cursors:
                    with contextlib.suppress(duckdb.Error):
                        cursor.interrupt()
            time.sleep(self.POLL_S)


_WATCHER = _CancelWatcher()
