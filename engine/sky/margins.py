"""Margins (Qserv's overlap): which rows of a partition lie near other partitions.

The margin of partition P is every row *outside* P within ``margin_arcsec`` of P. We
compute it from the other side: for the rows of each partition, which *other*
partitions does a disc of radius ``margin_arcsec`` around the row touch? The row then
belongs to the margin of each of them.

Two phases keep this fast and exact:

1. A vectorised prefilter at a "neighbour order" ``m`` whose pixels are at least four
   times wider than the radius: a disc around a row then stays inside the row's order-m
   pixel and its 8 neighbours, so a row whose 3x3 block lies wholly in its own
   partition is in no margin. Only rows near a partition edge survive (a few percent).
2. For those, ``healpy.query_disc(..., inclusive=True)`` with an overlap test at order
   :data:`EXACT_ORDER` lists the pixels the disc touches; it is conservative, so no row
   within the radius is ever missed.

Slack bound: ``inclusive=True`` may report pixels up to one order-:data:`EXACT_ORDER`
pixel beyond the disc, so a margin row lies within ``margin_arcsec + MARGIN_SLACK_ARCSEC``
of its partition, and every row within ``margin_arcsec`` is present.
"""

from __future__ import annotations

import math

import healpy as hp
import numpy as np
import numpy.typing as npt

EXACT_ORDER = 20
"""Order at which the disc/pixel overlap test of the exact phase is done (~0.2 arcsec)."""

MARGIN_SLACK_ARCSEC = 0.5
"""Upper bound on how far beyond the margin radius a margin row may lie: the maximal
radius of an order-20 pixel (about 0.25 arcsec), with a factor two of headroom."""

_PIXEL_TO_RADIUS = 4.0
"""The neighbour order's pixels must be this many times wider than the radius, so the
disc around any point of a pixel stays inside its 3x3 block even for the narrow pixels
near the poles (their narrowest width is well above half the nominal resolution)."""


def neighbour_order(margin_arcsec: float) -> int:
    """Return the finest order whose pixels are comfortably wider than the radius.

    Examples
    --------
    >>> neighbour_order(10.0)
    12
    """
    for order in range(EXACT_ORDER, -1, -1):
        resol_arcsec = math.degrees(hp.nside2resol(1 << order)) * 3600.0
        if resol_arcsec >= _PIXEL_TO_RADIUS * margin_arcsec:
            return order
    raise ValueError(f"Margin of {margin_arcsec} arcsec is too large (more than ~15 degrees).")


