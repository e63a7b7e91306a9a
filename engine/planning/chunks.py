"""The chunk-choice pass: which partitions a table reference reads, and how tasks group them.

A region picks the partitions its HEALPix coverage meets and the ``_healpix_29`` ranges
a scan keeps (row-group pruning); id values pick the partitions their rows are stored in
(from an id index). Either gives a superset of the rows: the query's own predicates still
decide which rows match.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence

from engine.catalog import PARTITION_ROW_GROUP_ROWS, Partition, PublishedTable, TableKind
from engine.plan import PlanOptions
from engine.planning.analysis import TableRef
from engine.planning.partition_index import index_of
from engine.sky.healpix import SPATIAL_INDEX_ORDER
from engine.sky.regions import ConeRegion, IntArray, Region, coverage_order, pixel_ranges

MAX_INDEX_RANGES = 12
"""Most ``_healpix_29`` ranges put in one scan's filter; coarser ranges beyond that."""

IdLookup = Callable[[PublishedTable, list[int | str]], list[int] | None]
"""Maps id values of a table to the ``_healpix_29`` of their rows (None: cannot tell)."""

Ranges = list[tuple[int, int]]


class ChunkChooser:
    """Chooses partitions and groups them into tasks, for the tables of one data directory."""

    def __init__(self, id_lookup: IdLookup, options: PlanOptions) -> None:
        self.id_lookup = id_lookup
        self.options = options

    def chunks_of(self, ref: TableRef) -> tuple[list[Partition], Ranges | None]:
        """Return the partitions a reference must read and the index ranges to keep."""
        manifest = ref.source.manifest
        assert manifest is not None and ref.source.published is not None
        # Searched in an index (O(log N) a pixel): never a look at each of 10^5 partitions.
        index = index_of(manifest)
        parts: list[Partition] | None = None  # None: all of them
        ranges: Ranges | None = None
        placement = placement_region(ref)
        if placement is not None:
            coverages = Coverages(placement)
            cov_order, pixels = coverages.at(index.max_order)
            parts = index.meeting(cov_order, pixels)
            ranges = bounded_ranges(placement, coverages)
        for indexed, ids in ref.id_lookups:
            index_values = self.id_lookup(indexed, ids)
            if index_values is None:
                continue
            held = index.holding(index_values)
            if parts is not None:
                kept = {p.chunk_id for p in parts}
                held = [p for p in held if p.chunk_id in kept]
            parts = held
            id_ranges = sorted({(v, v + 1) for v in index_values})
            ranges = id_ranges if ranges is None else intersect_ranges(ranges, id_ranges)
        return (list(manifest.partitions) if parts is None else parts), ranges

    def groups(self, parts: Sequence[Partition]) -> list[list[Partition]]:
        """Split partitions into task groups of about ``rows_per_task`` rows each."""
        total = sum(p.nrows for p in parts)
        count = max(1, min(len(parts), self.options.max_tasks,
                           math.ceil(total / max(1, self.options.rows_per_task))))
        groups: list[list[Partition]] = [[] for _ in range(count)]
        # The least loaded group (the first of equals) takes the next largest partition;
        # a heap of (load, group) finds it in O(log tasks), not by a look at each group.
        loads = [(0, g) for g in range(count)]
        for part in sorted(parts, key=lambda p: -p.nrows):
            load, target = loads[0]
            groups[target].append(part)
            heapq.heapreplace(loads, (load + max(1, part.nrows), target))
        return [sorted(g, key=lambda p: (p.order, p.ipix)) for g in groups if g]


def placement_region(ref: TableRef) -> Region | None:
    """The region holding the ``_healpix_29`` of every row of ``ref`` its region admits.

    A positional table is placed by its own positions. A child is placed with its director
    rows, up to ``director_offset_arcsec`` away from its own positions: its region is grown
    by that much (and gives no pruning when the offset is unknown).
    """
    manifest = ref.source.manifest
    if ref.region is None or manifest is None or manifest.kind != TableKind.CHILD:
        return ref.region
    if manifest.director_offset_arcsec is None:
        return None
    return ref.region.expanded(manifest.director_offset_arcsec / 3600.0)


def dec_band(ref: TableRef) -> tuple[str, float, float] | None:
    """The declination band of a cone constraining ``ref``, widened by a hair (or None)."""
    manifest = ref.source.manifest
    region = ref.region
    if manifest is None or not manifest.dec_column or not isinstance(region, ConeRegion):
        return None
    slack = 1e-9
    return (manifest.dec_column, region.dec_deg - region.radius_deg - slack,
            region.dec_deg + region.radius_deg + slack)


RA_WINDOW_MAX_DEC = 89.0
"""A cone reaching further from the equator than this gets no right-ascension window."""


