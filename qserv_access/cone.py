"""Positions and angles at the notebook boundary: SkyCoord and Quantity become degrees once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

from qserv_access.errors import QueryRejected

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord
    from astropy.units import Quantity

__all__ = ["Angle", "Center", "angle_deg", "center_deg", "position_deg", "vertices_deg"]

Angle = Union[float, "Quantity"]
"""A plain number (in the unit the argument's name says) or an astropy angular Quantity."""


def angle_deg(value: Angle, *, unit: str, name: str) -> float:
    """Return ``value`` in degrees; a bare number is read in ``unit`` (``deg`` or ``arcsec``).

    Examples
    --------
    >>> angle_deg(36.0, unit="arcsec", name="radius_arcsec")
    0.01
    """
    from astropy import units as u

    try:
        if isinstance(value, u.Quantity):
            deg = float(value.to_value(u.deg))
        else:
            deg = float(value) * (1.0 if unit == "deg" else 1.0 / 3600.0)
    except (TypeError, ValueError, u.UnitConversionError) as exc:
        raise QueryRejected(f"{name}={value!r} is not an angle: {exc}") from exc
    if not math.isfinite(deg):
        raise QueryRejected(f"{name}={value!r} is not a finite angle.")
    return deg


def position_deg(ra: SkyCoord | Angle, dec: Angle | None) -> tuple[float, float]:
    """Return ICRS ``(ra_deg, dec_deg)`` from a SkyCoord, or from two numbers/Quantities."""
    from astropy.coordinates import SkyCoord

    if isinstance(ra, SkyCoord):
        if dec is not None:
            raise QueryRejected("Give either a SkyCoord or ra_deg and dec_deg, not both.")
        if not ra.isscalar:
            raise QueryRejected("cone_search takes one position; loop over an array SkyCoord "
                                "or use crossmatch() with a table of positions.")
        icrs = ra.icrs
        return float(icrs.ra.deg), float(icrs.dec.deg)
    if dec is None:
        raise QueryRejected("dec_deg is missing; give ra_deg and dec_deg, or a SkyCoord.")
    ra_deg = angle_deg(ra, unit="deg", name="ra_deg") % 360.0
    dec_deg = angle_deg(dec, unit="deg", name="dec_deg")
    if not -90.0 <= dec_deg <= 90.0:
        raise QueryRejected(f"dec_deg={dec_deg} is outside -90..90.")
    return ra_deg, dec_deg


Center = Union["SkyCoord", tuple[Angle, Angle], Sequence[Angle]]
"""A position: a scalar SkyCoord, or ``(ra, dec)`` in degrees or as angular Quantities."""


def center_deg(center: Center) -> tuple[float, float]:
    """Return ICRS ``(ra_deg, dec_deg)`` of a SkyCoord or an ``(ra, dec)`` pair.

    Examples
    --------
    >>> center_deg((370.0, -5))
    (10.0, -5.0)
    """
    from astropy.coordinates import SkyCoord

    if isinstance(center, SkyCoord):
        return position_deg(center, None)
    if isinstance(center, str) or not isinstance(center, Sequence) or len(center) != 2:
        raise QueryRejected(f"center={center!r} is not a position; give a SkyCoord or "
                            "(ra, dec) in degrees.")
    return position_deg(center[0], center[1])


def vertices_deg(vertices: SkyCoord | Sequence[Center]) -> list[tuple[float, float]]:
    """Return polygon vertices as ICRS ``(ra_deg, dec_deg)`` pairs (at least three)."""
    from astropy.coordinates import SkyCoord

    if isinstance(vertices, SkyCoord):
        icrs = vertices.icrs
        points = [(float(r) % 360.0, float(d))
                  for r, d in zip(icrs.ra.deg.ravel(), icrs.dec.deg.ravel(), strict=True)]
    else:
        points = [center_deg(v) for v in vertices]
    if len(points) < 3:
        raise QueryRejected(f"A polygon needs at least 3 vertices; got {len(points)}.")
    return points
