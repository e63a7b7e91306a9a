"""The executor interface: run chunk tasks, yield Arrow record batches."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from engine.plan import ChunkTask


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    """What a running query has done so far, at one instant."""

    chunks_done: int
    """Chunks whose task has finished (a task without chunks counts as one)."""
    chunks_total: int
    """Chunks the query reads: the denominator of the progress bar."""
    tasks_running: int
    """Chunk tasks started and not yet finished (0 once a query is over or cancelled)."""
    rows: int
    """Result rows handed to the reader so far."""

    @property
    def fraction(self) -> float:
        """Share of the chunks done, 0..1 (1 for a query without chunks)."""
        return self.chunks_done / self.chunks_total if self.chunks_total else 1.0


def task_weight(task: ChunkTask) -> int:
    """Chunks a task stands for in the progress count (at least one)."""
    return max(1, len(task.chunks))


class QueryProgress:
    """Progress of one running query: executors count finished tasks, the result its rows.

    Written from executor threads, read from any thread (a notebook bar, the UWS runner).

    Examples
    --------
    >>> tasks = [ChunkTask("SELECT 1", chunks=((5, 1), (5, 2))), ChunkTask("SELECT 1")]
    >>> progress = QueryProgress(tasks)
    >>> progress.task_started(); progress.task_done(tasks[0]); progress.task_stopped()
    >>> snap = progress.snapshot()
    >>> snap.chunks_done, snap.chunks_total, snap.tasks_running, round(snap.fraction, 2)
    (2, 3, 0, 0.67)
    """

    def __init__(self, tasks: Sequence[ChunkTask]) -> None:
        self._lock = threading.Lock()
        self._chunks_total = sum(task_weight(t) for t in tasks)
        self._chunks_done = 0
        self._running = 0
        self._rows = 0

    def task_started(self) -> None:
        """Note that a task began running."""
        with self._lock:
            self._running += 1

    def task_done(self, task: ChunkTask) -> None:
        """Note that ``task`` read all its chunks."""
        with self._lock:
            self._chunks_done = min(self._chunks_total, self._chunks_done + task_weight(task))

    def task_stopped(self) -> None:
        """Note that a started task ended (finished, failed or cancelled)."""
        with self._lock:
            self._running = max(0, self._running - 1)

    def add_rows(self, rows: int) -> None:
        """Note that ``rows`` more result rows reached the reader."""
        with self._lock:
            self._rows += rows

    def snapshot(self) -> ProgressSnapshot:
        """Return the counts now."""
        with self._lock:
            return ProgressSnapshot(self._chunks_done, self._chunks_total, self._running,
                                    self._rows)


class Executor(Protocol):
    """Runs self-contained chunk tasks (SQL + file paths + in-memory tables)."""

    def run(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table], *,
            cancel: threading.Event,
            progress: QueryProgress | None = None) -> Iterator[pa.RecordBatch]:
        """Yield the batches of every task, in any order; stop soon after ``cancel`` is set.

        With ``progress``, count each task as it starts, finishes and stops.
        """
        ...

    def close(self) -> None:
        """Release workers and connections."""
        ...
