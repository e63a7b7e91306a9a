"""The executor interface: run chunk tasks, yield Arrow record batches."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import pyarrow as pa

from engine.plan import ChunkTask


class Executor(Protocol):
    """Runs self-contained chunk tasks (SQL + file paths + in-memory tables)."""

    def run(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table], *,
            cancel: threading.Event) -> Iterator[pa.RecordBatch]:
        """Yield the batches of every task, in any order; stop soon after ``cancel`` is set."""
        ...

    def close(self) -> None:
        """Release workers and connections."""
        ...
