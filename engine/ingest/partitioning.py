"""Adaptive HEALPix partitioning: merge sparse pixels, keep dense ones fine."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

HISTOGRAM_ORDER = 9
"""Order of the row-count histogram, hence the finest partition order (~6.9 arcmin).
Its dense lookup table is 3 M entries (12 MB as int32), cheap to ship to workers."""

DEFAULT_MAX_ROWS_PER_PARTITION = 1_000_000
"""Target upper bound of rows per partition: about 50-100 MB of Parquet, which one
DuckDB thread scans in well under a second."""


def choose_partitions(
    counts: npt.NDArray[np.int64], max_rows: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return the (orders, ipixs) of the partitions for a histogram at order ``H``.

    Bottom-up, as hats-import does: four sibling pixels merge into their parent when each
    of them is whole and their total is at most ``max_rows``. Pixels at order ``H`` that
    still exceed ``max_rows`` stay as they are. Empty pixels get no partition.

    Examples
    --------
    >>> counts = np.zeros(12 * 4, dtype=np.int64); counts[0:4] = [5, 5, 5, 5]; counts[4] = 30
    >>> orders, ipixs = choose_partitions(counts, max_rows=20)
    >>> list(zip(orders.tolist(), ipixs.tolist()))
    [(0, 0), (1, 4)]
    """
    top = round(np.log2(len(counts) // 12) / 2)
    levels = [counts.astype(np.int64)]
    mergeable = [levels[0] <= max_rows]
    for _ in range(top):
        child_counts, child_ok = levels[-1], mergeable[-1]
        parent = child_counts.reshape(-1, 4).sum(axis=1)
        ok = child_ok.reshape(-1, 4).all(axis=1) & (parent <= max_rows)
        levels.append(parent)
        mergeable.append(ok)
    orders: list[npt.NDArray[np.int64]] = []
    ipixs: list[npt.NDArray[np.int64]] = []
    for order in range(top + 1):
        level = top - order
        ok, cnt = mergeable[level], levels[level]
        parent_ok = (
            np.zeros_like(ok) if order == 0 else np.repeat(mergeable[level + 1], 4)
        )
        keep = ok & ~parent_ok & (cnt > 0)
        if order == top:
            keep |= ~ok & (cnt > 0)
        pix = np.flatnonzero(keep).astype(np.int64)
        orders.append(np.full(len(pix), order, dtype=np.int64))
        ipixs.append(pix)
    return np.concatenate(orders), np.concatenate(ipixs)
