"""Waiting in tests for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(check: Callable[[], T], deadline_s: float = 30.0, interval_s: float = 0.01) -> T:
    """Call ``check`` until it returns something true or ``deadline_s`` passes; return its
    last value, so the caller can assert on it (``assert poll(lambda: done.is_set())``)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    return check()


def wait_until(check: Callable[[], T], deadline_s: float, what: str,
               interval_s: float = 0.02) -> T:
    """Like :func:`poll`, but raise ``AssertionError`` naming ``what`` when it never came."""
    value = poll(check, deadline_s, interval_s)
    if not value:
        raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")
    return value
