"""The right-ascension window of a cone keeps every row the exact circle test keeps."""

from __future__ import annotations

import numpy as np

from engine.planning.chunks import RA_WINDOW_MAX_DEC, _window_of
from engine.sky.regions import ConeRegion


def _in_circle(ra: np.ndarray, dec: np.ndarray, cone: ConeRegion) -> np.ndarray:
    """``adql_in_circle`` (engine/adql/geometry.py) in numpy, term by term."""
    hav = (np.sin(np.radians(cone.dec_deg - dec) / 2) ** 2
           + np.cos(np.radians(dec)) * np.cos(np.radians(cone.dec_deg))
           * np.sin(np.radians(cone.ra_deg - ra) / 2) ** 2)
    return np.asarray(hav <= np.sin(np.radians(min(cone.radius_deg, 180.0)) / 2) ** 2)


def test_window_is_a_superset_of_the_circle() -> None:
    rng = np.random.default_rng(11)
    kept = tested = 0
    for _ in range(400):
        radius = float(10 ** rng.uniform(-4, 1.3))  # 0.36 arcsec to 20 deg
        cone = ConeRegion(float(rng.uniform(-400, 760)), float(rng.uniform(-89, 89)), radius)
        window = _window_of(cone)
        if abs(cone.dec_deg) + radius >= RA_WINDOW_MAX_DEC:
            assert window is None
            continue
        assert window is not None
        start, width = window
        # Points on and around the cap's edge, at every turn of the right ascension.
        angle = rng.uniform(0, 2 * np.pi, 4000)
        reach = radius * rng.uniform(0.98, 1.0001, 4000)
        dec = cone.dec_deg + reach * np.cos(angle)
        ra = (cone.ra_deg + reach * np.sin(angle) / np.cos(np.radians(dec))
              + 360.0 * rng.integers(-2, 3, 4000))
        inside = _in_circle(ra, dec, cone)
        in_window = np.fmod(ra - start + 720.0, 360.0) <= width
        assert not np.any(inside & ~in_window), (cone, ra[inside & ~in_window][:3])
        kept += int(inside.sum())
        tested += 1
    assert tested > 300 and kept > 100_000


def test_no_window_near_a_pole_or_for_a_huge_cap() -> None:
    assert _window_of(ConeRegion(10.0, 88.5, 1.0)) is None
    assert _window_of(ConeRegion(10.0, 0.0, 95.0)) is None
    start, width = _window_of(ConeRegion(370.0, 0.0, 1.0)) or (0.0, 0.0)
    assert abs(start - 9.0) < 1e-5 and abs(width - 2.0) < 1e-5
