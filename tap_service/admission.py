"""The admission gate of synchronous queries: a few run at once, the rest wait in arrival order.

With every request admitted at once, the running queries share the cores, so a query's
latency is its own CPU time times the number running: the heavy ones (a 1 degree cone,
TOP 1000) take several times the mean and make the tail. Running about two queries per
core at a time, first come first served, makes each wait about the same, and switches less.

Only ``/sync`` passes the gate. Async jobs have their own limits (``max_running_jobs``)
and threads, so they never hold a sync slot, and a sync query never waits for one.

Nothing waits forever behind a long query: a request that has waited ``patience_s`` for a
slot runs anyway, beside the others (the gate then shares the cores as if it were not
there, until the long query ends). A waiter whose task is cancelled (its client hung up)
leaves the queue; a slot handed to it just then passes on to the next.

A slot is held while the query runs up to its first megabyte of output (most results
whole: tap_service.query.PREFETCH_BYTES); a larger result streams out after the slot is
given back, at the pace of its client, which must not hold the others up.

One gate per service process, used from its event loop only (no locks).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass


def cpu_share(processes: int, cpus: int | None = None) -> int:
    """The CPUs each of ``processes`` service processes may count on (at least one)."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // max(1, processes))


def default_slots(processes: int, cpus: int | None = None) -> int:
    """Sync queries each service process runs at once: two per CPU of its share.

    Two, not one: a query also waits (for the GIL while the event loop answers others,
    for the disk), and one per CPU left the cores idle then; on the shared 2-core
    machine it gave 0.67x the req/s of no gate, two per CPU the same req/s
    (bench/results/tap.md). Four at a time instead of twenty still keeps the tail short.
    """
    return 2 * cpu_share(processes, cpus)


@dataclass(frozen=True, slots=True)
class Admission:
    """How a request passed the gate."""

    waited_s: float
    """Seconds from asking to being admitted."""
    overflow: bool
    """Admitted beside the full slots because it had waited ``patience_s``."""


class AdmissionGate:
    """``slots`` holders at a time, first in first out, with a bounded wait."""

    def __init__(self, slots: int, patience_s: float) -> None:
        if slots < 1:
            raise ValueError(f"an admission gate needs at least one slot (given {slots})")
        if patience_s <= 0:
            raise ValueError(f"the gate's patience must be positive (given {patience_s} s)")
        self.slots = slots
        self.patience_s = patience_s
        self._running = 0
        self._waiting: deque[asyncio.Future[bool]] = deque()

    @property
    def running(self) -> int:
        """Holders now, overflow included."""
        return self._running

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return len(self._waiting)

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[Admission]:
        """Wait for a slot (FIFO, at most ``patience_s``), hold it for the body, release it."""
        admission = await self._acquire()
        try:
            yield admission
        finally:
            self._release()

    async def _acquire(self) -> Admission:
        loop = asyncio.get_running_loop()
        start = loop.time()
        if self._running < self.slots and not self._waiting:
            self._running += 1
            return Admission(0.0, overflow=False)
        turn: asyncio.Future[bool] = loop.create_future()
        self._waiting.append(turn)
        timer = loop.call_later(self.patience_s, self._overflow, turn)
        try:
            overflow = await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # a slot was handed over just now: pass it on
            else:
                self._forget(turn)
            raise
        finally:
            timer.cancel()
        return Admission(loop.time() - start, overflow=overflow)

    def _overflow(self, turn: asyncio.Future[bool]) -> None:
        """Out of patience: admit ``turn`` beside the full slots."""
        if not turn.done():
            self._forget(turn)
            self._running += 1
            turn.set_result(True)

    def _forget(self, turn: asyncio.Future[bool]) -> None:
        with suppress(ValueError):
            self._waiting.remove(turn)

    def _release(self) -> None:
        self._running -= 1
        while self._waiting and self._running < self.slots:
            turn = self._waiting.popleft()
            if not turn.done():
                self._running += 1
                turn.set_result(False)
