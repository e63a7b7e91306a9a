"""Passes 2 and 3 of a partitioned ingest: write each partition, then its margin.

Pass 2 writes partitions in ``_healpix_29`` order, one
:func:`~engine.ingest.workers.write_partition` job each, reading only the spill files of
the sky buckets it overlaps. When the last partition overlapping a bucket is written, that
bucket's spill files are deleted: the spill shrinks as the catalog grows, so the peak disk
is about one copy of the table, not two. Pass 3 merges the margin shards each partition
received (:func:`~engine.ingest.workers.merge_margin`).
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from engine.ingest import cluster, hats_layout, pipeline
from engine.ingest.layout import PartitionLayout
from engine.ingest.workers import (
    PartitionJob,
    SpillFile,
    bucket_of,
    merge_margin,
    write_partition,
)
from engine.sky.healpix import pixel_range
from engine.sky.margins import PartitionMap


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """What pass 2 writes: the published schema and the margin to send."""

    schema: pa.Schema
    margin_arcsec: float
    ra: str | None
    dec: str | None


@dataclass(frozen=True, slots=True)
class Written:
    """Rows written per partition (layout order) and per margin file."""

    counts: tuple[int, ...]
    margin_counts: dict[int, int]

    @property
    def nrows(self) -> int:
        """Rows of the new version."""
        return sum(self.counts)


def write_partitions(layout: PartitionLayout, spills: list[SpillFile], request: WriteRequest,
                     pool: Executor, bar: Any, max_pending: int) -> Written:
    """Run pass 2 (deleting spills as their buckets are done), then pass 3.

    Jobs are submitted as others finish (at most ``max_pending`` unfinished), so that
    spills are deleted while the pass runs, even when the pool runs each job inline. On a
    dask cluster the partitions' sky lookup (12 * 4**9 int32, 12.6 MB) is sent to each
    worker once instead of being built by every job.
    """
    jobs, buckets = partition_jobs(layout, spills, request)
    by_bucket: dict[int, list[str]] = defaultdict(list)
    for spill in spills:
        by_bucket[spill.bucket].append(spill.path)
    pending: dict[int, int] = defaultdict(int)
    for touched in buckets.values():
        for b in touched:
            pending[b] += 1
    for b in set(by_bucket) - set(pending):  # rows no partition takes (none, normally)
        _remove(by_bucket.pop(b))
    counts = [0] * len(jobs)
    shards: dict[int, list[str]] = {}

    def done(job: PartitionJob, res: tuple[int, list[tuple[int, str, int]]]) -> None:
        bar.update(1)
        counts[job.index] = res[0]
        for target, path, _n in res[1]:
            shards.setdefault(target, []).append(path)
        for b in buckets[job.index]:
            pending[b] -= 1
            if not pending[b]:
                _remove(by_bucket.pop(b, []))

    pmap = cluster.share(pool, lambda: PartitionMap(layout.orders, layout.ipixs,
                                                    layout.lookup_order))
    pipeline.run_streaming(pool, write_partition, jobs, done, max_pending,
                           shared=(pmap,) if pmap is not None else ())
    margin_counts: dict[int, int] = {}
    if layout.margin_dir is not None:
        futs = {i: pool.submit(merge_margin, sorted(shards.get(i, [])),
                               str(hats_layout.partition_file(layout.margin_dir, o, p)),
                               request.schema)
                for i, (o, p) in enumerate(layout.pixels)}
        margin_counts = {i: f.result() for i, f in futs.items()}
        for paths in shards.values():
            _remove(paths)
    return Written(tuple(counts), margin_counts)


def partition_jobs(layout: PartitionLayout, spills: list[SpillFile], request: WriteRequest
                   ) -> tuple[list[PartitionJob], dict[int, tuple[int, ...]]]:
    """Return one pass-2 job per partition, in ``_healpix_29`` order, with the spill row
    groups overlapping it; and the spill buckets each job (by index) reads."""
    by_bucket: dict[int, list[tuple[str, np.ndarray, np.ndarray]]] = defaultdict(list)
    for spill in spills:
        by_bucket[spill.bucket].append((spill.path, np.asarray(spill.mins),
                                        np.asarray(spill.maxs)))
    jobs = []
    buckets = {}
    for index, (order, ipix) in enumerate(layout.pixels):
        lo, hi = pixel_range(order, ipix)
        first, last = bucket_of(np.array([lo, hi - 1], dtype=np.int64)).tolist()
        touched = tuple(range(first, last + 1))
        chosen = []
        for b in touched:
            for path, mins, maxs in by_bucket.get(b, []):
                groups = np.flatnonzero((maxs >= lo) & (mins < hi))
                if len(groups):
                    chosen.append((path, tuple(groups.tolist())))
        buckets[index] = touched
        jobs.append(PartitionJob(
            index=index, order=order, ipix=ipix, spills=tuple(chosen),
            out_path=str(hats_layout.partition_file(layout.catalog_dir, order, ipix)),
            schema=request.schema,
            margin_dir=str(layout.margin_work) if layout.margin_dir else None,
            margin_arcsec=request.margin_arcsec, ra=request.ra, dec=request.dec,
            part_orders=layout.orders, part_ipixs=layout.ipixs,
            lookup_order=layout.lookup_order,
        ))
    jobs.sort(key=lambda j: pixel_range(j.order, j.ipix)[0])
    return jobs, buckets


def _remove(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
