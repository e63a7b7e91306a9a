"""Query time limits: one thread sets the stop flag of every query whose time has run out.

A ``threading.Timer`` per query started a thread per query that lived for the whole limit
(600 s for a TAP sync query) even after the query ended: a service answering 50 queries
a second held 30,000 sleeping threads, and each start waited for the new thread to run.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import weakref


class Deadlines:
    """Sets events when their time comes, from one daemon thread started on first use.

    Only a weak reference to each event is kept: a query that has ended and been dropped
    costs nothing but its entry until the time it would have been stopped.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, weakref.ref[threading.Event]]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def set_after(self, event: threading.Event, seconds: float) -> None:
        """Set ``event`` ``seconds`` from now (unless it is gone by then)."""
        entry = (time.monotonic() + seconds, next(self._order), weakref.ref(event))
        with self._changed:
            heapq.heappush(self._due, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="qsa-deadlines")
                self._thread.start()
            elif self._due[0] is entry:  # sooner than the one the thread waits for
                self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                while self._due and self._due[0][0] <= now:
                    event = heapq.heappop(self._due)[2]()
                    if event is not None:
                        event.set()
                self._changed.wait(self._due[0][0] - now if self._due else None)


DEADLINES = Deadlines()
"""The process's one deadline thread."""
