"""Search regions on the sphere: the coarse step (which pixels) and the fine step (which rows).

Every region answers two questions, as lsdb does: ``coverage(order)`` returns the
NESTED pixels at ``order`` that may hold a matching row (a superset), and
``contains(ra_deg, dec_deg)`` is the exact per-row mask. Nothing else in the engine
knows how a cone or polygon is shaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import healpy as hp
import numpy as np
import numpy.typing as npt

from engine.sky.healpix import SPATIAL_INDEX_ORDER

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_COVERAGE_PIXELS = 20_000
"""Coverage is computed at a lower order when the requested one would return more
pixels than this: a coarser coverage is still a superset, and planning stays fast."""


class Region(Protocol):
    """A set of directions on the sky."""

    def coverage(self, order: int) -> tuple[int, IntArray]:
        """Return ``(order_used, pixels)``: sorted NESTED pixels that may intersect the region.

        ``order_used`` is ``order`` or coarser, so that huge regions stay cheap.
        """
        ...

    def contains(self, ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Return the exact mask of positions inside the region."""
        ...

    def expanded(self, margin_deg: float) -> Region:
        """Return a region grown by ``margin_deg`` in every direction (a superset is fine)."""
        ...


def unit_vectors(ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> FloatArray:
    """Return an ``(n, 3)`` array of unit vectors."""
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    cos_dec = np.cos(dec)
    return np.stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)], axis=-1)


def angular_distance_deg(
    ra1: npt.ArrayLike, dec1: npt.ArrayLike, ra2: npt.ArrayLike, dec2: npt.ArrayLike
) -> FloatArray:
    """Return the great-circle distance in degrees (haversine: exact for small angles).

    Examples
    --------
    >>> round(float(angular_distance_deg(359.5, 0.0, 0.5, 0.0)), 9)
    1.0
    """
    r1, d1 = np.radians(ra1), np.radians(dec1)
    r2, d2 = np.radians(ra2), np.radians(dec2)
    hav = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.asarray(np.degrees(2 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))))


def _coverage_order(order: int, area_sr: float) -> int:
    """Lower ``order`` until the region covers at most MAX_COVERAGE_PIXELS pixels."""
    while order > 0 and area_sr / hp.nside2pixarea(1 << order) > MAX_COVERAGE_PIXELS / 4:
        order -= 1
    return order


def coarsen(pixels: IntArray, from_order: int, to_order: int) -> IntArray:
    """Return the sorted unique parents at ``to_order`` of pixels at ``from_order``."""
    return np.unique(np.right_shift(pixels, 2 * (from_order - to_order)))


