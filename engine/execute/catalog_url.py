"""In-process execution over a catalog read through an fsspec URL (``s3://...``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence

import pyarrow as pa

from engine.adql.geometry import GEOMETRY_MACROS
from engine.execute.base import QueryProgress
from engine.execute.duck import default_memory_budget
from engine.execute.local import LocalExecutor
from engine.plan import ChunkTask
from engine.storage import CatalogLocation, open_url_database


class CatalogUrlExecutor:
    """Runs chunk tasks on threads of this process, reading the chunk files at their URL.

    The tasks name files under the local copy of the catalog's metadata; they are
    rewritten to the catalog's URL and run on a locked DuckDB that can read that URL
    prefix only (:func:`~engine.storage.open_url_database`).
    """

    def __init__(self, location: CatalogLocation, *, workers: int = 2) -> None:
        self.location = location
        self.con = open_url_database(location, threads=workers, macros=GEOMETRY_MACROS,
                                     memory_limit_bytes=default_memory_budget())
        self.local = LocalExecutor(self.con, workers=workers)

    def run(self, tasks: Sequence[ChunkTask], memory: Mapping[str, pa.Table], *,
            cancel: threading.Event,
            progress: QueryProgress | None = None) -> Iterator[pa.RecordBatch]:
        """Yield the batches of every task, read through the catalog's URL."""
        progress = progress or QueryProgress(tasks)
        mapped = [self.location.task_to_url(t) for t in tasks]
        yield from self.local.run(mapped, memory, cancel=cancel, progress=progress)

    def close(self) -> None:
        """Stop the threads and close the database."""
        self.local.close()
        self.con.close()
