"""Proper motions: moving positions between epochs, and finding a catalog's epoch.

Propagation is linear in Cartesian space on the unit sphere, the model astropy's
``SkyCoord.apply_space_motion`` uses for a star with proper motion, no parallax and no
radial velocity: the position becomes ``p + t (pm_ra* e_ra + pm_dec e_dec)``,
normalised, where ``pm_ra*`` already includes ``cos(dec)`` (as Hipparcos and Gaia give
it). For 25 years of the largest known motion (Barnard's star, 10.4″/yr) the
difference from the rigorous model with parallax and radial velocity is a few mas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from qserv_access.errors import QueryRejected

__all__ = ["epoch_from_text", "max_motion_arcsec", "propagate"]

MAS_PER_RAD = 180.0 / np.pi * 3600.0e3
"""Milliarcseconds in a radian."""

_EPOCH = re.compile(r"\bepoch\s*[:=]?\s*J?\s*(\d{4}(?:\.\d+)?)", re.IGNORECASE)


def epoch_from_text(texts: Iterable[str]) -> float | None:
    """Return the Julian epoch a metadata text names (``epoch J1991.25``), or None.

    A catalog records the epoch of its positions where its metadata already travels,
    from ingest to TAP_SCHEMA and VOTable: the description of its position columns.

    Examples
    --------
    >>> epoch_from_text(["right ascension, ICRS, epoch J1991.25"])
    1991.25
    >>> epoch_from_text(["declination, ICRS (Gaia rows: epoch J2016.0)"])
    2016.0
    >>> epoch_from_text(["declination"]) is None
    True
    """
    for text in texts:
        found = _EPOCH.search(text or "")
        if found:
            return float(found.group(1))
    return None


def propagate(ra_deg: np.ndarray, dec_deg: np.ndarray, pm_ra_mas_yr: np.ndarray,
              pm_dec_mas_yr: np.ndarray, years: float | np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Return positions moved by their proper motions over ``years`` (may be negative).

    ``pm_ra_mas_yr`` is the motion in RA times cos(dec) (the Hipparcos/Gaia convention).
    NaN motions are taken as zero: a star without a motion stays where it is.

    Examples
    --------
    A star on the equator moving 100 mas/yr east is 1″ further east 10 years later:

    >>> ra, dec = propagate(np.array([10.0]), np.array([0.0]), np.array([100.0]),
    ...                     np.array([0.0]), 10.0)
    >>> round(float((ra[0] - 10.0) * 3600), 6), round(float(dec[0]), 9)
    (1.0, 0.0)
    """
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    pmra = np.nan_to_num(np.asarray(pm_ra_mas_yr, dtype=np.float64)) / MAS_PER_RAD
    pmdec = np.nan_to_num(np.asarray(pm_dec_mas_yr, dtype=np.float64)) / MAS_PER_RAD
    cos_ra, sin_ra, cos_dec, sin_dec = np.cos(ra), np.sin(ra), np.cos(dec), np.sin(dec)
    # position, and unit vectors towards growing RA and growing Dec
    p = np.stack([cos_dec * cos_ra, cos_dec * sin_ra, sin_dec])
    e_ra = np.stack([-sin_ra, cos_ra, np.zeros_like(ra)])
    e_dec = np.stack([-sin_dec * cos_ra, -sin_dec * sin_ra, cos_dec])
    moved = p + np.asarray(years) * (pmra * e_ra + pmdec * e_dec)
    x, y, z = moved / np.linalg.norm(moved, axis=0)
    return np.degrees(np.arctan2(y, x)) % 360.0, np.degrees(np.arcsin(np.clip(z, -1, 1)))


def max_motion_arcsec(pm_ra_mas_yr: np.ndarray, pm_dec_mas_yr: np.ndarray,
                      years: float) -> float:
    """Return the largest distance (arcsec) any of these stars moves in ``years``."""
    total = np.hypot(np.nan_to_num(np.asarray(pm_ra_mas_yr, dtype=np.float64)),
                     np.nan_to_num(np.asarray(pm_dec_mas_yr, dtype=np.float64)))
    if total.size == 0:
        return 0.0
    return float(total.max()) * abs(years) / 1000.0


def check_epoch(value: object, name: str) -> float:
    """Return a Julian epoch (``2016.0``, ``"J2016.0"`` or an astropy ``Time``) as a year."""
    try:
        from astropy.time import Time

        if isinstance(value, Time):
            return float(value.jyear)
        if isinstance(value, str):
            return float(Time(value if value[:1] in "JB" else f"J{value}").jyear)
        year = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise QueryRejected(f"{name}={value!r} is not an epoch; give a Julian year such as "
                            "2016.0, 'J1991.25' or an astropy Time.") from exc
    if not np.isfinite(year):
        raise QueryRejected(f"{name}={value!r} is not a finite epoch.")
    return year
