"""Worker processes of a local ingest: their Arrow threads, and the HATS metadata process.

A pool of ``n`` worker processes already splits the work ``n`` ways; each worker keeping
Arrow's default pool (one thread per core) would run ``n`` times as many threads as cores
(16 x 16 on a 16-core machine), costing CPU in contention. Each worker gets its share of
the cores instead (:func:`arrow_threads`).

Writing the HATS metadata needs ``hats`` (with pandas and astropy: seconds to import and
~300 MB, so not in the main process). A worker importing it after passes 2 and 3 made that
import part of every ingest's fixed cost; :class:`MetadataProcess` starts one process at
the beginning, which imports it while the passes run.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any


def arrow_threads(workers: int, cpus: int | None = None) -> int:
    """Arrow CPU threads for each of ``workers`` processes: their share of the cores.

    Examples
    --------
    >>> arrow_threads(16, 16), arrow_threads(2, 16), arrow_threads(4, 2)
    (1, 8, 1)
    """
    return max((cpus or os.cpu_count() or 1) // max(workers, 1), 1)


def set_up_worker(threads: int) -> None:
    """A worker's initializer: ``threads`` Arrow CPU threads, and healpy without plots.

    healpy imports matplotlib (for its map plots) whenever it is installed: a third of the
    ~2 CPU seconds each worker spends importing healpy, for plots no ingest task draws.
    Marked missing here (unless already imported), it is left out.
    """
    import sys

    import pyarrow as pa

    if "healpy" not in sys.modules:
        sys.modules.setdefault("matplotlib", None)  # type: ignore[arg-type]
    pa.set_cpu_count(threads)


def spawn_pool(workers: int, initializer: Callable[..., None] | None = None,
               initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes (safe with Arrow's threads)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)


def import_hats() -> None:
    """Import what :func:`~engine.ingest.hats_layout.write_hats` uses (the process's start)."""
    import hats.catalog
    import hats.io.parquet_metadata
    import hats.io.skymap  # noqa: F401

    from engine.ingest import hats_layout  # noqa: F401


class MetadataProcess:
    """Where the HATS metadata is written: a process of its own, started (and importing
    ``hats``) at once, when the ingest runs in a local process pool; else the pool itself
    (in this process with one worker; on a dask cluster, one of its workers).

    Use as a context manager; :meth:`submit` runs a task there. ``needed=False`` (a table
    without HATS metadata) starts nothing.
    """

    def __init__(self, pool: Executor, *, needed: bool = True) -> None:
        self._own: ProcessPoolExecutor | None = None
        self._executor = pool
        if needed and isinstance(pool, ProcessPoolExecutor):
            self._own = spawn_pool(1, import_hats)
            self._own.submit(int)  # spawn it now: its initializer imports hats meanwhile
            self._executor = self._own

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` in the metadata process (or the pool)."""
        return self._executor.submit(fn, *args, **kwargs)

    def __enter__(self) -> MetadataProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if self._own is not None:  # after an error, without waiting for its imports
            self._own.shutdown(wait=kind is None, cancel_futures=True)
