"""HEALPix (NESTED) arithmetic on chunk ids and the ``_healpix_29`` spatial index."""

from __future__ import annotations

import healpy as hp
import numpy as np
import numpy.typing as npt

SPATIAL_INDEX_COLUMN = "_healpix_29"
"""Name of the HATS spatial index column: the order-29 NESTED pixel of each row."""

SPATIAL_INDEX_ORDER = 29
"""Order of the spatial index; the finest order healpy supports."""


def spatial_index(ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Return the order-29 NESTED pixel of each position.

    Examples
    --------
    >>> int(spatial_index([0.0], [90.0])[0]) >> 58
    0
    """
    ra = np.asarray(ra_deg, dtype=np.float64)
    dec = np.asarray(dec_deg, dtype=np.float64)
    return np.asarray(
        hp.ang2pix(1 << SPATIAL_INDEX_ORDER, ra, dec, nest=True, lonlat=True), dtype=np.int64
    )


def pixel_range(order: int, ipix: int) -> tuple[int, int]:
    """Return the half-open ``_healpix_29`` range ``[lo, hi)`` covered by a pixel.

    Examples
    --------
    >>> pixel_range(0, 1)
    (288230376151711744, 576460752303423488)
    """
    shift = 2 * (SPATIAL_INDEX_ORDER - order)
    return ipix << shift, (ipix + 1) << shift


def to_order(index29: npt.NDArray[np.int64], order: int) -> npt.NDArray[np.int64]:
    """Return the pixel at ``order`` that holds each order-29 index."""
    return np.right_shift(index29, 2 * (SPATIAL_INDEX_ORDER - order))
