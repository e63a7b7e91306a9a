"""Find a table's partitions by sky position in O(log N), not by looking at each one.

At a billion rows a table has 10^4 to 10^5 partitions; asking each whether it meets a 1'
cone costs milliseconds in Python, more than the query. HATS partitions are disjoint
HEALPix pixels, so each is one interval of ``_healpix_29`` values; sorted by their start,
the partitions meeting a set of intervals, or holding a set of values, are found by binary
search (numpy's ``searchsorted``). The index of a manifest is built once and kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from engine.catalog import Partition, TableManifest

IntArray = npt.NDArray[np.int64]

_SHIFT_29 = 29
_CACHE_SIZE = 32


class PartitionIndex:
    """Partitions sorted by their ``_healpix_29`` interval, searched by bisection."""

    def __init__(self, partitions: Sequence[Partition]) -> None:
        shifts = np.array([2 * (_SHIFT_29 - p.order) for p in partitions], dtype=np.int64)
        ipix = np.array([p.ipix for p in partitions], dtype=np.int64)
        lo = np.left_shift(ipix, shifts)
        hi = np.left_shift(ipix + 1, shifts)
        order = np.argsort(lo, kind="stable")
        self.partitions: list[Partition] = list(partitions)
        """In the manifest's order, which every answer keeps (plans stay stable)."""
        self._position = order
        """Index in :attr:`partitions` of the ``i``-th interval by start."""
        self.lo: IntArray = lo[order]
        self.hi: IntArray = hi[order]
        self.disjoint = bool(np.all(self.hi[:-1] <= self.lo[1:])) if len(order) > 1 else True
        """False for overlapping partitions (not HATS): searches then look at each one."""
        self.by_chunk = {p.chunk_id: p for p in partitions}
        self.max_order = max((p.order for p in partitions), default=0)
        self._ranks: dict[tuple[int, int], int] | None = None
        self._within: dict[int, tuple[PartitionIndex, bool]] = {}

    def __len__(self) -> int:
        return len(self.partitions)

    def meeting(self, region_order: int, pixels: npt.ArrayLike) -> list[Partition]:
        """The partitions meeting any of the sorted NESTED ``pixels`` at ``region_order``.

        Examples
        --------
        >>> index = PartitionIndex([Partition(1, i, 10, f"p{i}") for i in range(8)]
        ...                        + [Partition(0, 2, 10, "q")])
        >>> [p.chunk_id for p in index.meeting(0, [1, 2])]
        [(1, 4), (1, 5), (1, 6), (1, 7), (0, 2)]
        >>> [p.chunk_id for p in index.meeting(1, [3, 8])]
        [(1, 3), (0, 2)]
        >>> [p.chunk_id for p in index.meeting(2, [17])]
        [(1, 4)]
        """
        pix = np.asarray(pixels, dtype=np.int64)
        shift = 2 * (_SHIFT_29 - region_order)
        return self.meeting_ranges(np.left_shift(pix, shift), np.left_shift(pix + 1, shift))

    def meeting_ranges(self, starts: IntArray, ends: IntArray) -> list[Partition]:
        """The partitions meeting any half-open interval ``[starts[i], ends[i])``."""
        if not len(starts) or not self.partitions:
            return []
        if not self.disjoint:
            hit = np.zeros(len(self.partitions), dtype=bool)
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                hit |= (self.lo < e) & (self.hi > s)
            return self._in_manifest_order(np.flatnonzero(hit).tolist())
        first = np.searchsorted(self.hi, starts, side="right")
        last = np.searchsorted(self.lo, ends, side="left")
        chosen: set[int] = set()
        for a, b in zip(first.tolist(), last.tolist(), strict=True):
            chosen.update(range(a, b))
        return self._in_manifest_order(chosen)

    def _in_manifest_order(self, sorted_positions: Iterable[int]) -> list[Partition]:
        original = sorted(int(self._position[i]) for i in sorted_positions)
        return [self.partitions[i] for i in original]

    def holding(self, values: Iterable[int]) -> list[Partition]:
        """The partitions whose interval holds one of the ``_healpix_29`` ``values``.

        Examples
        --------
        >>> index = PartitionIndex([Partition(0, i, 10, f"p{i}") for i in range(12)])
        >>> [p.chunk_id for p in index.holding([5 << 58, (5 << 58) + 9, 11 << 58])]
        [(0, 5), (0, 11)]
        """
        vals = np.fromiter(values, dtype=np.int64)
        if not len(vals) or not self.partitions:
            return []
        return self.meeting_ranges(vals, vals + 1)

    def chunks(self, chunk_ids: Iterable[tuple[int, int]]) -> list[Partition]:
        """The partitions named by ``chunk_ids`` (those the table has), in manifest order."""
        rank = self._rank()
        return [self.partitions[i] for i in sorted({rank[c] for c in chunk_ids if c in rank})]

    def _rank(self) -> dict[tuple[int, int], int]:
        """Chunk id -> position in the manifest."""
        if self._ranks is None:
            self._ranks = {p.chunk_id: i for i, p in enumerate(self.partitions)}
        return self._ranks

    def within(self, other: PartitionIndex) -> bool:
        """Whether every chunk of this index is also a chunk of ``other`` (remembered)."""
        known = self._within.get(id(other))
        if known is None or known[0] is not other:
            known = (other, self.by_chunk.keys() <= other.by_chunk.keys())
            self._within[id(other)] = known
        return known[1]


_cache: OrderedDict[int, tuple[TableManifest, PartitionIndex]] = OrderedDict()
_cache_lock = threading.Lock()


def index_of(manifest: TableManifest) -> PartitionIndex:
    """The partition index of a manifest, built on first use and kept for the next query."""
    key = id(manifest)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is manifest:
            _cache.move_to_end(key)
            return hit[1]
    index = PartitionIndex(manifest.partitions)
    with _cache_lock:
        _cache[key] = (manifest, index)  # the manifest is kept, so its id is not reused
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return index