def ra_window(ref: TableRef) -> tuple[str, float, float] | None:
    """``(column, start, width)``: the right ascensions a cone constraining ``ref`` spans.

    A cap of radius r around declination d that holds no pole spans
    asin(sin r / cos d) either side of its centre in right ascension; the window is that,
    widened by a hair, starting at ``start`` (in [0, 360)) and read modulo 360 (it may cross
    0). Like :func:`dec_band` it is a superset of the cone: rows outside it skip the
    spherical test, a large part of a 1 deg cone's scan (at 1e8 rows the window cut its
    candidates from 36,580 to 20,625 for 16,232 matches). None near a pole or for other
    regions.

    Examples
    --------
    >>> round(_window_of(ConeRegion(359.5, 60.0, 1.0))[1], 6)  # +-2.0003 deg at dec 60
    4.000612
    """
    manifest = ref.source.manifest
    region = ref.region
    if manifest is None or not manifest.ra_column or not isinstance(region, ConeRegion):
        return None
    window = _window_of(region)
    return None if window is None else (manifest.ra_column, *window)


def _window_of(cone: ConeRegion) -> tuple[float, float] | None:
    if abs(cone.dec_deg) + cone.radius_deg >= RA_WINDOW_MAX_DEC or cone.radius_deg < 0:
        return None
    half = math.degrees(math.asin(min(1.0, math.sin(math.radians(cone.radius_deg))
                                      / math.cos(math.radians(cone.dec_deg)))))
    slack = 1e-6
    return (cone.ra_deg - half - slack) % 360.0, 2 * (half + slack)


class Coverages:
    """A region's coverage at each order asked, each computed once.

    Orders a region computes at the same coarser order (a large cone's, whose coverage is
    lowered to keep its pixel count down) share one healpy call: a 1 deg cone's ranges
    asked for the same pixels five times. Made for one plan (a cache across queries would
    only flatter a benchmark repeating one cone).
    """

    def __init__(self, region: Region) -> None:
        self.region = region
        self._found: dict[int, tuple[int, IntArray]] = {}

    def at(self, order: int) -> tuple[int, IntArray]:
        """``region.coverage(order)``."""
        used = coverage_order(self.region, order)
        if used is None:
            return self.region.coverage(order)
        if used not in self._found:
            self._found[used] = self.region.coverage(order)
        return self._found[used]


def bounded_ranges(region: Region, coverages: Coverages | None = None) -> Ranges:
    """Index ranges covering ``region``, at the finest order giving few enough of them."""
    coverages = coverages or Coverages(region)
    for order in range(18, -1, -2):
        ranges = pixel_ranges(*coverages.at(order))
        if len(ranges) <= MAX_INDEX_RANGES:
            return ranges
    return pixel_ranges(*coverages.at(0))


def row_group_ranges(ranges: Ranges, partitions: Sequence[Partition]) -> Ranges:
    """``ranges`` with the gaps narrower than a row group of ``partitions`` filled in.

    Rows are stored sorted by ``_healpix_29``, so a row group holds one interval of it and
    DuckDB skips the row groups that no range meets. A gap narrower than the smallest row
    group (its expected extent: the partition's interval times its share of the rows) cannot
    hold a whole row group, so filling it skips the same row groups, while the filter then
    tests each row against fewer ranges: a 1' cone's seven ranges cost DuckDB ~2 ms more
    than one (bench/results/latency.md). The result covers every range given (a superset of
    the rows); the query's own predicates still decide which rows match.

    Examples
    --------
    >>> part = Partition(order=0, ipix=0, nrows=4 * PARTITION_ROW_GROUP_ROWS,
    ...                  path="p")  # 4 row groups
    >>> far = 1 << 57  # an order-0 pixel holds 4**29 index values: a row group ~2**56
    >>> row_group_ranges([(0, 10), (20, 30), (far, far + 1)], [part])
    [(0, 30), (144115188075855872, 144115188075855873)]
    """
    if len(ranges) < 2 or not partitions:
        return ranges
    span = min((1 << 2 * (SPATIAL_INDEX_ORDER - p.order)) * PARTITION_ROW_GROUP_ROWS
               // max(p.nrows, 1) for p in partitions)
    merged = [ranges[0]]
    for lo, hi in ranges[1:]:
        last_lo, last_hi = merged[-1]
        if lo - last_hi < span:
            merged[-1] = (last_lo, max(last_hi, hi))
        else:
            merged.append((lo, hi))
    return merged


def intersect_ranges(a: Ranges, b: Ranges) -> Ranges:
    """The half-open ranges in both ``a`` and ``b``.

    Examples
    --------
    >>> intersect_ranges([(0, 10), (20, 30)], [(5, 25)])
    [(5, 10), (20, 25)]
    """
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo < hi:
                out.append((lo, hi))
    return sorted(out)


def combine_ranges(a: Ranges | None, b: Ranges | None) -> Ranges | None:
    """Ranges kept by both constraints (None: unconstrained).

    Examples
    --------
    >>> combine_ranges(None, [(1, 2)]), combine_ranges([(0, 4)], [(2, 9)])
    ([(1, 2)], [(2, 4)])
    """
    if a is None:
        return b
    if b is None:
        return a
    return intersect_ranges(a, b)
