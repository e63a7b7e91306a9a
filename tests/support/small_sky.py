"""Small deterministic catalogs for tests: an object table and its child source table.

``make_small_sky(path, n=2000, seed=1)`` writes a Parquet file with columns
``id`` (int64, unique), ``ra``, ``dec`` (float64, degrees), ``g_mag``, ``r_mag``,
``i_mag`` (float32, mag) and ``flags`` (int16). The rows deliberately include:

- both poles (dec = +-90 exactly, and a few rows within 1 arcsec of them);
- the RA 0/360 seam (ra = 0.0, rows just below 360 and just above 0);
- a dense cluster (a quarter of the rows within 0.5 deg of (ra, dec) = (150, 2)),
  so adaptive partitioning splits there with small ``max_rows_per_partition``;
- close pairs a few arcsec apart straddling HEALPix order-1..3 pixel edges, so margin
  and cross-match code is exercised across partition boundaries;
- the rest uniform on the sphere.

``make_small_sources(path, objects_path, per_object=3, seed=2)`` writes a child table with
``source_id``, ``object_id`` (foreign key to ``id``), ``ra``, ``dec`` (within 0.5 arcsec of
the object), ``mjd`` and ``flux``. Units and descriptions are stored as Parquet field
metadata (keys ``unit``, ``description``), as in the real catalogs.
"""

from __future__ import annotations

from pathlib import Path

import healpy as hp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def _field(name: str, dtype: pa.DataType, unit: str = "", description: str = "") -> pa.Field:
    meta = {k: v for k, v in (("unit", unit), ("description", description)) if v}
    return pa.field(name, dtype, metadata=meta or None)


def small_sky_positions(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return (ra, dec) in degrees with the special cases described in the module docstring."""
    rng = np.random.default_rng(seed)
    special_ra = [0.0, 0.0, 123.0, 359.9999999, 0.0000001, 359.999, 0.001, 180.0, 10.0, 20.0]
    special_dec = [90.0, -90.0, 89.99999, 0.0, 0.0, -45.0, -45.0, -89.9999, 89.9995, -89.9995]
    ra = list(special_ra)
    dec = list(special_dec)
    # close pairs straddling pixel edges: take pixel corners at orders 1..3 and jitter.
    pairs = max(n // 20, 4)
    for k in range(pairs):
        order = 1 + k % 3
        ipix = int(rng.integers(0, 12 * 4**order))
        lon, lat = hp.vec2ang(hp.boundaries(1 << order, ipix, step=1, nest=True).T, lonlat=True)
        c = int(rng.integers(0, len(lon)))
        for _ in range(2):
            ra.append(float(lon[c] + rng.normal(0, 3 / 3600) / max(np.cos(np.radians(lat[c])),
                                                                  0.05)) % 360.0)
            dec.append(float(np.clip(lat[c] + rng.normal(0, 3 / 3600), -90, 90)))
    cluster = n // 4
    ra.extend((150.0 + rng.normal(0, 0.2, cluster)).tolist())
    dec.extend((2.0 + rng.normal(0, 0.2, cluster)).tolist())
    rest = n - len(ra)
    ra.extend(rng.uniform(0, 360, rest).tolist())
    dec.extend(np.degrees(np.arcsin(rng.uniform(-1, 1, rest))).tolist())
    return np.asarray(ra[:n], dtype=np.float64), np.asarray(dec[:n], dtype=np.float64)


def make_small_sky(path: str | Path, n: int = 2000, seed: int = 1) -> Path:
    """Write the small object catalog (see module docstring) and return its path."""
    rng = np.random.default_rng(seed)
    ra, dec = small_sky_positions(n, seed)
    ids = np.arange(n, dtype=np.int64) * 7 + 1000
    mags = {b: (rng.uniform(14, 24, n) + off).astype(np.float32)
            for b, off in (("g_mag", 0.3), ("r_mag", 0.0), ("i_mag", -0.2))}
    schema = pa.schema([
        _field("id", pa.int64(), description="Unique object id"),
        _field("ra", pa.float64(), "deg", "Right ascension (ICRS)"),
        _field("dec", pa.float64(), "deg", "Declination (ICRS)"),
        *[_field(b, pa.float32(), "mag", f"{b[0]} band magnitude") for b in mags],
        _field("flags", pa.int16(), description="Quality flags"),
    ])
    table = pa.table([ids, ra, dec, *mags.values(),
                      rng.integers(0, 64, n).astype(np.int16)], schema=schema)
    path = Path(path)
    pq.write_table(table, path)
    return path


def make_small_sources(path: str | Path, objects_path: str | Path, per_object: int = 3,
                       seed: int = 2) -> Path:
    """Write a child (source) table of ``objects_path``, ``per_object`` rows per object."""
    rng = np.random.default_rng(seed)
    objects = pq.read_table(objects_path, columns=["id", "ra", "dec"])
    obj_id = np.repeat(objects.column("id").to_numpy(), per_object)
    ra = np.repeat(objects.column("ra").to_numpy(), per_object)
    dec = np.repeat(objects.column("dec").to_numpy(), per_object)
    n = len(obj_id)
    jitter = 0.5 / 3600
    schema = pa.schema([
        _field("source_id", pa.int64(), description="Unique source id"),
        _field("object_id", pa.int64(), description="Id of the object this source belongs to"),
        _field("ra", pa.float64(), "deg", "Right ascension of the detection"),
        _field("dec", pa.float64(), "deg", "Declination of the detection"),
        _field("mjd", pa.float64(), "d", "Modified Julian Date of the exposure"),
        _field("flux", pa.float32(), "nJy", "PSF flux"),
    ])
    table = pa.table([
        np.arange(n, dtype=np.int64) + 10**9, obj_id,
        (ra + rng.uniform(-jitter, jitter, n)) % 360.0,
        np.clip(dec + rng.uniform(-jitter, jitter, n), -90, 90),
        rng.uniform(60000, 61000, n), rng.lognormal(8, 1, n).astype(np.float32),
    ], schema=schema)
    path = Path(path)
    pq.write_table(table, path)
    return path


def write_uniform_sky(path: Path, first_id: int, rows: int, seed: int) -> Path:
    """Write ``rows`` stars uniform on the sphere, ids from ``first_id``, as Parquet."""
    rng = np.random.default_rng(seed)
    pq.write_table(pa.table({
        "id": np.arange(first_id, first_id + rows, dtype=np.int64),
        "ra": rng.uniform(0, 360, rows),
        "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, rows))),
        "mag": rng.uniform(10, 25, rows).astype(np.float32),
    }), path)
    return path
