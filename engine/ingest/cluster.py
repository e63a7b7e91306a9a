"""Ingest on a dask distributed cluster: the passes' tasks run on its workers.

The passes only submit tasks to a :class:`concurrent.futures.Executor` and wait for their
results, so a cluster takes the place of the local process pool through
:class:`DaskPool`, an executor over a ``distributed.Client``. Workers read the inputs and
write the spills and partitions themselves, so they must see the data directory and the
input files at the same paths as this process (a shared filesystem):
:meth:`DaskPool.require_paths` checks that on every worker before pass 1. The staged version
is published by this process, atomically, as a local ingest does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from engine.errors import IngestError

CONNECT_TIMEOUT_S = 20.0
"""How long to keep trying to reach a scheduler given by its address."""

DaskTarget = Any
"""A scheduler address (``tcp://HOST:PORT``) or a ``distributed.Client``."""


def stat_paths(paths: Sequence[str]) -> str | None:
    """Return why this process cannot see one of ``paths`` (None: it sees them all).

    Run on each worker by :meth:`DaskPool.require_paths`: a folder must be a folder this
    process may write to, a file a readable file.
    """
    for path in paths:
        try:
            os.stat(path)
        except OSError as exc:
            return f"{path}: {exc.strerror or type(exc).__name__}"
        if os.path.isdir(path) and not os.access(path, os.W_OK | os.X_OK):
            return f"{path}: not writable"
        if os.path.isfile(path) and not os.access(path, os.R_OK):
            return f"{path}: not readable"
    return None


class DaskPool(Executor):
    """An executor whose tasks run on a dask cluster's workers (see the module docstring).

    Parameters
    ----------
    target
        A scheduler address, or a ``distributed.Client`` (left open at shutdown; a client
        made from an address is closed).
    """

    def __init__(self, target: DaskTarget) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask is a declared dependency
            raise IngestError("Ingest on a dask cluster needs the 'distributed' package "
                              "(pip install 'qserv-access[dask]').") from exc
        self._owns = not isinstance(target, Client)
        if self._owns:
            if not isinstance(target, str) or "://" not in target:
                raise IngestError(f"dask={target!r}: give a scheduler address such as "
                                  "tcp://HOST:8786, or a distributed.Client.")
            try:
                target = Client(target, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise IngestError(f"Cannot reach the dask scheduler at {target}: {exc}. "
                                  "Check the address and that the scheduler runs.") from exc
        self.client = target
        self._executor = target.get_executor(pure=False)

    @property
    def nthreads(self) -> int:
        """Task slots of the cluster (threads over its workers, at least 1)."""
        return max(sum(self.client.nthreads().values()), 1)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a worker (a future's value when given a future
        from :meth:`share`)."""
        return self._executor.submit(fn, *args, **kwargs)

    def share(self, value: Any, *, broadcast: bool = True) -> Any:
        """Send ``value`` to every worker once (or to one, which the task that needs it
        reads it from); return what to pass to tasks in its stead."""
        return self.client.scatter(value, broadcast=broadcast, hash=False)

    def require_paths(self, paths: Sequence[str]) -> None:
        """Fail unless every worker sees ``paths`` (folders writable, files readable).

        Raises
        ------
        IngestError
            Naming the first worker that cannot, the path and why; or no workers at all.
        """
        workers = self.client.nthreads()
        if not workers:
            raise IngestError(f"The dask cluster at {self.client.scheduler.address} has no "
                              "workers; start some (dask worker ADDRESS) and try again.")
        found = self.client.run(stat_paths, list(paths), on_error="return")
        for worker, problem in sorted(found.items()):
            if isinstance(problem, BaseException):
                problem = f"the check failed: {problem!r}"
            if problem is not None:
                raise IngestError(
                    f"dask worker {worker} cannot use {problem}. The workers write the "
                    "staging folder of the data directory and read the input files at the "
                    "same paths as this process: mount that filesystem on every worker, at "
                    "the same path. Nothing was published.")

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop submitting; close the client when this pool opened it."""
        self._executor.shutdown(wait=wait and not cancel_futures)
        if self._owns:
            self.client.close()


def share(pool: Executor, value: Callable[[], Any]) -> Any:
    """What to pass tasks for a large value the workers need: on a cluster, ``value()``
    sent once to each worker; elsewhere None (each task computes it, which costs less than
    pickling it into every task of a process pool)."""
    return pool.share(value()) if isinstance(pool, DaskPool) else None


def by_reference(pool: Executor, value: Any) -> Any:
    """What to pass a task for a large value (the 25 MB sky histogram): on a cluster, a
    reference to it sent ahead, out of the task graph; elsewhere the value itself."""
    return pool.share(value, broadcast=False) if isinstance(pool, DaskPool) else value