@dataclass(frozen=True, slots=True)
class ConeRegion:
    """A spherical cap: every direction within ``radius_deg`` of a centre."""

    ra_deg: float
    dec_deg: float
    radius_deg: float

    def coverage(self, order: int) -> tuple[int, IntArray]:
        """Return the pixels the cap may touch."""
        coarse = self.coverage_order(order)
        if coarse < 0:
            return 0, np.arange(12, dtype=np.int64)
        vec = unit_vectors(self.ra_deg, self.dec_deg)
        radius = np.radians(min(self.radius_deg, 180.0))
        found = hp.query_disc(1 << coarse, vec, radius, inclusive=True, nest=True)
        return coarse, np.sort(np.asarray(found, dtype=np.int64))

    def coverage_order(self, order: int) -> int:
        """The order :meth:`coverage` computes at when asked for ``order``: its pixels
        depend on nothing else (orders giving the same one give the same pixels)."""
        radius = np.radians(min(self.radius_deg, 180.0))
        if radius >= np.pi:
            return -1  # the whole sky, whatever the order
        return _coverage_order(order, 2 * np.pi * (1 - np.cos(radius)))

    def contains(self, ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Return the rows within the radius."""
        dist = angular_distance_deg(self.ra_deg, self.dec_deg, ra_deg, dec_deg)
        return np.asarray(dist <= self.radius_deg)

    def expanded(self, margin_deg: float) -> ConeRegion:
        """Return the cap grown by ``margin_deg``."""
        return ConeRegion(self.ra_deg, self.dec_deg, self.radius_deg + margin_deg)


@dataclass(frozen=True, slots=True)
class PolygonRegion:
    """A spherical polygon with great-circle edges (vertices in order, either sense)."""

    vertices: tuple[tuple[float, float], ...]

    def _bounding_cone(self) -> ConeRegion:
        vecs = unit_vectors([v[0] for v in self.vertices], [v[1] for v in self.vertices])
        centre = vecs.sum(axis=0)
        norm = float(np.linalg.norm(centre))
        if norm < 1e-12:
            return ConeRegion(0.0, 0.0, 180.0)
        centre /= norm
        ra_c = float(np.degrees(np.arctan2(centre[1], centre[0])) % 360.0)
        dec_c = float(np.degrees(np.arcsin(np.clip(centre[2], -1, 1))))
        radius = float(
            angular_distance_deg(
                ra_c, dec_c, [v[0] for v in self.vertices], [v[1] for v in self.vertices]
            ).max()
        )
        # A polygon larger than a hemisphere is not inside the cap of its vertices.
        return ConeRegion(ra_c, dec_c, radius * 1.001 + 1e-9 if radius < 89.0 else 180.0)

    def coverage(self, order: int) -> tuple[int, IntArray]:
        """Return pixels of the polygon's bounding cap (a superset, cheap and safe)."""
        return self._bounding_cone().coverage(order)

    def coverage_order(self, order: int) -> int:
        """The order :meth:`coverage` computes at: its bounding cap's."""
        return self._bounding_cone().coverage_order(order)

    def contains(self, ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Return rows inside the polygon (winding number of the edges seen from each row)."""
        points = unit_vectors(ra_deg, dec_deg).reshape(-1, 3)
        verts = unit_vectors([v[0] for v in self.vertices], [v[1] for v in self.vertices])
        inside = _spherical_point_in_polygon(points, verts)
        return inside.reshape(np.shape(np.asarray(ra_deg, dtype=np.float64)))

    def expanded(self, margin_deg: float) -> ConeRegion:
        """Return a cap holding the polygon grown by ``margin_deg``."""
        return self._bounding_cone().expanded(margin_deg)


def _spherical_point_in_polygon(points: FloatArray, verts: FloatArray) -> npt.NDArray[np.bool_]:
    """Return which points lie inside the smaller-area polygon with great-circle edges.

    Projects gnomonically around the polygon's centroid when it fits in a hemisphere
    (great circles become straight lines there), then runs an even-odd ray test.
    """
    centre = verts.sum(axis=0)
    centre = centre / np.linalg.norm(centre)
    # Tangent plane basis at the centre.
    helper = np.array([0.0, 0.0, 1.0]) if abs(centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    east = np.cross(helper, centre)
    east /= np.linalg.norm(east)
    north = np.cross(centre, east)
    pdot = points @ centre
    vdot = verts @ centre
    front = pdot > 1e-12
    safe = np.where(front, pdot, 1.0)
    px, py = (points @ east) / safe, (points @ north) / safe
    vx, vy = (verts @ east) / vdot, (verts @ north) / vdot
    inside = np.zeros(len(points), dtype=bool)
    n = len(verts)
    for i in range(n):
        x1, y1, x2, y2 = vx[i], vy[i], vx[(i + 1) % n], vy[(i + 1) % n]
        crosses = (y1 > py) != (y2 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (px < x_at)
    return inside & front


@dataclass(frozen=True, slots=True)
class UnionRegion:
    """Directions inside any of several regions (an OR of constraints)."""

    parts: tuple[Region, ...]

    def coverage(self, order: int) -> tuple[int, IntArray]:
        """Return the union of the parts' pixels, at the coarsest order any part used."""
        if not self.parts:
            return order, np.zeros(0, dtype=np.int64)
        covers = [p.coverage(order) for p in self.parts]
        common = min(o for o, _ in covers)
        return common, np.unique(np.concatenate([coarsen(px, o, common) for o, px in covers]))

    def contains(self, ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Return rows inside any part."""
        masks = [p.contains(ra_deg, dec_deg) for p in self.parts]
        return np.logical_or.reduce(masks) if masks else np.zeros(np.shape(ra_deg), dtype=bool)

    def expanded(self, margin_deg: float) -> UnionRegion:
        """Return the union of the grown parts."""
        return UnionRegion(tuple(p.expanded(margin_deg) for p in self.parts))


@dataclass(frozen=True, slots=True)
class IntersectionRegion:
    """Directions inside every one of several regions (an AND of constraints)."""

    parts: tuple[Region, ...]

    def coverage(self, order: int) -> tuple[int, IntArray]:
        """Return pixels that every part may touch, at the coarsest order any part used."""
        covers = [p.coverage(order) for p in self.parts]
        common = min(o for o, _ in covers)
        result = coarsen(covers[0][1], covers[0][0], common)
        for o, px in covers[1:]:
            result = np.intersect1d(result, coarsen(px, o, common))
        return common, result

    def contains(self, ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Return rows inside all parts."""
        return np.logical_and.reduce([p.contains(ra_deg, dec_deg) for p in self.parts])

    def expanded(self, margin_deg: float) -> IntersectionRegion:
        """Return the intersection of the grown parts."""
        return IntersectionRegion(tuple(p.expanded(margin_deg) for p in self.parts))


def pixel_ranges(order: int, pixels: IntArray) -> list[tuple[int, int]]:
    """Return merged half-open ``_healpix_29`` ranges of sorted NESTED pixels at ``order``.

    Examples
    --------
    >>> pixel_ranges(28, np.array([0, 1, 2, 7]))
    [(0, 12), (28, 32)]
    """
    if len(pixels) == 0:
        return []
    shift = 2 * (SPATIAL_INDEX_ORDER - order)
    breaks = np.flatnonzero(np.diff(pixels) != 1) + 1
    starts = pixels[np.concatenate([[0], breaks])]
    ends = pixels[np.concatenate([breaks - 1, [len(pixels) - 1]])] + 1
    return [(int(s) << shift, int(e) << shift) for s, e in zip(starts, ends, strict=True)]


def coverage_order(region: Region, order: int) -> int | None:
    """The order ``region.coverage(order)`` computes at, for a cone or polygon (whose pixels
    depend on that order alone); None for other regions."""
    if isinstance(region, ConeRegion | PolygonRegion):
        return region.coverage_order(order)
    return None


def overlaps(region_order: int, region_pixels: IntArray, order: int, ipix: int) -> bool:
    """Return whether pixel ``(order, ipix)`` meets a sorted coverage at ``region_order``."""
    if order >= region_order:
        parent = ipix >> (2 * (order - region_order))
        pos = int(np.searchsorted(region_pixels, parent))
        return pos < len(region_pixels) and int(region_pixels[pos]) == parent
    shift = 2 * (region_order - order)
    lo, hi = ipix << shift, (ipix + 1) << shift
    pos = int(np.searchsorted(region_pixels, lo))
    return pos < len(region_pixels) and int(region_pixels[pos]) < hi
