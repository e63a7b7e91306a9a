"""Pass 1 of a partitioned ingest: read every part of the input once, spill it by sky bucket.

Each part (a file, some row groups of one, a part of a stream) becomes one
:func:`~engine.ingest.workers.spill_file` job in the pool. The parent adds up the row-count
histogram the partitioning is chosen from, and keeps each job's spill files.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from engine.ingest import pipeline
from engine.ingest.sources import MemoryPart, SourcePart
from engine.ingest.workers import SpillFile, SpillJob, SpillResult, spill_file


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """How pass 1 reads and validates rows (the same for every part)."""

    schema: pa.Schema
    work_dir: str
    hist_order: int
    ra: str | None
    dec: str | None
    id_column: str | None
    director_key: str | None
    director_index: str | None
    allow_orphans: bool
    read_order: int
    """Order of pass 2's read grid (:func:`~engine.ingest.workers.read_order`)."""


@dataclass(frozen=True, slots=True)
class Scan:
    """What pass 1 produced: per-part results (in input order) and the sky histogram."""

    parts: tuple[SourcePart, ...]
    results: tuple[SpillResult, ...]
    histogram: np.ndarray
    """Rows per pixel at the request's ``hist_order``."""

    @property
    def nrows(self) -> int:
        """Rows read (child rows whose director is unknown excluded)."""
        return sum(r.nrows for r in self.results)

    @property
    def spills(self) -> list[SpillFile]:
        """Every spill file, in input order."""
        return [s for r in self.results for s in r.spills]

    def rows_per_input(self, n_inputs: int) -> list[int]:
        """Rows read from each input (file or stream), by ``input_index``."""
        rows = [0] * n_inputs
        for part, res in zip(self.parts, self.results, strict=True):
            rows[part.input_index] += res.nrows
        return rows

    def digests(self, n_inputs: int) -> list[tuple[str, int]]:
        """(sha256, size) of each input file that was hashed; ("", 0) for the others."""
        out = [("", 0)] * n_inputs
        for part, res in zip(self.parts, self.results, strict=True):
            if part.hash_input:
                out[part.input_index] = (res.sha256, res.size)
        return out


def scan(parts: Iterable[SourcePart], request: ScanRequest, pool: Executor, bar: Any,
         max_pending: int) -> Scan:
    """Run pass 1 over ``parts`` (read lazily: a one-shot stream is read as jobs free up)."""
    hist = np.zeros(12 * 4**request.hist_order, dtype=np.int64)
    done: dict[int, tuple[SourcePart, SpillResult]] = {}

    def jobs() -> Iterable[SpillJob]:
        for index, part in enumerate(parts):
            yield SpillJob(part=part, schema=request.schema, work_dir=request.work_dir,
                           hist_order=request.hist_order, ra=request.ra, dec=request.dec,
                           id_column=request.id_column, director_key=request.director_key,
                           director_index=request.director_index,
                           allow_orphans=request.allow_orphans, job_index=index,
                           read_order=request.read_order)

    def on_done(job: SpillJob, res: SpillResult) -> None:
        np.add.at(hist, res.hist_pix, res.hist_counts)
        res.hist_pix = res.hist_counts = np.zeros(0, np.int64)  # free them early
        done[job.job_index] = (_light(job.part), res)
        bar.update(res.nrows)

    pipeline.run_streaming(pool, spill_file, jobs(), on_done, max_pending)
    ordered = [done[i] for i in range(len(done))]
    return Scan(tuple(p for p, _ in ordered), tuple(r for _, r in ordered), hist)


def _light(part: SourcePart) -> SourcePart:
    """Drop the rows a memory part carries once they are spilled (keep its provenance)."""
    if isinstance(part, MemoryPart):
        return replace(part, table=part.table.schema.empty_table())
    return part
