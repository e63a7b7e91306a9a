"""Whether a process id is alive: how stale spill folders and ingest locks are told apart
from those of a process still running."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists (also one of another user's).

    Examples
    --------
    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