class PartitionMap:
    """Lookup from sky position to partition index, for a set of non-overlapping pixels.

    Parameters
    ----------
    orders, ipixs
        The partitions, as NESTED pixels of orders at most ``lookup_order``.
    lookup_order
        The order of the dense lookup table (``12 * 4**lookup_order`` int32 entries).
    """

    def __init__(
        self,
        orders: npt.ArrayLike,
        ipixs: npt.ArrayLike,
        lookup_order: int,
    ) -> None:
        orders_a = np.asarray(orders, dtype=np.int64)
        ipixs_a = np.asarray(ipixs, dtype=np.int64)
        if len(orders_a) and int(orders_a.max()) > lookup_order:
            raise ValueError("partitions finer than the lookup order")
        self.lookup_order = lookup_order
        owner = np.full(12 * 4**lookup_order, -1, dtype=np.int32)
        for index, (order, ipix) in enumerate(zip(orders_a, ipixs_a, strict=True)):
            shift = 2 * (lookup_order - int(order))
            owner[int(ipix) << shift : (int(ipix) + 1) << shift] = index
        self.owner = owner

    def owner_at(self, ipix: npt.NDArray[np.int64], order: int) -> npt.NDArray[np.int32]:
        """Return the partition index of pixels at ``order`` >= lookup order (-1: none)."""
        result = self.owner[np.right_shift(ipix, 2 * (order - self.lookup_order))]
        return np.where(ipix < 0, -1, result).astype(np.int32)

    def owner_range(self, order: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """For an order coarser than the lookup order, the min and max owner of each pixel.

        Empty children are ignored; a pixel with no partition gets ``-1`` for both.
        """
        per = 4 ** (self.lookup_order - order)
        blocks = self.owner.reshape(-1, per)
        big = np.iinfo(np.int32).max
        lo = np.where(blocks < 0, big, blocks).min(axis=1)
        hi = blocks.max(axis=1)
        lo = np.where(lo == big, -1, lo)
        return lo.astype(np.int32), hi.astype(np.int32)


def _near_edge(
    part: int, ra_deg: npt.NDArray[np.float64], dec_deg: npt.NDArray[np.float64],
    pmap: PartitionMap, order: int,
) -> npt.NDArray[np.bool_]:
    """Return which rows of partition ``part`` have a 3x3 block not wholly inside it."""
    nside = 1 << order
    pix = hp.ang2pix(nside, ra_deg, dec_deg, nest=True, lonlat=True).astype(np.int64)
    # Test each pixel once when rows come sorted by position (an ingest's partition): at
    # 1e9 rows, a pixel of order 12 (10 arcsec margins) holds ~5 of them.
    rows = None
    if len(pix) > 1 and bool(np.all(pix[1:] >= pix[:-1])):
        first = np.r_[True, pix[1:] != pix[:-1]]
        pix, rows = pix[first], np.cumsum(first) - 1
    block = np.vstack([pix[None, :], hp.get_all_neighbours(nside, pix, nest=True)])
    if order >= pmap.lookup_order:
        owners = pmap.owner_at(block.ravel(), order).reshape(block.shape)
        foreign = (owners != part) & (owners >= 0)
    else:
        lo, hi = pmap.owner_range(order)
        safe = np.where(block < 0, 0, block)
        blo, bhi = lo[safe], hi[safe]
        foreign = (block >= 0) & (blo >= 0) & ((blo != part) | (bhi != part))
    near = foreign.any(axis=0)
    return np.asarray(near if rows is None else near[rows])


def margin_targets(
    part: int,
    ra_deg: npt.ArrayLike,
    dec_deg: npt.ArrayLike,
    pmap: PartitionMap,
    margin_arcsec: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Return the (row, target partition) pairs: rows of ``part`` in other partitions' margins.

    Parameters
    ----------
    part
        Index (in ``pmap``) of the partition holding the rows.
    ra_deg, dec_deg
        Positions of its rows.
    pmap
        Every partition of the table.
    margin_arcsec
        Margin radius.

    Returns
    -------
    rows, targets
        Parallel arrays, sorted by row: row ``rows[i]`` belongs to the margin of
        partition ``targets[i]``. A row may appear several times (corners).

    Examples
    --------
    >>> pmap = PartitionMap([0, 0], [0, 1], lookup_order=3)
    >>> rows, targets = margin_targets(0, [45.0, 89.9999], [41.8, 41.81], pmap, 10.0)
    >>> rows.tolist(), targets.tolist()
    ([1], [1])
    """
    ra = np.asarray(ra_deg, dtype=np.float64)
    dec = np.asarray(dec_deg, dtype=np.float64)
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
    if len(ra) == 0 or margin_arcsec <= 0:
        return empty
    order = neighbour_order(margin_arcsec)
    candidates = np.flatnonzero(_near_edge(part, ra, dec, pmap, order))
    if len(candidates) == 0:
        return empty
    exact = max(order, pmap.lookup_order)
    nside = 1 << exact
    fact = 1 << max(EXACT_ORDER - exact, 0)
    radius = math.radians(margin_arcsec / 3600.0)
    vecs = hp.ang2vec(ra[candidates], dec[candidates], lonlat=True)
    out_rows: list[int] = []
    out_targets: list[int] = []
    # The lookup by hand (query_disc's pixels are never negative) and a set of the few
    # owners: 2 instead of 10 us per row, beside query_disc's 15 (a few % of all rows).
    owner, shift = pmap.owner, 2 * (exact - pmap.lookup_order)
    for row, vec in zip(candidates.tolist(), vecs, strict=True):
        pixels = hp.query_disc(nside, vec, radius, inclusive=True, fact=fact, nest=True)
        for target in sorted(set(owner[pixels >> shift].tolist())):
            if target >= 0 and target != part:
                out_rows.append(row)
                out_targets.append(target)
    return np.asarray(out_rows, dtype=np.int64), np.asarray(out_targets, dtype=np.int32)


def angular_distance_deg(
    ra1: npt.ArrayLike, dec1: npt.ArrayLike, ra2: npt.ArrayLike, dec2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Return the great-circle distance in degrees (haversine, stable at small angles).

    Examples
    --------
    >>> round(float(angular_distance_deg(0.0, 0.0, 359.0, 0.0)), 6)
    1.0
    """
    r1, d1, r2, d2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (ra1, dec1, ra2, dec2))
    hav = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.asarray(np.degrees(2 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))))
