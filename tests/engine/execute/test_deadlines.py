"""Query time limits come from one thread, whatever the number of queries."""

from __future__ import annotations

import gc
import threading
import time

from engine.execute.deadlines import Deadlines


def test_events_are_set_when_due_and_a_sooner_one_added_later_is_not_kept_waiting() -> None:
    deadlines = Deadlines()
    late, soon = threading.Event(), threading.Event()
    started = time.monotonic()
    deadlines.set_after(late, 30.0)
    deadlines.set_after(soon, 0.05)
    assert soon.wait(5.0)
    assert 0.04 < time.monotonic() - started < 5.0
    assert not late.is_set()


def test_many_limits_share_one_thread_and_forget_dropped_events() -> None:
    before = threading.active_count()
    deadlines = Deadlines()
    for _ in range(500):
        deadlines.set_after(threading.Event(), 600.0)  # dropped at once, as ended queries are
    kept = threading.Event()
    deadlines.set_after(threading.Event(), 0.01)  # due at once, its event already collected
    gc.collect()
    deadlines.set_after(kept, 0.02)
    assert kept.wait(5.0)
    assert threading.active_count() == before + 1
