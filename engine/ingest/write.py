"""Passes 2 and 3 of a partitioned ingest: write each partition, then its margin.

Pass 2 reads the spill once, front to back. Pass 1 cut every spill row group inside one
cell of the read grid (:func:`~engine.ingest.workers.read_order`); pass 2 groups
consecutive partitions (``_healpix_29`` order) into jobs of whole cells, about
:data:`GROUP_ROWS` rows each, and each job
(:func:`~engine.ingest.workers.write_partition_group`) reads the row groups of its cells
from the spill files of its sky buckets, sorts them once and writes each of its
partitions. No row group is read by two jobs (but those of a cell holding more than twice
:data:`GROUP_ROWS` rows, which is split by partitions to bound a job's memory). When the
last job overlapping a bucket is done, that bucket's spill files are deleted: the spill
shrinks as the catalog grows, so the peak disk is about one copy of the table, not two.
Pass 3 merges the margin shards each partition received
(:func:`~engine.ingest.workers.merge_margin`).
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
    PartitionGroupJob,
    PartitionOut,
    SpillFile,
    bucket_of,
    merge_margin,
    write_partition_group,
)
from engine.sky.healpix import SPATIAL_INDEX_ORDER, pixel_range
from engine.sky.margins import PartitionMap

GROUP_ROWS = 3_000_000
"""Rows a pass-2 job reads (sorted in one worker's memory: ~0.2 GB per million rows of
the synthetic catalog), unless one cell of the read grid holds more."""

JOBS_PER_WORKER = 16
"""Smaller jobs for a small table: at least this many per worker, so that the workers
finish together, and the spill of the jobs under way (not yet deleted while their
partitions are written) stays a small share of the table: with 8 per worker, 20M rows
peaked at 1.25x the published size, against 1.20x with a job per partition."""


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


@dataclass(frozen=True, slots=True)
class SpillIndex:
    """What pass 2 reads: pass 1's spill files, its sky histogram (to size the jobs) and
    the order of the read grid its row groups are cut on."""

    spills: list[SpillFile]
    histogram: np.ndarray
    read_order: int


def write_partitions(layout: PartitionLayout, spilled: SpillIndex, request: WriteRequest,
                     pool: Executor, bar: Any, workers: int) -> Written:
    """Run pass 2 (deleting spills as their buckets are done), then pass 3.

    Jobs are submitted as others finish (at most ``workers + 2`` unfinished; one at a
    time for one worker, which runs them inline), so that
    spills are deleted while the pass runs, even when the pool runs each job inline. On a
    dask cluster the partitions' sky lookup (12 * 4**9 int32, 12.6 MB) is sent to each
    worker once instead of being built by every job.
    """
    total = int(spilled.histogram.sum())
    group_rows = min(GROUP_ROWS, max(total // (JOBS_PER_WORKER * workers), 1))
    groups = plan_groups(layout, spilled.histogram, spilled.read_order, group_rows)
    jobs, buckets = group_jobs(layout, groups, spilled.spills, request)
    by_bucket: dict[int, list[str]] = defaultdict(list)
    for spill in spilled.spills:
        by_bucket[spill.bucket].append(spill.path)
    pending: dict[int, int] = defaultdict(int)
    for touched in buckets:
        for b in touched:
            pending[b] += 1
    for b in set(by_bucket) - set(pending):  # rows no partition takes (none, normally)
        _remove(by_bucket.pop(b))
    counts = [0] * len(layout.orders)
    shards: dict[int, list[str]] = {}

    def done(job: tuple[int, PartitionGroupJob],
             res: list[tuple[int, int, list[tuple[int, str, int]]]]) -> None:
        bar.update(len(res))
        for index, nrows, sent in res:
            counts[index] = nrows
            for target, path, _n in sent:
                shards.setdefault(target, []).append(path)
        for b in buckets[job[0]]:
            pending[b] -= 1
            if not pending[b]:
                _remove(by_bucket.pop(b, []))

    pmap = cluster.share(pool, lambda: PartitionMap(layout.orders, layout.ipixs,
                                                    layout.lookup_order))
    pipeline.run_streaming(pool, _run_group, list(enumerate(jobs)), done,
                           1 if workers == 1 else workers + 2, shared=(pmap,))
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


def _run_group(numbered: tuple[int, PartitionGroupJob], pmap: PartitionMap | None
               ) -> list[tuple[int, int, list[tuple[int, str, int]]]]:
    """Run one numbered pass-2 job in a worker."""
    return write_partition_group(numbered[1], pmap)


def plan_groups(layout: PartitionLayout, histogram: np.ndarray, read_order: int,
                group_rows: int) -> list[list[int]]:
    """Return the partitions (layout indices) of each pass-2 job, in ``_healpix_29`` order.

    A partition of order ``read_order`` or coarser is a unit of whole cells; the finer
    partitions of one cell make one unit. Consecutive units are gathered up to
    ``group_rows`` rows (a unit alone may hold more); a unit over twice that is split
    by partitions. Rows are counted from the histogram (whole histogram pixels).
    """
    cum = np.concatenate([[0], np.cumsum(histogram, dtype=np.int64)])
    hist_shift = 2 * (SPATIAL_INDEX_ORDER - _order_of(histogram))
    cell_shift = 2 * (SPATIAL_INDEX_ORDER - read_order)
    ranges = [pixel_range(o, p) for o, p in layout.pixels]

    def rows(lo: int, hi: int) -> int:
        return int(cum[((hi - 1) >> hist_shift) + 1] - cum[lo >> hist_shift])

    units: list[list[int]] = []
    last_cell = None
    for index in sorted(range(len(ranges)), key=lambda i: ranges[i][0]):
        cell = (ranges[index][0] >> cell_shift
                if layout.orders[index] > read_order else None)
        if cell is None or cell != last_cell:
            units.append([])
        units[-1].append(index)
        last_cell = cell
    groups: list[list[int]] = []
    current: list[int] = []
    current_rows = 0
    for unit in units:
        n = rows(ranges[unit[0]][0], ranges[unit[-1]][1])
        if current and (current_rows + n > group_rows or n > 2 * group_rows):
            groups.append(current)
            current, current_rows = [], 0
        if n > 2 * group_rows and len(unit) > 1:  # an overfull cell: a job per piece
            groups.extend(_split(unit, [rows(*ranges[i]) for i in unit], group_rows))
            continue
        current += unit
        current_rows += n
    if current:
        groups.append(current)
    return groups


def _split(unit: list[int], sizes: list[int], group_rows: int) -> list[list[int]]:
    """Cut a unit's partitions into consecutive pieces of about ``group_rows`` rows."""
    pieces: list[list[int]] = [[]]
    held = 0
    for index, n in zip(unit, sizes, strict=True):
        if pieces[-1] and held + n > group_rows:
            pieces.append([])
            held = 0
        pieces[-1].append(index)
        held += n
    return pieces


