"""Cut the real Hipparcos and Gaia DR3 (G < 10) demo catalogs to one patch of sky.

The cross-match tests use the cut; regenerate it from what ``make demo`` converted::

    .venv/bin/python tests/data/make_hip_gaia_cut.py demo-data/.demo-src/parquet

Hipparcos (van Leeuwen 2007, CDS I/311; ESA, public domain) keeps its proper motions and
its epoch J1991.25; Gaia DR3 (CC BY-SA 3.0 IGO, ESA/Gaia/DPAC) is at J2016.0. The Gaia cut
is wider than the Hipparcos one by more than any Hipparcos star moves in 24.75 years,
so the edge of the cut loses no pair.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

CENTER = (180.0, 0.0)
"""ra, dec (deg) of the patch: high Galactic latitude, where few stars crowd a 1″ match."""
RADIUS_DEG = 12.0
GAIA_EXTRA_DEG = 0.1
"""Barnard's star moves 10.4″/yr, 0.07° in 24.75 years."""

HERE = Path(__file__).parent


def _within(table, radius_deg: float):
    ra = np.radians(table.column("ra").to_numpy())
    dec = np.radians(table.column("dec").to_numpy())
    ra0, dec0 = np.radians(CENTER[0]), np.radians(CENTER[1])
    cos_d = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    return table.filter(pc.greater_equal(cos_d, np.cos(np.radians(radius_deg))))


def main(src: Path) -> None:
    hip = pq.read_table(src / "hipparcos2.parquet",
                        columns=["hip", "ra", "dec", "pmra", "pmdec", "hp_mag"])
    gaia = pq.read_table(src / "gaia_dr3_g10.parquet",
                         columns=["source_id", "hip", "ra", "dec", "phot_g_mean_mag"])
    pq.write_table(_within(hip, RADIUS_DEG), HERE / "hip_cut.parquet", compression="zstd")
    pq.write_table(_within(gaia, RADIUS_DEG + GAIA_EXTRA_DEG), HERE / "gaia_cut.parquet",
                   compression="zstd")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-data/.demo-src/parquet"))