def _order_of(histogram: np.ndarray) -> int:
    """Return the HEALPix order of a histogram (12 * 4**order pixels)."""
    order = round(np.log2(len(histogram) // 12) / 2)
    assert len(histogram) == 12 * 4**order, len(histogram)
    return order


def group_jobs(layout: PartitionLayout, groups: list[list[int]], spills: list[SpillFile],
               request: WriteRequest
               ) -> tuple[list[PartitionGroupJob], list[tuple[int, ...]]]:
    """Return one pass-2 job per group, with the spill row groups overlapping its rows'
    range; and the spill buckets each job reads."""
    by_bucket: dict[int, list[tuple[str, np.ndarray, np.ndarray]]] = defaultdict(list)
    for spill in spills:
        by_bucket[spill.bucket].append((spill.path, np.asarray(spill.mins),
                                        np.asarray(spill.maxs)))
    jobs = []
    buckets = []
    for group in groups:
        lo = pixel_range(int(layout.orders[group[0]]), int(layout.ipixs[group[0]]))[0]
        hi = pixel_range(int(layout.orders[group[-1]]), int(layout.ipixs[group[-1]]))[1]
        first, last = bucket_of(np.array([lo, hi - 1], dtype=np.int64)).tolist()
        touched = tuple(range(first, last + 1))
        chosen = []
        for b in touched:
            for path, mins, maxs in by_bucket.get(b, []):
                rowgroups = np.flatnonzero((maxs >= lo) & (mins < hi))
                if len(rowgroups):
                    chosen.append((path, tuple(rowgroups.tolist())))
        buckets.append(touched)
        jobs.append(PartitionGroupJob(
            partitions=tuple(PartitionOut(
                i, int(layout.orders[i]), int(layout.ipixs[i]),
                str(hats_layout.partition_file(layout.catalog_dir, int(layout.orders[i]),
                                               int(layout.ipixs[i]))))
                for i in group),
            lo=lo, hi=hi, spills=tuple(chosen), schema=request.schema,
            margin_dir=str(layout.margin_work) if layout.margin_dir else None,
            margin_arcsec=request.margin_arcsec, ra=request.ra, dec=request.dec,
            part_orders=layout.orders, part_ipixs=layout.ipixs,
            lookup_order=layout.lookup_order,
        ))
    return jobs, buckets


def _remove(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
